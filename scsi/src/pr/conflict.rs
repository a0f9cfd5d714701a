//! Which commands conflict with which reservations (SPC-5 5.14.1 table
//! "SPC commands that are allowed in the presence of various
//! reservations", SBC-4 4.17 table for the block commands; SPC-2 5.5.1 for
//! RESERVE(6)/(10)). Every opcode table row names its [`PrAccess`].

use super::types::{NexusIdent, PrData, Registration};

/// How a command behaves under reservations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrAccess {
    /// Never conflicts (INQUIRY, REPORT LUNS, REQUEST SENSE), or its
    /// handler applies the rules itself (PERSISTENT RESERVE IN/OUT,
    /// RESERVE/RELEASE).
    Always,
    /// Allowed under every persistent reservation (TEST UNIT READY, READ
    /// CAPACITY, REPORT SUPPORTED OPERATION CODES, third-party copy
    /// status); conflicts under an SPC-2 reservation of another I_T nexus.
    Allowed,
    /// Reads the medium or LU state: conflicts under the Exclusive Access
    /// types for an I_T nexus without access.
    Read,
    /// Writes the medium or LU state: conflicts under every type for an
    /// I_T nexus without access.
    Write,
    /// PREVENT ALLOW MEDIUM REMOVAL: with PREVENT=00b allowed, otherwise
    /// like [`PrAccess::Write`].
    PreventAllow,
}

impl PrAccess {
    /// The access a command with this CDB makes under a persistent
    /// reservation: `None` when it cannot conflict, else `Some(write)`.
    pub fn kind(self, cdb: &[u8]) -> Option<bool> {
        match self {
            PrAccess::Always | PrAccess::Allowed => None,
            PrAccess::Read => Some(false),
            PrAccess::Write => Some(true),
            PrAccess::PreventAllow => {
                if cdb.get(4).is_some_and(|b| b & 0x03 != 0) {
                    Some(true)
                } else {
                    None
                }
            }
        }
    }
}

/// True when a command of kind `write` from `who` conflicts with the
/// persistent reservation of `d`.
pub fn persistent_conflict(d: &PrData, who: &NexusIdent, write: bool) -> bool {
    let reg = d.registration_of(who);
    conflicts(d, reg, write)
}

/// The same rule for a copy manager acting for an initiator port
/// (`initiator`, `isid`) through whichever target port reaches the LU: a
/// registration of that initiator port on any target port counts.
pub fn copy_conflict(d: &PrData, initiator: &str, isid: &str, write: bool) -> bool {
    let reg = d
        .registrations
        .iter()
        .find(|r| r.matches_initiator_port(initiator, isid));
    conflicts(d, reg, write)
}

fn conflicts(d: &PrData, reg: Option<&Registration>, write: bool) -> bool {
    let Some(r) = d.reservation else {
        return false;
    };
    let has_access = match reg {
        Some(reg) => d.is_holder(reg) || r.ty.registrants_have_access(),
        None => false,
    };
    !has_access && (write || r.ty.excludes_reads())
}

/// SPC-2 (RESERVE(6)/(10)): every command except those that never
/// conflict is refused to an I_T nexus other than the holder.
pub fn spc2_conflict(holder: Option<u64>, nexus: u64, access: PrAccess) -> bool {
    access != PrAccess::Always && holder.is_some_and(|h| h != nexus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_spc2() {
        let prevent = [0x1E, 0, 0, 0, 0x01, 0];
        let allow = [0x1E, 0, 0, 0, 0x00, 0];
        assert_eq!(PrAccess::PreventAllow.kind(&prevent), Some(true));
        assert_eq!(PrAccess::PreventAllow.kind(&allow), None);
        assert_eq!(PrAccess::PreventAllow.kind(&[]), None);
        assert_eq!(PrAccess::Read.kind(&[]), Some(false));
        assert_eq!(PrAccess::Write.kind(&[]), Some(true));
        assert_eq!(PrAccess::Allowed.kind(&[]), None);
        assert_eq!(PrAccess::Always.kind(&[]), None);
        assert!(spc2_conflict(Some(1), 2, PrAccess::Allowed));
        assert!(spc2_conflict(Some(1), 2, PrAccess::Read));
        assert!(!spc2_conflict(Some(1), 2, PrAccess::Always));
        assert!(!spc2_conflict(Some(2), 2, PrAccess::Write));
        assert!(!spc2_conflict(None, 2, PrAccess::Write));
    }
}
