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
}
