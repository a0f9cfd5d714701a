//! The login phase of one connection (RFC 7143 6): Login Requests go to
//! the I/O-free [`LoginMachine`]; this module fills the response header,
//! allocates the TSIH and reinstates sessions (RFC 7143 6.3.5).

use super::io::{ConnError, PduReader, PduWriter};
use crate::framing::Frame;
use crate::login::{
    fail_output, LoginEvent, LoginInput, LoginMachine, LoginOutput, LoginResult, LoginStatus,
    SessionKind,
};
use crate::pdu::{CmdSn, InitiatorPdu, LoginRequest, LoginResponse, TargetPdu};
use crate::server::Server;
use crate::session::{Registered, SessionHandle, SessionKey, TaskAbort};
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a reinstating login waits for the old session to end.
const REINSTATE_WAIT: Duration = Duration::from_secs(10);

/// A session that completed login on this connection.
pub struct Established {
    pub result: LoginResult,
    pub handle: SessionHandle,
    /// Task aborts requested by other sessions' resets.
    pub aborts: mpsc::UnboundedReceiver<TaskAbort>,
    /// ExpCmdSN at the start of full feature phase: the CmdSN of the
    /// leading Login Request (login does not advance it, RFC 7143 4.2.2.1).
    pub exp_cmdsn: CmdSn,
    pub cid: u16,
    /// The portal (index into `ServerConfig::portals`) the connection came
    /// in on: the session's target port.
    pub portal: usize,
}

/// Run the login phase. `Ok(None)`: login failed or the peer left.
pub async fn login_phase(
    server: &Arc<Server>,
    peer: SocketAddr,
    portal: usize,
    reader: &mut PduReader,
    writer: &mut PduWriter,
) -> Result<Option<Established>, ConnError> {
    let mut machine = LoginMachine::new(server.login_context(portal));
    let mut first: Option<LoginRequest> = None;
    let depth = server.queue_depth();
    loop {
        let raw = match reader.next().await? {
            None => return Ok(None),
            Some(Frame::Pdu(raw)) => raw,
            Some(Frame::DataDigestError(_)) => return Err(ConnError::Protocol("digest in login")),
        };
        // Only Login Requests are allowed before full feature phase
        // (RFC 7143 6.1); anything else ends the connection.
        let req = match InitiatorPdu::parse(&raw) {
            Ok(InitiatorPdu::Login(r)) => r,
            _ => return Err(ConnError::Protocol("non-login PDU in login phase")),
        };
        if first.is_none() {
            // The first response's StatSN follows the initiator's ExpStatSN.
            writer.statsn = req.exp_statsn;
            first = Some(req.clone());
        }
        let lead_cid = first.as_ref().map_or(req.cid, |f| f.cid);
        let input = LoginInput {
            transit: req.transit,
            cont: req.cont,
            csg: req.csg,
            nsg: req.nsg,
            version_max: req.version_max,
            version_min: req.version_min,
            isid: req.isid,
            tsih: req.tsih,
            itt: req.itt.0,
            cid: req.cid,
            cmdsn: req.cmdsn.0,
            exp_statsn: req.exp_statsn.0,
            data: &req.data,
        };
        let (out, event) = machine.step(&input);
        let status = out.status;
        let mut resp = login_response(&req, out);
        let exp = req.cmdsn;
        let max = exp.plus(depth - 1);
        match event {
            LoginEvent::Continue => {
                writer.send(TargetPdu::Login(resp), exp, max).await?;
            }
            LoginEvent::Fail => {
                metrics::counter!("xtgt_logins_total", "result" => "failure").increment(1);
                tracing::info!(
                    %peer,
                    initiator = machine.initiator_name().unwrap_or("?"),
                    isid = %hex::encode(req.isid),
                    status = status.name(),
                    code = format_args!("{:#06x}", status.code()),
                    "login failed"
                );
                writer.send(TargetPdu::Login(resp), exp, max).await?;
                return Ok(None);
            }
            LoginEvent::Complete(result) => {
                let reg = match establish(server, &result, portal).await {
                    Ok(r) => r,
                    Err(status) => {
                        metrics::counter!("xtgt_logins_total", "result" => "failure").increment(1);
                        let resp = login_response(&req, fail_output(req.csg, status));
                        writer.send(TargetPdu::Login(resp), exp, max).await?;
                        return Ok(None);
                    }
                };
                let handle = reg.handle;
                resp.tsih = handle.tsih;
                writer.send(TargetPdu::Login(resp), exp, max).await?;
                metrics::counter!("xtgt_logins_total", "result" => "success").increment(1);
                return Ok(Some(Established {
                    result,
                    handle,
                    aborts: reg.aborts,
                    exp_cmdsn: req.cmdsn,
                    cid: lead_cid,
                    portal,
                }));
            }
        }
    }
}

/// The Login Response for `req` from the machine's output; StatSN,
/// ExpCmdSN and MaxCmdSN are filled when sent, TSIH once established.
fn login_response(req: &LoginRequest, out: LoginOutput) -> LoginResponse {
    LoginResponse {
        transit: out.transit,
        cont: out.cont,
        csg: out.csg,
        nsg: out.nsg,
        version_max: 0,
        version_active: 0,
        isid: req.isid,
        tsih: 0,
        itt: req.itt,
        status_class: out.status.class,
        status_detail: out.status.detail,
        data: Bytes::from(out.data),
        ..Default::default()
    }
}

/// Register the session: new TSIH, or reinstatement of a session with the
/// same initiator name, ISID, target and portal group (RFC 7143 6.3.5).
async fn establish(
    server: &Arc<Server>,
    result: &LoginResult,
    portal: usize,
) -> Result<Registered, LoginStatus> {
    let target = match result.kind {
        SessionKind::Normal { target } => server
            .config
            .targets
            .get(target)
            .map(|t| t.iqn.clone())
            .unwrap_or_default(),
        SessionKind::Discovery => String::new(),
    };
    let key = SessionKey {
        initiator_name: result.initiator_name.clone(),
        isid: result.isid,
        target,
        portal,
    };
    if result.tsih != 0 {
        // A connection for an existing session: only one connection per
        // session is supported (MaxConnections=1).
        return Err(match server.sessions.get(result.tsih) {
            Some(h) if h.key == key => LoginStatus::TOO_MANY_CONNECTIONS,
            _ => LoginStatus::SESSION_DOES_NOT_EXIST,
        });
    }
    let reg = server
        .sessions
        .register(key)
        .ok_or(LoginStatus::OUT_OF_RESOURCES)?;
    if let Some(old) = &reg.replaced {
        tracing::info!(
            initiator = %result.initiator_name,
            isid = %hex::encode(result.isid),
            old_tsih = old.tsih,
            new_tsih = reg.handle.tsih,
            "session reinstatement: closing the old session"
        );
        old.stop.cancel();
        let _ = tokio::time::timeout(REINSTATE_WAIT, old.done.cancelled()).await;
    }
    Ok(reg)
}
