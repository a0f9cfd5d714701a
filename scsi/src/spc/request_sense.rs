//! REQUEST SENSE (SPC-5 6.39): reports (and clears) a pending unit
//! attention, otherwise NO SENSE. DESC selects descriptor format sense;
//! the Control page's D_SENSE does not apply here (it governs the sense of
//! CHECK CONDITION; SPC-5 6.39.1 lets the CDB choose the format).

use super::truncate;
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::device::Nexus;
use crate::sense::{ScsiError, SenseData, SenseKey};

fn encode(sense: &SenseData, cdb: &[u8]) -> CommandResult {
    let desc = cdb.get(1).copied().unwrap_or(0) & 0x01 != 0;
    let allocation_length = usize::from(cdb.get(4).copied().unwrap_or(0));
    Ok(Completion::data(truncate(
        sense.encode(desc).to_vec(),
        allocation_length,
    )))
}

pub async fn request_sense(ctx: &CommandCtx<'_>) -> CommandResult {
    let sense = match ctx.lu.spc.ua.take(ctx.nexus.id) {
        Some(ua) => ua.sense(),
        None => SenseData::new(SenseKey::NoSense, 0, 0),
    };
    encode(&sense, ctx.cdb)
}

/// REQUEST SENSE to a LUN without a logical unit: GOOD status with
/// LOGICAL UNIT NOT SUPPORTED in the parameter data (SPC-5 6.39.2).
pub fn unmapped(_nexus: &Nexus, cdb: &[u8]) -> CommandResult {
    encode(&ScsiError::LunNotSupported.sense(), cdb)
}
