//! Runs a validated [`CopyPlan`] in chunks beside initiator I/O.
//!
//! Per segment: the backends' native copy when both offer a file
//! (`native`, through [`crate::blockio::Writer::copy_native_from`]), then
//! emulation for whatever is left: bounded, pipelined
//! read -> write of `chunk_size` pieces with at most `chunks_in_flight` in
//! flight, never a buffer the size of a segment. Overlapping ranges on one
//! LU are copied one chunk at a time in the direction memmove would use.
//!
//! A backend error ends the copy with COPY ABORTED / THIRD PARTY DEVICE
//! FAILURE (0x0D/0x01), the failing segment in COMMAND-SPECIFIC
//! INFORMATION and the backend's own error forwarded (a read error as
//! UNRECOVERED READ ERROR, a write error as WRITE ERROR) (SPC-5 6.5.5).

use super::native::Pace;
use super::params::CopyLimits;
use super::plan::{CopyPlan, PlannedSegment};
use super::sched::{ChunkGrant, ChunkKind, CopyOp};
use crate::blockio::{Account, NativeCopy, WriteKind};
use crate::device::LogicalUnit;
use crate::sense::{CopyEnd, ScsiError};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::task::JoinSet;

/// COPY ABORTED additional sense for a failure of a source or destination.
pub const THIRD_PARTY_DEVICE_FAILURE: (u8, u8) = (0x0D, 0x01);

/// Progress of one copy, readable while it runs (RECEIVE COPY STATUS),
/// and its stop request: set by the copy control registry (COPY
/// OPERATION ABORT, task management, shutdown), checked between chunks.
#[derive(Debug, Default)]
pub struct CopyProgress {
    segments_processed: AtomicU32,
    bytes_transferred: AtomicU64,
    cancel: AtomicBool,
}

impl CopyProgress {
    /// Ask the copy to stop at its next chunk boundary.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Release);
    }
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Acquire)
    }
    /// The stop flag itself (for [`super::pieces::Control::abort`]).
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }
    /// The byte counter itself (for [`super::pieces::Control::progress`]).
    pub fn bytes_counter(&self) -> &AtomicU64 {
        &self.bytes_transferred
    }
    pub fn segments_processed(&self) -> u32 {
        self.segments_processed.load(Ordering::Acquire)
    }
    pub fn bytes_transferred(&self) -> u64 {
        self.bytes_transferred.load(Ordering::Acquire)
    }
    fn add_bytes(&self, n: u64) {
        self.bytes_transferred.fetch_add(n, Ordering::AcqRel);
    }
    fn segment_done(&self) {
        self.segments_processed.fetch_add(1, Ordering::AcqRel);
    }
}

/// What a finished (or failed) copy moved, by method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyTally {
    pub native_bytes: u64,
    pub emulated_bytes: u64,
}

impl CopyTally {
    /// "native", "emulated" or "mixed", for the log line.
    pub fn method(&self) -> &'static str {
        match (self.native_bytes > 0, self.emulated_bytes > 0) {
            (true, false) => "native",
            (true, true) => "mixed",
            _ => "emulated",
        }
    }
}

/// Execute `plan`; `progress` is updated as chunks complete and `tally`
/// says how bytes moved (also on failure). Every chunk and native piece
/// waits for its grant from the copy scheduler (`op`).
pub async fn run_plan(
    plan: &CopyPlan,
    limits: &CopyLimits,
    progress: &Arc<CopyProgress>,
    tally: &mut CopyTally,
    op: &CopyOp,
) -> Result<(), ScsiError> {
    for seg in &plan.segments {
        if progress.cancelled() {
            return Err(stopped(seg));
        }
        run_segment(seg, limits, progress, tally, op).await?;
        progress.segment_done();
    }
    Ok(())
}

/// The copy was asked to stop (see [`CopyProgress::cancel`]) before
/// segment `seg` finished: every chunk started has completed, so the
/// bytes transferred are exactly what the destination holds. The caller
/// turns this into the answer its stop cause prescribes.
pub fn stopped(seg: &PlannedSegment) -> ScsiError {
    ScsiError::CopyCleared {
        information: None,
        segment: Some(seg.number),
    }
}

async fn run_segment(
    seg: &PlannedSegment,
    limits: &CopyLimits,
    progress: &Arc<CopyProgress>,
    tally: &mut CopyTally,
    op: &CopyOp,
) -> Result<(), ScsiError> {
    if seg.length == 0 {
        return Ok(());
    }
    let mut done = 0u64;
    if !seg.overlaps() && seg.source.offers_native_copy() && seg.destination.offers_native_copy() {
        done = native(seg, progress, tally, op).await?;
    }
    if done < seg.length {
        let rest = seg.length - done;
        let r = if seg.overlaps() {
            emulate_overlapping(seg, limits, progress, tally, op).await
        } else {
            emulate(seg, done, rest, limits, progress, tally, op).await
        };
        r?;
    }
    Ok(())
}

/// The kernel's copy of the segment in pieces, each one grant (so no
/// blocking thread is held for a whole segment and foreground I/O gets
/// its turn between pieces); returns the bytes copied before the first
/// short piece (the rest is emulated).
async fn native(
    seg: &PlannedSegment,
    progress: &Arc<CopyProgress>,
    tally: &mut CopyTally,
    op: &CopyOp,
) -> Result<u64, ScsiError> {
    let mut done = 0u64;
    while done < seg.length {
        // A stop request is seen between pieces.
        if progress.cancelled() {
            return Err(stopped(seg));
        }
        let lus = [&*seg.source, &*seg.destination];
        let grant = op
            .chunk(
                &lus,
                seg.length - done,
                native_kind(&seg.source, &seg.destination),
            )
            .await;
        let asked = grant.bytes;
        // Shared like every write command's, so COMPARE AND WRITE on the
        // destination (exclusive) stays atomic (SBC-4 5.3). Taken after
        // the grant, never held while waiting for one: a queued COMPARE
        // AND WRITE would otherwise hold up the chunk whose grant this
        // piece waits for.
        let w = seg
            .destination
            .writer()
            .await
            .map_err(|e| abort(at(seg), CopyEnd::Destination, e))?;
        let p = progress.clone();
        let native = w
            .copy_native_from(
                &seg.source,
                seg.source_offset + done,
                seg.destination_offset + done,
                grant.bytes,
                Pace::of(grant.busy),
                Arc::new(move |n| p.add_bytes(n)),
            )
            .await
            .map_err(|e| abort(at(seg), CopyEnd::Destination, e))?;
        drop(w);
        drop(grant);
        let NativeCopy::Copied(n) = native else {
            break;
        };
        done += n;
        tally.native_bytes += n;
        metrics::counter!("xtgt_copy_bytes_total", "method" => "native", "command" => "xcopy")
            .increment(n);
        if n < asked {
            break;
        }
    }
    Ok(done)
}

/// A native piece between two LUs on a reflink file system (both report
/// point-in-time copies: FICLONERANGE / copy_file_range share extents)
/// is a clone; elsewhere the kernel copies the data.
pub(crate) fn native_kind(src: &LogicalUnit, dst: &LogicalUnit) -> ChunkKind {
    let same_device =
        src.backing_device().is_some() && src.backing_device() == dst.backing_device();
    if same_device && src.capabilities().point_in_time && dst.capabilities().point_in_time {
        ChunkKind::Clone
    } else {
        ChunkKind::Native
    }
}

/// One chunk: read from the source, write to the destination, through
/// the LUs' block-I/O facade (its error mapping, MEDIUM ERROR with the LBA,
/// is forwarded; the destination's write-through applies).
async fn move_chunk(
    src: Arc<LogicalUnit>,
    src_off: u64,
    dst: Arc<LogicalUnit>,
    dst_off: u64,
    len: u64,
    at: SegmentAt,
    grant: ChunkGrant,
) -> Result<u64, ScsiError> {
    let _grant = grant;
    let data = src
        .read_bytes(src_off, len, Account::Internal)
        .await
        .map_err(|e| abort(at, CopyEnd::Source, e))?;
    // Shared like every write command's: COMPARE AND WRITE stays atomic.
    let w = dst
        .writer()
        .await
        .map_err(|e| abort(at, CopyEnd::Destination, e))?;
    w.write_bytes(dst_off, data, WriteKind::CopyDestination, Account::Internal)
        .await
        .map_err(|e| abort(at, CopyEnd::Destination, e))?;
    Ok(len)
}

/// (segment number, offset of its descriptor in the parameter list).
type SegmentAt = (u32, u16);

fn at(seg: &PlannedSegment) -> SegmentAt {
    (seg.number, seg.descriptor_offset)
}

/// COPY ABORTED, THIRD-PARTY DEVICE FAILURE for segment `at`, forwarding
/// `cause`, the error of the copy `end` whose read or write failed.
fn abort((segment, offset): SegmentAt, end: CopyEnd, cause: ScsiError) -> ScsiError {
    ScsiError::CopyAborted {
        asc: THIRD_PARTY_DEVICE_FAILURE.0,
        ascq: THIRD_PARTY_DEVICE_FAILURE.1,
        segment,
        cause: Some((end, Box::new(cause))),
        segment_pointer: Some(offset),
    }
}

fn chunk_size(limits: &CopyLimits) -> u64 {
    u64::from(limits.chunk_size.max(4096))
}

/// Pipelined copy of `[start, start + len)` of a non-overlapping segment:
/// up to `chunks_in_flight` chunks, each started once granted (its size is
/// the grant's).
async fn emulate(
    seg: &PlannedSegment,
    start: u64,
    len: u64,
    limits: &CopyLimits,
    progress: &Arc<CopyProgress>,
    tally: &mut CopyTally,
    op: &CopyOp,
) -> Result<(), ScsiError> {
    let chunk = chunk_size(limits);
    let depth = usize::from(limits.chunks_in_flight.max(1));
    let end = start + len;
    let mut next = start;
    let mut set: JoinSet<Result<u64, ScsiError>> = JoinSet::new();
    let lus = [&*seg.source, &*seg.destination];
    // The request for the next chunk lives across completions, so the
    // copy keeps its place in the scheduler's queue.
    let mut pending = None;
    let mut stop = false;
    loop {
        // Asked to stop: no new chunk (the request for one is dropped);
        // those in flight finish (below), so the bytes done stay one
        // contiguous prefix.
        if !stop && progress.cancelled() {
            stop = true;
            pending = None;
        }
        if !stop && pending.is_none() && set.len() < depth && next < end {
            pending = Some(Box::pin(op.chunk(
                &lus,
                chunk.min(end - next),
                ChunkKind::Buffered,
            )));
        }
        let joined = if let Some(fut) = pending.as_mut() {
            let (mut grant, mut joined) = (None, None);
            tokio::select! {
                g = fut => grant = Some(g),
                Some(j) = set.join_next() => joined = Some(j),
            }
            if let Some(grant) = grant {
                pending = None;
                let n = grant.bytes.min(end - next);
                set.spawn(move_chunk(
                    seg.source.clone(),
                    seg.source_offset + next,
                    seg.destination.clone(),
                    seg.destination_offset + next,
                    n,
                    at(seg),
                    grant,
                ));
                next += n;
                continue;
            }
            match joined {
                Some(j) => j,
                None => continue,
            }
        } else {
            match set.join_next().await {
                Some(j) => j,
                None if stop && next < end => return Err(stopped(seg)),
                None => return Ok(()),
            }
        };
        match joined {
            Ok(Ok(n)) => {
                progress.add_bytes(n);
                tally.emulated_bytes += n;
                metrics::counter!("xtgt_copy_bytes_total", "method" => "emulated", "command" => "xcopy").increment(n);
            }
            Ok(Err(e)) => {
                set.abort_all();
                return Err(e);
            }
            Err(_) => {
                set.abort_all();
                // A copy task panicked: the copy manager's own failure,
                // not sense from the source or destination, so nothing is
                // forwarded.
                let (segment, offset) = at(seg);
                return Err(ScsiError::CopyAborted {
                    asc: THIRD_PARTY_DEVICE_FAILURE.0,
                    ascq: THIRD_PARTY_DEVICE_FAILURE.1,
                    segment,
                    cause: None,
                    segment_pointer: Some(offset),
                });
            }
        }
    }
}

/// Source and destination overlap on one LU: one chunk at a time, from the
/// end when the destination is above the source (memmove semantics).
async fn emulate_overlapping(
    seg: &PlannedSegment,
    limits: &CopyLimits,
    progress: &Arc<CopyProgress>,
    tally: &mut CopyTally,
    op: &CopyOp,
) -> Result<(), ScsiError> {
    let chunk = chunk_size(limits);
    let backwards = seg.destination_offset > seg.source_offset;
    let mut remaining = seg.length;
    let lus = [&*seg.source, &*seg.destination];
    while remaining > 0 {
        if progress.cancelled() {
            return Err(stopped(seg));
        }
        let grant = op
            .chunk(&lus, chunk.min(remaining), ChunkKind::Buffered)
            .await;
        let n = grant.bytes.min(remaining);
        let rel = if backwards {
            remaining - n
        } else {
            seg.length - remaining
        };
        move_chunk(
            seg.source.clone(),
            seg.source_offset + rel,
            seg.destination.clone(),
            seg.destination_offset + rel,
            n,
            at(seg),
            grant,
        )
        .await?;
        progress.add_bytes(n);
        tally.emulated_bytes += n;
        metrics::counter!("xtgt_copy_bytes_total", "method" => "emulated", "command" => "xcopy")
            .increment(n);
        remaining -= n;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::backend::{Backend, FaultBackend, MemoryBackend};
    use crate::copy::params::build::*;
    use crate::copy::params::parse_lid1;
    use crate::copy::plan::{build_plan, PlanContext};
    use crate::copy::testutil::{lu, lu_on, naa_of, resolver, test_op};
    use crate::device::LogicalUnit;
    use bytes::Bytes;

    fn small_limits() -> CopyLimits {
        CopyLimits {
            chunk_size: 4096,
            chunks_in_flight: 3,
            ..CopyLimits::default()
        }
    }

    fn make_plan(p: &[u8], recv: &Arc<LogicalUnit>, luns: &[&Arc<LogicalUnit>]) -> CopyPlan {
        let limits = CopyLimits::default();
        let list = parse_lid1(p, &limits).unwrap();
        let r = resolver(luns, &[]);
        build_plan(
            &list,
            &PlanContext {
                receiving_lu: recv,
                requester: crate::copy::resolve::Requester {
                    initiator_name: "i",
                    target: &crate::copy::testutil::outside(),
                },
                resolver: &r,
                limits: &limits,
            },
        )
        .unwrap()
    }

    async fn fill(lu: &LogicalUnit, seed: u8) -> Vec<u8> {
        let size = lu.backend.size() as usize;
        let data: Vec<u8> = (0..size)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect();
        lu.backend
            .write(0, Bytes::from(data.clone()), false)
            .await
            .unwrap();
        data
    }

    async fn contents(lu: &LogicalUnit) -> Vec<u8> {
        lu.backend
            .read(0, lu.backend.size() as usize)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn copies_across_lus_with_different_block_sizes() {
        let a = lu(1, 512, 256, false); // 128 KiB
        let b = lu(2, 4096, 64, false); // 256 KiB
        let da = fill(&a, 1).await;
        let db = fill(&b, 2).await;
        let p = list(
            1,
            0b10,
            &[cscd_naa(naa_of(&a), 512), cscd_naa(naa_of(&b), 4096)],
            // 80 source blocks (40 KiB) = 10 destination blocks, to LBA 3.
            &[
                seg_b2b(false, 0, 1, 80, 16, 3),
                seg_offsets(1, 0, 1024, 0, 200, 100, 7),
            ],
        );
        let plan = make_plan(&p, &a, &[&a, &b]);
        let progress = Arc::new(CopyProgress::default());
        let mut tally = CopyTally::default();
        run_plan(&plan, &small_limits(), &progress, &mut tally, &test_op())
            .await
            .unwrap();
        let mut want_b = db.clone();
        want_b[3 * 4096..3 * 4096 + 40960].copy_from_slice(&da[16 * 512..16 * 512 + 40960]);
        assert_eq!(contents(&b).await, want_b);
        let mut want_a = da.clone();
        want_a[200 * 512 + 7..200 * 512 + 7 + 1024].copy_from_slice(&want_b[100..1124]);
        assert_eq!(contents(&a).await, want_a);
        assert_eq!(progress.segments_processed(), 2);
        assert_eq!(progress.bytes_transferred(), 40960 + 1024);
        assert_eq!(
            tally,
            CopyTally {
                native_bytes: 0,
                emulated_bytes: 40960 + 1024
            }
        );
    }

    /// Overlapping source and destination on one LU copy as memmove would,
    /// in both directions, across several chunks.
    #[tokio::test]
    async fn overlapping_ranges_copy_like_memmove() {
        for (src_lba, dst_lba) in [(0u64, 3u64), (3, 0), (0, 9), (9, 0)] {
            let a = lu(1, 512, 64, false);
            let da = fill(&a, 5).await;
            let p = list(
                0,
                0b11,
                &[cscd_naa(naa_of(&a), 512)],
                &[seg_b2b(false, 0, 0, 40, src_lba, dst_lba)],
            );
            let plan = make_plan(&p, &a, &[&a]);
            assert!(plan.segments[0].overlaps());
            let progress = Arc::new(CopyProgress::default());
            run_plan(
                &plan,
                &small_limits(),
                &progress,
                &mut CopyTally::default(),
                &test_op(),
            )
            .await
            .unwrap();
            let mut want = da.clone();
            let (s, d, n) = (src_lba as usize * 512, dst_lba as usize * 512, 40 * 512);
            want.copy_within(s..s + n, d);
            assert_eq!(contents(&a).await, want, "src {src_lba} dst {dst_lba}");
        }
    }

    /// A read error in the middle of segment 1: COPY ABORTED, segment 1 in
    /// COMMAND-SPECIFIC INFORMATION, the medium error forwarded, and the
    /// progress says one segment was done.
    #[tokio::test]
    async fn read_error_mid_copy_is_copy_aborted_with_forwarded_medium_error() {
        let fault = Arc::new(FaultBackend::new(Arc::new(MemoryBackend::new(512 * 256))));
        let a = lu_on(1, 512, false, fault.clone());
        let b = lu(2, 512, 256, false);
        let p = list(
            1,
            0,
            &[cscd_naa(naa_of(&a), 512), cscd_naa(naa_of(&b), 512)],
            &[
                seg_b2b(false, 0, 1, 16, 0, 0),
                seg_b2b(false, 0, 1, 64, 64, 64),
            ],
        );
        let plan = make_plan(&p, &b, &[&a, &b]);
        fault.fail_reads(100 * 512..101 * 512);
        let progress = Arc::new(CopyProgress::default());
        let e = run_plan(
            &plan,
            &small_limits(),
            &progress,
            &mut CopyTally::default(),
            &test_op(),
        )
        .await
        .unwrap_err();
        match &e {
            ScsiError::CopyAborted {
                asc,
                ascq,
                segment,
                cause,
                segment_pointer,
            } => {
                assert_eq!(*segment_pointer, Some(16 + 64 + 28));
                assert_eq!((*asc, *ascq, *segment), (0x0D, 0x01, 1));
                let (end, cause) = cause.as_ref().unwrap();
                assert_eq!(*end, CopyEnd::Source);
                assert_eq!(
                    cause.code(),
                    (crate::sense::SenseKey::MediumError, 0x11, 0x00)
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        let s = e.sense().encode_fixed();
        assert_eq!(s[2], 0x0A);
        assert_eq!(s[8..12], [0, 0, 0, 1]);
        assert_eq!(s[15..18], [0x80, 0, 108]);
        let fwd = e.sense().forwarded.unwrap();
        assert_eq!(
            (fwd.source, fwd.sense.key, fwd.sense.asc),
            (CopyEnd::Source, crate::sense::SenseKey::MediumError, 0x11)
        );
        assert_eq!(progress.segments_processed(), 1);
        assert!(progress.bytes_transferred() >= 16 * 512);
        assert!(progress.bytes_transferred() < (16 + 64) * 512);
    }

    #[tokio::test]
    async fn write_error_is_forwarded_as_write_error() {
        let fault = Arc::new(FaultBackend::new(Arc::new(MemoryBackend::new(512 * 256))));
        let b = lu_on(2, 512, false, fault.clone());
        let a = lu(1, 512, 256, false);
        let p = list(
            1,
            0,
            &[cscd_naa(naa_of(&a), 512)],
            &[seg_b2b(false, 0, 0xFFFF, 32, 0, 0)],
        );
        let plan = make_plan(&p, &b, &[&a, &b]);
        fault.fail_writes(0..512 * 256);
        let e = run_plan(
            &plan,
            &small_limits(),
            &Arc::new(CopyProgress::default()),
            &mut CopyTally::default(),
            &test_op(),
        )
        .await
        .unwrap_err();
        let s = e.sense().encode_fixed();
        assert_eq!((s[2], s[12], s[13]), (0x0A, 0x0D, 0x01));
        let fwd = e.sense().forwarded.unwrap();
        assert_eq!(
            (fwd.source, fwd.sense.key, fwd.sense.asc, fwd.sense.ascq),
            (
                CopyEnd::Destination,
                crate::sense::SenseKey::MediumError,
                0x0C,
                0x00
            )
        );
    }

    /// A file backend that offers its file for native copy (what
    /// `FileBackend::native_file` will do), so the engine's native path is
    /// exercised here whatever the file backend implements today.
    struct NativeFileBackend {
        inner: crate::backend::FileBackend,
        file: Arc<std::fs::File>,
    }

    #[async_trait::async_trait]
    impl Backend for NativeFileBackend {
        fn describe(&self) -> String {
            self.inner.describe()
        }
        fn size(&self) -> u64 {
            self.inner.size()
        }
        fn capabilities(&self) -> crate::backend::Capabilities {
            self.inner.capabilities()
        }
        async fn read(&self, offset: u64, len: usize) -> std::io::Result<Bytes> {
            self.inner.read(offset, len).await
        }
        async fn write(&self, offset: u64, data: Bytes, fua: bool) -> std::io::Result<()> {
            self.inner.write(offset, data, fua).await
        }
        async fn flush(&self) -> std::io::Result<()> {
            self.inner.flush().await
        }
        fn native_file(&self) -> Option<Arc<std::fs::File>> {
            Some(self.file.clone())
        }
    }

    fn native_backend(path: &std::path::Path) -> Arc<NativeFileBackend> {
        let inner =
            crate::backend::FileBackend::open_or_create(path, Some(1 << 20), false).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        Arc::new(NativeFileBackend {
            inner,
            file: Arc::new(file),
        })
    }

    /// Two file-backed LUs: copy_file_range/FICLONERANGE moves the bytes,
    /// counted as native; an overlapping copy in one file is emulated.
    #[tokio::test]
    async fn native_copy_between_file_backends() {
        let p1 = std::env::temp_dir().join(format!("xtgt-copy-eng-a-{:x}", rand::random::<u64>()));
        let p2 = std::env::temp_dir().join(format!("xtgt-copy-eng-b-{:x}", rand::random::<u64>()));
        let a = lu_on(1, 512, false, native_backend(&p1));
        let b = lu_on(2, 512, false, native_backend(&p2));
        let da = fill(&a, 9).await;
        let p = list(
            1,
            0b10,
            &[cscd_naa(naa_of(&a), 512), cscd_naa(naa_of(&b), 512)],
            &[
                seg_b2b(false, 0, 1, 1000, 8, 24),
                seg_b2b(false, 0, 1, 16, 0, 1024),
            ],
        );
        let plan = make_plan(&p, &a, &[&a, &b]);
        let progress = Arc::new(CopyProgress::default());
        let mut tally = CopyTally::default();
        run_plan(&plan, &small_limits(), &progress, &mut tally, &test_op())
            .await
            .unwrap();
        let got = contents(&b).await;
        assert_eq!(
            got[24 * 512..(24 + 1000) * 512],
            da[8 * 512..(8 + 1000) * 512]
        );
        assert_eq!(got[1024 * 512..1040 * 512], da[..16 * 512]);
        assert_eq!(progress.bytes_transferred(), 1016 * 512);
        assert_eq!(
            tally,
            CopyTally {
                native_bytes: 1016 * 512,
                emulated_bytes: 0
            }
        );
        assert_eq!(tally.method(), "native");
        // Overlap inside one file: never handed to the kernel (EINVAL there).
        let p = list(
            0,
            0b11,
            &[cscd_naa(naa_of(&a), 512)],
            &[seg_b2b(false, 0, 0, 64, 0, 8)],
        );
        let plan = make_plan(&p, &a, &[&a]);
        let mut tally = CopyTally::default();
        run_plan(
            &plan,
            &small_limits(),
            &Arc::new(CopyProgress::default()),
            &mut tally,
            &test_op(),
        )
        .await
        .unwrap();
        assert_eq!(tally.method(), "emulated");
        let mut want = da.clone();
        want.copy_within(0..64 * 512, 8 * 512);
        assert_eq!(contents(&a).await, want);
        let _ = std::fs::remove_file(p1);
        let _ = std::fs::remove_file(p2);
    }

    /// A copy asked to stop before it ran moves nothing, natively or
    /// emulated, and says where it stopped (the stop cause's answer is the
    /// caller's).
    #[tokio::test]
    async fn a_stopped_copy_moves_nothing() {
        let p1 = std::env::temp_dir().join(format!("xtgt-copy-stop-a-{:x}", rand::random::<u64>()));
        let p2 = std::env::temp_dir().join(format!("xtgt-copy-stop-b-{:x}", rand::random::<u64>()));
        let fa = lu_on(1, 512, false, native_backend(&p1));
        let fb = lu_on(2, 512, false, native_backend(&p2));
        let (ma, mb) = (lu(3, 512, 256, false), lu(4, 512, 256, false));
        for (a, b) in [(&fa, &fb), (&ma, &mb)] {
            fill(a, 3).await;
            let before = contents(b).await;
            let p = list(
                1,
                0b10,
                &[cscd_naa(naa_of(a), 512), cscd_naa(naa_of(b), 512)],
                &[seg_b2b(false, 0, 1, 64, 0, 0)],
            );
            let plan = make_plan(&p, a, &[a, b]);
            let progress = Arc::new(CopyProgress::default());
            progress.cancel();
            let e = run_plan(
                &plan,
                &small_limits(),
                &progress,
                &mut CopyTally::default(),
                &test_op(),
            )
            .await
            .unwrap_err();
            assert_eq!(
                e,
                ScsiError::CopyCleared {
                    information: None,
                    segment: Some(0)
                }
            );
            assert_eq!(e.code().1, 0x2F);
            assert_eq!(progress.bytes_transferred(), 0);
            assert_eq!(contents(b).await, before);
        }
        let _ = std::fs::remove_file(p1);
        let _ = std::fs::remove_file(p2);
    }
}
