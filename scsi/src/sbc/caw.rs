//! COMPARE AND WRITE, SBC-4 5.3: compare NUMBER OF LOGICAL BLOCKS blocks
//! with the first half of the Data-Out and, only if they match, write the
//! second half; atomic against every other writer on the LU (exclusive
//! [`crate::blockio::Writer`]).

use super::cdb::CompareAndWrite;
use super::{first_difference, BlockLimits};
use crate::blockio::WriteKind;
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};

pub async fn compare_and_write(ctx: &CommandCtx<'_>) -> CommandResult {
    let c = CompareAndWrite::parse(ctx.cdb)?;
    if c.protect != 0 {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 7)));
    }
    if c.blocks > BlockLimits::for_lu(ctx.lu).max_compare_and_write_length {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(13)));
    }
    let blocks = u64::from(c.blocks);
    ctx.lu.check_range(c.lba, blocks)?;
    let w = ctx.lu.exclusive_writer().await?;
    if blocks == 0 {
        // No blocks, no transfer (SBC-4 5.3). Data-Out sent anyway means the
        // initiator meant a length the one-byte field cannot hold (256 and
        // more blocks): refuse rather than silently do nothing.
        if !ctx.data_out.is_empty() {
            return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(13)));
        }
        return Ok(Completion::good());
    }
    let half = blocks as usize * ctx.lu.block_size() as usize;
    // Data-Out is exactly the verify data followed by the write data.
    if ctx.data_out.len() != 2 * half {
        return Err(ScsiError::InvalidFieldInCommandIu);
    }
    let verify = ctx.data_out.slice(..half);
    let write = ctx.data_out.slice(half..);
    let medium = w.read_blocks(c.lba, blocks, ctx.account()).await?;
    if let Some(o) = first_difference(&medium, &verify) {
        return Err(ScsiError::MiscompareDuringVerify { offset: o as u64 });
    }
    w.write_blocks(
        c.lba,
        write,
        c.fua,
        WriteKind::CompareAndWrite,
        ctx.account(),
    )
    .await?;
    Ok(Completion::good())
}
