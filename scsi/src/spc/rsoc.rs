//! REPORT SUPPORTED OPERATION CODES (SPC-5 6.35), generated from the
//! opcode table.

use super::truncate;
use crate::cdb::{self, Flags, OpcodeEntry, TABLE};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};

/// SUPPORT values of the one-command format (SPC-5 table 238).
const NOT_SUPPORTED: u8 = 0b001;
const SUPPORTED: u8 = 0b011;

/// Command timeouts descriptor (SPC-5 6.35.4).
fn timeouts_descriptor(out: &mut Vec<u8>, e: &OpcodeEntry) {
    out.extend_from_slice(&0x000Au16.to_be_bytes()); // DESCRIPTOR LENGTH
    out.push(0); // reserved
    out.push(0); // COMMAND SPECIFIC
    out.extend_from_slice(&e.timeouts.0.to_be_bytes());
    out.extend_from_slice(&e.timeouts.1.to_be_bytes());
}

/// A row the device server supports for this I_T nexus: an explicit-ALUA
/// row (SET TARGET PORT GROUPS) only where the target allows it.
fn offered(e: &OpcodeEntry, explicit_alua: bool) -> bool {
    explicit_alua || !e.flags.contains(Flags::EXPLICIT_ALUA)
}

/// All commands parameter data (SPC-5 6.35.2).
pub fn all_commands(rctd: bool, explicit_alua: bool) -> Vec<u8> {
    let mut d = vec![0u8; 4];
    for e in TABLE.iter().filter(|e| offered(e, explicit_alua)) {
        d.push(e.opcode);
        d.push(0);
        d.extend_from_slice(&e.service_action.unwrap_or(0).to_be_bytes());
        d.push(0);
        let ctdp = if rctd { 0x02 } else { 0 };
        d.push(ctdp | u8::from(e.has_service_action()));
        d.extend_from_slice(&u16::try_from(e.cdb_len()).unwrap_or(0).to_be_bytes());
        if rctd {
            timeouts_descriptor(&mut d, e);
        }
    }
    let len = u32::try_from(d.len() - 4).unwrap_or(u32::MAX);
    d[0..4].copy_from_slice(&len.to_be_bytes());
    d
}

/// One command parameter data (SPC-5 6.35.3).
pub fn one_command(entry: Option<&OpcodeEntry>, rctd: bool) -> Vec<u8> {
    let Some(e) = entry else {
        return vec![0, NOT_SUPPORTED, 0, 0];
    };
    let mut d = Vec::with_capacity(4 + e.cdb_len() + 12);
    d.push(0);
    d.push(if rctd { 0x80 } else { 0 } | SUPPORTED);
    d.extend_from_slice(&u16::try_from(e.cdb_len()).unwrap_or(0).to_be_bytes());
    d.extend_from_slice(e.usage);
    if rctd {
        timeouts_descriptor(&mut d, e);
    }
    d
}

/// The parameter data for a REPORT SUPPORTED OPERATION CODES CDB.
pub fn report(cdb: &[u8], explicit_alua: bool) -> Result<Vec<u8>, ScsiError> {
    let find =
        |opcode: u8, sa: Option<u16>| cdb::find(opcode, sa).filter(|e| offered(e, explicit_alua));
    let b = |i: usize| cdb.get(i).copied().unwrap_or(0);
    let rctd = b(2) & 0x80 != 0;
    let reporting_options = b(2) & 0x07;
    let opcode = b(3);
    let sa = u16::from_be_bytes([b(4), b(5)]);
    let has_sa = cdb::rows(opcode)
        .iter()
        .any(|e| e.has_service_action() && offered(e, explicit_alua));
    let invalid = ScsiError::InvalidFieldInCdb(FieldPointer::bit(2, 2));
    Ok(match reporting_options {
        0b000 => all_commands(rctd, explicit_alua),
        // Opcode only: an opcode with service actions is an error.
        0b001 => {
            if has_sa {
                return Err(invalid);
            }
            one_command(find(opcode, None), rctd)
        }
        // Opcode and service action: an opcode without is an error.
        0b010 => {
            if !has_sa && find(opcode, None).is_some() {
                return Err(invalid);
            }
            one_command(find(opcode, Some(sa)), rctd)
        }
        // Either: the service action is looked at only where the opcode
        // has service actions.
        0b011 => {
            let entry = if has_sa {
                find(opcode, Some(sa))
            } else {
                find(opcode, None)
            };
            one_command(entry, rctd)
        }
        _ => return Err(invalid),
    })
}

pub async fn report_supported_operation_codes(ctx: &CommandCtx<'_>) -> CommandResult {
    let b = |i: usize| ctx.cdb.get(i).copied().unwrap_or(0);
    let allocation_length = u32::from_be_bytes([b(6), b(7), b(8), b(9)]);
    let data = report(ctx.cdb, ctx.nexus.port.alua.explicit)?;
    let alloc = usize::try_from(allocation_length).unwrap_or(usize::MAX);
    Ok(Completion::data(truncate(data, alloc)))
}
