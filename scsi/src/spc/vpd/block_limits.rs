//! Block Limits (SBC-4 6.6.4), from the block command set's
//! [`BlockLimits`] (the same values its handlers enforce).

use super::{with_header, BLOCK_LIMITS};
use crate::cdb;
use crate::device::LogicalUnit;
use crate::sbc::BlockLimits;

/// PAGE LENGTH of this page (SBC-3 and later).
const PAGE_LENGTH: usize = 0x3C;

pub fn block_limits(lu: &LogicalUnit) -> Vec<u8> {
    let l = BlockLimits::for_lu(lu);
    // `p[i]` is byte i + 4 of the page.
    let mut p = [0u8; PAGE_LENGTH];
    p[0] = u8::from(l.wsnz);
    // MAXIMUM COMPARE AND WRITE LENGTH: 0 when the command is not served.
    if cdb::by_name("COMPARE_AND_WRITE").is_some() {
        p[1] = l.max_compare_and_write_length;
    }
    p[2..4].copy_from_slice(&l.optimal_transfer_length_granularity.to_be_bytes());
    p[4..8].copy_from_slice(&l.max_transfer_length.to_be_bytes());
    p[8..12].copy_from_slice(&l.optimal_transfer_length.to_be_bytes());
    // MAXIMUM PREFETCH LENGTH: as much as one transfer.
    if cdb::by_name("PRE_FETCH_10").is_some() {
        p[12..16].copy_from_slice(&l.max_transfer_length.to_be_bytes());
    }
    p[16..20].copy_from_slice(&l.max_unmap_lba_count.to_be_bytes());
    p[20..24].copy_from_slice(&l.max_unmap_descriptors.to_be_bytes());
    if l.unmap_supported {
        p[24..28].copy_from_slice(&l.optimal_unmap_granularity.to_be_bytes());
        let uga = 0x8000_0000 | (l.unmap_granularity_alignment & 0x7FFF_FFFF);
        p[28..32].copy_from_slice(&uga.to_be_bytes());
    }
    if cdb::by_name("WRITE_SAME_16").is_some() {
        p[32..40].copy_from_slice(&l.max_write_same_length.to_be_bytes());
    }
    with_header(BLOCK_LIMITS, &p)
}
