//! ORWRITE(16), SBC-4 5.12: the Data-Out is ORed into the medium, block by
//! block (the BMOP 000b operation of ORWRITE(32): the new content of each
//! byte is the medium's byte OR the Data-Out byte). ORPROTECT must be 0 (no
//! protection information). Atomic against every other writer on the LU:
//! the read-OR-write runs under the exclusive
//! [`super::SbcState::write_lock`], as COMPARE AND WRITE does.

use super::cdb::Rw;
use super::write::{validate, write_data};
use super::{byte_range, count_read, data_out_blocks, read_error};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::ScsiError;
use bytes::BytesMut;

pub async fn orwrite16(ctx: &CommandCtx<'_>) -> CommandResult {
    let rw = Rw::parse(ctx.cdb)?;
    // ORPROTECT, MAXIMUM TRANSFER LENGTH, LBA range, write protection.
    validate(ctx, rw.lba, rw.blocks, rw.protect, rw.length_field)?;
    if rw.blocks == 0 {
        return Ok(Completion::good());
    }
    let (data, blocks) = data_out_blocks(ctx, rw.blocks)?;
    if blocks == 0 {
        return Ok(Completion::good());
    }
    let (off, len) = byte_range(ctx.lu, rw.lba, blocks);
    let len = usize::try_from(len).map_err(|_| ScsiError::InternalTargetFailure)?;
    let _exclusive = ctx.lu.sbc.write_lock.write().await;
    let medium = ctx
        .lu
        .backend
        .read(off, len)
        .await
        .map_err(|e| read_error(ctx.lu, rw.lba, &e))?;
    count_read(ctx, len as u64);
    if medium.len() != data.len() {
        return Err(ScsiError::UnrecoveredReadError { lba: Some(rw.lba) });
    }
    let mut merged = BytesMut::from(&medium[..]);
    for (m, d) in merged.iter_mut().zip(data.iter()) {
        *m |= *d;
    }
    write_data(ctx, rw.lba, merged.freeze(), rw.fua).await?;
    Ok(Completion::good())
}
