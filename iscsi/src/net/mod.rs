//! The network layer: the only code that touches sockets. Accepts on every
//! listener, runs one task per connection (login phase, then full feature
//! phase), shuts down gracefully.

mod command;
mod io;
mod login;
mod misc;
mod session;
mod tmf;

use crate::login::SessionKind;
use crate::server::Server;
use io::{PduReader, PduWriter};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use io::ConnError;

/// Connections served at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 1024;

/// A connection must finish login within this time.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);

/// After shutdown, connections get this long to end by themselves.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// Accept on every listener until `shutdown`, then wait for connections to
/// drain (bounded) and return.
pub async fn serve(
    server: Arc<Server>,
    listeners: Vec<TcpListener>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<(TcpStream, SocketAddr, usize)>(64);
    let mut acceptors = JoinSet::new();
    // Listener `portal` serves `ServerConfig::portals[portal]`.
    for (portal, l) in listeners.into_iter().enumerate() {
        let tx = tx.clone();
        let shutdown = shutdown.clone();
        let tpgt = server_tpgt(&server, portal);
        acceptors.spawn(async move {
            if let Ok(a) = l.local_addr() {
                tracing::info!(portal = %a, tpgt, "listening");
            }
            loop {
                let r = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    r = l.accept() => r,
                };
                match r {
                    Ok((stream, peer)) => {
                        if tx.send((stream, peer, portal)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }
    drop(tx);
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            c = rx.recv() => match c {
                Some((stream, peer, portal)) => {
                    if conns.len() >= MAX_CONNECTIONS {
                        tracing::warn!(%peer, "too many connections");
                        continue;
                    }
                    conns.spawn(connection(server.clone(), stream, peer, portal, shutdown.clone()));
                }
                None => {
                    shutdown.cancelled().await;
                    break;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    acceptors.abort_all();
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
    Ok(())
}

/// The TPGT of portal `index`.
fn server_tpgt(server: &Server, index: usize) -> u16 {
    let i = u16::try_from(index).unwrap_or(u16::MAX);
    server.config.portal_group_tag.saturating_add(i)
}

/// One TCP connection from accept to close.
async fn connection(
    server: Arc<Server>,
    stream: TcpStream,
    peer: SocketAddr,
    portal: usize,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok();
    let (rd, wr) = stream.into_split();
    let mut reader = PduReader::new(rd);
    let mut writer = PduWriter::new(wr);
    let login = tokio::select! {
        _ = shutdown.cancelled() => Ok(None),
        r = tokio::time::timeout(LOGIN_TIMEOUT, login::login_phase(&server, peer, portal, &mut reader, &mut writer)) => {
            r.unwrap_or(Err(ConnError::Protocol("login timeout")))
        }
    };
    let est = match login {
        Ok(Some(est)) => est,
        Ok(None) => {
            writer.close().await;
            return;
        }
        Err(e) => {
            tracing::info!(%peer, error = %e, "connection closed during login");
            writer.close().await;
            return;
        }
    };
    let r = &est.result;
    let p = &r.params;
    let (target_label, nexus) = match r.kind {
        SessionKind::Normal { target } => match server.config.targets.get(target) {
            Some(t) => {
                let port = format!("{},i,0x{}", r.initiator_name, hex::encode(r.isid));
                // The SCSI target port of this portal (SPC-5 5.16, 7.7.6).
                let nexus = server.device.register_nexus_via(
                    &r.initiator_name,
                    &port,
                    t.port.clone(),
                    crate::target::relative_port_id(est.portal),
                    server_tpgt(&server, est.portal),
                );
                (t.iqn.clone(), Some(nexus))
            }
            None => (String::new(), None),
        },
        SessionKind::Discovery => ("discovery".to_string(), None),
    };
    tracing::info!(
        %peer,
        initiator = %r.initiator_name,
        target = %target_label,
        isid = %hex::encode(r.isid),
        tsih = est.handle.tsih,
        cid = est.cid,
        tpgt = server_tpgt(&server, est.portal),
        header_digest = p.header_digest,
        data_digest = p.data_digest,
        max_recv_data_segment = p.max_recv_data_segment,
        max_send_data_segment = p.max_send_data_segment,
        max_burst_length = p.max_burst_length,
        first_burst_length = p.first_burst_length,
        immediate_data = p.immediate_data,
        initial_r2t = p.initial_r2t,
        "login"
    );
    metrics::gauge!("xtgt_sessions", "target" => target_label.clone()).increment(1.0);
    let handle = est.handle.clone();
    let mut s = session::Session::new(server.clone(), est, nexus.clone(), reader, writer, local);
    // Stop (reinstatement, cold reset) also interrupts a session blocked on
    // a peer that no longer reads.
    let stop = handle.stop.clone();
    let result = tokio::select! {
        r = s.run(shutdown) => r,
        _ = stop.cancelled() => Ok(()),
    };
    // I_T nexus loss (logout, connection drop, stop): the nexus' copy
    // operations in the foreground stop at a chunk boundary before their
    // tasks are dropped; background (IMMED) copies go on (SPC-5 table 109).
    if let Some(n) = &nexus {
        server.device.abort_nexus_tasks(n).await;
    }
    s.abort_all();
    s.writer.close().await;
    if let Err(e) = &result {
        tracing::info!(%peer, tsih = handle.tsih, error = %e, "connection dropped");
    }
    tracing::info!(%peer, tsih = handle.tsih, target = %target_label, "session ended");
    if let Some(n) = nexus {
        server.device.unregister_nexus(&n);
    }
    server.sessions.unregister(handle.tsih);
    metrics::gauge!("xtgt_sessions", "target" => target_label).decrement(1.0);
    handle.done.cancel();
}
