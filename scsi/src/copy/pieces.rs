//! The copy engine of WRITE USING TOKEN: a list of pieces, each `len`
//! bytes from a source (a logical unit, a point-in-time snapshot, or
//! zeroes) to a destination LU, copied in order, one bounded step at a
//! time, so the copy can stop between steps: when its work budget (time,
//! bytes) is spent, when it is aborted (COPY OPERATION ABORT), or when the
//! token it copies from is no longer valid.
//!
//! Per step: the kernel's copy (`copy_file_range`/`FICLONERANGE`, from the
//! source LU's file or the snapshot's) when both ends offer a file, else
//! read and write through the block-I/O facade; zeroes by the backend's
//! zeroing, else deallocation where deallocated blocks read zero, else
//! written zero buffers. Steps run in order, so the bytes done are always
//! one contiguous prefix of the destination: what INFORMATION reports.

use super::engine::{CopyTally, THIRD_PARTY_DEVICE_FAILURE};
use super::native::Pace;
use super::sched::{ChunkKind, CopyOp};
use crate::backend::Snapshot;
use crate::blockio::{Account, NativeCopy, WriteKind};
use crate::device::LogicalUnit;
use crate::sense::{CopyEnd, ScsiError};
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Largest step handed to the kernel at once (a reflink of this is
/// instant; a real copy of it takes well under the default budget).
const NATIVE_STEP: u64 = 64 << 20;

/// Where a piece's bytes come from.
#[derive(Clone)]
pub enum PieceSource {
    /// A logical unit's medium as it is now (change-vulnerable tokens).
    Lu(Arc<LogicalUnit>),
    /// A point-in-time copy; piece offsets are token (snapshot) offsets.
    Snapshot(Arc<dyn Snapshot>),
    /// The block device zero ROD token.
    Zero,
}

/// `len` bytes from source offset `src` to destination byte offset `dst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub src: u64,
    pub dst: u64,
    pub len: u64,
}

/// Why a copy stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Every piece was copied.
    Done,
    /// The work budget ran out first.
    Budget,
    /// COPY OPERATION ABORT.
    Aborted,
    /// A read, a write or the token's validity failed.
    Failed(ScsiError),
}

/// How the copy is bounded and watched.
pub struct Control<'a> {
    /// Grants every step (copy scheduler).
    pub op: &'a CopyOp,
    /// No new step but the first starts after this instant.
    pub deadline: Option<Instant>,
    /// Bytes copied at most (a multiple of the destination block size).
    pub max_bytes: Option<u64>,
    /// Bytes to move per step when reading and writing.
    pub chunk: u64,
    /// Set by COPY OPERATION ABORT.
    pub abort: &'a AtomicBool,
    /// Bytes done, readable while the copy runs.
    pub progress: &'a AtomicU64,
    /// Checked before every step: the token is still good.
    pub still_valid: &'a (dyn Fn() -> Result<(), ScsiError> + Send + Sync),
}

/// The end of a copy: its contiguous bytes done, why it stopped, by method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub bytes: u64,
    pub stop: Stop,
    pub tally: CopyTally,
}

/// COPY ABORTED, THIRD PARTY DEVICE FAILURE forwarding `cause` from `end`.
fn failure(end: CopyEnd, cause: ScsiError) -> ScsiError {
    ScsiError::CopyAborted {
        asc: THIRD_PARTY_DEVICE_FAILURE.0,
        ascq: THIRD_PARTY_DEVICE_FAILURE.1,
        segment: 0,
        cause: Some((end, Box::new(cause))),
        segment_pointer: None,
    }
}

/// Copy `pieces` from `src` to `dst` in order under `ctl`.
pub async fn copy_pieces(
    src: &PieceSource,
    dst: &Arc<LogicalUnit>,
    pieces: &[Piece],
    ctl: &Control<'_>,
) -> Outcome {
    let mut out = Outcome {
        bytes: 0,
        stop: Stop::Done,
        tally: CopyTally::default(),
    };
    let mut native = !matches!(src, PieceSource::Zero);
    let native_kind = match src {
        PieceSource::Lu(lu) => crate::copy::engine::native_kind(lu, dst),
        // A point-in-time token's clone file: cloning out of it shares
        // extents when the destination is on the same reflink file system.
        PieceSource::Snapshot(snap) if dst.can_clone_from_snapshot(&**snap) => ChunkKind::Clone,
        PieceSource::Snapshot(_) => ChunkKind::Native,
        PieceSource::Zero => ChunkKind::Native,
    };
    let chunk = ctl.chunk.max(4096);
    for p in pieces {
        let mut off = 0u64;
        while off < p.len {
            if ctl.abort.load(Ordering::Acquire) {
                out.stop = Stop::Aborted;
                return out;
            }
            if let Err(e) = (ctl.still_valid)() {
                out.stop = Stop::Failed(e);
                return out;
            }
            let room = match ctl.max_bytes {
                Some(m) => m.saturating_sub(out.bytes),
                None => u64::MAX,
            };
            // The first step always runs: a command always makes progress,
            // whatever the budget (Windows gives up after 4 without).
            let expired = out.bytes > 0 && ctl.deadline.is_some_and(|d| Instant::now() >= d);
            if room == 0 || expired {
                out.stop = Stop::Budget;
                return out;
            }
            let left = (p.len - off).min(room);
            let want = if native {
                left.min(NATIVE_STEP)
            } else {
                left.min(chunk)
            };
            let kind = if native {
                native_kind
            } else {
                ChunkKind::Buffered
            };
            let grant = match src {
                PieceSource::Lu(lu) => ctl.op.chunk(&[&**lu, &**dst], want, kind).await,
                _ => ctl.op.chunk(&[&**dst], want, kind).await,
            };
            let left = left.min(grant.bytes);
            let pace = Pace::of(grant.busy);
            let step = step(
                src,
                dst,
                p,
                off,
                left,
                chunk,
                pace,
                &mut native,
                &mut out.tally,
            )
            .await;
            drop(grant);
            let step = match step {
                Ok(n) => n,
                Err(e) => {
                    out.stop = Stop::Failed(e);
                    return out;
                }
            };
            off += step;
            out.bytes += step;
            ctl.progress.store(out.bytes, Ordering::Release);
        }
    }
    out
}

/// One step of at most `left` bytes at `off` into piece `p`; returns the
/// bytes done (never 0 unless an error is returned).
#[allow(clippy::too_many_arguments)]
async fn step(
    src: &PieceSource,
    dst: &Arc<LogicalUnit>,
    p: &Piece,
    off: u64,
    left: u64,
    chunk: u64,
    pace: Pace,
    native: &mut bool,
    tally: &mut CopyTally,
) -> Result<u64, ScsiError> {
    let (src_off, dst_off) = (p.src + off, p.dst + off);
    let w = dst
        .writer()
        .await
        .map_err(|e| failure(CopyEnd::Destination, e))?;
    if *native {
        let n = left.min(NATIVE_STEP);
        let got = match src {
            PieceSource::Lu(lu) => {
                w.copy_native_from(lu, src_off, dst_off, n, pace, Arc::new(|_| {}))
                    .await
            }
            PieceSource::Snapshot(s) => {
                w.copy_native_from_snapshot(&**s, src_off, dst_off, n, pace, Arc::new(|_| {}))
                    .await
            }
            PieceSource::Zero => Ok(NativeCopy::Unavailable),
        }
        .map_err(|e| failure(CopyEnd::Destination, e))?;
        match got {
            NativeCopy::Copied(k) if k > 0 => {
                if k < n {
                    *native = false;
                }
                tally.native_bytes += k;
                metrics::counter!("xtgt_copy_bytes_total", "method" => "native", "command" => "wut")
                    .increment(k);
                return Ok(k);
            }
            _ => *native = false,
        }
    }
    let n = left.min(chunk);
    match src {
        PieceSource::Zero => {
            let bs = u64::from(dst.block_size());
            let caps = dst.capabilities();
            let (lba, blocks) = (dst_off / bs, n / bs);
            if blocks > 0 && dst_off % bs == 0 && caps.write_zeroes {
                w.write_zeroes(lba, blocks, WriteKind::CopyDestination, Account::Internal)
                    .await
                    .map_err(|e| failure(CopyEnd::Destination, e))?;
                w.settle(lba)
                    .await
                    .map_err(|e| failure(CopyEnd::Destination, e))?;
                tally.native_bytes += blocks * bs;
                return Ok(blocks * bs);
            }
            if blocks > 0 && dst_off % bs == 0 && caps.unmap && caps.unmapped_reads_zero {
                w.unmap(lba, blocks, WriteKind::CopyDestination)
                    .await
                    .map_err(|e| failure(CopyEnd::Destination, e))?;
                w.settle(lba)
                    .await
                    .map_err(|e| failure(CopyEnd::Destination, e))?;
                tally.native_bytes += blocks * bs;
                return Ok(blocks * bs);
            }
            let zeroes = Bytes::from(vec![0u8; usize::try_from(n).unwrap_or(0)]);
            w.write_bytes(
                dst_off,
                zeroes,
                WriteKind::CopyDestination,
                Account::Internal,
            )
            .await
            .map_err(|e| failure(CopyEnd::Destination, e))?;
        }
        PieceSource::Lu(lu) => {
            let data = lu
                .read_bytes(src_off, n, Account::Internal)
                .await
                .map_err(|e| failure(CopyEnd::Source, e))?;
            w.write_bytes(dst_off, data, WriteKind::CopyDestination, Account::Internal)
                .await
                .map_err(|e| failure(CopyEnd::Destination, e))?;
        }
        PieceSource::Snapshot(s) => {
            let len = usize::try_from(n).map_err(|_| ScsiError::InternalTargetFailure)?;
            let data = match s.read(src_off, len).await {
                Ok(d) if d.len() == len => d,
                other => {
                    if let Err(e) = other {
                        tracing::warn!(error = %e, "snapshot read failed");
                    }
                    return Err(failure(
                        CopyEnd::Source,
                        ScsiError::UnrecoveredReadError { lba: None },
                    ));
                }
            };
            w.write_bytes(dst_off, data, WriteKind::CopyDestination, Account::Internal)
                .await
                .map_err(|e| failure(CopyEnd::Destination, e))?;
        }
    }
    tally.emulated_bytes += n;
    metrics::counter!("xtgt_copy_bytes_total", "method" => "emulated", "command" => "wut")
        .increment(n);
    Ok(n)
}

/// The pieces that copy the ROD bytes from `rod_offset` on into the
/// destination ranges, both lists in bytes (`(offset, len)`, in order):
/// `source` maps ROD bytes to source offsets (the token's ranges on the
/// source LU; for a snapshot, the ROD offset itself). Stops when either
/// list ends.
pub fn map_pieces(source: &[(u64, u64)], rod_offset: u64, dest: &[(u64, u64)]) -> Vec<Piece> {
    let mut out = Vec::new();
    // Skip `rod_offset` bytes of the source list.
    let mut si = 0usize;
    let mut s_in = rod_offset;
    while let Some(&(_, len)) = source.get(si) {
        if s_in < len {
            break;
        }
        s_in -= len;
        si += 1;
    }
    let (mut di, mut d_in) = (0usize, 0u64);
    while let (Some(&(s_off, s_len)), Some(&(d_off, d_len))) = (source.get(si), dest.get(di)) {
        let n = (s_len - s_in).min(d_len - d_in);
        if n > 0 {
            out.push(Piece {
                src: s_off + s_in,
                dst: d_off + d_in,
                len: n,
            });
        }
        s_in += n;
        d_in += n;
        if s_in >= s_len {
            si += 1;
            s_in = 0;
        }
        if d_in >= d_len {
            di += 1;
            d_in = 0;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A budget already spent still lets the first step run (progress is
    /// guaranteed), then stops; an abort stops before any step.
    #[tokio::test]
    async fn spent_budget_runs_one_step_and_abort_runs_none() {
        let src = crate::copy::testutil::lu(1, 512, 64, false);
        let dst = crate::copy::testutil::lu(2, 512, 64, false);
        let w = src.writer().await.unwrap();
        w.write_bytes(
            0,
            Bytes::from(vec![7u8; 32 * 512]),
            WriteKind::Write,
            Account::Internal,
        )
        .await
        .unwrap();
        drop(w);
        let (abort, progress) = (AtomicBool::new(false), AtomicU64::new(0));
        let ok = || Ok(());
        let op = crate::copy::testutil::test_op();
        let ctl = Control {
            op: &op,
            deadline: Some(Instant::now()),
            max_bytes: None,
            chunk: 4096,
            abort: &abort,
            progress: &progress,
            still_valid: &ok,
        };
        let pieces = [Piece {
            src: 0,
            dst: 0,
            len: 32 * 512,
        }];
        let out = copy_pieces(&PieceSource::Lu(src.clone()), &dst, &pieces, &ctl).await;
        assert_eq!((out.bytes, out.stop), (4096, Stop::Budget));
        assert_eq!(progress.load(Ordering::Acquire), 4096);
        let got = dst
            .read_bytes(0, 32 * 512, Account::Internal)
            .await
            .unwrap();
        assert!(got[..4096].iter().all(|&b| b == 7));
        assert!(got[4096..].iter().all(|&b| b == 0));
        abort.store(true, Ordering::Release);
        let out = copy_pieces(&PieceSource::Lu(src), &dst, &pieces, &ctl).await;
        assert_eq!((out.bytes, out.stop), (0, Stop::Aborted));
    }

    #[test]
    fn pieces_follow_both_range_lists_from_the_offset() {
        let src = [(1000, 300), (5000, 200)];
        let dst = [(0, 100), (800, 1000)];
        assert_eq!(
            map_pieces(&src, 0, &dst),
            vec![
                Piece {
                    src: 1000,
                    dst: 0,
                    len: 100
                },
                Piece {
                    src: 1100,
                    dst: 800,
                    len: 200
                },
                Piece {
                    src: 5000,
                    dst: 1000,
                    len: 200
                },
            ]
        );
        assert_eq!(
            map_pieces(&src, 350, &dst),
            vec![
                Piece {
                    src: 5050,
                    dst: 0,
                    len: 100
                },
                Piece {
                    src: 5150,
                    dst: 800,
                    len: 50
                },
            ]
        );
        assert!(map_pieces(&src, 500, &dst).is_empty());
        assert!(map_pieces(&src, 0, &[]).is_empty());
    }
}
