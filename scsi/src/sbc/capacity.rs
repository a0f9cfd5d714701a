//! READ CAPACITY (10), SBC-4 5.19, and READ CAPACITY (16), SBC-4 5.20.

use super::cdb::{ReadCapacity10, ReadCapacity16};
use super::{lbppb_exponent, BlockLimits};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::device::LogicalUnit;
use crate::sense::{FieldPointer, ScsiError};
use bytes::{BufMut, BytesMut};

/// READ CAPACITY(16) parameter data length.
pub const RC16_LEN: usize = 32;

pub async fn read_capacity10(ctx: &CommandCtx<'_>) -> CommandResult {
    let rc = ReadCapacity10::parse(ctx.cdb)?;
    // SBC-4 5.19.1: LOGICAL BLOCK ADDRESS must be zero when PMI is zero.
    if !rc.pmi && rc.lba != 0 {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(2)));
    }
    let last = ctx.lu.capacity_blocks().saturating_sub(1);
    let mut b = BytesMut::with_capacity(8);
    // RETURNED LOGICAL BLOCK ADDRESS: FFFF_FFFFh when it does not fit.
    b.put_u32(u32::try_from(last).unwrap_or(u32::MAX));
    b.put_u32(ctx.lu.block_size());
    Ok(Completion::data(b.freeze()))
}

pub async fn read_capacity16(ctx: &CommandCtx<'_>) -> CommandResult {
    let rc = ReadCapacity16::parse(ctx.cdb)?;
    let mut b = BytesMut::from(&read_capacity16_data(ctx.lu)[..]);
    b.truncate(rc.allocation_length as usize);
    Ok(Completion::data(b.freeze()))
}

/// READ CAPACITY(16) parameter data of `lu` (SBC-4 5.20.2), 32 bytes; also
/// the DEVICE TYPE SPECIFIC DATA of its ROD tokens (bytes 8-31).
pub fn read_capacity16_data(lu: &LogicalUnit) -> [u8; RC16_LEN] {
    let caps = lu.capabilities();
    let lbpme = BlockLimits::for_lu(lu).unmap_supported;
    let lbprz = lbpme && caps.unmapped_reads_zero;
    let mut b = BytesMut::with_capacity(RC16_LEN);
    b.put_u64(lu.capacity_blocks().saturating_sub(1));
    b.put_u32(lu.block_size());
    b.put_u8(0); // P_TYPE, PROT_EN: no protection information
                 // P_I_EXPONENT = 0, LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT.
    b.put_u8(lbppb_exponent(lu) & 0x0F);
    b.put_u8(u8::from(lbpme) << 7 | u8::from(lbprz) << 6); // LOWEST ALIGNED LBA = 0
    b.put_u8(0);
    b.put_bytes(0, RC16_LEN - b.len());
    let mut out = [0u8; RC16_LEN];
    out.copy_from_slice(&b);
    out
}
