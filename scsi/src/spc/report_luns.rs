//! REPORT LUNS (SPC-5 6.33).

use super::truncate;
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::device::TargetPort;
use crate::sense::{FieldPointer, ScsiError};

pub const OPCODE: u8 = 0xA0;

/// Encodes a LUN number as an 8-byte SAM-5 LUN (4.7): peripheral device
/// addressing below 256, flat space addressing below 16384, otherwise the
/// value is taken as an already encoded 8-byte LUN.
pub fn encode_lun(lun: u64) -> [u8; 8] {
    let mut b = [0u8; 8];
    if lun < 256 {
        b[1] = lun as u8;
    } else if lun < 0x4000 {
        b[0] = 0x40 | (lun >> 8) as u8;
        b[1] = lun as u8;
    } else {
        b = lun.to_be_bytes();
    }
    b
}

/// The LUN inventory of `port` for the CDB (served with or without a
/// logical unit at the addressed LUN).
pub fn report(port: &TargetPort, cdb: &[u8]) -> CommandResult {
    let b = |i: usize| cdb.get(i).copied().unwrap_or(0);
    let select_report = b(2);
    let allocation_length = u32::from_be_bytes([b(6), b(7), b(8), b(9)]);
    // SPC-5 6.33: an ALLOCATION LENGTH below 16 is an error.
    if allocation_length < 16 {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(6)));
    }
    let luns: Vec<u64> = match select_report {
        // 00h: logical units (no well known LUs exist here); 02h: all.
        0x00 | 0x02 => port.luns.keys().copied().collect(),
        // 01h: well known logical units only: none.
        0x01 => Vec::new(),
        _ => return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(2))),
    };
    let list_len = luns.len().saturating_mul(8);
    let mut d = Vec::with_capacity(8 + list_len);
    d.extend_from_slice(&u32::try_from(list_len).unwrap_or(u32::MAX).to_be_bytes());
    d.extend_from_slice(&[0; 4]);
    for l in luns {
        d.extend_from_slice(&encode_lun(l));
    }
    let alloc = usize::try_from(allocation_length).unwrap_or(usize::MAX);
    Ok(Completion::data(truncate(d, alloc)))
}

pub async fn report_luns(ctx: &CommandCtx<'_>) -> CommandResult {
    let r = report(&ctx.nexus.target, ctx.cdb)?;
    // SPC-5 6.33: REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED.
    ctx.lu
        .spc
        .ua
        .clear(ctx.nexus.id, &ScsiError::ReportedLunsDataChanged);
    Ok(r)
}
