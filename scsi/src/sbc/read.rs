//! READ (6/10/12/16), SBC-4 5.15-5.18.

use super::cdb::Rw;
use super::{byte_range, check_range, count_read, read_error, BlockLimits};
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
    check_range(ctx.lu, rw.lba, rw.blocks)
}

async fn read(ctx: &CommandCtx<'_>) -> CommandResult {
    let rw = Rw::parse(ctx.cdb)?;
    validate(ctx, &rw)?;
    if rw.blocks == 0 {
        return Ok(Completion::good());
    }
    let (off, len) = byte_range(ctx.lu, rw.lba, rw.blocks);
    let len = usize::try_from(len).map_err(|_| ScsiError::InternalTargetFailure)?;
    let data = ctx
        .lu
        .backend
        .read(off, len)
        .await
        .map_err(|e| read_error(ctx.lu, rw.lba, &e))?;
    count_read(ctx, data.len() as u64);
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
