//! READ (6/10/12/16), SBC-4 5.15-5.18.

use super::cdb::Rw;
use super::BlockLimits;
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};

/// Validate a READ CDB against the LU: RDPROTECT (no protection information
/// is supported), MAXIMUM TRANSFER LENGTH, then the LBA range.
pub(crate) fn validate(ctx: &CommandCtx<'_>, rw: &Rw) -> Result<(), ScsiError> {
    if rw.protect != 0 {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 7)));
    }
    let limits = BlockLimits::for_lu(ctx.lu);
    if rw.blocks > u64::from(limits.max_transfer_length) {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(
            rw.length_field,
        )));
    }
    ctx.lu.check_range(rw.lba, rw.blocks)
}

async fn read(ctx: &CommandCtx<'_>) -> CommandResult {
    let rw = Rw::parse(ctx.cdb)?;
    validate(ctx, &rw)?;
    if rw.blocks == 0 {
        return Ok(Completion::good());
    }
    let data = ctx.lu.read_blocks(rw.lba, rw.blocks, ctx.account()).await?;
    Ok(Completion::data(data))
}

/// READ(6): TRANSFER LENGTH 0 means 256 blocks.
pub async fn read6(ctx: &CommandCtx<'_>) -> CommandResult {
    read(ctx).await
}

pub async fn read10(ctx: &CommandCtx<'_>) -> CommandResult {
    read(ctx).await
}

pub async fn read12(ctx: &CommandCtx<'_>) -> CommandResult {
    read(ctx).await
}

pub async fn read16(ctx: &CommandCtx<'_>) -> CommandResult {
    read(ctx).await
}
