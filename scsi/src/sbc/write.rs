//! WRITE (6/10/12/16), SBC-4 5.40-5.43.

use super::cdb::Rw;
use super::{
    byte_range, check_range, check_writable, count_write, data_out_blocks, force_unit_access,
    write_error, BlockLimits,
};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};
use bytes::Bytes;

/// Validate a WRITE-type CDB: WRPROTECT, MAXIMUM TRANSFER LENGTH, range,
/// write protection.
pub(crate) fn validate(
    ctx: &CommandCtx<'_>,
    lba: u64,
    blocks: u64,
    protect: u8,
    length_field: u16,
) -> Result<(), ScsiError> {
    if protect != 0 {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 7)));
    }
    let limits = BlockLimits::for_lu(ctx.lu);
    if blocks > u64::from(limits.max_transfer_length) {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(
            length_field,
        )));
    }
    check_range(ctx.lu, lba, blocks)?;
    check_writable(ctx.lu)
}

/// Write whole blocks at `lba` (range already checked, write lock held by
/// the caller). `fua` is the CDB's bit; a disabled write cache forces it.
pub(crate) async fn write_data(
    ctx: &CommandCtx<'_>,
    lba: u64,
    data: Bytes,
    fua: bool,
) -> Result<(), ScsiError> {
    if data.is_empty() {
        return Ok(());
    }
    let (off, _) = byte_range(ctx.lu, lba, 0);
    let len = data.len() as u64;
    ctx.lu
        .backend
        .write(off, data, force_unit_access(ctx.lu, fua))
        .await
        .map_err(|e| write_error(ctx.lu, lba, &e))?;
    count_write(ctx, len);
    Ok(())
}

async fn write(ctx: &CommandCtx<'_>) -> CommandResult {
    let rw = Rw::parse(ctx.cdb)?;
    validate(ctx, rw.lba, rw.blocks, rw.protect, rw.length_field)?;
    if rw.blocks == 0 {
        return Ok(Completion::good());
    }
    let (data, _blocks) = data_out_blocks(ctx, rw.blocks)?;
    let _shared = ctx.lu.sbc.write_lock.read().await;
    write_data(ctx, rw.lba, data, rw.fua).await?;
    Ok(Completion::good())
}

/// WRITE(6): TRANSFER LENGTH 0 means 256 blocks.
pub async fn write6(ctx: &CommandCtx<'_>) -> CommandResult {
    write(ctx).await
}

pub async fn write10(ctx: &CommandCtx<'_>) -> CommandResult {
    write(ctx).await
}

pub async fn write12(ctx: &CommandCtx<'_>) -> CommandResult {
    write(ctx).await
}

pub async fn write16(ctx: &CommandCtx<'_>) -> CommandResult {
    write(ctx).await
}
