//! GET LBA STATUS (SERVICE ACTION IN(16) 0x12), SBC-4 5.8: the provisioning
//! status of the blocks from STARTING LOGICAL BLOCK ADDRESS on, from the
//! backend's mapping.

use super::cdb::GetLbaStatus;
use super::BlockLimits;
use crate::backend::Extent;
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::ScsiError;
use bytes::{BufMut, BytesMut};

/// PROVISIONING STATUS values (SBC-4 table 58).
const MAPPED: u8 = 0x0;
const DEALLOCATED: u8 = 0x1;
/// Descriptors returned at most (bounded response).
const MAX_DESCRIPTORS: usize = 64;
/// How far one query looks, in bytes.
const QUERY_SPAN: u64 = 1 << 40;

/// One LBA STATUS descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LbaStatus {
    pub lba: u64,
    pub blocks: u32,
    pub deallocated: bool,
}

/// Convert byte extents to whole-block descriptors: a block counts as
/// deallocated only if it lies entirely in a deallocated extent.
pub fn to_block_status(extents: &[Extent], block_size: u64, max: usize) -> Vec<LbaStatus> {
    let bs = block_size.max(1);
    let mut out: Vec<LbaStatus> = Vec::new();
    for e in extents {
        let end = e.offset.saturating_add(e.len);
        let (mut first, last) = if e.mapped {
            (e.offset / bs, end.div_ceil(bs))
        } else {
            (e.offset.div_ceil(bs), end / bs)
        };
        if let Some(prev) = out.last() {
            first = first.max(prev.lba + u64::from(prev.blocks));
        }
        let mut remaining = last.saturating_sub(first);
        while remaining > 0 {
            match out.last_mut() {
                Some(prev)
                    if prev.deallocated != e.mapped
                        && prev.lba + u64::from(prev.blocks) == first
                        && prev.blocks < u32::MAX =>
                {
                    let add = remaining.min(u64::from(u32::MAX - prev.blocks));
                    prev.blocks += add as u32;
                    first += add;
                    remaining -= add;
                }
                _ => {
                    if out.len() >= max {
                        return out;
                    }
                    let n = remaining.min(u64::from(u32::MAX));
                    out.push(LbaStatus {
                        lba: first,
                        blocks: n as u32,
                        deallocated: !e.mapped,
                    });
                    first += n;
                    remaining -= n;
                }
            }
        }
    }
    out
}

pub async fn get_lba_status(ctx: &CommandCtx<'_>) -> CommandResult {
    let g = GetLbaStatus::parse(ctx.cdb)?;
    let capacity = ctx.lu.capacity_blocks();
    if g.lba >= capacity {
        return Err(ScsiError::LbaOutOfRange);
    }
    let bs = u64::from(ctx.lu.block_size());
    let max = ((g.allocation_length as usize).saturating_sub(8) / 16).clamp(1, MAX_DESCRIPTORS);
    let offset = g.lba * bs;
    let len = ((capacity - g.lba) * bs).min(QUERY_SPAN);
    // Without deallocation every block is mapped (LBPME=0).
    let extents = if BlockLimits::for_lu(ctx.lu).unmap_supported {
        ctx.lu.mapping(g.lba, len).await?
    } else {
        vec![Extent {
            offset,
            len,
            mapped: true,
        }]
    };
    let descriptors = to_block_status(&extents, bs, max);
    let mut b = BytesMut::with_capacity(8 + 16 * descriptors.len());
    // PARAMETER DATA LENGTH: bytes that follow it.
    b.put_u32((4 + 16 * descriptors.len()) as u32);
    b.put_u32(0);
    for d in &descriptors {
        b.put_u64(d.lba);
        b.put_u32(d.blocks);
        b.put_u8(if d.deallocated { DEALLOCATED } else { MAPPED });
        b.put_u8(0); // ADDITIONAL STATUS
        b.put_u16(0);
    }
    b.truncate(g.allocation_length as usize);
    Ok(Completion::data(b.freeze()))
}
