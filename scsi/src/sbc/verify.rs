//! VERIFY (10/12/16), SBC-4 5.34-5.36, and WRITE AND VERIFY (10/12/16),
//! SBC-4 5.44-5.46.

use super::cdb::Verify;
use super::write::{validate as validate_write, write_data};
use super::{data_out_blocks, first_difference, read_chunks, BlockLimits};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};
use bytes::Bytes;

/// Compare `blocks` blocks of the medium at `lba` with `expected`, which is
/// either the whole range or (`repeat`) one block compared against every
/// block. MISCOMPARE reports the byte offset of the first difference
/// counted from the start of the verified range.
async fn compare_medium(
    ctx: &CommandCtx<'_>,
    lba: u64,
    blocks: u64,
    expected: &Bytes,
    repeat: bool,
) -> Result<(), ScsiError> {
    let bs = ctx.lu.block_size() as usize;
    let mut base = 0usize;
    read_chunks(ctx.lu, lba, blocks, |_, medium| {
        let mismatch = if repeat {
            medium
                .chunks(bs)
                .enumerate()
                .find_map(|(i, blk)| first_difference(blk, expected).map(|o| i * bs + o))
        } else {
            let want = expected.get(base..base + medium.len()).unwrap_or(&[]);
            first_difference(&medium, want)
        };
        if let Some(o) = mismatch {
            return Err(ScsiError::MiscompareDuringVerify {
                offset: (base + o) as u64,
            });
        }
        base += medium.len();
        Ok(())
    })
    .await
}

async fn verify(ctx: &CommandCtx<'_>) -> CommandResult {
    let v = Verify::parse(ctx.cdb)?;
    if v.protect != 0 {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 7)));
    }
    if v.bytchk == 2 {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 2)));
    }
    if v.bytchk == 1 && v.blocks > u64::from(BlockLimits::for_lu(ctx.lu).max_transfer_length) {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(
            v.length_field,
        )));
    }
    ctx.lu.check_range(v.lba, v.blocks)?;
    if v.blocks == 0 {
        return Ok(Completion::good());
    }
    match v.bytchk {
        // Medium verification only: every block must be readable.
        0 => read_chunks(ctx.lu, v.lba, v.blocks, |_, _| Ok(())).await?,
        1 => {
            let (data, n) = data_out_blocks(ctx, v.blocks)?;
            compare_medium(ctx, v.lba, n, &data, false).await?;
        }
        _ => {
            let (data, n) = data_out_blocks(ctx, 1)?;
            if n == 1 {
                compare_medium(ctx, v.lba, v.blocks, &data, true).await?;
            }
        }
    }
    Ok(Completion::good())
}

async fn write_and_verify(ctx: &CommandCtx<'_>) -> CommandResult {
    let v = Verify::parse(ctx.cdb)?;
    validate_write(ctx, v.lba, v.blocks, v.protect, v.length_field)?;
    let w = ctx.lu.writer().await?;
    if v.blocks == 0 {
        return Ok(Completion::good());
    }
    let (data, n) = data_out_blocks(ctx, v.blocks)?;
    // The data must be on the medium before it is verified there.
    write_data(ctx, &w, v.lba, data.clone(), true).await?;
    compare_medium(ctx, v.lba, n, &data, false).await?;
    Ok(Completion::good())
}

pub async fn verify10(ctx: &CommandCtx<'_>) -> CommandResult {
    verify(ctx).await
}

pub async fn verify12(ctx: &CommandCtx<'_>) -> CommandResult {
    verify(ctx).await
}

pub async fn verify16(ctx: &CommandCtx<'_>) -> CommandResult {
    verify(ctx).await
}

pub async fn write_verify10(ctx: &CommandCtx<'_>) -> CommandResult {
    write_and_verify(ctx).await
}

pub async fn write_verify12(ctx: &CommandCtx<'_>) -> CommandResult {
    write_and_verify(ctx).await
}

pub async fn write_verify16(ctx: &CommandCtx<'_>) -> CommandResult {
    write_and_verify(ctx).await
}
