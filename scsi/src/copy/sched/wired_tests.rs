//! The scheduler wired to the engine and the block-I/O facade, on a
//! backend that serves one I/O at a time in arrival order (a single-queue
//! device) and logs the order it served them in. Counts, not times.

use super::{CopyScheduler, SchedConfig};
use crate::backend::{Backend, Capabilities, MemoryBackend};
use crate::blockio::Account;
use crate::copy::engine::{run_plan, CopyProgress, CopyTally};
use crate::copy::params::build::*;
use crate::copy::params::{parse_lid1, CopyLimits};
use crate::copy::plan::{build_plan, CopyPlan, PlanContext};
use crate::copy::testutil::{lu_on, naa_of, outside, resolver};
use crate::device::LogicalUnit;
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Serves I/O one at a time, FIFO, each taking `delay`; logs (offset,
/// is_write) in service order.
struct SerialBackend {
    inner: MemoryBackend,
    queue: tokio::sync::Mutex<()>,
    log: Mutex<Vec<(u64, bool)>>,
    delay: Duration,
}

impl SerialBackend {
    fn new(size: u64, delay: Duration) -> Self {
        Self {
            inner: MemoryBackend::new(size),
            queue: tokio::sync::Mutex::new(()),
            log: Mutex::new(Vec::new()),
            delay,
        }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Vec<(u64, bool)>> {
        self.log.lock().unwrap()
    }
}

#[async_trait::async_trait]
impl Backend for SerialBackend {
    fn describe(&self) -> String {
        "serial".into()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn read(&self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        let _turn = self.queue.lock().await;
        self.log().push((offset, false));
        tokio::time::sleep(self.delay).await;
        self.inner.read(offset, len).await
    }
    async fn write(&self, offset: u64, data: Bytes, fua: bool) -> std::io::Result<()> {
        let _turn = self.queue.lock().await;
        self.log().push((offset, true));
        tokio::time::sleep(self.delay).await;
        self.inner.write(offset, data, fua).await
    }
    async fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
}

fn plan(lu: &Arc<LogicalUnit>, blocks: u16, src_lba: u64, dst_lba: u64) -> CopyPlan {
    let limits = CopyLimits::default();
    let p = list(
        0,
        0b11,
        &[cscd_naa(naa_of(lu), 512)],
        &[seg_b2b(false, 0, 0, blocks, src_lba, dst_lba)],
    );
    let list = parse_lid1(&p, &limits).unwrap();
    let r = resolver(&[lu], &[]);
    build_plan(
        &list,
        &PlanContext {
            receiving_lu: lu,
            requester: crate::copy::resolve::Requester {
                initiator_name: "i",
                target: &outside(),
            },
            resolver: &r,
            limits: &limits,
        },
    )
    .unwrap()
}

/// A 16 MiB EXTENDED COPY runs while an initiator reads in a loop on the
/// same LU. Every foreground read once foreground is present finds at
/// most one copy chunk (its read and its write) served before it; the
/// copy still finishes, byte-exact.
#[tokio::test]
async fn foreground_read_waits_behind_at_most_one_copy_chunk() {
    const MIB: u64 = 1 << 20;
    let be = Arc::new(SerialBackend::new(64 * MIB, Duration::from_millis(1)));
    let data: Vec<u8> = (0..16 * MIB as usize).map(|i| (i % 251) as u8).collect();
    be.inner
        .write(0, Bytes::from(data.clone()), false)
        .await
        .unwrap();
    let a = lu_on(1, 512, false, be.clone());
    // Busy chunks smaller than idle ones, to see which the copy used.
    let cfg = SchedConfig {
        chunk_busy: 256 << 10,
        ..SchedConfig::default()
    };
    let sched = Arc::new(CopyScheduler::new(cfg));
    let op = sched.enqueue(&a, "iqn.copier", 0).unwrap();
    op.admitted().await;
    let plan = plan(&a, 32768, 0, 65536);
    let done = AtomicBool::new(false);
    let fg_off = 120_000u64 * 512;
    let copy = async {
        let r = run_plan(
            &plan,
            &CopyLimits::default(),
            &Arc::new(CopyProgress::default()),
            &mut CopyTally::default(),
            &op,
        )
        .await;
        done.store(true, Ordering::Release);
        r
    };
    let foreground = async {
        while be.log().is_empty() {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let mut ahead = Vec::new();
        while !done.load(Ordering::Acquire) {
            let issued = be.log().len();
            let account = Account::Initiator {
                target: "t",
                lun: 0,
            };
            a.read_blocks(120_000, 8, account).await.unwrap();
            let log = be.log();
            let served = (issued..log.len())
                .find(|&i| log[i] == (fg_off, false))
                .unwrap();
            ahead.push(served - issued);
        }
        ahead
    };
    let (copied, ahead) = tokio::join!(copy, foreground);
    copied.unwrap();
    let got = a
        .read_bytes(32 * MIB, 16 * MIB, Account::Internal)
        .await
        .unwrap();
    assert!(got == data, "the copy is byte-exact");
    assert!(ahead.len() >= 10, "foreground ran throughout: {ahead:?}");
    // The first reads meet what the idle copy had in flight (up to
    // chunks_in_flight chunks of 1 MiB); from the third on, at most one
    // chunk's read and write.
    let depth = usize::from(CopyLimits::default().chunks_in_flight);
    assert!(ahead[..2].iter().all(|&n| n <= 2 * depth), "{ahead:?}");
    assert!(ahead[2..].iter().all(|&n| n <= 2), "{ahead:?}");
    // Copy chunks under foreground were the small ones.
    let copy_writes: Vec<u64> = be
        .log()
        .iter()
        .filter(|(off, w)| *w && *off >= 32 * MIB)
        .map(|(off, _)| off - 32 * MIB)
        .collect();
    assert!(copy_writes.windows(2).any(|w| w[1] - w[0] == 256 << 10));
}

/// Beyond the queue of waiting copies, EXTENDED COPY is refused with
/// ILLEGAL REQUEST, INSUFFICIENT RESOURCES (55h/03h); once the running
/// copy ends, the next one runs.
#[tokio::test]
async fn extended_copy_refused_when_the_queue_is_full() {
    use crate::backend::FaultBackend;
    use crate::command::CommandCtx;
    use crate::copy::CopyManager;
    use crate::device::Nexus;
    let fault = Arc::new(FaultBackend::new(Arc::new(MemoryBackend::new(512 * 64))));
    let a = lu_on(1, 512, false, fault.clone());
    let r = resolver(&[&a], &[]);
    let target = r.targets[0].target.clone();
    let mgr = CopyManager::new(CopyLimits::default(), Arc::new(r)).with_scheduler(SchedConfig {
        max_copies: 1,
        max_queued: 0,
        ..SchedConfig::default()
    });
    let nexus = Nexus {
        id: 7,
        initiator_name: "iqn.test".into(),
        initiator_port: "iqn.test,i,0x1".into(),
        target,
        port: Default::default(),
    };
    let p = list(
        0,
        0b11,
        &[cscd_naa(naa_of(&a), 512)],
        &[seg_b2b(false, 0, 0, 8, 0, 16)],
    );
    let mut cdb = [0u8; 16];
    cdb[0] = 0x83;
    cdb[10..14].copy_from_slice(&(p.len() as u32).to_be_bytes());
    let (row, cdb) = crate::cdb::parse(&cdb).unwrap();
    let ctx = CommandCtx {
        row,
        nexus: &nexus,
        lun: 0,
        lu: &a,
        cdb,
        data_out: Bytes::from(p),
        expected_in: 0,
        tag: 0,
    };
    fault.hold();
    let first = mgr.extended_copy(&ctx);
    tokio::pin!(first);
    // Run the first copy until it is held at the backend.
    while fault.held() == 0 {
        tokio::select! {
            _ = &mut first => panic!("held backend: the copy cannot finish"),
            _ = tokio::task::yield_now() => {}
        }
    }
    let e = mgr.extended_copy(&ctx).await.unwrap_err();
    assert_eq!(
        e.code(),
        (crate::sense::SenseKey::IllegalRequest, 0x55, 0x03)
    );
    let s = e.sense().encode_fixed();
    assert_eq!((s[2], s[12], s[13]), (0x05, 0x55, 0x03));
    fault.release();
    first.await.unwrap();
    mgr.extended_copy(&ctx).await.unwrap();
}

/// A native copy between two file-backed LUs is issued in pieces of at
/// most `native_piece`, each one grant, and is byte-exact.
#[tokio::test]
async fn native_copy_runs_in_granted_pieces() {
    use crate::backend::FileBackend;
    const MIB: u64 = 1 << 20;
    let path = |t: &str| {
        std::env::temp_dir().join(format!(
            "xtgt-sched-{t}-{}-{:x}",
            std::process::id(),
            rand::random::<u64>()
        ))
    };
    let (p1, p2) = (path("a"), path("b"));
    let a = lu_on(
        1,
        512,
        false,
        Arc::new(FileBackend::open_or_create(&p1, Some(4 * MIB), false).unwrap()),
    );
    let b = lu_on(
        2,
        512,
        false,
        Arc::new(FileBackend::open_or_create(&p2, Some(4 * MIB), false).unwrap()),
    );
    let data: Vec<u8> = (0..2 * MIB as usize).map(|i| (i % 253) as u8).collect();
    a.backend
        .write(0, Bytes::from(data.clone()), false)
        .await
        .unwrap();
    let limits = CopyLimits::default();
    let p = list(
        0,
        0b11,
        &[cscd_naa(naa_of(&a), 512), cscd_naa(naa_of(&b), 512)],
        &[seg_b2b(false, 0, 1, 4096, 0, 8)],
    );
    let list = parse_lid1(&p, &limits).unwrap();
    let r = resolver(&[&a, &b], &[]);
    let plan = build_plan(
        &list,
        &PlanContext {
            receiving_lu: &a,
            requester: crate::copy::resolve::Requester {
                initiator_name: "i",
                target: &outside(),
            },
            resolver: &r,
            limits: &limits,
        },
    )
    .unwrap();
    let sched = Arc::new(CopyScheduler::new(SchedConfig {
        native_piece: 64 << 10,
        ..SchedConfig::default()
    }));
    let op = sched.enqueue(&a, "i", 0).unwrap();
    op.admitted().await;
    let mut tally = CopyTally::default();
    run_plan(
        &plan,
        &limits,
        &Arc::new(CopyProgress::default()),
        &mut tally,
        &op,
    )
    .await
    .unwrap();
    assert_eq!(tally.native_bytes, 2 * MIB);
    assert_eq!(sched.grants(), 2 * MIB / (64 << 10));
    let got = b
        .read_bytes(8 * 512, 2 * MIB, Account::Internal)
        .await
        .unwrap();
    assert!(got == data);
    let _ = std::fs::remove_file(p1);
    let _ = std::fs::remove_file(p2);
}

/// Reads of a LU that no copy has touched still mark its backing domain:
/// LUs whose files share a device find one domain on their first
/// initiator I/O, so a copy between two other LUs of the device sees them.
#[tokio::test]
async fn initiator_io_on_an_untouched_lu_marks_the_shared_domain() {
    let dir = std::env::temp_dir().join(format!("xtgt-domain-{:x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let file_lu = |naa: u64, name: &str| {
        let b = crate::backend::FileBackend::open_or_create(&dir.join(name), Some(1 << 20), false)
            .unwrap();
        crate::copy::testutil::lu_on(naa, 512, false, Arc::new(b))
    };
    let (fg, src) = (file_lu(1, "fg"), file_lu(2, "src"));
    assert!(fg.backing_device().is_some());
    assert!(fg.io.copy_domain.get().is_none());
    let account = Account::Initiator {
        target: "iqn.test",
        lun: 0,
    };
    fg.read_bytes(0, 512, account).await.unwrap();
    let (kf, ff) = fg.io.copy_domain.get().unwrap();
    let (ks, fs) = super::domain_of(&src);
    assert_eq!(kf, ks);
    assert!(Arc::ptr_eq(ff, fs), "one foreground state for the device");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A returned chunk grant does not wake the copies queued for admission:
/// while the running copy takes and returns 200 grants, a queued copy
/// looks at the policy only when it starts waiting and when the running
/// copy ends (with 128 queued sessions, every release used to wake all).
#[tokio::test]
async fn chunk_releases_do_not_wake_queued_copies() {
    let be = Arc::new(MemoryBackend::new(1 << 20));
    let a = lu_on(1, 512, false, be);
    let cfg = SchedConfig {
        max_copies: 1,
        ..SchedConfig::default()
    };
    let sched = Arc::new(CopyScheduler::new(cfg));
    let first = sched.enqueue(&a, "iqn.one", 0).unwrap();
    first.admitted().await;
    let queued = sched.enqueue(&a, "iqn.two", 0).unwrap();
    let before = sched.admit_checks.load(Ordering::Relaxed);
    let waiter = {
        let sched = sched.clone();
        tokio::spawn(async move {
            queued.admitted().await;
            sched.admit_checks.load(Ordering::Relaxed)
        })
    };
    tokio::task::yield_now().await;
    for _ in 0..200 {
        let g = first.chunk(&[&*a], 4096, super::ChunkKind::Buffered).await;
        drop(g);
        tokio::task::yield_now().await;
    }
    drop(first);
    let checks = waiter.await.unwrap() - before;
    assert!(checks <= 3, "the queued copy looked {checks} times");
}
