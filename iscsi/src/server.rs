//! The public face of the fabric: configuration handed in by the binary and
//! the listener loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::login::LoginContext;
use crate::session::{SessionRegistry, MIN_QUEUE_DEPTH};

/// A CHAP user name and secret (RFC 7143 12.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChapSecret {
    pub user: String,
    pub secret: String,
}

/// One iSCSI target as the fabric sees it.
#[derive(Clone)]
pub struct TargetConfig {
    pub iqn: String,
    pub alias: Option<String>,
    /// Initiator names allowed to log in and to see the target in
    /// SendTargets; empty means any initiator.
    pub allowed_initiators: Vec<String>,
    /// One-way CHAP: the initiator must authenticate with this.
    pub chap: Option<ChapSecret>,
    /// Mutual CHAP: the target authenticates to the initiator with this.
    pub mutual_chap: Option<ChapSecret>,
    /// The SCSI side of this target (LUN map, port ids).
    pub port: Arc<scsi::TargetPort>,
}

#[derive(Clone)]
pub struct ServerConfig {
    pub targets: Vec<TargetConfig>,
    /// Portals advertised in SendTargets (the addresses we listen on).
    pub portals: Vec<SocketAddr>,
    /// Target portal group tag of all portals.
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
            max_recv_data_segment: config.max_recv_data_segment,
        };
        Arc::new(Self {
            config,
            device,
            sessions: SessionRegistry::new(),
            login_ctx,
        })
    }

    /// The static context every login and text exchange uses.
    pub fn login_context(&self) -> LoginContext {
        self.login_ctx.clone()
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
