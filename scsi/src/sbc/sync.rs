//! SYNCHRONIZE CACHE (10/16), SBC-4 5.22-5.23. The whole backend is
//! flushed; IMMED is honoured by completing after the flush (allowed).

use super::cdb::CacheRange;
use super::{capacity_blocks, check_range, write_error};
use crate::command::{CommandCtx, CommandResult, Completion};

async fn synchronize_cache(ctx: &CommandCtx<'_>) -> CommandResult {
    let s = CacheRange::parse(ctx.cdb)?;
    // NUMBER OF LOGICAL BLOCKS zero: from LBA to the end of the medium.
    let blocks = if s.blocks == 0 {
        capacity_blocks(ctx.lu).saturating_sub(s.lba)
    } else {
        s.blocks
    };
    check_range(ctx.lu, s.lba, blocks)?;
    ctx.lu
        .backend
        .flush()
        .await
        .map_err(|e| write_error(ctx.lu, s.lba, &e))?;
    Ok(Completion::good())
}

pub async fn synchronize_cache10(ctx: &CommandCtx<'_>) -> CommandResult {
    synchronize_cache(ctx).await
}

pub async fn synchronize_cache16(ctx: &CommandCtx<'_>) -> CommandResult {
    synchronize_cache(ctx).await
}
