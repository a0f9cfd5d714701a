//! WRITE SAME (10/16), SBC-4 5.47-5.48.
//!
//! WSNZ is 0 (see [`BlockLimits`]): NUMBER OF LOGICAL BLOCKS zero means from
//! the LBA to the last LBA, subject to MAXIMUM WRITE SAME LENGTH.
//! ANCHOR is not supported (ANC_SUP=0). With UNMAP set and a backend that
//! deallocates, the range is deallocated whatever the data block holds
//! (SBC-4 5.49: for each LBA, a write operation *or* an unmap operation; as
//! LIO does, and as libiscsi's WriteSame10.UnmapUntilEnd expects). Otherwise
//! the block is written (zeroes efficiently when the backend can), in chunks
//! of bounded size.

use super::cdb::WriteSame;
use super::{BlockLimits, FILL_CHUNK_BYTES};
use crate::blockio::{WriteKind, Writer};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};
use bytes::{Bytes, BytesMut};

async fn write_same(ctx: &CommandCtx<'_>) -> CommandResult {
    let mut ws = WriteSame::parse(ctx.cdb)?;
    let limits = BlockLimits::for_lu(ctx.lu);
    if ws.protect != 0 {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 7)));
    }
    if ws.anchor {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 4)));
    }
    // UNMAP on a LU that cannot deallocate (LBPWS/LBPWS10 = 0): refused, so
    // the initiator sees what VPD 0xB2 says (libiscsi WriteSame*.UnmapVPD).
    let w = ctx.lu.writer().await?;
    if ws.unmap && !limits.unmap_supported {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 3)));
    }
    if ws.blocks == 0 {
        if limits.wsnz {
            return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(
                ws.length_field,
            )));
        }
        // SBC-4 5.50: zero blocks: from LBA through the last LBA.
        ws.blocks = ctx
            .lu
            .capacity_blocks()
            .checked_sub(ws.lba)
            .ok_or(ScsiError::LbaOutOfRange)?;
        if ws.blocks == 0 {
            return Ok(Completion::good());
        }
    }
    if ws.blocks > limits.max_write_same_length {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(
            ws.length_field,
        )));
    }
    ctx.lu.check_range(ws.lba, ws.blocks)?;
    let bs = ctx.lu.block_size() as usize;
    let block = if ws.ndob {
        None
    } else {
        // Exactly one logical block of Data-Out.
        if ctx.data_out.len() != bs {
            return Err(ScsiError::InvalidFieldInCommandIu);
        }
        Some(ctx.data_out.clone())
    };
    let zero = block.as_ref().is_none_or(|b| b.iter().all(|&x| x == 0));
    let caps = ctx.lu.capabilities();
    if ws.unmap && limits.unmap_supported {
        w.unmap(ws.lba, ws.blocks, WriteKind::WriteSame).await?;
    } else if zero && caps.write_zeroes {
        w.write_zeroes(ws.lba, ws.blocks, WriteKind::WriteSame, ctx.account())
            .await?;
    } else {
        let block = block.unwrap_or_else(|| Bytes::from(vec![0u8; bs]));
        fill(ctx, &w, ws.lba, ws.blocks, &block).await?;
    }
    w.settle(ws.lba).await?;
    Ok(Completion::good())
}

/// Write `block` to every block of `[lba, lba+blocks)`, one bounded buffer
/// of repeated blocks at a time.
async fn fill(
    ctx: &CommandCtx<'_>,
    w: &Writer<'_>,
    lba: u64,
    blocks: u64,
    block: &Bytes,
) -> Result<(), ScsiError> {
    let bs = block.len().max(1) as u64;
    let chunk_blocks = (FILL_CHUNK_BYTES / bs).clamp(1, blocks.max(1));
    let mut buf = BytesMut::with_capacity((chunk_blocks * bs) as usize);
    for _ in 0..chunk_blocks {
        buf.extend_from_slice(block);
    }
    let buf = buf.freeze();
    let mut done = 0u64;
    while done < blocks {
        let n = chunk_blocks.min(blocks - done);
        let data = buf.slice(..(n * bs) as usize);
        w.write_blocks(lba + done, data, false, WriteKind::WriteSame, ctx.account())
            .await?;
        done += n;
    }
    Ok(())
}

pub async fn write_same10(ctx: &CommandCtx<'_>) -> CommandResult {
    write_same(ctx).await
}

/// WRITE SAME(16); NDOB: no Data-Out, the block is all zeroes.
pub async fn write_same16(ctx: &CommandCtx<'_>) -> CommandResult {
    write_same(ctx).await
}
