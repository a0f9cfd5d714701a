//! WRITE SAME, UNMAP and GET LBA STATUS.

use super::{cdb10, cdb16, exec, pattern, sense, Harness};
use crate::backend::{Backend, Extent, MemoryBackend};
use crate::sbc::cdb::*;
use crate::sbc::lba_status::{to_block_status, LbaStatus};
use crate::sbc::{lba_status, read, unmap, write, write_same, BlockLimits};
use crate::sense::{FieldPointer, ScsiError};
use std::sync::Arc;

const CAP: u64 = 2048;

/// A memory LU whose backend the test can inspect.
fn memory_lu() -> (Harness, Arc<MemoryBackend>) {
    let m = Arc::new(MemoryBackend::new(CAP * 512));
    (Harness::with(m.clone(), 512, false), m)
}

fn unmap_list(descriptors: &[(u64, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    let bd_len = (descriptors.len() * 16) as u16;
    p.extend_from_slice(&(bd_len + 6).to_be_bytes());
    p.extend_from_slice(&bd_len.to_be_bytes());
    p.extend_from_slice(&[0; 4]);
    for &(lba, n) in descriptors {
        p.extend_from_slice(&lba.to_be_bytes());
        p.extend_from_slice(&n.to_be_bytes());
        p.extend_from_slice(&[0; 4]);
    }
    p
}

fn unmap_cdb(len: usize) -> [u8; 10] {
    let mut c = [0u8; 10];
    c[0] = UNMAP;
    c[7..9].copy_from_slice(&(len as u16).to_be_bytes());
    c
}

#[tokio::test]
async fn write_same_fills_across_chunks() {
    let (h, _) = memory_lu();
    let blk = pattern(512, 7);
    // 2100 blocks > one 1 MiB fill chunk (2048 blocks); use the whole LU.
    let e = exec!(
        h,
        write_same::write_same16,
        cdb16(WRITE_SAME_16, 0, 0, 2100),
        blk.clone()
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
    exec!(
        h,
        write_same::write_same16,
        cdb16(WRITE_SAME_16, 0, 1, CAP as u32 - 1),
        blk.clone()
    )
    .unwrap();
    let r = exec!(h, read::read16, cdb16(READ_16, 0, 0, CAP as u32)).unwrap();
    assert!(r.data[..512].iter().all(|&b| b == 0));
    for (i, c) in r.data[512..].chunks(512).enumerate() {
        assert_eq!(c, &blk[..], "block {}", i + 1);
    }
    exec!(
        h,
        write_same::write_same10,
        cdb10(WRITE_SAME_10, 0, 0, 1),
        vec![9; 512]
    )
    .unwrap();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 0, 2)).unwrap();
    assert!(r.data[..512].iter().all(|&b| b == 9));
    assert_eq!(&r.data[512..], &blk[..]);
}

#[tokio::test]
async fn write_same_field_checks() {
    let (h, _) = memory_lu();
    let z = vec![0u8; 512];
    // WSNZ=0: zero blocks means through the last LBA.
    assert!(!BlockLimits::for_lu(&h.lu).wsnz);
    let blk = pattern(512, 11);
    exec!(
        h,
        write_same::write_same10,
        cdb10(WRITE_SAME_10, 0, CAP as u32 - 8, 0),
        blk.clone()
    )
    .unwrap();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, CAP as u32 - 9, 9)).unwrap();
    assert!(r.data[..512].iter().all(|&b| b == 0));
    for c in r.data[512..].chunks(512) {
        assert_eq!(c, &blk[..]);
    }
    exec!(
        h,
        write_same::write_same16,
        cdb16(WRITE_SAME_16, 0x08, CAP, 0),
        z.clone()
    )
    .unwrap();
    let e = exec!(
        h,
        write_same::write_same16,
        cdb16(WRITE_SAME_16, 0, CAP + 1, 0),
        z.clone()
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
    let e = exec!(
        h,
        write_same::write_same10,
        cdb10(WRITE_SAME_10, 0, u32::MAX, 0),
        z.clone()
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
    // Through the end of a LU larger than MAXIMUM WRITE SAME LENGTH: refused,
    // pointer at NUMBER OF LOGICAL BLOCKS.
    let big = Harness::with(Arc::new(MemoryBackend::new(64 << 20)), 512, false);
    let e = exec!(
        big,
        write_same::write_same10,
        cdb10(WRITE_SAME_10, 0, 0, 0),
        z.clone()
    )
    .unwrap_err();
    assert_eq!(
        sense(&e),
        [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0, 0, 0xC0, 0, 7]
    );
    let last = (64u64 << 20) / 512 - 0xFFFF;
    exec!(
        big,
        write_same::write_same16,
        cdb16(WRITE_SAME_16, 0x08, last, 0),
        z.clone()
    )
    .unwrap();
    let e = exec!(
        big,
        write_same::write_same16,
        cdb16(WRITE_SAME_16, 0, last - 1, 0),
        z.clone()
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::InvalidFieldInCdb(FieldPointer::byte(10)));
    // ANCHOR is not supported.
    let e = exec!(
        h,
        write_same::write_same10,
        cdb10(WRITE_SAME_10, 0x18, 0, 1),
        z.clone()
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 4)));
    // More than MAXIMUM WRITE SAME LENGTH (checked before the range).
    let max = BlockLimits::for_lu(&h.lu).max_write_same_length;
    assert_eq!(max, 0xFFFF);
    let e = exec!(
        h,
        write_same::write_same16,
        cdb16(WRITE_SAME_16, 0, 0, max as u32 + 1),
        z.clone()
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::InvalidFieldInCdb(FieldPointer::byte(10)));
    // Data-Out must be exactly one block.
    for len in [256, 1024, 0] {
        let e = exec!(
            h,
            write_same::write_same10,
            cdb10(WRITE_SAME_10, 0x08, 0, 1),
            vec![0; len]
        )
        .unwrap_err();
        assert_eq!(e, ScsiError::InvalidFieldInCommandIu, "len {len}");
    }
    let e = exec!(
        h,
        write_same::write_same10,
        cdb10(WRITE_SAME_10, 0, u32::MAX, 1),
        z.clone()
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
    let e = exec!(
        h,
        write_same::write_same16,
        cdb16(WRITE_SAME_16, 0, u64::MAX, 2),
        z
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
}

#[tokio::test]
async fn write_same_unmap_deallocates() {
    let (h, m) = memory_lu();
    exec!(
        h,
        write::write10,
        cdb10(WRITE_10, 0, 0, 64),
        vec![0xFF; 64 * 512]
    )
    .unwrap();
    assert_eq!(m.allocated_bytes(), 32 * 1024);
    // UNMAP=1 with a zero block: deallocated, reads zero.
    exec!(
        h,
        write_same::write_same10,
        cdb10(WRITE_SAME_10, 0x08, 0, 32),
        vec![0; 512]
    )
    .unwrap();
    assert_eq!(m.allocated_bytes(), 16 * 1024);
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 0, 64)).unwrap();
    assert!(r.data[..32 * 512].iter().all(|&b| b == 0));
    assert!(r.data[32 * 512..].iter().all(|&b| b == 0xFF));
    // UNMAP=1 with a non-zero block: deallocated all the same (an unmap
    // operation instead of the write), reads zero (LBPRZ).
    exec!(
        h,
        write::write10,
        cdb10(WRITE_10, 0, 0, 8),
        vec![0xFF; 8 * 512]
    )
    .unwrap();
    assert_eq!(m.allocated_bytes(), 20 * 1024);
    exec!(
        h,
        write_same::write_same16,
        cdb16(WRITE_SAME_16, 0x08, 0, 8),
        vec![3; 512]
    )
    .unwrap();
    assert_eq!(m.allocated_bytes(), 16 * 1024);
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 0, 8)).unwrap();
    assert!(r.data.iter().all(|&b| b == 0));
    // UNMAP=0 with a non-zero block: written.
    exec!(
        h,
        write_same::write_same16,
        cdb16(WRITE_SAME_16, 0, 0, 8),
        vec![3; 512]
    )
    .unwrap();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 0, 8)).unwrap();
    assert!(r.data.iter().all(|&b| b == 3));
    // NDOB=1, UNMAP=1: no Data-Out, deallocated.
    exec!(
        h,
        write_same::write_same16,
        cdb16(WRITE_SAME_16, 0x09, 32, 32)
    )
    .unwrap();
    assert_eq!(m.allocated_bytes(), 4 * 1024);
    // NDOB=1 without UNMAP: zeroes written, blocks stay mapped.
    exec!(
        h,
        write::write10,
        cdb10(WRITE_10, 0, 100, 8),
        vec![5; 8 * 512]
    )
    .unwrap();
    exec!(
        h,
        write_same::write_same16,
        cdb16(WRITE_SAME_16, 0x01, 100, 8)
    )
    .unwrap();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 100, 8)).unwrap();
    assert!(r.data.iter().all(|&b| b == 0));
    let map = m.mapping(100 * 512, 8 * 512).await.unwrap();
    assert!(map.iter().all(|e| e.mapped));
}

#[tokio::test]
async fn unmap_deallocates_validated_ranges() {
    let (h, m) = memory_lu();
    exec!(
        h,
        write::write10,
        cdb10(WRITE_10, 0, 0, 64),
        vec![0xEE; 64 * 512]
    )
    .unwrap();
    let list = unmap_list(&[(0, 8), (16, 16), (40, 0)]);
    exec!(h, unmap::unmap, unmap_cdb(list.len()), list).unwrap();
    assert_eq!(m.allocated_bytes(), 20 * 1024);
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 0, 40)).unwrap();
    assert!(r.data[..8 * 512].iter().all(|&b| b == 0));
    assert!(r.data[8 * 512..16 * 512].iter().all(|&b| b == 0xEE));
    assert!(r.data[16 * 512..32 * 512].iter().all(|&b| b == 0));
    assert!(r.data[32 * 512..].iter().all(|&b| b == 0xEE));
    // No descriptors, zero-length and too-short lists: GOOD, nothing done.
    let list = unmap_list(&[]);
    exec!(h, unmap::unmap, unmap_cdb(8), list).unwrap();
    exec!(h, unmap::unmap, unmap_cdb(0)).unwrap();
    exec!(h, unmap::unmap, unmap_cdb(6), vec![0; 6]).unwrap();
    // Zero blocks at the end of the LU is fine.
    let list = unmap_list(&[(CAP, 0)]);
    exec!(h, unmap::unmap, unmap_cdb(list.len()), list).unwrap();
    assert_eq!(m.allocated_bytes(), 20 * 1024);
}

#[tokio::test]
async fn unmap_parameter_list_errors() {
    let (h, m) = memory_lu();
    exec!(
        h,
        write::write10,
        cdb10(WRITE_10, 0, 0, 64),
        vec![0xEE; 64 * 512]
    )
    .unwrap();
    // A descriptor out of range fails the whole command before any I/O.
    let list = unmap_list(&[(0, 8), (CAP - 1, 2)]);
    let e = exec!(h, unmap::unmap, unmap_cdb(list.len()), list).unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
    let list = unmap_list(&[(u64::MAX, 1)]);
    let e = exec!(h, unmap::unmap, unmap_cdb(list.len()), list).unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
    assert_eq!(m.allocated_bytes(), 32 * 1024);
    // BLOCK DESCRIPTOR DATA LENGTH beyond the list.
    let mut list = unmap_list(&[(0, 1)]);
    list[3] = 32;
    let e = exec!(h, unmap::unmap, unmap_cdb(list.len()), list).unwrap_err();
    assert_eq!(
        sense(&e),
        [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x1A, 0, 0, 0, 0, 0]
    );
    // UNMAP DATA LENGTH too small for the descriptors it announces.
    let mut list = unmap_list(&[(0, 1)]);
    list[1] = 6;
    let e = exec!(h, unmap::unmap, unmap_cdb(list.len()), list).unwrap_err();
    assert_eq!(
        e,
        ScsiError::InvalidFieldInParameterList(FieldPointer::byte(0))
    );
    // Too many descriptors.
    let many: Vec<(u64, u32)> = (0..257).map(|i| (i, 1)).collect();
    let list = unmap_list(&many);
    let e = exec!(h, unmap::unmap, unmap_cdb(list.len()), list).unwrap_err();
    assert_eq!(
        sense(&e),
        [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x26, 0, 0, 0x80, 0, 2]
    );
    // More blocks than MAXIMUM UNMAP LBA COUNT in the second descriptor.
    let max = BlockLimits::for_lu(&h.lu).max_unmap_lba_count;
    let list = unmap_list(&[(0, 1), (0, max + 1)]);
    let e = exec!(h, unmap::unmap, unmap_cdb(list.len()), list).unwrap_err();
    assert_eq!(
        e,
        ScsiError::InvalidFieldInParameterList(FieldPointer::byte(32))
    );
    // ANCHOR.
    let mut c = unmap_cdb(24);
    c[1] = 1;
    let e = exec!(h, unmap::unmap, c, unmap_list(&[(0, 1)])).unwrap_err();
    assert_eq!(e, ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 0)));
    assert_eq!(m.allocated_bytes(), 32 * 1024);
    // Read-only LU.
    let ro = Harness::with(Arc::new(MemoryBackend::new(1 << 20)), 512, true);
    let e = exec!(ro, unmap::unmap, unmap_cdb(24), unmap_list(&[(0, 1)])).unwrap_err();
    assert_eq!(e, ScsiError::WriteProtected);
}

fn gls_cdb(lba: u64, alloc: u32) -> [u8; 16] {
    cdb16(SERVICE_ACTION_IN_16, SA_GET_LBA_STATUS, lba, alloc)
}

#[tokio::test]
async fn get_lba_status_reports_mapped_and_deallocated_extents() {
    let (h, _) = memory_lu();
    // Blocks 8..24 mapped (4 KiB pages = 8 blocks).
    exec!(
        h,
        write::write10,
        cdb10(WRITE_10, 0, 8, 16),
        vec![1; 16 * 512]
    )
    .unwrap();
    let r = exec!(h, lba_status::get_lba_status, gls_cdb(0, 1024)).unwrap();
    let mut want = vec![0, 0, 0, 52, 0, 0, 0, 0];
    for (lba, n, st) in [(0u64, 8u32, 1u8), (8, 16, 0), (24, CAP as u32 - 24, 1)] {
        want.extend_from_slice(&lba.to_be_bytes());
        want.extend_from_slice(&n.to_be_bytes());
        want.extend_from_slice(&[st, 0, 0, 0]);
    }
    assert_eq!(&r.data[..], &want[..]);
    // ALLOCATION LENGTH 24: one descriptor, starting at the requested LBA.
    let r = exec!(h, lba_status::get_lba_status, gls_cdb(12, 24)).unwrap();
    assert_eq!(
        &r.data[..],
        &[0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 12, 0, 0, 0, 0]
    );
    // Small allocation lengths truncate.
    let r = exec!(h, lba_status::get_lba_status, gls_cdb(12, 4)).unwrap();
    assert_eq!(&r.data[..], &[0, 0, 0, 20]);
    // The last block is fine, one past it is not.
    exec!(h, lba_status::get_lba_status, gls_cdb(CAP - 1, 24)).unwrap();
    for lba in [CAP, CAP + 1, 1 << 63, u64::MAX] {
        let e = exec!(h, lba_status::get_lba_status, gls_cdb(lba, 24)).unwrap_err();
        assert_eq!(e, ScsiError::LbaOutOfRange);
    }
}

#[test]
fn block_status_rounds_partial_blocks_to_mapped() {
    let ex = |offset, len, mapped| Extent {
        offset,
        len,
        mapped,
    };
    // 1 KiB blocks over 512-byte aligned extents.
    let v = to_block_status(
        &[
            ex(0, 1536, true),
            ex(1536, 3584, false),
            ex(5120, 1024, true),
        ],
        1024,
        16,
    );
    let s = |lba, blocks, deallocated| LbaStatus {
        lba,
        blocks,
        deallocated,
    };
    assert_eq!(v, vec![s(0, 2, false), s(2, 3, true), s(5, 1, false)]);
    // Huge holes split at u32::MAX blocks; `max` bounds the output.
    let v = to_block_status(&[ex(0, 1 << 45, false)], 512, 16);
    assert_eq!(
        v.len(),
        16.min(((1u64 << 36) / u64::from(u32::MAX) + 1) as usize)
    );
    assert_eq!(v[0], s(0, u32::MAX, true));
    let v = to_block_status(&[ex(0, 1 << 45, false)], 512, 1);
    assert_eq!(v.len(), 1);
}

#[tokio::test]
async fn write_same_unmap_is_refused_when_the_backend_cannot_deallocate() {
    use crate::backend::FaultBackend;
    // A FileBackend on a block device has no unmap; model it with a backend
    // that reports no capabilities.
    struct NoUnmap(MemoryBackend);
    #[async_trait::async_trait]
    impl Backend for NoUnmap {
        fn describe(&self) -> String {
            "no-unmap".into()
        }
        fn size(&self) -> u64 {
            self.0.size()
        }
        fn capabilities(&self) -> crate::backend::Capabilities {
            crate::backend::Capabilities::default()
        }
        async fn read(&self, o: u64, l: usize) -> std::io::Result<bytes::Bytes> {
            self.0.read(o, l).await
        }
        async fn write(&self, o: u64, d: bytes::Bytes, f: bool) -> std::io::Result<()> {
            self.0.write(o, d, f).await
        }
        async fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let b = Arc::new(FaultBackend::new(Arc::new(NoUnmap(MemoryBackend::new(
        1 << 20,
    )))));
    let h = Harness::with(b, 512, false);
    let limits = BlockLimits::for_lu(&h.lu);
    assert!(!limits.unmap_supported);
    assert_eq!(
        (limits.max_unmap_lba_count, limits.max_unmap_descriptors),
        (0, 0)
    );
    let e = exec!(
        h,
        write_same::write_same10,
        cdb10(WRITE_SAME_10, 0x08, 0, 1),
        vec![0; 512]
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 3)));
    let e = exec!(h, unmap::unmap, unmap_cdb(24), unmap_list(&[(0, 1)])).unwrap_err();
    assert_eq!(e, ScsiError::InvalidOpcode);
    // Zeroing without UNMAP falls back to writing zero blocks.
    exec!(h, write::write10, cdb10(WRITE_10, 0, 0, 4), vec![7; 2048]).unwrap();
    exec!(
        h,
        write_same::write_same16,
        cdb16(WRITE_SAME_16, 0x01, 0, 4)
    )
    .unwrap();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 0, 4)).unwrap();
    assert!(r.data.iter().all(|&b| b == 0));
    // GET LBA STATUS: everything mapped.
    let r = exec!(h, lba_status::get_lba_status, gls_cdb(0, 24)).unwrap();
    assert_eq!(
        &r.data[8..24],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0, 0, 0, 0, 0]
    );
}

#[tokio::test]
async fn file_backend_unmap_and_lba_status_through_the_handlers() {
    use crate::backend::file::tests::TempDir;
    use crate::backend::FileBackend;
    let d = TempDir::new("sbc-file");
    let b = FileBackend::open_or_create(&d.path().join("lu.img"), Some(4 << 20), false).unwrap();
    assert!(
        b.capabilities().unmap && b.capabilities().mapping_status,
        "{} has no hole punching/SEEK_DATA: set TMPDIR to a folder on ext4, XFS, btrfs or tmpfs",
        d.path().display()
    );
    let h = Harness::with(Arc::new(b), 4096, false);
    let c = cdb16(SERVICE_ACTION_IN_16, SA_READ_CAPACITY_16, 0, 32);
    let r = exec!(h, crate::sbc::capacity::read_capacity16, c).unwrap();
    assert_eq!(r.data[14], 0xC0, "LBPME and LBPRZ");
    exec!(
        h,
        write::write10,
        cdb10(WRITE_10, 0, 0, 64),
        vec![0x5A; 64 * 4096]
    )
    .unwrap();
    let list = unmap_list(&[(16, 16)]);
    exec!(h, unmap::unmap, unmap_cdb(list.len()), list).unwrap();
    let r = exec!(h, lba_status::get_lba_status, gls_cdb(0, 1024)).unwrap();
    let mut want = vec![0, 0, 0, 68, 0, 0, 0, 0];
    for (lba, n, st) in [
        (0u64, 16u32, 0u8),
        (16, 16, 1),
        (32, 32, 0),
        (64, 1024 - 64, 1),
    ] {
        want.extend_from_slice(&lba.to_be_bytes());
        want.extend_from_slice(&n.to_be_bytes());
        want.extend_from_slice(&[st, 0, 0, 0]);
    }
    assert_eq!(&r.data[..], &want[..]);
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 15, 2)).unwrap();
    assert!(r.data[..4096].iter().all(|&b| b == 0x5A));
    assert!(r.data[4096..].iter().all(|&b| b == 0));
}
