//! Block commands (SBC-4): READ, WRITE, VERIFY, WRITE SAME, UNMAP, GET LBA
//! STATUS, COMPARE AND WRITE, SYNCHRONIZE CACHE, PRE-FETCH, READ CAPACITY.
//!
//! Every handler parses its CDB into a typed struct (see [`cdb`]), validates
//! field values and ranges, and only then reaches the medium, always through
//! the LU's block-I/O facade ([`crate::blockio`]): writers hold a shared
//! [`crate::blockio::Writer`]; COMPARE AND WRITE and ORWRITE an exclusive
//! one, so their read-modify-write is atomic against every other writer.

pub mod capacity;
pub mod caw;
pub mod cdb;
pub mod defect;
pub mod lba_status;
pub mod orwrite;
pub mod prefetch;
pub mod read;
pub mod sync;
pub mod unmap;
pub mod verify;
pub mod write;
pub mod write_same;

#[cfg(test)]
mod tests;

use crate::blockio::Account;
use crate::command::CommandCtx;
use crate::device::LogicalUnit;
use crate::sense::ScsiError;
use bytes::Bytes;

/// Largest transfer one READ/WRITE/VERIFY/WRITE AND VERIFY may move, in
/// bytes (reported in blocks as MAXIMUM TRANSFER LENGTH, VPD 0xB0).
pub const MAX_TRANSFER_BLOCKS_BYTES: u64 = 8 << 20;
/// OPTIMAL TRANSFER LENGTH in bytes (VPD 0xB0).
pub const OPTIMAL_TRANSFER_BYTES: u64 = 1 << 20;
/// MAXIMUM UNMAP LBA COUNT in bytes per descriptor (VPD 0xB0).
pub const MAX_UNMAP_BYTES: u64 = 256 << 20;
/// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT (VPD 0xB0).
pub const MAX_UNMAP_DESCRIPTORS: u32 = 256;
/// OPTIMAL UNMAP GRANULARITY in bytes (file systems punch holes in 4 KiB,
/// the memory backend's page is 4 KiB).
pub const UNMAP_GRANULARITY_BYTES: u64 = 4096;
/// MAXIMUM WRITE SAME LENGTH in bytes (VPD 0xB0) ...
pub const MAX_WRITE_SAME_BYTES: u64 = 1 << 30;
/// ... and in blocks: the smaller applies. 0xFFFF as in Linux LIO; a larger
/// value makes libiscsi's WriteSame16.Unmap issue a 65536-block WRITE(16)
/// beyond MAXIMUM TRANSFER LENGTH.
pub const MAX_WRITE_SAME_BLOCKS: u64 = 0xFFFF;
/// MAXIMUM COMPARE AND WRITE LENGTH in blocks (VPD 0xB0).
pub const MAX_COMPARE_AND_WRITE_BLOCKS: u8 = 255;
/// WRITE SAME fills are issued in chunks of at most this many bytes.
pub(crate) const FILL_CHUNK_BYTES: u64 = 1 << 20;

/// The block limits of one LU: the single source for the BLOCK LIMITS VPD
/// page (SBC-4 6.6.4) and the checks the handlers make. Lengths are in
/// logical blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockLimits {
    /// MAXIMUM TRANSFER LENGTH.
    pub max_transfer_length: u32,
    /// OPTIMAL TRANSFER LENGTH.
    pub optimal_transfer_length: u32,
    /// OPTIMAL TRANSFER LENGTH GRANULARITY: one physical block.
    pub optimal_transfer_length_granularity: u16,
    /// MAXIMUM UNMAP LBA COUNT (0 when the backend cannot deallocate).
    pub max_unmap_lba_count: u32,
    /// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT (0 when it cannot deallocate).
    pub max_unmap_descriptors: u32,
    /// OPTIMAL UNMAP GRANULARITY: 4 KiB or one physical block, the larger.
    pub optimal_unmap_granularity: u32,
    /// UNMAP GRANULARITY ALIGNMENT (UGAVALID is set when unmap is supported).
    pub unmap_granularity_alignment: u32,
    /// MAXIMUM WRITE SAME LENGTH.
    pub max_write_same_length: u64,
    /// MAXIMUM COMPARE AND WRITE LENGTH.
    pub max_compare_and_write_length: u8,
    /// WSNZ: WRITE SAME with NUMBER OF LOGICAL BLOCKS zero is rejected.
    /// xtgt serves it (zero means "to the last LBA", subject to
    /// MAXIMUM WRITE SAME LENGTH), so this is false.
    pub wsnz: bool,
    /// The LU supports deallocation (LBPU/LBPWS/LBPWS10, READ CAPACITY LBPME).
    pub unmap_supported: bool,
}

impl BlockLimits {
    pub fn for_lu(lu: &LogicalUnit) -> BlockLimits {
        let bs = u64::from(lu.block_size());
        let blocks = |bytes: u64| u32::try_from(bytes / bs).unwrap_or(u32::MAX).max(1);
        let unmap = lu.capabilities().unmap && !lu.config.read_only;
        BlockLimits {
            max_transfer_length: blocks(MAX_TRANSFER_BLOCKS_BYTES),
            optimal_transfer_length: blocks(OPTIMAL_TRANSFER_BYTES),
            optimal_transfer_length_granularity: u16::try_from(logical_per_physical(lu))
                .unwrap_or(u16::MAX),
            max_unmap_lba_count: if unmap { blocks(MAX_UNMAP_BYTES) } else { 0 },
            max_unmap_descriptors: if unmap { MAX_UNMAP_DESCRIPTORS } else { 0 },
            optimal_unmap_granularity: blocks(UNMAP_GRANULARITY_BYTES)
                .max(logical_per_physical(lu)),
            unmap_granularity_alignment: 0,
            max_write_same_length: (MAX_WRITE_SAME_BYTES / bs).min(MAX_WRITE_SAME_BLOCKS),
            max_compare_and_write_length: MAX_COMPARE_AND_WRITE_BLOCKS,
            wsnz: false,
            unmap_supported: unmap,
        }
    }
}

/// Logical blocks per physical block (a power of two, at least 1; the LU
/// constructor keeps the physical block length valid).
pub(crate) fn logical_per_physical(lu: &LogicalUnit) -> u32 {
    (lu.medium.physical_block_size / lu.block_size()).max(1)
}

/// LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT (SBC-4 5.20.2, 4 bits).
pub(crate) fn lbppb_exponent(lu: &LogicalUnit) -> u8 {
    logical_per_physical(lu).trailing_zeros().min(15) as u8
}

/// The Data-Out a write-type command may use. SAM-5 5.4.2 / FCP-4 9.4.2:
/// with less data than the CDB asks, the command is processed for the whole
/// blocks that arrived (the transport reports the residual overflow); a
/// partial block is refused with INVALID FIELD IN COMMAND INFORMATION UNIT.
/// Data beyond the CDB's length (underflow) is ignored.
/// Returns the data and the number of whole blocks it covers.
pub(crate) fn data_out_blocks(
    ctx: &CommandCtx<'_>,
    wanted_blocks: u64,
) -> Result<(Bytes, u64), ScsiError> {
    let bs = u64::from(ctx.lu.block_size());
    let wanted = wanted_blocks.saturating_mul(bs);
    let have = ctx.data_out.len() as u64;
    if have >= wanted {
        let data = ctx.data_out.slice(..usize::try_from(wanted).unwrap_or(0));
        return Ok((data, wanted_blocks));
    }
    if !have.is_multiple_of(bs) {
        return Err(ScsiError::InvalidFieldInCommandIu);
    }
    Ok((ctx.data_out.clone(), have / bs))
}

/// Read `blocks` blocks at `lba` in bounded pieces and hand each piece to
/// `f` with its starting LBA (medium verification: not counted as reads).
pub(crate) async fn read_chunks<F>(
    lu: &LogicalUnit,
    lba: u64,
    blocks: u64,
    mut f: F,
) -> Result<(), ScsiError>
where
    F: FnMut(u64, Bytes) -> Result<(), ScsiError>,
{
    let bs = u64::from(lu.block_size());
    let chunk_blocks = (MAX_TRANSFER_BLOCKS_BYTES / bs).max(1);
    let mut done = 0u64;
    while done < blocks {
        let n = chunk_blocks.min(blocks - done);
        let at = lba + done;
        let data = lu.read_blocks(at, n, Account::Internal).await?;
        f(at, data)?;
        done += n;
    }
    Ok(())
}

/// Byte offset of the first difference between `a` and `b`. Unequal
/// lengths differ where the shorter one ends, so a short medium read can
/// never pass for a match (COMPARE AND WRITE would then write).
pub(crate) fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter()
        .zip(b.iter())
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then(|| a.len().min(b.len())))
}

#[cfg(test)]
mod first_difference_tests {
    use super::first_difference;

    #[test]
    fn unequal_lengths_are_a_difference() {
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert_eq!(first_difference(b"abc", b"abd"), Some(2));
        assert_eq!(first_difference(b"ab", b"abc"), Some(2));
        assert_eq!(first_difference(b"abc", b"a"), Some(1));
        assert_eq!(first_difference(b"", b""), None);
    }
}
