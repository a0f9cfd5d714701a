//! iSCSI target fabric (RFC 7143): PDU codec, login and negotiation, sessions,
//! tasks, and the tokio network layer (only `net/` touches sockets).

#![forbid(unsafe_code)]

pub mod auth;
pub mod framing;
pub mod login;
pub mod net;
pub mod params;
pub mod pdu;
pub mod server;
pub mod session;
pub mod target;
pub mod task;
pub mod text;

pub use params::SessionParams;
pub use server::{Server, ServerConfig};
pub use target::TargetConfig;
