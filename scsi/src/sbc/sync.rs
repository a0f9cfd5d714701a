//! SYNCHRONIZE CACHE (10/16), SBC-4 5.22-5.23. The whole backend is
//! flushed; IMMED is honoured by completing after the flush (allowed).

use super::cdb::CacheRange;
use crate::command::{CommandCtx, CommandResult, Completion};

async fn synchronize_cache(ctx: &CommandCtx<'_>) -> CommandResult {
    let s = CacheRange::parse(ctx.cdb)?;
    // NUMBER OF LOGICAL BLOCKS zero: from LBA to the end of the medium.
    let blocks = if s.blocks == 0 {
        ctx.lu.capacity_blocks().saturating_sub(s.lba)
    } else {
        s.blocks
    };
    ctx.lu.check_range(s.lba, blocks)?;
    ctx.lu.flush(Some(s.lba)).await?;
    Ok(Completion::good())
}

pub async fn synchronize_cache10(ctx: &CommandCtx<'_>) -> CommandResult {
    synchronize_cache(ctx).await
}

pub async fn synchronize_cache16(ctx: &CommandCtx<'_>) -> CommandResult {
    synchronize_cache(ctx).await
}
