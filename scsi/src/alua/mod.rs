//! Asymmetric logical unit access (SPC-5 5.16): target port groups, their
//! access states, which commands a state allows, REPORT TARGET PORT GROUPS
//! (6.37) and SET TARGET PORT GROUPS (6.48).
//!
//! Every LU of a SCSI target device shares one set of target port groups
//! (one LU group, SPC-5 5.16.2.1); each target port (an iSCSI portal group
//! of the target) is in exactly one group. The states are shared by every
//! I_T nexus of the target; SET TARGET PORT GROUPS (explicit ALUA, only
//! when configured) changes them.

pub mod rtpg;
pub mod stpg;
#[cfg(test)]
mod tests;

use crate::cdb::{Flags, OpcodeEntry};
use crate::sense::ScsiError;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// ASYMMETRIC ACCESS STATE values (SPC-5 table 148 / 6.37).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum AccessState {
    ActiveOptimized = 0x0,
    ActiveNonOptimized = 0x1,
    Standby = 0x2,
    Unavailable = 0x3,
}

impl AccessState {
    /// The state of an ASYMMETRIC ACCESS STATE field, if it is one xtgt
    /// supports (not LBA dependent, offline or transitioning).
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x0 => Self::ActiveOptimized,
            0x1 => Self::ActiveNonOptimized,
            0x2 => Self::Standby,
            0x3 => Self::Unavailable,
            _ => return None,
        })
    }

    /// The configuration name of the state.
    pub fn name(self) -> &'static str {
        match self {
            Self::ActiveOptimized => "active/optimized",
            Self::ActiveNonOptimized => "active/non-optimized",
            Self::Standby => "standby",
            Self::Unavailable => "unavailable",
        }
    }

    /// Parses a configuration name (see [`AccessState::name`]).
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::ActiveOptimized,
            Self::ActiveNonOptimized,
            Self::Standby,
            Self::Unavailable,
        ]
        .into_iter()
        .find(|st| st.name() == s)
    }

    /// SPC-5 5.16.2.4: may a command of this row be processed through a
    /// target port in this state? Otherwise NOT READY, LOGICAL UNIT NOT
    /// ACCESSIBLE with the state's ASCQ.
    pub fn check(self, row: &OpcodeEntry) -> Result<(), ScsiError> {
        match self {
            Self::ActiveOptimized | Self::ActiveNonOptimized => Ok(()),
            // 5.16.2.4.4: INQUIRY, LOG SELECT/SENSE, MODE SELECT/SENSE,
            // REPORT LUNS, RECEIVE/SEND DIAGNOSTIC, REPORT/SET TARGET PORT
            // GROUPS, REQUEST SENSE, PERSISTENT RESERVE IN/OUT, echo
            // buffer READ/WRITE BUFFER (the rows flagged ALUA_STANDBY_OK).
            Self::Standby if row.flags.contains(Flags::ALUA_STANDBY_OK) => Ok(()),
            Self::Standby => Err(ScsiError::TargetPortStandby),
            // 5.16.2.4.5: INQUIRY, REPORT LUNS, REPORT/SET TARGET PORT
            // GROUPS, REQUEST SENSE, echo buffer READ/WRITE BUFFER.
            Self::Unavailable if row.flags.contains(Flags::ALUA_UNAVAILABLE_OK) => Ok(()),
            Self::Unavailable => Err(ScsiError::TargetPortUnavailable),
        }
    }
}

/// STATUS CODE of a target port group descriptor (SPC-5 6.37).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum StatusCode {
    None = 0x00,
    /// Altered by SET TARGET PORT GROUPS.
    AlteredBySetTargetPortGroups = 0x01,
}

/// One target port group: its id, the RELATIVE TARGET PORT IDENTIFIERs
/// of its ports and its (shared, changeable) state.
#[derive(Debug)]
pub struct PortGroup {
    /// TARGET PORT GROUP (1..=65535).
    pub id: u16,
    /// Relative target port identifiers, ascending.
    pub ports: Vec<u16>,
    state: AtomicU8,
    status: AtomicU8,
}

impl PortGroup {
    pub fn new(id: u16, state: AccessState, ports: Vec<u16>) -> Self {
        let mut ports = ports;
        ports.sort_unstable();
        ports.dedup();
        Self {
            id,
            ports,
            state: AtomicU8::new(state as u8),
            status: AtomicU8::new(StatusCode::None as u8),
        }
    }

    pub fn state(&self) -> AccessState {
        AccessState::from_code(self.state.load(Ordering::Acquire))
            .unwrap_or(AccessState::Unavailable)
    }

    pub fn status(&self) -> u8 {
        self.status.load(Ordering::Acquire)
    }

    /// Set by SET TARGET PORT GROUPS: the new state and status code 01h.
    pub(crate) fn set_state(&self, state: AccessState) {
        self.state.store(state as u8, Ordering::Release);
        self.status.store(
            StatusCode::AlteredBySetTargetPortGroups as u8,
            Ordering::Release,
        );
    }
}

/// The target port groups of one SCSI target device.
#[derive(Debug)]
pub struct TargetAlua {
    /// SET TARGET PORT GROUPS is supported (INQUIRY TPGS=11b).
    pub explicit: bool,
    /// The groups, ascending by id.
    pub groups: Vec<PortGroup>,
}

impl TargetAlua {
    pub fn new(explicit: bool, groups: Vec<PortGroup>) -> Self {
        let mut groups = groups;
        groups.sort_by_key(|g| g.id);
        Self { explicit, groups }
    }

    /// One active/optimized group `group` holding the one port
    /// `relative_port_id`, implicit ALUA only.
    pub fn single(group: u16, relative_port_id: u16) -> Self {
        Self::new(
            false,
            vec![PortGroup::new(
                group,
                AccessState::ActiveOptimized,
                vec![relative_port_id],
            )],
        )
    }

    /// The group of a relative target port.
    pub fn group_of(&self, relative_port_id: u16) -> Option<&PortGroup> {
        self.groups
            .iter()
            .find(|g| g.ports.contains(&relative_port_id))
    }

    pub fn group(&self, id: u16) -> Option<&PortGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// TPGS of the standard INQUIRY data (SPC-5 6.7.2): 01b implicit
    /// only, 11b implicit and explicit.
    pub fn tpgs(&self) -> u8 {
        if self.explicit {
            0b11
        } else {
            0b01
        }
    }
}

/// The target port an I_T nexus came in through.
#[derive(Debug, Clone)]
pub struct NexusPort {
    /// RELATIVE TARGET PORT IDENTIFIER (>= 1).
    pub relative_port_id: u16,
    /// TARGET PORT GROUP of that port.
    pub port_group: u16,
    /// iSCSI target portal group tag: the target port's name is
    /// "<iqn>,t,0x<tpgt>" (RFC 7143 Annex / SPC-5 7.7.6.11).
    pub tpgt: u16,
    /// The target's port groups (shared by all its nexuses).
    pub alua: Arc<TargetAlua>,
}

impl NexusPort {
    /// The port `relative_port_id` of `alua` with `tpgt`; a port in no
    /// group is reported in group 0 and treated as unavailable.
    pub fn new(alua: Arc<TargetAlua>, relative_port_id: u16, tpgt: u16) -> Self {
        let port_group = alua.group_of(relative_port_id).map_or(0, |g| g.id);
        Self {
            relative_port_id,
            port_group,
            tpgt,
            alua,
        }
    }

    /// The current access state of this port's group.
    pub fn state(&self) -> AccessState {
        self.alua
            .group_of(self.relative_port_id)
            .map_or(AccessState::Unavailable, PortGroup::state)
    }
}

impl Default for NexusPort {
    /// Port 1 in group 1, active/optimized, TPGT 1.
    fn default() -> Self {
        Self::new(Arc::new(TargetAlua::single(1, 1)), 1, 1)
    }
}
