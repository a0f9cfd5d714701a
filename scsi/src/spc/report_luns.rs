//! REPORT LUNS (SPC-5 6.33).

use super::truncate;
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::device::{Nexus, TargetPort};
use crate::sense::{FieldPointer, ScsiError};

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
        d.extend_from_slice(&crate::lun::encode(l));
    }
    let alloc = usize::try_from(allocation_length).unwrap_or(usize::MAX);
    Ok(Completion::data(truncate(d, alloc)))
}

/// REPORT LUNS to a LUN without a logical unit (SPC-5 6.33).
pub fn report_unmapped(nexus: &Nexus, cdb: &[u8]) -> CommandResult {
    report(&nexus.target, cdb)
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
