//! ORWRITE(16), SBC-4 5.12: the Data-Out is ORed into the medium, block by
//! block (the BMOP 000b operation of ORWRITE(32): the new content of each
//! byte is the medium's byte OR the Data-Out byte). ORPROTECT must be 0 (no
//! protection information). Atomic against every other writer on the LU:
//! the read-OR-write runs under the exclusive
//! [`crate::blockio::Writer`], as COMPARE AND WRITE does.

use super::cdb::Rw;
use super::data_out_blocks;
use super::write::validate;
use crate::blockio::WriteKind;
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::ScsiError;
use bytes::BytesMut;

pub async fn orwrite16(ctx: &CommandCtx<'_>) -> CommandResult {
    let rw = Rw::parse(ctx.cdb)?;
    // ORPROTECT, MAXIMUM TRANSFER LENGTH, LBA range, write protection.
    validate(ctx, rw.lba, rw.blocks, rw.protect, rw.length_field)?;
    let w = ctx.lu.exclusive_writer().await?;
    if rw.blocks == 0 {
        return Ok(Completion::good());
    }
    let (data, blocks) = data_out_blocks(ctx, rw.blocks)?;
    if blocks == 0 {
        return Ok(Completion::good());
    }
    let medium = w.read_blocks(rw.lba, blocks, ctx.account()).await?;
    if medium.len() != data.len() {
        return Err(ScsiError::UnrecoveredReadError { lba: Some(rw.lba) });
    }
    let mut merged = BytesMut::from(&medium[..]);
    for (m, d) in merged.iter_mut().zip(data.iter()) {
        *m |= *d;
    }
    w.write_blocks(
        rw.lba,
        merged.freeze(),
        rw.fua,
        WriteKind::OrWrite,
        ctx.account(),
    )
    .await?;
    Ok(Completion::good())
}
