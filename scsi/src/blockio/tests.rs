//! The write hook sees every kind of medium modification, through the
//! device server exactly as the transport drives it.

use super::{LbaRange, WriteKind, WriteObserver};
use crate::backend::file::tests::TempDir;
use crate::backend::{Backend, FileBackend, MemoryBackend};
use crate::copy::params::build::{cscd, list, seg_b2b};
use crate::device::testutil::{exec, nexus, port};
use crate::device::{DeviceServer, LogicalUnit, LuConfig, Nexus, Status};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Recorder(Mutex<Vec<(u64, WriteKind, LbaRange)>>);

impl WriteObserver for Recorder {
    fn before_write(&self, lu: &LogicalUnit, range: LbaRange, kind: WriteKind) {
        self.0.lock().unwrap().push((lu.config.naa_id, kind, range));
    }
}

impl Recorder {
    fn take(&self) -> Vec<(u64, WriteKind, LbaRange)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn lu(naa_id: u64, backend: Arc<dyn Backend>) -> Arc<LogicalUnit> {
    Arc::new(LogicalUnit::new(
        LuConfig {
            block_size: 512,
            read_only: false,
            serial: format!("{naa_id:016X}"),
            naa_id,
            vendor: "XTGT".into(),
            product: "disk".into(),
            revision: "0.1".into(),
        },
        backend,
    ))
}

fn r(lba: u64, blocks: u64) -> LbaRange {
    LbaRange { lba, blocks }
}

fn cdb10(op: u8, flags: u8, lba: u32, len: u16) -> Vec<u8> {
    let mut c = vec![0u8; 10];
    c[0] = op;
    c[1] = flags;
    c[2..6].copy_from_slice(&lba.to_be_bytes());
    c[7..9].copy_from_slice(&len.to_be_bytes());
    c
}

fn cdb16(op: u8, flags: u8, lba: u64, len: u32) -> Vec<u8> {
    let mut c = vec![0u8; 16];
    c[0] = op;
    c[1] = flags;
    c[2..10].copy_from_slice(&lba.to_be_bytes());
    c[10..14].copy_from_slice(&len.to_be_bytes());
    c
}

/// EXTENDED COPY of `blocks` blocks from LUN 0 at `src_lba` to LUN 1 at
/// `dst_lba`, both named by their NAA designator.
async fn xcopy(s: &DeviceServer, n: &Nexus, src: &LogicalUnit, dst: &LogicalUnit) {
    let naa = |lu: &LogicalUnit| crate::spc::vpd::naa6(lu.config.naa_id);
    let p = list(
        1,
        0,
        &[
            cscd(0x01, 0x03, &naa(src), 512),
            cscd(0x01, 0x03, &naa(dst), 512),
        ],
        &[seg_b2b(false, 0, 1, 16, 0, 100)],
    );
    let mut c = vec![0u8; 16];
    c[0] = 0x83;
    c[10..14].copy_from_slice(&(p.len() as u32).to_be_bytes());
    let resp = exec(s, n, 0, &c, &p).await;
    assert_eq!(resp.status, Status::Good, "{:?}", resp.sense);
}

#[tokio::test]
async fn every_kind_of_write_is_announced_with_its_blocks() {
    let a = lu(1, Arc::new(MemoryBackend::new(1 << 20)));
    let b = lu(2, Arc::new(MemoryBackend::new(1 << 20)));
    let seen = Arc::new(Recorder::default());
    a.add_write_observer(seen.clone());
    b.add_write_observer(seen.clone());
    let p = port(vec![(0, a.clone()), (1, b.clone())]);
    let s = DeviceServer::new(vec![p.clone()]);
    let n = nexus(&s, &p).await;
    let good = |resp: crate::device::Response| assert_eq!(resp.status, Status::Good);

    // WRITE(10) of 2 blocks at LBA 1.
    good(exec(&s, &n, 0, &cdb10(0x2A, 0, 1, 2), &[7; 1024]).await);
    assert_eq!(seen.take(), vec![(1, WriteKind::Write, r(1, 2))]);
    // WRITE AND VERIFY(10).
    good(exec(&s, &n, 0, &cdb10(0x2E, 0, 5, 1), &[7; 512]).await);
    assert_eq!(seen.take(), vec![(1, WriteKind::Write, r(5, 1))]);
    // WRITE SAME(10): a pattern block (filled), zeroes (write zeroes), and
    // WRITE SAME(16) with UNMAP (deallocated).
    good(exec(&s, &n, 0, &cdb10(0x41, 0, 10, 4), &[9; 512]).await);
    assert_eq!(seen.take(), vec![(1, WriteKind::WriteSame, r(10, 4))]);
    good(exec(&s, &n, 0, &cdb10(0x41, 0, 30, 2), &[0; 512]).await);
    assert_eq!(seen.take(), vec![(1, WriteKind::WriteSame, r(30, 2))]);
    good(exec(&s, &n, 0, &cdb16(0x93, 0x08, 20, 8), &[0; 512]).await);
    assert_eq!(seen.take(), vec![(1, WriteKind::WriteSame, r(20, 8))]);
    // UNMAP of two ranges.
    let mut list = vec![0, 38, 0, 32, 0, 0, 0, 0];
    for (lba, blocks) in [(40u64, 8u32), (64, 3)] {
        list.extend_from_slice(&lba.to_be_bytes());
        list.extend_from_slice(&blocks.to_be_bytes());
        list.extend_from_slice(&[0; 4]);
    }
    let unmap = [0x42, 0, 0, 0, 0, 0, 0, 0, list.len() as u8, 0];
    good(exec(&s, &n, 0, &unmap, &list).await);
    assert_eq!(
        seen.take(),
        vec![
            (1, WriteKind::Unmap, r(40, 8)),
            (1, WriteKind::Unmap, r(64, 3))
        ]
    );
    // COMPARE AND WRITE: a miscompare writes nothing, a match writes.
    let mut caw = cdb16(0x89, 0, 1, 0);
    caw[13] = 1;
    let mut data = vec![1u8; 512];
    data.extend_from_slice(&[2; 512]);
    let resp = exec(&s, &n, 0, &caw, &data).await;
    assert_eq!(resp.status, Status::CheckCondition);
    assert_eq!(seen.take(), vec![]);
    data[..512].fill(7);
    good(exec(&s, &n, 0, &caw, &data).await);
    assert_eq!(seen.take(), vec![(1, WriteKind::CompareAndWrite, r(1, 1))]);
    // ORWRITE(16).
    good(exec(&s, &n, 0, &cdb16(0x8B, 0, 50, 1), &[0x0F; 512]).await);
    assert_eq!(seen.take(), vec![(1, WriteKind::OrWrite, r(50, 1))]);
    // Reads, verification and cache commands modify nothing.
    good(exec(&s, &n, 0, &cdb10(0x28, 0, 0, 8), &[]).await);
    good(exec(&s, &n, 0, &cdb10(0x2F, 0, 0, 8), &[]).await);
    good(exec(&s, &n, 0, &cdb10(0x35, 0, 0, 0), &[]).await);
    assert_eq!(seen.take(), vec![]);
    // EXTENDED COPY between memory LUs: the destination, chunk by chunk.
    xcopy(&s, &n, &a, &b).await;
    assert_eq!(
        seen.take(),
        vec![(2, WriteKind::CopyDestination, r(100, 16))]
    );
}

#[tokio::test]
async fn a_native_copy_is_announced_for_its_destination() {
    let dir = TempDir::new("blockio-native");
    let file = |name: &str| {
        Arc::new(FileBackend::open_or_create(&dir.path().join(name), Some(1 << 20), false).unwrap())
    };
    let a = lu(1, file("a.img"));
    let b = lu(2, file("b.img"));
    let seen = Arc::new(Recorder::default());
    a.add_write_observer(seen.clone());
    b.add_write_observer(seen.clone());
    let p = port(vec![(0, a.clone()), (1, b.clone())]);
    let s = DeviceServer::new(vec![p.clone()]);
    let n = nexus(&s, &p).await;
    xcopy(&s, &n, &a, &b).await;
    // Announced once for the whole range, before the kernel copies; what
    // the kernel leaves is emulated (and announced) chunk by chunk.
    let got = seen.take();
    assert_eq!(got.first(), Some(&(2, WriteKind::NativeCopy, r(100, 16))));
    assert!(got[1..]
        .iter()
        .all(|(lu, kind, _)| (*lu, *kind) == (2, WriteKind::CopyDestination)));
}

#[tokio::test]
async fn no_writer_on_a_read_only_lu() {
    let ro = Arc::new(LogicalUnit::new(
        LuConfig {
            read_only: true,
            ..crate::device::testutil::config(true)
        },
        Arc::new(MemoryBackend::new(1 << 20)),
    ));
    assert_eq!(
        ro.writer().await.err(),
        Some(crate::sense::ScsiError::WriteProtected)
    );
    assert_eq!(
        ro.exclusive_writer().await.err(),
        Some(crate::sense::ScsiError::WriteProtected)
    );
}
