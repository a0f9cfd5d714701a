//! REPORT TARGET PORT GROUPS (SPC-5 6.37): MAINTENANCE IN, service action
//! 0Ah; one target port group descriptor per group of the target.

use super::TargetAlua;
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};
use crate::spc::truncate;

/// The REPORT TARGET PORT GROUPS service action.
pub const SA_REPORT_TARGET_PORT_GROUPS: u8 = 0x0A;

/// PARAMETER DATA FORMAT (CDB byte 1 bits 7..5).
pub const FORMAT_LENGTH_ONLY: u8 = 0b000;
pub const FORMAT_EXTENDED: u8 = 0b001;

/// IMPLICIT TRANSITION TIME of the extended header, in seconds: a state
/// change (a restart with another configuration, or SET TARGET PORT
/// GROUPS) takes effect at once; xtgt never reports the transitioning
/// state.
pub const IMPLICIT_TRANSITION_TIME_SECS: u8 = 1;

/// Supported states byte of every descriptor: T_SUP=0, O_SUP=0, LBD_SUP=0,
/// U_SUP=1, S_SUP=1, AN_SUP=1, AO_SUP=1.
pub const SUPPORTED_STATES: u8 = 0x0F;

/// One target port group descriptor per group, ascending by id.
pub fn descriptors(alua: &TargetAlua) -> Vec<u8> {
    let mut d = Vec::with_capacity(alua.groups.len() * 12);
    for g in &alua.groups {
        d.push(g.state() as u8); // PREF=0
        d.push(SUPPORTED_STATES);
        d.extend_from_slice(&g.id.to_be_bytes());
        d.push(0); // reserved
        d.push(g.status());
        d.push(0); // vendor specific
                   // At most 255 ports per descriptor (TARGET PORT COUNT is 1 byte);
                   // the configuration has far fewer portals.
        let ports = &g.ports[..g.ports.len().min(255)];
        d.push(u8::try_from(ports.len()).unwrap_or(u8::MAX));
        for p in ports {
            d.extend_from_slice(&[0, 0]);
            d.extend_from_slice(&p.to_be_bytes());
        }
    }
    d
}

/// The parameter data in `format` (length only or extended header).
pub fn parameter_data(alua: &TargetAlua, format: u8) -> Vec<u8> {
    let desc = descriptors(alua);
    let mut out = Vec::with_capacity(8 + desc.len());
    out.extend_from_slice(&[0; 4]);
    if format == FORMAT_EXTENDED {
        // FORMAT TYPE 001b in bits 6..4, IMPLICIT TRANSITION TIME.
        out.extend_from_slice(&[0x10, IMPLICIT_TRANSITION_TIME_SECS, 0, 0]);
    }
    out.extend_from_slice(&desc);
    // RETURN DATA LENGTH: the bytes after it (n - 3), in both formats.
    let len = u32::try_from(out.len() - 4).unwrap_or(u32::MAX);
    out[0..4].copy_from_slice(&len.to_be_bytes());
    out
}

pub async fn report_target_port_groups(ctx: &CommandCtx<'_>) -> CommandResult {
    let b = |i: usize| ctx.cdb.get(i).copied().unwrap_or(0);
    let format = b(1) >> 5;
    if format != FORMAT_LENGTH_ONLY && format != FORMAT_EXTENDED {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 7)));
    }
    let allocation_length = u32::from_be_bytes([b(6), b(7), b(8), b(9)]);
    let data = parameter_data(&ctx.nexus.port.alua, format);
    let alloc = usize::try_from(allocation_length).unwrap_or(usize::MAX);
    Ok(Completion::data(truncate(data, alloc)))
}
