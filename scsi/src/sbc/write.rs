//! WRITE (6/10/12/16), SBC-4 5.40-5.43.

use super::cdb::Rw;
use super::{data_out_blocks, BlockLimits};
use crate::blockio::{WriteKind, Writer};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};

/// Validate a WRITE-type CDB: WRPROTECT, MAXIMUM TRANSFER LENGTH, range.
/// Write protection is the facade's: no [`Writer`] on a read-only LU.
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
    ctx.lu.check_range(lba, blocks)
}

/// Write the Data-Out's whole blocks at `lba` through `w`.
pub(crate) async fn write_data(
    ctx: &CommandCtx<'_>,
    w: &Writer<'_>,
    lba: u64,
    data: bytes::Bytes,
    fua: bool,
) -> Result<(), ScsiError> {
    w.write_blocks(lba, data, fua, WriteKind::Write, ctx.account())
        .await
}

async fn write(ctx: &CommandCtx<'_>) -> CommandResult {
    let rw = Rw::parse(ctx.cdb)?;
    validate(ctx, rw.lba, rw.blocks, rw.protect, rw.length_field)?;
    let w = ctx.lu.writer().await?;
    if rw.blocks == 0 {
        return Ok(Completion::good());
    }
    let (data, _blocks) = data_out_blocks(ctx, rw.blocks)?;
    write_data(ctx, &w, rw.lba, data, rw.fua).await?;
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
