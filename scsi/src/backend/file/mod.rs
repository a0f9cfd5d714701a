//! A backend on a regular file or a block device.
//!
//! Positional I/O (`pread`/`pwrite`) runs on tokio's blocking pool so the
//! runtime never blocks, except that a read of at most [`INLINE_READ_MAX`]
//! bytes is first tried on the runtime thread with
//! `preadv2(RWF_NOWAIT)`, which only copies what is already in the page
//! cache and never waits for the device; whatever it could not read goes to
//! the pool. (Measured with fio 4 KiB random reads at QD32: the hand-off to
//! the pool was ~57 % of xtgt's CPU samples; see conformance/bench/profile.md.)
//! Capabilities are probed when the file is opened:
//! a regular file on a file system with hole punching advertises UNMAP and
//! LBPRZ (punched holes read zero) and reports its mapping with
//! `SEEK_DATA`/`SEEK_HOLE`; a block device advertises plain read/write/flush.

use super::{Backend, Capabilities, Extent, Snapshot};
use async_trait::async_trait;
use bytes::Bytes;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

mod snapshot;
pub(crate) use snapshot::clone_range;

/// Reads up to this size are first tried on the runtime thread with
/// `RWF_NOWAIT`; larger ones go to the blocking pool directly so that a big
/// memcpy from the page cache does not hold a runtime worker that serves
/// other connections.
pub const INLINE_READ_MAX: usize = 256 << 10;

/// `_IOR(0x12, 114, size_t)`: size of a block device in bytes (linux/fs.h).
const BLKGETSIZE64: u64 = 0x8008_1272;
/// `_IO(0x12, 119)`: discard a byte range `[u64 start, u64 len]`.
const BLKDISCARD: u64 = 0x1277;
/// `_IO(0x12, 127)`: zero a byte range `[u64 start, u64 len]` (the kernel
/// uses WRITE ZEROES/WRITE SAME offload or writes zeroes itself).
const BLKZEROOUT: u64 = 0x127F;

/// At most this many extents are returned by one mapping query.
const MAX_EXTENTS: usize = 256;

/// A file or block device as a medium.
pub struct FileBackend {
    path: PathBuf,
    file: Arc<File>,
    /// A second descriptor opened with `O_DSYNC` for FUA writes (each such
    /// write is durable on return without syncing the rest of the file).
    dsync: Option<Arc<File>>,
    size: u64,
    caps: Capabilities,
    /// `fallocate(ZERO_RANGE)` works on this file system.
    zero_range: bool,
    block_device: bool,
    /// `preadv2(RWF_NOWAIT)` is worth trying; cleared for good the first
    /// time the kernel or file system says it does not support it.
    nowait: AtomicBool,
    /// Point-in-time snapshots work here (`Capabilities::point_in_time`).
    snapshots: Option<Arc<snapshot::SnapshotDir>>,
}

impl FileBackend {
    /// Open `path`; when it does not exist, create a sparse regular file of
    /// `size` bytes (a size is then required). An existing regular file
    /// shorter than `size` is extended (sparse) unless `read_only`; reads
    /// between its end and `size` return zeroes.
    pub fn open_or_create(path: &Path, size: Option<u64>, read_only: bool) -> io::Result<Self> {
        let exists = path.try_exists().map_err(|e| with_path(path, e))?;
        let file = if exists {
            OpenOptions::new()
                .read(true)
                .write(!read_only)
                .open(path)
                .map_err(|e| with_path(path, e))?
        } else {
            let Some(size) = size else {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "{}: file does not exist and no size was given to create it",
                        path.display()
                    ),
                ));
            };
            if read_only {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{}: read-only backing file does not exist", path.display()),
                ));
            }
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| with_path(path, e))?;
            f.set_len(size).map_err(|e| with_path(path, e))?;
            f
        };
        let meta = file.metadata().map_err(|e| with_path(path, e))?;
        let block_device = meta.file_type().is_block_device();
        let actual = if block_device {
            block_device_size(&file).map_err(|e| with_path(path, e))?
        } else if meta.is_file() {
            meta.len()
        } else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a regular file or block device", path.display()),
            ));
        };
        let size = match size {
            Some(s) if block_device && s > actual => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{}: requested size {s} exceeds block device size {actual}",
                        path.display()
                    ),
                ))
            }
            Some(s) => {
                if !block_device && s > actual && !read_only {
                    file.set_len(s).map_err(|e| with_path(path, e))?;
                }
                s
            }
            None => actual,
        };
        let (caps, zero_range) = if block_device {
            // Discard when the device supports it; what a discarded block
            // reads back is device specific, so LBPRZ stays 0.
            let discard = !read_only && queue_attr(meta.rdev(), "discard_max_bytes") > 0;
            (
                Capabilities {
                    unmap: discard,
                    unmapped_reads_zero: false,
                    write_zeroes: !read_only,
                    mapping_status: false,
                    rotational: queue_attr(meta.rdev(), "rotational") == 1,
                    point_in_time: false,
                },
                false,
            )
        } else {
            probe_regular(&file, read_only, meta.dev())
        };
        let snapshots = (!block_device)
            .then(|| snapshot::SnapshotDir::probe(&file, path))
            .flatten()
            .map(Arc::new);
        let caps = Capabilities {
            point_in_time: snapshots.is_some(),
            ..caps
        };
        Ok(Self {
            path: path.to_path_buf(),
            dsync: if read_only {
                None
            } else {
                Some(Arc::new(
                    OpenOptions::new()
                        .write(true)
                        .custom_flags(libc::O_DSYNC)
                        .open(path)
                        .map_err(|e| with_path(path, e))?,
                ))
            },
            file: Arc::new(file),
            size,
            caps,
            zero_range,
            block_device,
            nowait: AtomicBool::new(true),
            snapshots,
        })
    }

    /// The path this backend was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn blocking<T, F>(&self, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&File) -> io::Result<T> + Send + 'static,
    {
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || f(&file))
            .await
            .map_err(|e| io::Error::other(format!("blocking task failed: {e}")))?
    }

    fn check(&self, offset: u64, len: u64) -> io::Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "range beyond end of backing file",
            )),
        }
    }
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn block_device_size(file: &File) -> io::Result<u64> {
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer, which points
    // to a live, properly aligned u64; the fd is open for the call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), BLKGETSIZE64 as _, &mut size as *mut u64) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(size)
}

/// `/sys/dev/block/<maj>:<min>/queue/<attr>` of the device (or, for a
/// partition, of its parent disk) as a number; 0 when unknown.
fn queue_attr(dev: u64, attr: &str) -> u64 {
    let (maj, min) = (libc::major(dev), libc::minor(dev));
    let base = format!("/sys/dev/block/{maj}:{min}");
    for p in [
        format!("{base}/queue/{attr}"),
        format!("{base}/../queue/{attr}"),
    ] {
        if let Ok(s) = std::fs::read_to_string(p) {
            return s.trim().parse().unwrap_or(0);
        }
    }
    0
}

/// The device of a regular file's file system is rotational.
fn rotational(dev: u64) -> bool {
    queue_attr(dev, "rotational") == 1
}

/// BLKDISCARD / BLKZEROOUT on `[offset, offset+len)` of a block device.
fn block_range_ioctl(file: &File, request: u64, offset: u64, len: u64) -> io::Result<()> {
    let range: [u64; 2] = [offset, len];
    // SAFETY: both ioctls read two u64 (start, length) through the pointer,
    // which points to a live array of two u64; the fd is open for the call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), request as _, range.as_ptr()) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn fallocate(file: &File, mode: libc::c_int, offset: u64, len: u64) -> io::Result<()> {
    let (Ok(off), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    // SAFETY: fallocate only reads its integer arguments; the fd is open and
    // owned by `file` for the duration of the call.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), mode, off, len) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `lseek(fd, offset, whence)`; `Ok(None)` on ENXIO (no data/hole after offset).
fn seek(file: &File, offset: u64, whence: libc::c_int) -> io::Result<Option<u64>> {
    let Ok(off) = libc::off_t::try_from(offset) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    // SAFETY: lseek only takes integers; the fd is open for the call. The
    // file position it moves is never used (all I/O is positional).
    let rc = unsafe { libc::lseek(file.as_raw_fd(), off, whence) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENXIO) {
            return Ok(None);
        }
        return Err(e);
    }
    Ok(u64::try_from(rc).ok())
}

/// Probe what the file system under a regular file supports. Probes act on
/// a range past end-of-file with KEEP_SIZE, which changes no data.
fn probe_regular(file: &File, read_only: bool, dev: u64) -> (Capabilities, bool) {
    let eof = file.metadata().map(|m| m.len()).unwrap_or(0);
    let keep = libc::FALLOC_FL_KEEP_SIZE;
    let (punch, zero_range) = if read_only {
        (false, false)
    } else {
        (
            fallocate(file, libc::FALLOC_FL_PUNCH_HOLE | keep, eof, 4096).is_ok(),
            fallocate(file, libc::FALLOC_FL_ZERO_RANGE | keep, eof, 4096).is_ok(),
        )
    };
    let mapping = seek(file, 0, libc::SEEK_DATA).is_ok();
    (
        Capabilities {
            unmap: punch,
            unmapped_reads_zero: punch,
            write_zeroes: punch || zero_range,
            mapping_status: mapping,
            rotational: rotational(dev),
            point_in_time: false,
        },
        zero_range,
    )
}

/// What a non-blocking read attempt achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoWait {
    /// `buf` holds all `len` bytes.
    Done,
    /// `buf` holds a prefix (possibly empty); the rest would block.
    Partial,
    /// The kernel or file system does not support `RWF_NOWAIT` reads.
    Unsupported,
}

/// Read `[offset + buf.len(), offset + len)` with `preadv2(RWF_NOWAIT)` into
/// the spare capacity of `buf` (which must have room for `len` bytes),
/// appending what the page cache already holds.
fn pread_nowait(file: &File, buf: &mut Vec<u8>, offset: u64, len: usize) -> NoWait {
    while buf.len() < len {
        let done = buf.len();
        let Some(pos) = offset
            .checked_add(done as u64)
            .and_then(|p| libc::off_t::try_from(p).ok())
        else {
            return NoWait::Partial;
        };
        let spare = buf.spare_capacity_mut();
        let want = spare.len().min(len - done);
        let iov = libc::iovec {
            iov_base: spare.as_mut_ptr().cast(),
            iov_len: want,
        };
        // SAFETY: `iov` describes `want` bytes of `buf`'s spare capacity,
        // which is allocated, writable and not aliased during the call; the
        // kernel writes at most `want` bytes there. The fd is open.
        let rc = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, pos, libc::RWF_NOWAIT) };
        match usize::try_from(rc) {
            // End of file (or nothing cached that the kernel reports as 0):
            // the blocking path decides.
            Ok(0) => return NoWait::Partial,
            Ok(n) => {
                let n = n.min(want);
                // SAFETY: the kernel initialised the first `n` bytes of the
                // spare capacity, directly after the `done` initialised ones.
                unsafe { buf.set_len(done + n) };
            }
            Err(_) => {
                return match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL) => NoWait::Unsupported,
                    // EAGAIN: not (all) in the page cache. Any other error is
                    // reported again by the blocking read.
                    _ => NoWait::Partial,
                };
            }
        }
    }
    NoWait::Done
}

/// Read `[offset + buf.len(), offset + len)` with blocking `pread` into the
/// spare capacity of `buf`; past the end of the file the rest is zero.
fn pread_rest(file: &File, buf: &mut Vec<u8>, offset: u64, len: usize) -> io::Result<()> {
    buf.reserve(len.saturating_sub(buf.len()));
    while buf.len() < len {
        let done = buf.len();
        let Some(pos) = offset
            .checked_add(done as u64)
            .and_then(|p| libc::off_t::try_from(p).ok())
        else {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        };
        let spare = buf.spare_capacity_mut();
        let want = spare.len().min(len - done);
        // SAFETY: the pointer and `want` describe allocated, writable spare
        // capacity of `buf`, not aliased during the call; the kernel writes
        // at most `want` bytes. The fd is open.
        let rc = unsafe { libc::pread(file.as_raw_fd(), spare.as_mut_ptr().cast(), want, pos) };
        match usize::try_from(rc) {
            // End of file inside `size`: the rest reads as zero.
            Ok(0) => buf.resize(len, 0),
            Ok(n) => {
                let n = n.min(want);
                // SAFETY: the kernel initialised the first `n` bytes of the
                // spare capacity, directly after the `done` initialised ones.
                unsafe { buf.set_len(done + n) };
            }
            Err(_) => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Backend for FileBackend {
    fn describe(&self) -> String {
        let kind = if self.block_device {
            "blockdev"
        } else {
            "file"
        };
        format!("{kind}:{}", self.path.display())
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    async fn read(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        self.check(offset, len as u64)?;
        let mut buf = Vec::with_capacity(len);
        if len <= INLINE_READ_MAX && self.nowait.load(Ordering::Relaxed) {
            match pread_nowait(&self.file, &mut buf, offset, len) {
                NoWait::Done => return Ok(Bytes::from(buf)),
                NoWait::Partial => {}
                NoWait::Unsupported => self.nowait.store(false, Ordering::Relaxed),
            }
        }
        self.blocking(move |f| {
            pread_rest(f, &mut buf, offset, len)?;
            Ok(Bytes::from(buf))
        })
        .await
    }

    async fn write(&self, offset: u64, data: Bytes, fua: bool) -> io::Result<()> {
        self.check(offset, data.len() as u64)?;
        let dsync = if fua { self.dsync.clone() } else { None };
        self.blocking(move |f| match dsync {
            Some(d) => d.write_all_at(&data, offset),
            None => f.write_all_at(&data, offset),
        })
        .await
    }

    async fn flush(&self) -> io::Result<()> {
        self.blocking(|f| f.sync_data()).await
    }

    async fn unmap(&self, offset: u64, len: u64) -> io::Result<()> {
        self.check(offset, len)?;
        if !self.caps.unmap {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        }
        if len == 0 {
            return Ok(());
        }
        if self.block_device {
            return self
                .blocking(
                    move |f| match block_range_ioctl(f, BLKDISCARD, offset, len) {
                        // With LBPRZ=0 deallocation is advisory: a range the
                        // device will not discard (alignment) is left mapped.
                        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
                        r => r,
                    },
                )
                .await;
        }
        self.blocking(move |f| {
            fallocate(
                f,
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                offset,
                len,
            )
        })
        .await
    }

    async fn write_zeroes(&self, offset: u64, len: u64) -> io::Result<()> {
        self.check(offset, len)?;
        if len == 0 {
            return Ok(());
        }
        let zero_range = self.zero_range;
        let punch = self.caps.unmap && !self.block_device;
        let block_device = self.block_device;
        self.blocking(move |f| {
            if block_device && block_range_ioctl(f, BLKZEROOUT, offset, len).is_ok() {
                return Ok(());
            }
            let keep = libc::FALLOC_FL_KEEP_SIZE;
            if zero_range && fallocate(f, libc::FALLOC_FL_ZERO_RANGE | keep, offset, len).is_ok() {
                return Ok(());
            }
            if punch && fallocate(f, libc::FALLOC_FL_PUNCH_HOLE | keep, offset, len).is_ok() {
                return Ok(());
            }
            // Fallback: write zeroes in bounded chunks.
            const CHUNK: u64 = 1 << 20;
            let zeroes = vec![0u8; CHUNK.min(len) as usize];
            let mut pos = 0u64;
            while pos < len {
                let n = CHUNK.min(len - pos) as usize;
                f.write_all_at(zeroes.get(..n).unwrap_or(&zeroes), offset + pos)?;
                pos += n as u64;
            }
            Ok(())
        })
        .await
    }

    async fn mapping(&self, offset: u64, len: u64) -> io::Result<Vec<Extent>> {
        if !self.caps.mapping_status {
            return Ok(vec![Extent {
                offset,
                len,
                mapped: true,
            }]);
        }
        let end = offset.saturating_add(len).min(self.size);
        self.blocking(move |f| {
            let mut out: Vec<Extent> = Vec::new();
            let push = |out: &mut Vec<Extent>, offset: u64, end: u64, mapped: bool| {
                if end <= offset {
                    return;
                }
                match out.last_mut() {
                    Some(l) if l.mapped == mapped && l.offset + l.len == offset => {
                        l.len += end - offset
                    }
                    _ => out.push(Extent {
                        offset,
                        len: end - offset,
                        mapped,
                    }),
                }
            };
            let mut pos = offset;
            while pos < end && out.len() < MAX_EXTENTS {
                match seek(f, pos, libc::SEEK_DATA)? {
                    // No data from here to EOF (or past EOF): a hole.
                    None => {
                        push(&mut out, pos, end, false);
                        break;
                    }
                    Some(d) if d > pos => {
                        push(&mut out, pos, d.min(end), false);
                        pos = d;
                    }
                    Some(_) => {
                        let h = seek(f, pos, libc::SEEK_HOLE)?.unwrap_or(end);
                        let h = if h <= pos { end } else { h };
                        push(&mut out, pos, h.min(end), true);
                        pos = h;
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    /// Regular files only: `copy_file_range`/`FICLONERANGE` need them.
    fn native_file(&self) -> Option<Arc<File>> {
        (!self.block_device).then(|| self.file.clone())
    }

    async fn snapshot(&self, ranges: &[(u64, u64)]) -> io::Result<Arc<dyn Snapshot>> {
        let Some(dir) = self.snapshots.clone() else {
            return Err(io::Error::from(io::ErrorKind::Unsupported));
        };
        for &(offset, len) in ranges {
            self.check(offset, len)?;
        }
        let ranges = ranges.to_vec();
        let file = self.file.clone();
        // Copy work (POPULATE TOKEN's clone of its ranges): on the copy
        // threads, at their CPU priority.
        let snap = crate::copy::threads::run(move || dir.snapshot(&file, &ranges))
            .await
            .ok_or_else(|| io::Error::other("snapshot task failed"))??;
        Ok(Arc::new(snap))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests;
