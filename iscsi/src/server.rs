//! The public face of the fabric: configuration handed in by the binary and
//! the listener loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::login::LoginContext;
use crate::session::{SessionRegistry, MIN_QUEUE_DEPTH};
use crate::target::TargetConfig;

#[derive(Clone)]
pub struct ServerConfig {
    pub targets: Vec<TargetConfig>,
    /// Portals advertised in SendTargets (the addresses we listen on, in
    /// the order of the listeners given to [`Server::serve`]). Each is its
    /// own iSCSI target portal group, so each is a SCSI target port of
    /// every target on it: portal `i` has TPGT `portal_group_tag + i` and
    /// relative target port identifier `i + 1`.
    pub portals: Vec<SocketAddr>,
    /// Target portal group tag of the first portal.
    pub portal_group_tag: u16,
    /// Idle time before the target sends a NOP-In ping.
    pub nop_interval: Duration,
    /// A connection whose ping is unanswered this long is dropped.
    pub nop_timeout: Duration,
    /// Largest data segment the target accepts (its MaxRecvDataSegmentLength).
    pub max_recv_data_segment: u32,
    /// Commands in flight per session (the CmdSN window).
    pub queue_depth: u32,
}

/// The iSCSI target fabric.
pub struct Server {
    pub config: ServerConfig,
    pub device: Arc<scsi::DeviceServer>,
    /// Live sessions (TSIH allocation, reinstatement, cold reset).
    pub sessions: SessionRegistry,
    login_ctx: LoginContext,
}

impl Server {
    pub fn new(config: ServerConfig, device: Arc<scsi::DeviceServer>) -> Arc<Self> {
        let login_ctx = LoginContext {
            targets: Arc::new(config.targets.clone()),
            portal_group_tag: config.portal_group_tag,
            portals: config.portals.clone(),
            portal: 0,
            max_recv_data_segment: config.max_recv_data_segment,
        };
        Arc::new(Self {
            config,
            device,
            sessions: SessionRegistry::new(),
            login_ctx,
        })
    }

    /// The static context of logins and text exchanges on portal `portal`.
    pub fn login_context(&self, portal: usize) -> LoginContext {
        let mut c = self.login_ctx.clone();
        c.portal = portal;
        c
    }

    /// The CmdSN window per session: `queue_depth`, at least 64.
    pub fn queue_depth(&self) -> u32 {
        self.config.queue_depth.max(MIN_QUEUE_DEPTH)
    }

    /// Accept connections on every listener until `shutdown` fires, then stop
    /// accepting, finish or abort in-flight commands and return.
    pub async fn serve(
        self: Arc<Self>,
        listeners: Vec<TcpListener>,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        crate::net::serve(self, listeners, shutdown).await
    }
}
