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

/// Bytes per `copy_file_range` call: progress stays visible and a huge
/// segment does not pin a blocking thread in one uninterruptible call.
const NATIVE_STEP: u64 = 64 * 1024 * 1024;
/// Reflink alignment attempted (file system block size of XFS/btrfs/ext4).
const CLONE_ALIGN: u64 = 4096;

/// How far a native copy got; `copied < len` means "emulate the rest".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NativeOutcome {
    pub copied: u64,
    /// The ranges were cloned (reflink) rather than copied.
    pub cloned: bool,
}

/// Copy `len` bytes from `src` at `src_off` to `dst` at `dst_off` with the
/// kernel, on the blocking pool. `on_progress` is called with each step's
/// byte count. Never fails: whatever is not copied is left to the caller.
pub async fn copy(
    src: Arc<File>,
    src_off: u64,
    dst: Arc<File>,
    dst_off: u64,
    len: u64,
    on_progress: Arc<dyn Fn(u64) + Send + Sync>,
) -> NativeOutcome {
    let job = super::threads::run(move || {
        copy_blocking(&src, src_off, &dst, dst_off, len, &*on_progress)
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
    on_progress: &(dyn Fn(u64) + Send + Sync),
) -> NativeOutcome {
    if len == 0 {
        return NativeOutcome {
            copied: 0,
            cloned: false,
        };
    }
    let aligned = |x: u64| x & (CLONE_ALIGN - 1) == 0;
    if aligned(src_off)
        && aligned(dst_off)
        && aligned(len)
        && clone_range(src, src_off, dst, dst_off, len).is_ok()
    {
        on_progress(len);
        return NativeOutcome {
            copied: len,
            cloned: true,
        };
    }
    let mut done = 0u64;
    while done < len {
        let step = (len - done).min(NATIVE_STEP);
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
        let out = copy(a.clone(), 0, b.clone(), 8192, 4096 * 4, Arc::new(|_| {})).await;
        assert_eq!(out.copied, 4096 * 4);
        let mut x = vec![0u8; 4096 * 4];
        let mut y = vec![0u8; 4096 * 4];
        a.read_exact_at(&mut x, 0).unwrap();
        b.read_exact_at(&mut y, 8192).unwrap();
        assert_eq!(x, y);
        let _ = std::fs::remove_file(p1);
        let _ = std::fs::remove_file(p2);
    }
}
