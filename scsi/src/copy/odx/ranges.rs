//! Block device range descriptor lists (SBC-4 5.12.3), shared by POPULATE
//! TOKEN (source ranges) and WRITE USING TOKEN (destination ranges).
//!
//! Rules (SBC-4 5.12.2, 5.59.2, 5.12.3), checked in this order:
//! - BLOCK DEVICE RANGE DESCRIPTOR LENGTH below 16: INVALID FIELD IN
//!   PARAMETER LIST pointing at that length field;
//! - a length that is not a multiple of 16, and descriptors cut by the
//!   parameter list length, leave an incomplete last descriptor, which is
//!   ignored; if no complete descriptor is left: PARAMETER LIST LENGTH ERROR;
//! - more complete descriptors than MAXIMUM RANGE DESCRIPTORS: TOO MANY
//!   SEGMENT DESCRIPTORS (0x26/0x08), before anything is allocated;
//! - a range past the capacity: LOGICAL BLOCK ADDRESS OUT OF RANGE;
//! - an LBA in more than one range: INVALID FIELD IN PARAMETER LIST pointing
//!   at the first descriptor (in list order) that overlaps an earlier one;
//! - more blocks in all than MAXIMUM TOKEN TRANSFER SIZE: INVALID FIELD IN
//!   PARAMETER LIST pointing at the NUMBER OF LOGICAL BLOCKS field of the
//!   descriptor that passes the limit.
//!
//! A range of 0 blocks is no operation and not an error: it is range
//! checked like any other but left out of the result.

use super::limits::OdxLimits;
use crate::sense::{FieldPointer, ScsiError};
use crate::wire::be_uint;
use std::collections::BTreeMap;
use std::ops::Bound;

/// Length of one block device range descriptor.
pub const RANGE_DESCRIPTOR_LEN: usize = 16;

/// One non-empty block device range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRange {
    /// LOGICAL BLOCK ADDRESS of the first block.
    pub lba: u64,
    /// NUMBER OF LOGICAL BLOCKS (never 0 here).
    pub blocks: u32,
}

/// The logical unit the ranges address (the POPULATE TOKEN source or the
/// WRITE USING TOKEN destination).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LuExtent {
    /// Number of logical blocks (READ CAPACITY's last LBA + 1).
    pub capacity_blocks: u64,
    /// Logical block length in bytes.
    pub block_size: u32,
}

/// Validated ranges and their total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeList {
    /// The non-empty ranges in list order.
    pub ranges: Vec<BlockRange>,
    /// Sum of their NUMBER OF LOGICAL BLOCKS.
    pub total_blocks: u64,
}

/// A field pointer into the parameter list (lists are far below 64 KiB
/// for any field a pointer names; saturate anyway).
pub(super) fn fp(byte: usize) -> FieldPointer {
    FieldPointer::byte(u16::try_from(byte).unwrap_or(u16::MAX))
}

/// Parse and check the range descriptor list of `data` (the whole
/// parameter list as cut to PARAMETER LIST LENGTH). The list starts at
/// `list_start`; its 2-byte length field is at `length_at`.
pub(super) fn parse_ranges(
    data: &[u8],
    length_at: usize,
    list_start: usize,
    limits: &OdxLimits,
    lu: &LuExtent,
) -> Result<RangeList, ScsiError> {
    let list_len = be_uint(data, length_at, 2).ok_or(ScsiError::ParameterListLengthError)?;
    let list_len = usize::try_from(list_len).map_err(|_| ScsiError::ParameterListLengthError)?;
    if list_len < RANGE_DESCRIPTOR_LEN {
        return Err(ScsiError::InvalidFieldInParameterList(fp(length_at)));
    }
    let available = data.len().saturating_sub(list_start).min(list_len);
    let count = available / RANGE_DESCRIPTOR_LEN;
    if count == 0 {
        return Err(ScsiError::ParameterListLengthError);
    }
    if count > usize::from(limits.max_range_descriptors) {
        return Err(ScsiError::TooManySegmentDescriptors);
    }

    let mut ranges = Vec::with_capacity(count);
    let mut starts = Vec::with_capacity(count);
    for i in 0..count {
        let off = list_start + i * RANGE_DESCRIPTOR_LEN;
        let lba = be_uint(data, off, 8).ok_or(ScsiError::ParameterListLengthError)?;
        let blocks = be_uint(data, off + 8, 4)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(ScsiError::ParameterListLengthError)?;
        match lba.checked_add(u64::from(blocks)) {
            Some(end) if end <= lu.capacity_blocks => {}
            _ => return Err(ScsiError::LbaOutOfRange),
        }
        if blocks > 0 {
            ranges.push(BlockRange { lba, blocks });
            starts.push(off);
        }
    }

    // Every earlier range is disjoint from the others, so a new range
    // overlaps one of them exactly when it overlaps its neighbour below
    // or above in LBA order.
    let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
    for (r, &off) in ranges.iter().zip(&starts) {
        let end = r.lba + u64::from(r.blocks);
        let below = seen
            .range(..=r.lba)
            .next_back()
            .is_some_and(|(_, &e)| e > r.lba);
        let above = seen
            .range((Bound::Excluded(r.lba), Bound::Unbounded))
            .next()
            .is_some_and(|(&s, _)| s < end);
        if below || above {
            return Err(ScsiError::InvalidFieldInParameterList(fp(off)));
        }
        seen.insert(r.lba, end);
    }

    let max = limits.max_token_transfer_blocks(lu.block_size);
    let mut total: u64 = 0;
    for (r, &off) in ranges.iter().zip(&starts) {
        total += u64::from(r.blocks);
        if max != 0 && total > max {
            return Err(ScsiError::InvalidFieldInParameterList(fp(off + 8)));
        }
    }
    Ok(RangeList {
        ranges,
        total_blocks: total,
    })
}

/// Builders for range descriptor lists, shared by the tests of `odx`.
#[cfg(test)]
pub(crate) mod build {
    /// One 16-byte block device range descriptor.
    pub fn range(lba: u64, blocks: u32) -> Vec<u8> {
        let mut d = vec![0u8; 16];
        d[..8].copy_from_slice(&lba.to_be_bytes());
        d[8..12].copy_from_slice(&blocks.to_be_bytes());
        d
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::build::range;
    use super::*;

    const LU: LuExtent = LuExtent {
        capacity_blocks: 1000,
        block_size: 512,
    };

    /// A list whose length field is at 0 and whose descriptors start at 2.
    fn list(descs: &[Vec<u8>]) -> Vec<u8> {
        let body = descs.concat();
        let mut d = (body.len() as u16).to_be_bytes().to_vec();
        d.extend_from_slice(&body);
        d
    }

    fn parse(d: &[u8]) -> Result<RangeList, ScsiError> {
        parse_ranges(d, 0, 2, &OdxLimits::default(), &LU)
    }

    #[test]
    fn valid_ranges_in_order_zero_length_dropped() {
        let r = parse(&list(&[
            range(10, 5),
            range(900, 0),
            range(0, 10),
            range(15, 985),
        ]))
        .unwrap();
        assert_eq!(
            r.ranges,
            vec![
                BlockRange { lba: 10, blocks: 5 },
                BlockRange { lba: 0, blocks: 10 },
                BlockRange {
                    lba: 15,
                    blocks: 985
                },
            ]
        );
        assert_eq!(r.total_blocks, 1000);
        // A zero-length range at the very end of the LU is in range.
        assert!(parse(&list(&[range(1000, 0), range(0, 1)])).is_ok());
    }

    #[test]
    fn length_field_below_16_points_at_it() {
        let mut d = list(&[range(0, 1)]);
        d[1] = 15;
        assert_eq!(
            parse(&d),
            Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
                0
            )))
        );
    }

    /// An incomplete last descriptor (length not a multiple of 16, or cut
    /// by the parameter list length) is ignored; none complete is a
    /// parameter list length error.
    #[test]
    fn incomplete_descriptors_are_ignored() {
        let mut d = list(&[range(0, 1), range(0, 1)]);
        d[1] = 31; // second descriptor incomplete: its overlap is not seen
        assert_eq!(parse(&d).unwrap().ranges.len(), 1);
        let d = list(&[range(0, 1), range(0, 1)]);
        assert_eq!(parse(&d[..2 + 16 + 15]).unwrap().ranges.len(), 1);
        assert_eq!(
            parse(&d[..2 + 15]),
            Err(ScsiError::ParameterListLengthError)
        );
        assert_eq!(parse(&d[..1]), Err(ScsiError::ParameterListLengthError));
    }

    #[test]
    fn too_many_descriptors() {
        let l = OdxLimits::default();
        let max = usize::from(l.max_range_descriptors);
        let at: Vec<Vec<u8>> = (0..max as u64).map(|i| range(i, 1)).collect();
        assert_eq!(parse(&list(&at)).unwrap().ranges.len(), max);
        let over: Vec<Vec<u8>> = (0..=max as u64).map(|i| range(i, 1)).collect();
        assert_eq!(
            parse(&list(&over)),
            Err(ScsiError::TooManySegmentDescriptors)
        );
        let s = ScsiError::TooManySegmentDescriptors.sense().encode_fixed();
        assert_eq!((s[2], s[12], s[13], s[15]), (0x05, 0x26, 0x08, 0));
    }

    #[test]
    fn past_capacity_is_lba_out_of_range() {
        for d in [
            list(&[range(0, 1), range(999, 2)]),
            list(&[range(1001, 0)]),
            list(&[range(u64::MAX, 1)]),
        ] {
            assert_eq!(parse(&d), Err(ScsiError::LbaOutOfRange));
        }
        let s = ScsiError::LbaOutOfRange.sense().encode_fixed();
        assert_eq!((s[2], s[12], s[13]), (0x05, 0x21, 0x00));
        assert!(parse(&list(&[range(999, 1)])).is_ok());
    }

    /// The first descriptor (in list order) that shares an LBA with an
    /// earlier one is named, by the byte offset of its LBA field.
    #[test]
    fn overlap_points_at_the_later_descriptor() {
        let cases: [(&[(u64, u32)], u16); 5] = [
            (&[(10, 10), (19, 1)], 18),        // inside, from above
            (&[(10, 10), (5, 6)], 18),         // reaching in from below
            (&[(10, 10), (10, 1)], 18),        // same start
            (&[(0, 5), (20, 5), (4, 17)], 34), // spans a gap into both
            (&[(0, 5), (5, 5), (50, 5), (9, 1)], 50),
        ];
        for (ranges, at) in cases {
            let d = list(&ranges.iter().map(|&(l, n)| range(l, n)).collect::<Vec<_>>());
            assert_eq!(
                parse(&d),
                Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
                    at
                ))),
                "{ranges:?}"
            );
        }
        // Adjacent is not overlapping; empty ranges overlap nothing.
        assert!(parse(&list(&[range(0, 5), range(5, 5), range(2, 0)])).is_ok());
        let s = ScsiError::InvalidFieldInParameterList(FieldPointer::byte(34))
            .sense()
            .encode_fixed();
        assert_eq!(&s[12..18], &[0x26, 0x00, 0, 0x80, 0, 34]);
    }

    #[test]
    fn total_past_max_token_transfer_size_points_at_the_count() {
        let l = OdxLimits {
            max_token_transfer_bytes: 100 * 512,
            ..OdxLimits::default()
        };
        let ok = list(&[range(0, 60), range(100, 40)]);
        assert_eq!(parse_ranges(&ok, 0, 2, &l, &LU).unwrap().total_blocks, 100);
        let over = list(&[range(0, 60), range(100, 40), range(200, 1)]);
        assert_eq!(
            parse_ranges(&over, 0, 2, &l, &LU),
            Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
                2 + 32 + 8
            )))
        );
        // The limit counts in the LU's own blocks: 100 * 512 bytes is 12
        // blocks of 4096 bytes.
        let big = LuExtent {
            capacity_blocks: 1000,
            block_size: 4096,
        };
        let d = list(&[range(0, 13)]);
        assert_eq!(
            parse_ranges(&d, 0, 2, &l, &big),
            Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
                10
            )))
        );
    }
}
