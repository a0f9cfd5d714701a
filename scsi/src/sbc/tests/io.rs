//! READ, WRITE, VERIFY, WRITE AND VERIFY, COMPARE AND WRITE, SYNCHRONIZE
//! CACHE, PRE-FETCH, READ CAPACITY and backend error mapping.

use super::{cdb10, cdb12, cdb16, exec, pattern, sense, Harness};
use crate::backend::{Backend, Capabilities, FaultBackend, MemoryBackend};
use crate::device::Status;
use crate::sbc::cdb::*;
use crate::sbc::{capacity, caw, prefetch, read, sync, verify, write};
use crate::sense::{FieldPointer, ScsiError};
use async_trait::async_trait;
use bytes::Bytes;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const CAP: u64 = 2048; // blocks of the default harness

#[tokio::test]
async fn write_then_read_round_trips_in_every_cdb_size() {
    let h = Harness::memory();
    let data = pattern(1024, 1);
    exec!(h, write::write10, cdb10(WRITE_10, 0, 5, 2), data.clone()).unwrap();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 5, 2)).unwrap();
    assert_eq!(r.status, Status::Good);
    assert_eq!(&r.data[..], &data[..]);
    let r = exec!(h, read::read12, cdb12(READ_12, 0, 6, 1)).unwrap();
    assert_eq!(&r.data[..], &data[512..]);
    let r = exec!(h, read::read16, cdb16(READ_16, 0, 5, 1)).unwrap();
    assert_eq!(&r.data[..], &data[..512]);
    let d16 = pattern(512, 9);
    exec!(
        h,
        write::write16,
        cdb16(WRITE_16, 0x08, CAP - 1, 1),
        d16.clone()
    )
    .unwrap();
    exec!(h, write::write12, cdb12(WRITE_12, 0, 0, 1), d16.clone()).unwrap();
    let r = exec!(h, read::read16, cdb16(READ_16, 0, CAP - 1, 1)).unwrap();
    assert_eq!(&r.data[..], &d16[..]);
    // WRITE(6)/READ(6): 21-bit LBA.
    exec!(h, write::write6, [WRITE_6, 0, 0, 7, 1, 0], d16.clone()).unwrap();
    let r = exec!(h, read::read6, [READ_6, 0, 0, 7, 1, 0]).unwrap();
    assert_eq!(&r.data[..], &d16[..]);
}

#[tokio::test]
async fn read6_length_zero_transfers_256_blocks() {
    let h = Harness::memory();
    let r = exec!(h, read::read6, [READ_6, 0, 0, 0, 0, 0]).unwrap();
    assert_eq!(r.data.len(), 256 * 512);
    // WRITE(6) of 0 = 256 blocks wants 128 KiB of Data-Out.
    exec!(
        h,
        write::write6,
        [WRITE_6, 0, 0, 0, 0, 0],
        vec![0xAB; 256 * 512]
    )
    .unwrap();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 255, 2)).unwrap();
    assert!(r.data[..512].iter().all(|&b| b == 0xAB));
    assert!(r.data[512..].iter().all(|&b| b == 0));
}

#[tokio::test]
async fn zero_length_read_and_write_are_good_without_data() {
    let h = Harness::memory();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 0, 0)).unwrap();
    assert!(r.data.is_empty());
    exec!(h, write::write16, cdb16(WRITE_16, 0, CAP, 0)).unwrap();
    // One past the end is out of range even with zero blocks.
    let e = exec!(h, read::read10, cdb10(READ_10, 0, CAP as u32 + 1, 0)).unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
}

#[tokio::test]
async fn lba_out_of_range_and_overflow() {
    let h = Harness::memory();
    for (lba, n) in [
        (CAP - 1, 2),
        (CAP, 1),
        (u64::MAX, 1),
        (u64::MAX - 1, 2),
        (0x8000_0000_0000_0000, 1),
    ] {
        let e = exec!(h, read::read16, cdb16(READ_16, 0, lba, n)).unwrap_err();
        assert_eq!(e, ScsiError::LbaOutOfRange, "lba {lba:#x}");
        let e = exec!(
            h,
            write::write16,
            cdb16(WRITE_16, 0, lba, n),
            vec![0; 512 * n as usize]
        )
        .unwrap_err();
        assert_eq!(e, ScsiError::LbaOutOfRange);
    }
    let e = exec!(h, read::read10, cdb10(READ_10, 0, u32::MAX, 1)).unwrap_err();
    assert_eq!(
        sense(&e),
        [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x21, 0, 0, 0, 0, 0]
    );
    exec!(h, read::read16, cdb16(READ_16, 0, CAP - 1, 1)).unwrap();
}

#[tokio::test]
async fn transfer_longer_than_maximum_points_at_the_length_field() {
    let h = Harness::memory();
    let max = crate::sbc::BlockLimits::for_lu(&h.lu).max_transfer_length;
    assert_eq!(max, 16384);
    let e = exec!(h, read::read16, cdb16(READ_16, 0, 0, max + 1)).unwrap_err();
    assert_eq!(e, ScsiError::InvalidFieldInCdb(FieldPointer::byte(10)));
    let e = exec!(h, read::read12, cdb12(READ_12, 0, 0, max + 1)).unwrap_err();
    assert_eq!(
        sense(&e),
        [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0, 0, 0xC0, 0, 6]
    );
    let e = exec!(h, write::write10, cdb10(WRITE_10, 0, 0, (max + 1) as u16)).unwrap_err();
    assert_eq!(e, ScsiError::InvalidFieldInCdb(FieldPointer::byte(7)));
}

#[tokio::test]
async fn protection_fields_are_refused() {
    let h = Harness::memory();
    let e = exec!(h, read::read10, cdb10(READ_10, 0x20, 0, 1)).unwrap_err();
    assert_eq!(
        sense(&e),
        [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0, 0, 0xCF, 0, 1]
    );
    let e = exec!(h, write::write16, cdb16(WRITE_16, 0xE0, 0, 1), vec![0; 512]).unwrap_err();
    assert_eq!(e, ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 7)));
}

#[tokio::test]
async fn writes_to_a_read_only_lu_are_write_protected() {
    let h = Harness::with(Arc::new(MemoryBackend::new(1 << 20)), 512, true);
    let e = exec!(h, write::write10, cdb10(WRITE_10, 0, 0, 1), vec![1; 512]).unwrap_err();
    assert_eq!(
        sense(&e),
        [0x70, 0, 0x07, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x27, 0, 0, 0, 0, 0]
    );
    let e = exec!(
        h,
        verify::write_verify16,
        cdb16(WRITE_AND_VERIFY_16, 0, 0, 1),
        vec![1; 512]
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::WriteProtected);
    exec!(h, read::read10, cdb10(READ_10, 0, 0, 1)).unwrap();
}

#[tokio::test]
async fn short_data_out_writes_only_whole_blocks_that_arrived() {
    let h = Harness::memory();
    exec!(
        h,
        write::write10,
        cdb10(WRITE_10, 0, 0, 2),
        vec![b'a'; 1024]
    )
    .unwrap();
    // Two blocks asked, one arrived (EDTL one block): GOOD, one block written.
    exec!(h, write::write10, cdb10(WRITE_10, 0, 0, 2), vec![b'b'; 512]).unwrap();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 0, 2)).unwrap();
    assert!(r.data[..512].iter().all(|&b| b == b'b'));
    assert!(r.data[512..].iter().all(|&b| b == b'a'));
    // Nothing arrived (EDTL 0): GOOD, nothing written.
    exec!(h, write::write10, cdb10(WRITE_10, 0, 1, 1), Vec::new()).unwrap();
    // A partial block: INVALID FIELD IN COMMAND INFORMATION UNIT, nothing written.
    let e = exec!(h, write::write10, cdb10(WRITE_10, 0, 1, 1), vec![b'c'; 200]).unwrap_err();
    assert_eq!(
        sense(&e),
        [0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x0E, 0x03, 0, 0, 0, 0]
    );
    // More than asked (EDTL 10000): only the CDB's block is written.
    exec!(
        h,
        write::write10,
        cdb10(WRITE_10, 0, 0, 1),
        vec![b'd'; 10000]
    )
    .unwrap();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 0, 2)).unwrap();
    assert!(r.data[..512].iter().all(|&b| b == b'd'));
    assert!(r.data[512..].iter().all(|&b| b == b'a'));
}

/// Records the FUA flag of every write.
struct FuaRecorder {
    inner: MemoryBackend,
    fua_writes: AtomicUsize,
    writes: AtomicUsize,
}

#[async_trait]
impl Backend for FuaRecorder {
    fn describe(&self) -> String {
        "fua-recorder".into()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn read(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        self.inner.read(offset, len).await
    }
    async fn write(&self, offset: u64, data: Bytes, fua: bool) -> io::Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        if fua {
            self.fua_writes.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.write(offset, data, fua).await
    }
    async fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn fua_reaches_the_backend() {
    let rec = Arc::new(FuaRecorder {
        inner: MemoryBackend::new(1 << 20),
        fua_writes: AtomicUsize::new(0),
        writes: AtomicUsize::new(0),
    });
    let h = Harness::with(rec.clone(), 512, false);
    exec!(h, write::write10, cdb10(WRITE_10, 0x00, 0, 1), vec![1; 512]).unwrap();
    assert_eq!(rec.fua_writes.load(Ordering::SeqCst), 0);
    exec!(h, write::write10, cdb10(WRITE_10, 0x08, 0, 1), vec![1; 512]).unwrap();
    exec!(h, write::write16, cdb16(WRITE_16, 0x18, 0, 1), vec![1; 512]).unwrap();
    assert_eq!(rec.fua_writes.load(Ordering::SeqCst), 2);
    // COMPARE AND WRITE with FUA.
    let mut d = vec![1u8; 512];
    d.extend_from_slice(&[2u8; 512]);
    let mut c = cdb16(COMPARE_AND_WRITE, 0x08, 0, 0);
    c[13] = 1;
    exec!(h, caw::compare_and_write, c, d).unwrap();
    assert_eq!(rec.fua_writes.load(Ordering::SeqCst), 3);
    assert_eq!(rec.writes.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn verify_bytchk_modes() {
    let h = Harness::memory();
    let data = pattern(3 * 512, 3);
    exec!(h, write::write10, cdb10(WRITE_10, 0, 10, 3), data.clone()).unwrap();
    // BYTCHK=0: medium verification only.
    exec!(h, verify::verify10, cdb10(VERIFY_10, 0x00, 10, 3)).unwrap();
    // BYTCHK=1: equal data.
    exec!(
        h,
        verify::verify10,
        cdb10(VERIFY_10, 0x02, 10, 3),
        data.clone()
    )
    .unwrap();
    exec!(
        h,
        verify::verify12,
        cdb12(VERIFY_12, 0x12, 10, 3),
        data.clone()
    )
    .unwrap();
    // BYTCHK=1: one byte differs in the second block at byte 27.
    let mut bad = data.clone();
    bad[512 + 27] ^= 0xFF;
    let e = exec!(
        h,
        verify::verify16,
        cdb16(VERIFY_16, 0x02, 10, 3),
        bad.clone()
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::MiscompareDuringVerify { offset: 539 });
    assert_eq!(
        sense(&e),
        [0xF0, 0, 0x0E, 0, 0, 0x02, 0x1B, 10, 0, 0, 0, 0, 0x1D, 0, 0, 0, 0, 0]
    );
    // BYTCHK=0 ignores the data: no miscompare.
    exec!(h, verify::verify16, cdb16(VERIFY_16, 0x00, 10, 3), bad).unwrap();
    // BYTCHK=2 is reserved.
    let e = exec!(
        h,
        verify::verify10,
        cdb10(VERIFY_10, 0x04, 10, 1),
        vec![0; 512]
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 2)));
    // VRPROTECT.
    let e = exec!(h, verify::verify10, cdb10(VERIFY_10, 0x20, 10, 1)).unwrap_err();
    assert_eq!(e, ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 7)));
    // Beyond the end.
    let e = exec!(h, verify::verify10, cdb10(VERIFY_10, 0, CAP as u32 - 1, 2)).unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
    // Zero blocks with BYTCHK=1 and no data.
    exec!(h, verify::verify10, cdb10(VERIFY_10, 0x02, 0, 0)).unwrap();
}

#[tokio::test]
async fn verify_bytchk3_compares_one_block_against_each() {
    let h = Harness::memory();
    let blk = pattern(512, 5);
    let mut three = blk.repeat(3);
    exec!(h, write::write10, cdb10(WRITE_10, 0, 0, 3), three.clone()).unwrap();
    exec!(
        h,
        verify::verify10,
        cdb10(VERIFY_10, 0x06, 0, 3),
        blk.clone()
    )
    .unwrap();
    three[2 * 512 + 100] ^= 1;
    exec!(h, write::write10, cdb10(WRITE_10, 0, 0, 3), three).unwrap();
    let e = exec!(h, verify::verify10, cdb10(VERIFY_10, 0x06, 0, 3), blk).unwrap_err();
    assert_eq!(e, ScsiError::MiscompareDuringVerify { offset: 1124 });
}

#[tokio::test]
async fn write_and_verify_writes_and_honours_residuals() {
    let h = Harness::memory();
    exec!(
        h,
        write::write10,
        cdb10(WRITE_10, 0, 0, 2),
        vec![b'a'; 1024]
    )
    .unwrap();
    exec!(
        h,
        verify::write_verify10,
        cdb10(WRITE_AND_VERIFY_10, 0x02, 0, 2),
        vec![b'b'; 512]
    )
    .unwrap();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 0, 2)).unwrap();
    assert!(r.data[..512].iter().all(|&b| b == b'b'));
    assert!(r.data[512..].iter().all(|&b| b == b'a'));
    exec!(
        h,
        verify::write_verify12,
        cdb12(WRITE_AND_VERIFY_12, 0, 1, 1),
        vec![b'c'; 512]
    )
    .unwrap();
    exec!(
        h,
        verify::write_verify16,
        cdb16(WRITE_AND_VERIFY_16, 0x12, 1, 1),
        vec![b'd'; 512]
    )
    .unwrap();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 1, 1)).unwrap();
    assert!(r.data.iter().all(|&b| b == b'd'));
    let e = exec!(
        h,
        verify::write_verify16,
        cdb16(WRITE_AND_VERIFY_16, 0, CAP, 1),
        vec![0; 512]
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
}

fn caw_cdb(lba: u64, blocks: u8) -> [u8; 16] {
    let mut c = cdb16(COMPARE_AND_WRITE, 0, lba, 0);
    c[13] = blocks;
    c
}

#[tokio::test]
async fn compare_and_write_compares_then_writes() {
    let h = Harness::memory();
    exec!(
        h,
        write::write10,
        cdb10(WRITE_10, 0, 7, 2),
        vec![b'A'; 1024]
    )
    .unwrap();
    let mut d = vec![b'A'; 1024];
    d.extend_from_slice(&vec![b'B'; 1024]);
    exec!(h, caw::compare_and_write, caw_cdb(7, 2), d.clone()).unwrap();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 7, 2)).unwrap();
    assert!(r.data.iter().all(|&b| b == b'B'));
    // Now the medium holds 'B': the same request miscompares at offset 0.
    let e = exec!(h, caw::compare_and_write, caw_cdb(7, 2), d.clone()).unwrap_err();
    assert_eq!(e, ScsiError::MiscompareDuringVerify { offset: 0 });
    // Miscompare at byte 1024-27 of the verify data; medium unchanged.
    let mut d = vec![b'B'; 1024];
    d[1024 - 27] = b'C';
    d.extend_from_slice(&vec![b'Z'; 1024]);
    let e = exec!(h, caw::compare_and_write, caw_cdb(7, 2), d).unwrap_err();
    assert_eq!(
        sense(&e),
        [0xF0, 0, 0x0E, 0, 0, 0x03, 0xE5, 10, 0, 0, 0, 0, 0x1D, 0, 0, 0, 0, 0]
    );
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 7, 2)).unwrap();
    assert!(r.data.iter().all(|&b| b == b'B'));
}

#[tokio::test]
async fn compare_and_write_field_checks() {
    let h = Harness::memory();
    // Data-Out must be exactly 2 * NUMBER OF LOGICAL BLOCKS blocks.
    for len in [4 * 512, 512, 3 * 512] {
        let e = exec!(h, caw::compare_and_write, caw_cdb(0, 1), vec![0; len]).unwrap_err();
        assert_eq!(e, ScsiError::InvalidFieldInCommandIu, "len {len}");
    }
    // Zero blocks: nothing to do; but not with Data-Out (256 blocks wrapped
    // to 0 in the one-byte field).
    exec!(h, caw::compare_and_write, caw_cdb(0, 0)).unwrap();
    let e = exec!(h, caw::compare_and_write, caw_cdb(0, 0), vec![0; 512 * 512]).unwrap_err();
    assert_eq!(e, ScsiError::InvalidFieldInCdb(FieldPointer::byte(13)));
    let e = exec!(
        h,
        caw::compare_and_write,
        caw_cdb(CAP - 1, 2),
        vec![0; 2048]
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
    let e = exec!(
        h,
        caw::compare_and_write,
        caw_cdb(u64::MAX, 1),
        vec![0; 1024]
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
    let mut c = caw_cdb(0, 1);
    c[1] = 0x40;
    let e = exec!(h, caw::compare_and_write, c, vec![0; 1024]).unwrap_err();
    assert_eq!(e, ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 7)));
    // The whole end of the medium, 255 blocks (the limit).
    let e = exec!(
        h,
        caw::compare_and_write,
        caw_cdb(CAP - 255, 255),
        vec![0; 2 * 255 * 512]
    );
    assert!(e.is_ok());
}

#[tokio::test]
async fn compare_and_write_excludes_other_writers() {
    let h = Harness::memory();
    let guard = h.lu.writer().await.unwrap();
    let mut d = vec![0u8; 512];
    d.extend_from_slice(&[1u8; 512]);
    let c = caw_cdb(0, 1);
    let fut = async { exec!(h, caw::compare_and_write, c, d) };
    tokio::pin!(fut);
    // While a writer holds the lock shared, COMPARE AND WRITE waits.
    assert!(futures_poll_once(fut.as_mut()).await.is_none());
    drop(guard);
    fut.await.unwrap();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 0, 1)).unwrap();
    assert!(r.data.iter().all(|&b| b == 1));
}

/// Poll a future once; `None` if it is pending.
async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
    let mut f = f;
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

#[tokio::test]
async fn synchronize_cache_and_prefetch_check_ranges() {
    let h = Harness::memory();
    exec!(
        h,
        sync::synchronize_cache10,
        cdb10(SYNCHRONIZE_CACHE_10, 0, 0, 0)
    )
    .unwrap();
    exec!(
        h,
        sync::synchronize_cache16,
        cdb16(SYNCHRONIZE_CACHE_16, 0x02, CAP - 1, 1)
    )
    .unwrap();
    let e = exec!(
        h,
        sync::synchronize_cache16,
        cdb16(SYNCHRONIZE_CACHE_16, 0, CAP, 1)
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
    let e = exec!(
        h,
        sync::synchronize_cache10,
        cdb10(SYNCHRONIZE_CACHE_10, 0, CAP as u32 + 1, 0)
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
    let r = exec!(
        h,
        prefetch::prefetch10,
        cdb10(PRE_FETCH_10, 0, CAP as u32 - 256, 256)
    )
    .unwrap();
    assert_eq!(r.status, Status::Good);
    exec!(h, prefetch::prefetch16, cdb16(PRE_FETCH_16, 0, 0, 0)).unwrap();
    let e = exec!(h, prefetch::prefetch16, cdb16(PRE_FETCH_16, 0, u64::MAX, 1)).unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
    let e = exec!(
        h,
        prefetch::prefetch10,
        cdb10(PRE_FETCH_10, 0, CAP as u32 + 1, 0)
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::LbaOutOfRange);
}

#[tokio::test]
async fn read_capacity_10_and_16_are_byte_exact() {
    let h = Harness::memory();
    let r = exec!(
        h,
        capacity::read_capacity10,
        [READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    )
    .unwrap();
    assert_eq!(&r.data[..], &[0, 0, 0x07, 0xFF, 0, 0, 0x02, 0]);
    let mut c = cdb16(SERVICE_ACTION_IN_16, SA_READ_CAPACITY_16, 0, 32);
    c[2..10].fill(0);
    let r = exec!(h, capacity::read_capacity16, c).unwrap();
    let mut want = [0u8; 32];
    want[..8].copy_from_slice(&(CAP - 1).to_be_bytes());
    want[8..12].copy_from_slice(&512u32.to_be_bytes());
    want[13] = 3; // 8 logical blocks per 4096-byte physical block (default)
    want[14] = 0xC0; // LBPME, LBPRZ
    assert_eq!(&r.data[..], &want[..]);
    // ALLOCATION LENGTH truncates.
    let c = cdb16(SERVICE_ACTION_IN_16, SA_READ_CAPACITY_16, 0, 12);
    let r = exec!(h, capacity::read_capacity16, c).unwrap();
    assert_eq!(&r.data[..], &want[..12]);
    // LBA without PMI.
    let e = exec!(
        h,
        capacity::read_capacity10,
        [READ_CAPACITY_10, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::InvalidFieldInCdb(FieldPointer::byte(2)));
}

#[tokio::test]
async fn read_capacity_of_a_huge_lu_and_of_a_read_only_one() {
    // 3 TiB of 512-byte blocks: more than 2^32 blocks (the memory backend is sparse).
    let h = Harness::with(Arc::new(MemoryBackend::new(3 << 40)), 512, false);
    let r = exec!(
        h,
        capacity::read_capacity10,
        [READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    )
    .unwrap();
    assert_eq!(&r.data[..], &[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0x02, 0]);
    let c = cdb16(SERVICE_ACTION_IN_16, SA_READ_CAPACITY_16, 0, 32);
    let r = exec!(h, capacity::read_capacity16, c).unwrap();
    assert_eq!(&r.data[..8], &((3u64 << 31) - 1).to_be_bytes());
    let h = Harness::with(Arc::new(MemoryBackend::new(1 << 20)), 4096, true);
    let r = exec!(h, capacity::read_capacity16, c).unwrap();
    assert_eq!(
        &r.data[..16],
        &[0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0x10, 0, 0, 0, 0, 0]
    );
}

#[tokio::test]
async fn backend_errors_become_medium_errors() {
    let fb = Arc::new(FaultBackend::new(Arc::new(MemoryBackend::new(1 << 20))));
    let h = Harness::with(fb.clone(), 512, false);
    fb.fail_reads(512 * 100..512 * 101);
    fb.fail_writes(512 * 200..512 * 201);
    let e = exec!(h, read::read10, cdb10(READ_10, 0, 99, 4)).unwrap_err();
    assert_eq!(e, ScsiError::UnrecoveredReadError { lba: Some(99) });
    assert_eq!(
        sense(&e),
        [0xF0, 0, 0x03, 0, 0, 0, 99, 10, 0, 0, 0, 0, 0x11, 0, 0, 0, 0, 0]
    );
    let e = exec!(h, verify::verify10, cdb10(VERIFY_10, 0, 100, 1)).unwrap_err();
    assert_eq!(e, ScsiError::UnrecoveredReadError { lba: Some(100) });
    let e = exec!(h, write::write16, cdb16(WRITE_16, 0, 200, 1), vec![1; 512]).unwrap_err();
    assert_eq!(
        sense(&e),
        [0xF0, 0, 0x03, 0, 0, 0, 200, 10, 0, 0, 0, 0, 0x0C, 0, 0, 0, 0, 0]
    );
    let mut d = vec![0u8; 512];
    d.extend_from_slice(&[1u8; 512]);
    let e = exec!(h, caw::compare_and_write, caw_cdb(100, 1), d).unwrap_err();
    assert_eq!(e, ScsiError::UnrecoveredReadError { lba: Some(100) });
    fb.fail_flush(true);
    let e = exec!(
        h,
        sync::synchronize_cache10,
        cdb10(SYNCHRONIZE_CACHE_10, 0, 0, 0)
    )
    .unwrap_err();
    assert_eq!(e, ScsiError::WriteError { lba: Some(0) });
    // The rest of the medium still works.
    exec!(h, read::read10, cdb10(READ_10, 0, 0, 99)).unwrap();
}

#[tokio::test]
async fn prefetch_longer_than_maximum_prefetch_length_is_refused() {
    let h = Harness::with(Arc::new(MemoryBackend::new(64 << 20)), 512, false);
    let max = crate::sbc::BlockLimits::for_lu(&h.lu).max_transfer_length;
    exec!(h, prefetch::prefetch16, cdb16(PRE_FETCH_16, 0, 0, max)).unwrap();
    let e = exec!(h, prefetch::prefetch16, cdb16(PRE_FETCH_16, 0, 0, max + 1)).unwrap_err();
    assert_eq!(e, ScsiError::InvalidFieldInCdb(FieldPointer::byte(10)));
}

#[tokio::test]
async fn compare_and_write_waits_for_a_write_held_in_the_backend() {
    let fb = Arc::new(FaultBackend::new(Arc::new(MemoryBackend::new(1 << 20))));
    let h = Harness::with(fb.clone(), 512, false);
    fb.hold();
    let write = async { exec!(h, write::write10, cdb10(WRITE_10, 0, 0, 1), vec![b'W'; 512]) };
    let mut d = vec![b'W'; 512];
    d.extend_from_slice(&[b'C'; 512]);
    let caw = async {
        // Let the WRITE reach the gate first.
        while fb.held() == 0 {
            tokio::task::yield_now().await;
        }
        let r = exec!(h, caw::compare_and_write, caw_cdb(0, 1), d);
        // COMPARE AND WRITE only ran after the WRITE completed, so it saw
        // 'W' and wrote 'C'.
        r
    };
    let release = async {
        while fb.held() == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        // The CAW is queued behind the lock, not at the backend gate.
        assert_eq!(fb.held(), 1);
        fb.release();
    };
    let (w, c, ()) = tokio::join!(write, caw, release);
    w.unwrap();
    c.unwrap();
    let r = exec!(h, read::read10, cdb10(READ_10, 0, 0, 1)).unwrap();
    assert!(r.data.iter().all(|&b| b == b'C'));
}

#[tokio::test]
async fn a_disabled_write_cache_makes_every_write_durable() {
    let rec = Arc::new(FuaRecorder {
        inner: MemoryBackend::new(1 << 20),
        fua_writes: AtomicUsize::new(0),
        writes: AtomicUsize::new(0),
    });
    let h = Harness::with(rec.clone(), 512, false);
    let mut mode = h.lu.spc.mode();
    mode.wce = false;
    h.lu.spc.set_mode(mode);
    assert!(!h.lu.write_cache_enabled());
    exec!(h, write::write10, cdb10(WRITE_10, 0, 0, 1), vec![1; 512]).unwrap();
    exec!(
        h,
        verify::write_verify10,
        cdb10(WRITE_AND_VERIFY_10, 0, 1, 1),
        vec![1; 512]
    )
    .unwrap();
    assert_eq!(rec.fua_writes.load(Ordering::SeqCst), 2);
    assert_eq!(rec.writes.load(Ordering::SeqCst), 2);
}
