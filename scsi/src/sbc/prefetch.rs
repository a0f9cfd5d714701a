//! PRE-FETCH (10/16), SBC-4 5.13-5.14. xtgt keeps no cache of its own, so
//! after the range check the command completes with GOOD ("the cache does
//! not have sufficient capacity"), never CONDITION MET.

use super::cdb::CacheRange;
use super::BlockLimits;
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};

async fn prefetch(ctx: &CommandCtx<'_>) -> CommandResult {
    let p = CacheRange::parse(ctx.cdb)?;
    // MAXIMUM PREFETCH LENGTH (VPD 0xB0) is the maximum transfer length.
    if p.blocks > u64::from(BlockLimits::for_lu(ctx.lu).max_transfer_length) {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(
            p.length_field,
        )));
    }
    let blocks = if p.blocks == 0 {
        ctx.lu.capacity_blocks().saturating_sub(p.lba)
    } else {
        p.blocks
    };
    ctx.lu.check_range(p.lba, blocks)?;
    Ok(Completion::good())
}

pub async fn prefetch10(ctx: &CommandCtx<'_>) -> CommandResult {
    prefetch(ctx).await
}

pub async fn prefetch16(ctx: &CommandCtx<'_>) -> CommandResult {
    prefetch(ctx).await
}
