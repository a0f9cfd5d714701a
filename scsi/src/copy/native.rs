//! The backend's own copy: between two file backends (reached only through
//! the block-I/O facade, [`crate::blockio::Writer::copy_native_from`]), `FICLONERANGE` where
//! the ranges are aligned (a reflink: no data moves) and `copy_file_range`
//! otherwise (a reflink on XFS and btrfs, an in-kernel copy elsewhere).
//!
//! Anything the kernel refuses (EXDEV, EOPNOTSUPP, EINVAL, ENOSYS, a short
//! copy, or any other error) is not an error here: the caller copies the
//! rest by reading and writing, which also gives precise read/write errors.

use crate::backend::file::clone_range;
use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;
use std::sync::Arc;

/// Bytes per `copy_file_range` call in an idle domain: progress stays
/// visible and a huge segment does not pin a thread in one call.
const NATIVE_STEP: u64 = 64 * 1024 * 1024;
/// Bytes per `copy_file_range` call with foreground I/O present (about
/// 40 µs of memory copy at 3 GB/s).
const SHORT_COPY_STEP: u64 = 128 * 1024;
/// Bytes per `FICLONERANGE` call with foreground I/O present (a clone's
/// cost grows with the extents it remaps, not with the bytes).
const SHORT_CLONE_STEP: u64 = 8 * 1024 * 1024;
/// Reflink alignment attempted (file system block size of XFS/btrfs/ext4).
const CLONE_ALIGN: u64 = 4096;

/// How a kernel copy issues its system calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Large calls: the domain is idle.
    Full,
    /// Short calls: foreground I/O is present. On a kernel without
    /// preemption (PREEMPT_NONE, as this benchmark box runs, or between
    /// the preemption points of "voluntary"), a thread woken on the CPU a
    /// copy call occupies runs only when the call returns, whatever the
    /// copy thread's priority: a 1 MiB copy_file_range is about 300 µs, a
    /// 64 MiB clone several hundred.
    Short,
}

impl Pace {
    /// The pace of a chunk granted with (`busy`) or without foreground
    /// I/O present, in this process (copy threads on CPUs of their own or
    /// not: `copy.cpus`).
    pub fn of(busy: bool) -> Self {
        Self::choose(busy, super::threads::cpus().is_some())
    }

    /// Short calls only when foreground I/O is present and its threads
    /// may wake on the CPU a copy call holds (no `own_cpus`).
    pub fn choose(busy: bool, own_cpus: bool) -> Self {
        if busy && !own_cpus {
            Pace::Short
        } else {
            Pace::Full
        }
    }

    fn copy_step(self) -> u64 {
        match self {
            Pace::Full => NATIVE_STEP,
            Pace::Short => SHORT_COPY_STEP,
        }
    }

    fn clone_step(self) -> u64 {
        match self {
            Pace::Full => u64::MAX,
            Pace::Short => SHORT_CLONE_STEP,
        }
    }
}

/// How far a native copy got; `copied < len` means "emulate the rest".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NativeOutcome {
    pub copied: u64,
    /// The ranges were cloned (reflink) rather than copied.
    pub cloned: bool,
}

/// Copy `len` bytes from `src` at `src_off` to `dst` at `dst_off` with the
/// kernel, on a copy thread, in calls as long as `pace` allows.
/// `on_progress` is called with each step's byte count. Never fails:
/// whatever is not copied is left to the caller.
pub async fn copy(
    src: Arc<File>,
    src_off: u64,
    dst: Arc<File>,
    dst_off: u64,
    len: u64,
    pace: Pace,
    on_progress: Arc<dyn Fn(u64) + Send + Sync>,
) -> NativeOutcome {
    let job = super::threads::run(move || {
        copy_blocking(&src, src_off, &dst, dst_off, len, pace, &*on_progress)
    });
    job.await.unwrap_or(NativeOutcome {
        copied: 0,
        cloned: false,
    })
}

fn copy_blocking(
    src: &File,
    src_off: u64,
    dst: &File,
    dst_off: u64,
    len: u64,
    pace: Pace,
    on_progress: &(dyn Fn(u64) + Send + Sync),
) -> NativeOutcome {
    if len == 0 {
        return NativeOutcome {
            copied: 0,
            cloned: false,
        };
    }
    let aligned = |x: u64| x & (CLONE_ALIGN - 1) == 0;
    if aligned(src_off) && aligned(dst_off) && aligned(len) {
        let mut done = 0u64;
        while done < len {
            let step = (len - done).min(pace.clone_step());
            if clone_range(src, src_off + done, dst, dst_off + done, step).is_err() {
                break;
            }
            done += step;
            on_progress(step);
        }
        if done > 0 {
            // A clone that stops part way (space, a limit) leaves the rest
            // to the caller, as a short copy does.
            return NativeOutcome {
                copied: done,
                cloned: true,
            };
        }
    }
    let mut done = 0u64;
    while done < len {
        let step = (len - done).min(pace.copy_step());
        match copy_file_range(src, src_off + done, dst, dst_off + done, step) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                start_writeback(dst, dst_off + done, n);
                done += n;
                on_progress(n);
            }
        }
    }
    NativeOutcome {
        copied: done,
        cloned: false,
    }
}

/// Start writing back the destination pages a kernel copy just dirtied,
/// from the copy thread itself: the work of submitting them (and, on ext4,
/// of allocating their blocks) is then done at the copy threads' CPU
/// priority, not later by the kernel's flusher threads at normal priority
/// beside foreground I/O. Does not wait for the writes; a failure is
/// harmless (the flusher writes the pages as it would have).
fn start_writeback(dst: &File, off: u64, len: u64) {
    let (Ok(off), Ok(len)) = (i64::try_from(off), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a valid descriptor (borrowed `File`) and plain integers; no
    // memory is passed.
    let _ =
        unsafe { libc::sync_file_range(dst.as_raw_fd(), off, len, libc::SYNC_FILE_RANGE_WRITE) };
}

/// One `copy_file_range(2)` call with explicit offsets (file positions are
/// not used, so concurrent I/O on the same descriptors is unaffected).
fn copy_file_range(
    src: &File,
    src_off: u64,
    dst: &File,
    dst_off: u64,
    len: u64,
) -> io::Result<u64> {
    let mut off_in =
        i64::try_from(src_off).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut off_out =
        i64::try_from(dst_off).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    loop {
        // SAFETY: valid descriptors (borrowed `File`s) and valid pointers to
        // local offsets; the kernel writes only those two i64s.
        let r = unsafe {
            libc::copy_file_range(
                src.as_raw_fd(),
                &mut off_in,
                dst.as_raw_fd(),
                &mut off_out,
                len,
                0,
            )
        };
        if r >= 0 {
            return Ok(r as u64);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;
    use std::sync::atomic::{AtomicU64, Ordering};

    pub(crate) fn temp_path(tag: &str) -> std::path::PathBuf {
        let n: u64 = rand::random();
        std::env::temp_dir().join(format!("xtgt-copy-{tag}-{}-{n:x}", std::process::id()))
    }

    #[tokio::test]
    async fn copy_file_range_between_files_and_within_one() {
        let p1 = temp_path("a");
        let p2 = temp_path("b");
        let a = Arc::new(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&p1)
                .unwrap(),
        );
        let b = Arc::new(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&p2)
                .unwrap(),
        );
        a.set_len(1 << 20).unwrap();
        b.set_len(1 << 20).unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        a.write_all_at(&data, 1000).unwrap();
        let seen = Arc::new(AtomicU64::new(0));
        let s = seen.clone();
        let out = copy(
            a.clone(),
            1000,
            b.clone(),
            77,
            data.len() as u64,
            Pace::Short,
            Arc::new(move |n| {
                s.fetch_add(n, Ordering::SeqCst);
            }),
        )
        .await;
        assert_eq!(out.copied, data.len() as u64);
        assert_eq!(seen.load(Ordering::SeqCst), data.len() as u64);
        let mut back = vec![0u8; data.len()];
        b.read_exact_at(&mut back, 77).unwrap();
        assert_eq!(back, data);
        // Aligned ranges: a clone where the file system can, a copy otherwise.
        let out = copy(
            a.clone(),
            0,
            b.clone(),
            8192,
            4096 * 4,
            Pace::Short,
            Arc::new(|_| {}),
        )
        .await;
        assert_eq!(out.copied, 4096 * 4);
        let mut x = vec![0u8; 4096 * 4];
        let mut y = vec![0u8; 4096 * 4];
        a.read_exact_at(&mut x, 0).unwrap();
        b.read_exact_at(&mut y, 8192).unwrap();
        assert_eq!(x, y);
        let _ = std::fs::remove_file(p1);
        let _ = std::fs::remove_file(p2);
    }

    #[test]
    fn short_calls_only_where_foreground_shares_the_cpu() {
        assert_eq!(Pace::choose(true, false), Pace::Short);
        assert_eq!(Pace::choose(false, false), Pace::Full);
        // copy threads on CPUs of their own: no foreground thread waits for a call
        assert_eq!(Pace::choose(true, true), Pace::Full);
        assert_eq!(Pace::choose(false, true), Pace::Full);
    }

    /// Under foreground I/O a kernel copy is issued in short calls (each
    /// return is where a kernel without preemption can switch to a woken
    /// thread); in an idle domain in one.
    #[tokio::test]
    async fn short_pace_copies_in_short_calls() {
        let p1 = temp_path("pa");
        let p2 = temp_path("pb");
        let open = |p: &std::path::Path| {
            Arc::new(
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(p)
                    .unwrap(),
            )
        };
        let (a, b) = (open(&p1), open(&p2));
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        a.write_all_at(&data, 0).unwrap();
        b.set_len(1 << 20).unwrap();
        for (pace, calls) in [(Pace::Short, 3), (Pace::Full, 1)] {
            let steps = Arc::new(std::sync::Mutex::new(Vec::new()));
            let s = steps.clone();
            // Unaligned (offset 1): copy_file_range, never a clone.
            let out = copy(
                a.clone(),
                0,
                b.clone(),
                1,
                data.len() as u64,
                pace,
                Arc::new(move |n| s.lock().unwrap().push(n)),
            )
            .await;
            assert_eq!(out.copied, data.len() as u64);
            let steps = steps.lock().unwrap().clone();
            assert_eq!(steps.len(), calls, "{pace:?}: {steps:?}");
            assert!(steps
                .iter()
                .all(|&n| pace == Pace::Full || n <= SHORT_COPY_STEP));
            let mut back = vec![0u8; data.len()];
            b.read_exact_at(&mut back, 1).unwrap();
            assert_eq!(back, data);
        }
        let _ = std::fs::remove_file(p1);
        let _ = std::fs::remove_file(p2);
    }
}
