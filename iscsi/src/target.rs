//! One iSCSI target as the fabric sees it: its name, its access policy and
//! the SCSI target port behind it. Shared by the login machine (I/O-free)
//! and the server wiring.

use scsi::access::AccessPolicy;
use std::sync::Arc;

#[derive(Clone)]
pub struct TargetConfig {
    pub iqn: String,
    pub alias: Option<String>,
    /// Who may log in to and discover the target (allowed initiators,
    /// CHAP); the copy manager applies the same policy to CSCDs.
    pub access: AccessPolicy,
    /// The SCSI side of this target (LUN map, port ids).
    pub port: Arc<scsi::TargetPort>,
    /// The portals (indexes into `ServerConfig::portals`) this target is
    /// reachable on, each one of its SCSI target ports; empty means every
    /// portal.
    pub portals: Vec<usize>,
}

impl TargetConfig {
    /// Is the target reachable on portal `index`?
    pub fn on_portal(&self, index: usize) -> bool {
        self.portals.is_empty() || self.portals.contains(&index)
    }
}

/// RELATIVE TARGET PORT IDENTIFIER of the target port behind portal
/// `index` (SPC-5 7.7.6.7: 1-based; 0 is reserved).
pub fn relative_port_id(index: usize) -> u16 {
    u16::try_from(index.saturating_add(1)).unwrap_or(u16::MAX)
}
