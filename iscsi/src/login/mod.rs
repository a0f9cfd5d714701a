//! I/O-free login phase (RFC 7143 6.2, 11.12, 11.13): security negotiation
//! (None, CHAP), operational negotiation, discovery and normal sessions.
//!
//! Contract with the network layer: for every Login Request PDU the net layer
//! builds a [`LoginInput`], calls [`LoginMachine::step`], sends a Login
//! Response built from the [`LoginOutput`], and acts on its [`LoginEvent`].
//! TSIH allocation and session reinstatement are the session layer's job.
//!
//! - A Login Request with TSIH != 0 naming no existing session: the net
//!   layer answers with [`fail_output`] and [`LoginStatus::SESSION_DOES_NOT_EXIST`]
//!   (0x020a) itself; the machine only treats TSIH != 0 as a non-leading
//!   connection (LO keys answered `Irrelevant`).
//! - The machine never counts metrics: `xtgt_logins_total` is the net
//!   layer's ([`LoginStatus::name`] gives a label).
//! - The target's own values for negotiation: [`NegotiationPolicy`]
//!   (`LoginMachine::with_policy`); `LoginMachine::new` uses the default.
//! - Discovery sessions need no authentication (no secret exists for them);
//!   a normal session's target with `chap` set requires CHAP.
//! - Full feature phase Text Requests: [`text_exchange`].

mod discovery;
pub mod keys;
mod machine;
pub mod negotiate;
mod security;
pub mod status;
#[cfg(test)]
mod tests;

pub use discovery::{text_exchange, TextReply};
pub use machine::{
    fail_output, LoginMachine, STAGE_FULL_FEATURE, STAGE_OPERATIONAL, STAGE_SECURITY,
};
pub use negotiate::NegotiationPolicy;
pub use status::LoginStatus;

use crate::params::SessionParams;
use crate::target::TargetConfig;
use std::sync::Arc;

/// Fields of a Login Request PDU (RFC 7143 11.12).
#[derive(Debug, Clone)]
pub struct LoginInput<'a> {
    pub transit: bool,
    pub cont: bool,
    pub csg: u8,
    pub nsg: u8,
    pub version_max: u8,
    pub version_min: u8,
    pub isid: [u8; 6],
    pub tsih: u16,
    pub itt: u32,
    pub cid: u16,
    pub cmdsn: u32,
    pub exp_statsn: u32,
    /// The data segment (text keys), digest and padding already removed.
    pub data: &'a [u8],
}

/// Fields of the Login Response to send (RFC 7143 11.13). StatSN,
/// ExpCmdSN, MaxCmdSN, ITT, ISID and TSIH are filled in by the net layer.
#[derive(Debug, Clone, Default)]
pub struct LoginOutput {
    pub transit: bool,
    pub cont: bool,
    pub csg: u8,
    pub nsg: u8,
    /// Status-Class and Status-Detail (RFC 7143 11.13.5).
    pub status: LoginStatus,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionKind {
    Discovery,
    /// Index into `ServerConfig::targets`.
    Normal {
        target: usize,
    },
}

/// What login established.
#[derive(Debug, Clone)]
pub struct LoginResult {
    pub kind: SessionKind,
    pub initiator_name: String,
    pub initiator_alias: Option<String>,
    pub isid: [u8; 6],
    /// TSIH from the leading login request (0 = new session).
    pub tsih: u16,
    pub params: SessionParams,
}

#[derive(Debug, Clone)]
pub enum LoginEvent {
    /// Send the response and wait for the next Login Request.
    Continue,
    /// Send the response; the connection enters full feature phase.
    Complete(LoginResult),
    /// Send the response (a non-zero status class) and close the connection.
    Fail,
}

/// Static context of the login: the targets and what we accept.
#[derive(Clone)]
pub struct LoginContext {
    pub targets: Arc<Vec<TargetConfig>>,
    /// TPGT of the first portal; portal `i` has `portal_group_tag + i`.
    pub portal_group_tag: u16,
    /// Portals listed in SendTargets replies.
    pub portals: Vec<std::net::SocketAddr>,
    /// The portal (index into `portals`) this connection came in on.
    pub portal: usize,
    /// The target's own MaxRecvDataSegmentLength to declare.
    pub max_recv_data_segment: u32,
}

impl LoginContext {
    /// The target portal group tag of portal `index` (RFC 7143 13.9).
    pub fn tpgt(&self, index: usize) -> u16 {
        let i = u16::try_from(index).unwrap_or(u16::MAX);
        self.portal_group_tag.saturating_add(i)
    }
}
