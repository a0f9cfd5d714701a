//! Full feature phase of one session on one connection (RFC 7143 4.2,
//! 6.1): the event loop reading PDUs, collecting completions and pinging.
//! Per-PDU handling lives in `command.rs`, `tmf.rs` and `misc.rs`.

use super::io::{ConnError, PduReader, PduWriter};
use super::login::Established;
use crate::framing::{Frame, FrameConfig, FrameError};
use crate::params::SessionParams;
use crate::pdu::consts::EVENT_LOGOUT_REQUEST;
use crate::pdu::{
    AsyncMessage, Bhs, CmdSn, InitiatorPdu, Itt, Lun, NopIn, Reject, RejectReason, TargetPdu, Ttt,
};
use crate::server::Server;
use crate::session::{Admit, CmdWindow, TaskAbort};
use crate::task::{Completion, WriteCollector};
use bytes::Bytes;
use scsi::{Nexus, Response, TaskAttr};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long in-flight commands may run after shutdown was requested.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// After shutdown, how long an idle session waits for the Logout it asked
/// for with an Async Message.
const LOGOUT_WAIT: Duration = Duration::from_secs(2);

/// A finished `DeviceServer::execute`.
pub struct Done {
    pub id: u64,
    pub itt: Itt,
    pub resp: Response,
}

pub enum TaskState {
    /// Accepted, about to be handed to the device server.
    Pending,
    /// Waiting for Data-Out.
    Collecting {
        collector: WriteCollector,
        cdb: Bytes,
        attr: TaskAttr,
    },
    /// Executing in the device server.
    Running { abort: tokio::task::AbortHandle },
}

/// One task of the session's task table, keyed by ITT.
pub struct Task {
    /// Unique per session: tells a stale completion from a reused ITT.
    pub id: u64,
    pub lun: u64,
    pub completion: Completion,
    /// Write buffer bytes charged to the session budget.
    pub buffered: usize,
    pub state: TaskState,
}

/// What the connection does after handling a PDU.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close,
}

/// A pending multi-PDU Text Response (RFC 7143 11.11: C bit and TTT).
pub struct TextOut {
    pub ttt: Ttt,
    pub rest: Bytes,
}

pub struct Session {
    pub server: Arc<Server>,
    pub est: Established,
    pub params: SessionParams,
    pub nexus: Option<Arc<Nexus>>,
    pub reader: PduReader,
    pub writer: PduWriter,
    pub window: CmdWindow<InitiatorPdu>,
    pub tasks: HashMap<Itt, Task>,
    pub next_task_id: u64,
    next_ttt: u32,
    /// Fires once the most recently launched task has entered the device
    /// server (see `launch`).
    pub last_entered: Option<tokio::sync::oneshot::Receiver<()>>,
    pub write_buffered: usize,
    pub done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    pub text_in: Vec<u8>,
    pub text_out: Option<TextOut>,
    pub local: Option<SocketAddr>,
    ping: Option<(Ttt, Instant)>,
    last_rx: Instant,
    /// Queued commands an ABORT TASK unblocked by consuming their
    /// predecessor's CmdSN (RFC 7143 11.6.1), run after the TMF response.
    pub unblocked: Vec<InitiatorPdu>,
}

enum Event {
    Stop,
    Abort(TaskAbort),
    Shutdown,
    Done(Done),
    Frame(Option<Frame>),
    Timer,
}

impl Session {
    pub fn new(
        server: Arc<Server>,
        est: Established,
        nexus: Option<Arc<Nexus>>,
        mut reader: PduReader,
        mut writer: PduWriter,
        local: Option<SocketAddr>,
    ) -> Self {
        let params = est.result.params.clone();
        reader.cfg = FrameConfig {
            header_digest: params.header_digest,
            data_digest: params.data_digest,
            max_recv_data_segment: params.max_recv_data_segment,
        };
        writer.header_digest = params.header_digest;
        writer.data_digest = params.data_digest;
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let window = CmdWindow::new(est.exp_cmdsn, server.queue_depth());
        Self {
            server,
            est,
            params,
            nexus,
            reader,
            writer,
            window,
            tasks: HashMap::new(),
            next_task_id: 0,
            next_ttt: 0,
            last_entered: None,
            write_buffered: 0,
            done_tx,
            done_rx,
            text_in: Vec::new(),
            text_out: None,
            local,
            ping: None,
            last_rx: Instant::now(),
            unblocked: Vec::new(),
        }
    }

    /// A fresh Target Transfer Tag (never 0xffffffff).
    pub fn alloc_ttt(&mut self) -> Ttt {
        self.next_ttt = self.next_ttt.wrapping_add(1);
        if self.next_ttt == u32::MAX {
            self.next_ttt = 1;
        }
        Ttt(self.next_ttt)
    }

    /// Send with the current ExpCmdSN/MaxCmdSN.
    pub async fn send(&mut self, pdu: TargetPdu) -> Result<(), ConnError> {
        let exp = self.window.exp_cmdsn();
        let max = self.window.max_cmdsn();
        self.writer.send(pdu, exp, max).await
    }

    /// Answer a PDU with a Reject (RFC 7143 11.17) and count it.
    pub async fn reject(&mut self, reason: RejectReason, bhs: &Bhs) -> Result<(), ConnError> {
        metrics::counter!("xtgt_pdu_rejects_total", "reason" => reason.name()).increment(1);
        tracing::debug!(reason = reason.name(), opcode = bhs.opcode(), "reject");
        self.send(TargetPdu::Reject(Reject::new(reason, &bhs.0)))
            .await
    }

    fn timer_deadline(&self) -> Option<Instant> {
        let cfg = &self.server.config;
        if let Some((_, sent)) = self.ping {
            return Some(sent + cfg.nop_timeout);
        }
        if cfg.nop_interval.is_zero() {
            return None;
        }
        Some(self.last_rx + cfg.nop_interval)
    }

    /// Run the full feature phase until logout, connection loss, session
    /// stop (reinstatement, reset) or shutdown.
    pub async fn run(&mut self, shutdown: CancellationToken) -> Result<(), ConnError> {
        let stop = self.est.handle.stop.clone();
        let mut drain_until: Option<Instant> = None;
        let mut logout_wait: Option<Instant> = None;
        loop {
            let idle = !self.has_running_tasks();
            if idle && logout_wait.is_some_and(|w| Instant::now() >= w) {
                return Ok(());
            }
            let deadline = match (drain_until, logout_wait) {
                // Draining: wake for the drain bound, and for the end of
                // the logout wait once no task runs.
                (Some(d), Some(w)) if idle => Some(d.min(w)),
                (Some(d), _) => Some(d),
                (None, _) => self.timer_deadline(),
            };
            let ev = tokio::select! {
                biased;
                _ = stop.cancelled() => Event::Stop,
                _ = shutdown.cancelled(), if drain_until.is_none() => Event::Shutdown,
                Some(d) = self.done_rx.recv() => Event::Done(d),
                Some(a) = self.est.aborts.recv() => Event::Abort(a),
                f = self.reader.next() => match f {
                    Ok(f) => Event::Frame(f),
                    Err(e) => return self.fatal(e).await,
                },
                _ = sleep_until_opt(deadline) => Event::Timer,
            };
            match ev {
                Event::Stop => return Ok(()),
                Event::Abort(a) => {
                    let n = self.abort_where(|t| a.lun.is_none_or(|l| l == t.lun));
                    tracing::debug!(
                        tsih = self.est.handle.tsih,
                        aborted = n,
                        "tasks aborted by another session's reset"
                    );
                }
                Event::Shutdown => {
                    // Ask the initiator to log out (RFC 7143 11.9.1, event
                    // 1) and let running commands finish, both bounded.
                    let now = Instant::now();
                    drain_until = Some(now + DRAIN_TIMEOUT);
                    logout_wait = Some(now + LOGOUT_WAIT);
                    self.abort_collecting();
                    self.send(TargetPdu::Async(AsyncMessage {
                        event: EVENT_LOGOUT_REQUEST,
                        parameter3: LOGOUT_WAIT.as_secs() as u16,
                        ..Default::default()
                    }))
                    .await?;
                }
                Event::Done(d) => self.on_done(d).await?,
                Event::Frame(None) => return Ok(()),
                Event::Frame(Some(f)) => {
                    self.last_rx = Instant::now();
                    if self.on_frame(f).await? == Flow::Close {
                        return Ok(());
                    }
                }
                Event::Timer => {
                    if drain_until.is_some() {
                        if drain_until.is_some_and(|d| Instant::now() >= d) {
                            return Ok(());
                        }
                        continue;
                    }
                    self.on_timer().await?;
                }
            }
        }
    }

    /// A framing error ends the connection; an over-long data segment is
    /// rejected first (RFC 7143 11.17.1: protocol error).
    async fn fatal(&mut self, e: ConnError) -> Result<(), ConnError> {
        if let ConnError::Frame(FrameError::DataSegmentTooLarge { bhs, .. }) = &e {
            let bhs = *bhs;
            self.reject(RejectReason::ProtocolError, &bhs).await?;
        }
        Err(e)
    }

    fn has_running_tasks(&self) -> bool {
        self.tasks
            .values()
            .any(|t| matches!(t.state, TaskState::Running { .. }))
    }

    /// Target-initiated NOP-In (RFC 7143 11.19): ping after `nop_interval`
    /// of silence; a ping unanswered for `nop_timeout` drops the connection.
    async fn on_timer(&mut self) -> Result<(), ConnError> {
        let now = Instant::now();
        if let Some((_, sent)) = self.ping {
            if self.last_rx > sent {
                self.ping = None;
            } else if now >= sent + self.server.config.nop_timeout {
                tracing::info!(
                    tsih = self.est.handle.tsih,
                    "NOP-In ping unanswered: dropping connection"
                );
                return Err(ConnError::Protocol("ping timeout"));
            }
            return Ok(());
        }
        let ttt = self.alloc_ttt();
        self.ping = Some((ttt, now));
        self.send(TargetPdu::NopIn(NopIn {
            lun: Lun::default(),
            itt: Itt::RESERVED,
            ttt,
            ..Default::default()
        }))
        .await
    }

    async fn on_frame(&mut self, frame: Frame) -> Result<Flow, ConnError> {
        let raw = match frame {
            Frame::DataDigestError(bhs) => {
                // RFC 7143 7.8: discard the PDU and reject it.
                self.reject(RejectReason::DataDigestError, &bhs).await?;
                return Ok(Flow::Continue);
            }
            Frame::Pdu(raw) => raw,
        };
        let pdu = match InitiatorPdu::parse(&raw) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(opcode = raw.bhs.opcode(), error = %e, "PDU rejected");
                self.reject(e.reject_reason(), &raw.bhs).await?;
                return Ok(Flow::Continue);
            }
        };
        let bhs = raw.bhs;
        let (immediate, cmdsn) = match &pdu {
            InitiatorPdu::Login(_) | InitiatorPdu::Snack(_) => {
                // Login in full feature phase; SNACK needs ERL > 0.
                self.reject(RejectReason::ProtocolError, &bhs).await?;
                return Ok(Flow::Continue);
            }
            InitiatorPdu::DataOut(d) => {
                self.on_data_out(d, &bhs).await?;
                return Ok(Flow::Continue);
            }
            InitiatorPdu::NopOut(n) if n.itt == Itt::RESERVED => {
                // The answer to our ping (always immediate).
                if self.ping.is_some_and(|(t, _)| t == n.ttt) {
                    self.ping = None;
                }
                return Ok(Flow::Continue);
            }
            InitiatorPdu::NopOut(n) => (n.immediate, n.cmdsn),
            InitiatorPdu::ScsiCommand(c) => (c.immediate, c.cmdsn),
            InitiatorPdu::TaskMgmt(t) => (t.immediate, t.cmdsn),
            InitiatorPdu::Text(t) => (t.immediate, t.cmdsn),
            InitiatorPdu::Logout(l) => (l.immediate, l.cmdsn),
        };
        if immediate {
            if matches!(pdu, InitiatorPdu::ScsiCommand(_)) && !self.window.has_room() {
                // RFC 7143 11.17.1: too many immediate commands.
                self.reject(RejectReason::ImmediateCommandReject, &bhs)
                    .await?;
                return Ok(Flow::Continue);
            }
            if self.process(pdu, bhs).await? == Flow::Close {
                return Ok(Flow::Close);
            }
            let list = std::mem::take(&mut self.unblocked);
            return self.deliver(list).await;
        }
        match self.window.admit(cmdsn, pdu) {
            Admit::Deliver(list) => return self.deliver(list).await,
            Admit::Queued => {}
            Admit::Dropped => {
                tracing::debug!(
                    cmdsn = cmdsn.0,
                    exp = self.window.exp_cmdsn().0,
                    "CmdSN outside window: dropped"
                );
            }
        }
        Ok(Flow::Continue)
    }

    /// Process commands the CmdSN window released, in order, and any that
    /// processing them releases in turn (an ABORT TASK consuming a CmdSN).
    async fn deliver(&mut self, list: Vec<InitiatorPdu>) -> Result<Flow, ConnError> {
        let mut queue = std::collections::VecDeque::from(list);
        while let Some(p) = queue.pop_front() {
            let b = p.to_raw().bhs;
            if self.process(p, b).await? == Flow::Close {
                return Ok(Flow::Close);
            }
            queue.extend(self.unblocked.drain(..));
        }
        Ok(Flow::Continue)
    }

    /// Handle a command-numbered PDU in CmdSN order.
    async fn process(&mut self, pdu: InitiatorPdu, bhs: Bhs) -> Result<Flow, ConnError> {
        match pdu {
            InitiatorPdu::ScsiCommand(c) => self.on_command(c, &bhs).await?,
            InitiatorPdu::TaskMgmt(t) => return self.on_tmf(t, &bhs).await,
            InitiatorPdu::Text(t) => self.on_text(t, &bhs).await?,
            InitiatorPdu::Logout(l) => return self.on_logout(l).await,
            InitiatorPdu::NopOut(n) => self.on_nop_out(n).await?,
            InitiatorPdu::Login(_) | InitiatorPdu::DataOut(_) | InitiatorPdu::Snack(_) => {
                self.reject(RejectReason::ProtocolError, &bhs).await?
            }
        }
        Ok(Flow::Continue)
    }

    /// Abort one task: no response is sent for it (RFC 7143 11.5.1).
    pub fn abort_task(&mut self, itt: Itt) -> bool {
        let Some(t) = self.tasks.remove(&itt) else {
            return false;
        };
        if let TaskState::Running { abort } = &t.state {
            abort.abort();
        }
        self.write_buffered = self.write_buffered.saturating_sub(t.buffered);
        self.window.task_finished();
        true
    }

    /// Abort every task matching `pred`.
    pub fn abort_where(&mut self, pred: impl Fn(&Task) -> bool) -> usize {
        let itts: Vec<Itt> = self
            .tasks
            .iter()
            .filter(|(_, t)| pred(t))
            .map(|(i, _)| *i)
            .collect();
        for i in &itts {
            self.abort_task(*i);
        }
        itts.len()
    }

    fn abort_collecting(&mut self) {
        self.abort_where(|t| matches!(t.state, TaskState::Collecting { .. }));
    }

    /// Abort everything (connection end).
    pub fn abort_all(&mut self) {
        self.abort_where(|_| true);
    }

    pub fn exp_cmdsn(&self) -> CmdSn {
        self.window.exp_cmdsn()
    }
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
