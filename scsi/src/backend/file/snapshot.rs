//! Point-in-time snapshots of byte ranges of a regular file: the storage
//! half of ROD type 0x00800000 (POPULATE TOKEN, point in time).
//!
//! A snapshot is an **unlinked** file in the backing file's directory (same
//! file system): `O_TMPFILE`, or, where the file system lacks it, a file
//! created with a random name and unlinked at once. It has no name, so it
//! disappears with its last descriptor, and nothing is left on disk after a
//! crash or restart. Each range is cloned into it with `FICLONERANGE` (a
//! reflink: the blocks are shared, no data moves) **at its own file
//! offset**, widened to whole file-system blocks. Keeping the offsets keeps
//! every 512-byte LBA inside its 4 KiB block where it was, so unaligned
//! ranges need no byte copying at all, and a later native copy out of the
//! snapshot has the same alignment a copy out of the source would have.
//! The widening only clones neighbouring bytes that are never read.
//!
//! Whether this works is probed when the backend is opened, with real
//! clones in that directory (see [`SnapshotDir::probe`]): ext4 and tmpfs
//! say no, XFS with reflink and btrfs say yes.

use crate::backend::{NativeSnapshot, Snapshot};
use async_trait::async_trait;
use bytes::Bytes;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::FromRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::sync::Arc;

/// Name prefix of a fallback temporary file (only ever visible between its
/// creation and the `unlinkat` right after it).
const FALLBACK_PREFIX: &str = ".xtgt-snapshot-";
/// Attempts at a fresh fallback name before giving up.
const FALLBACK_TRIES: usize = 8;

/// Where snapshots of one backing file are made: its directory, held open
/// (so a rename of the directory does not matter), and the alignment that
/// clone offsets need there.
pub(super) struct SnapshotDir {
    /// The directory, opened `O_PATH | O_DIRECTORY`.
    dir: File,
    /// A power of two, a multiple of the file-system block size.
    align: u64,
}

impl SnapshotDir {
    /// Whether point-in-time snapshots of `source` (opened from `path`) work:
    /// an unlinked temporary file can be made in its directory, a block
    /// written to one such file can be cloned into another at an aligned,
    /// non-zero offset and reads back identical, and the first block of
    /// `source` itself can be cloned (which also catches files that refuse
    /// reflinks, such as btrfs `nodatacow`). `None` on any failure.
    pub(super) fn probe(source: &File, path: &Path) -> Option<Self> {
        let real = std::fs::canonicalize(path).ok()?;
        let parent = real.parent()?;
        let dir = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(parent)
            .ok()?;
        let meta = source.metadata().ok()?;
        let align = meta.blksize().max(512);
        if !align.is_power_of_two() {
            return None;
        }
        let this = Self { dir, align };
        let a = this.temp_file().ok()?;
        let b = this.temp_file().ok()?;
        let n = usize::try_from(align).ok()?;
        let pattern: Vec<u8> = (0..2 * n).map(|i| (i % 251) as u8 ^ 0x5A).collect();
        a.write_all_at(&pattern, 0).ok()?;
        clone_range(&a, align, &b, align, align).ok()?;
        let mut back = vec![0u8; n];
        b.read_exact_at(&mut back, align).ok()?;
        if back.as_slice() != pattern.get(n..)? {
            return None;
        }
        if meta.len() > 0 {
            clone_range(source, 0, &b, 0, meta.len().min(align)).ok()?;
        }
        Some(this)
    }

    /// A new, empty, unlinked read-write file in the directory.
    fn temp_file(&self) -> io::Result<File> {
        let flags = libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC;
        // SAFETY: `self.dir` is an open directory descriptor for the call and
        // the path is a NUL-terminated C string literal.
        let fd = unsafe { libc::openat(self.dir.as_raw_fd(), c".".as_ptr(), flags, 0o600) };
        if fd >= 0 {
            // SAFETY: `fd` was just returned by openat and is owned by nobody
            // else; the File takes sole ownership and closes it.
            return Ok(unsafe { File::from_raw_fd(fd) });
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            // No O_TMPFILE here (EOPNOTSUPP), or a kernel that predates it
            // and sees a directory opened for writing (EISDIR).
            Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL) => self.named_then_unlinked(),
            _ => Err(e),
        }
    }

    /// Fallback for file systems without `O_TMPFILE`: create a file with a
    /// random name (`O_EXCL | O_NOFOLLOW`: never an existing file or a
    /// symlink) and unlink it at once.
    fn named_then_unlinked(&self) -> io::Result<File> {
        for _ in 0..FALLBACK_TRIES {
            let name = format!("{FALLBACK_PREFIX}{:016x}", random_u64());
            let c = std::ffi::CString::new(name).map_err(io::Error::other)?;
            let flags =
                libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_RDWR | libc::O_CLOEXEC;
            // SAFETY: the directory descriptor is open and `c` is a live
            // NUL-terminated string for the call.
            let fd = unsafe { libc::openat(self.dir.as_raw_fd(), c.as_ptr(), flags, 0o600) };
            if fd < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EEXIST) {
                    continue;
                }
                return Err(e);
            }
            // SAFETY: `fd` was just returned by openat and is owned by nobody
            // else; the File takes sole ownership and closes it.
            let file = unsafe { File::from_raw_fd(fd) };
            // SAFETY: as for openat above; unlinkat only reads the string.
            if unsafe { libc::unlinkat(self.dir.as_raw_fd(), c.as_ptr(), 0) } < 0 {
                return Err(io::Error::last_os_error());
            }
            return Ok(file);
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free name for a snapshot file",
        ))
    }

    /// Clone `ranges` of `source` into a new unlinked file (blocking: run it
    /// on the blocking pool). Zero-length ranges represent nothing.
    pub(super) fn snapshot(
        &self,
        source: &File,
        ranges: &[(u64, u64)],
    ) -> io::Result<FileSnapshot> {
        let layout = Layout::new(ranges)?;
        let plan = clone_plan(&layout.ranges, self.align)?;
        let src_len = source.metadata()?.len();
        let file = self.temp_file()?;
        for &(start, end) in &plan {
            // Past the end of the source file everything reads as zero, as
            // it does in the (still empty) snapshot file; a clone may end
            // unaligned exactly at the source's end of file.
            let end = end.min(src_len);
            if end > start {
                clone_range(source, start, &file, start, end - start).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("snapshot: cloning bytes {start}..{end}: {e}"),
                    )
                })?;
            }
        }
        let max_end = layout.ranges.iter().map(|&(o, l)| o + l).max().unwrap_or(0);
        if file.metadata()?.len() < max_end {
            file.set_len(max_end)?;
        }
        Ok(FileSnapshot {
            file: Arc::new(file),
            layout,
        })
    }
}

/// A snapshot: the unlinked clone file and where the token's bytes are in it.
pub(super) struct FileSnapshot {
    file: Arc<File>,
    layout: Layout,
}

/// The non-empty ranges in token order and where each starts in the token.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    /// `(file offset, length)`, token order, no zero lengths.
    ranges: Vec<(u64, u64)>,
    /// Token offset of each range's first byte (ascending, starts at 0).
    starts: Vec<u64>,
    /// Sum of the lengths.
    len: u64,
}

impl Layout {
    fn new(ranges: &[(u64, u64)]) -> io::Result<Self> {
        let overflow = || io::Error::new(io::ErrorKind::InvalidInput, "snapshot range overflows");
        let mut out = Layout {
            ranges: Vec::with_capacity(ranges.len()),
            starts: Vec::with_capacity(ranges.len()),
            len: 0,
        };
        for &(off, len) in ranges.iter().filter(|r| r.1 > 0) {
            off.checked_add(len).ok_or_else(overflow)?;
            out.ranges.push((off, len));
            out.starts.push(out.len);
            out.len = out.len.checked_add(len).ok_or_else(overflow)?;
        }
        Ok(out)
    }

    /// `(file offset, length)` pieces that make up token bytes
    /// `[offset, offset + len)`, in order; InvalidInput past the end.
    fn pieces(&self, offset: u64, len: u64) -> io::Result<Vec<(u64, u64)>> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "read beyond the end of the snapshot",
                ))
            }
        }
        let mut out = Vec::new();
        let mut pos = offset;
        let end = offset + len;
        let mut i = self.starts.partition_point(|&s| s <= pos).saturating_sub(1);
        while pos < end {
            let (Some(&(file_off, range_len)), Some(&start)) =
                (self.ranges.get(i), self.starts.get(i))
            else {
                return Err(io::Error::other("snapshot layout is inconsistent"));
            };
            let skip = pos - start;
            let n = (range_len - skip).min(end - pos);
            out.push((file_off + skip, n));
            pos += n;
            i += 1;
        }
        Ok(out)
    }
}

/// The ranges to clone: each range widened to whole `align` blocks, sorted,
/// overlapping or touching ones merged; `(start, end)` byte offsets.
fn clone_plan(ranges: &[(u64, u64)], align: u64) -> io::Result<Vec<(u64, u64)>> {
    let overflow = || io::Error::new(io::ErrorKind::InvalidInput, "snapshot range overflows");
    let mut wide = Vec::with_capacity(ranges.len());
    for &(off, len) in ranges.iter().filter(|r| r.1 > 0) {
        let end = off.checked_add(len).ok_or_else(overflow)?;
        let start = off - off % align;
        let end = end
            .div_ceil(align)
            .checked_mul(align)
            .ok_or_else(overflow)?;
        wide.push((start, end));
    }
    wide.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(wide.len());
    for (start, end) in wide {
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    Ok(out)
}

/// `FICLONERANGE`: share `len` bytes of `src` at `src_off` into `dst` at
/// `dst_off` (offsets aligned to the block size; `len` too, unless the
/// range ends at the end of `src`).
pub(crate) fn clone_range(
    src: &File,
    src_off: u64,
    dst: &File,
    dst_off: u64,
    len: u64,
) -> io::Result<()> {
    let arg = libc::file_clone_range {
        src_fd: i64::from(src.as_raw_fd()),
        src_offset: src_off,
        src_length: len,
        dest_offset: dst_off,
    };
    // SAFETY: both descriptors are open for the call (the Files are
    // borrowed) and `arg` is a live, initialised `struct file_clone_range`
    // that the kernel only reads.
    let rc = unsafe {
        libc::ioctl(
            dst.as_raw_fd(),
            libc::FICLONERANGE,
            &arg as *const libc::file_clone_range,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// 64 bits from the kernel's random generator (a name nobody can predict);
/// the time and pid if that fails (`O_EXCL` keeps the name safe anyway).
fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: the kernel writes at most `b.len()` bytes into the live array.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if usize::try_from(n) == Ok(b.len()) {
        return u64::from_ne_bytes(b);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ u64::from(std::process::id()).rotate_left(32)
}

/// Fill `buf` from `file` at `offset`; past the end of the file it stays
/// zero (the snapshot file is as long as the ranges, so that is only a
/// source that was shorter than its backend).
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0usize;
    while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
        match file.read_at(rest, offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[async_trait]
impl Snapshot for FileSnapshot {
    fn len(&self) -> u64 {
        self.layout.len
    }

    async fn read(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        let pieces = self.layout.pieces(offset, len as u64)?;
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; len];
            let mut pos = 0usize;
            for (file_off, n) in pieces {
                let n = usize::try_from(n).map_err(io::Error::other)?;
                let dst = buf
                    .get_mut(pos..pos + n)
                    .ok_or_else(|| io::Error::other("snapshot piece outside the buffer"))?;
                read_full_at(&file, dst, file_off)?;
                pos += n;
            }
            Ok(Bytes::from(buf))
        })
        .await
        .map_err(|e| io::Error::other(format!("blocking task failed: {e}")))?
    }

    fn native_file(&self) -> Option<NativeSnapshot> {
        Some(NativeSnapshot {
            file: self.file.clone(),
            extents: self.layout.ranges.clone(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "snapshot_tests.rs"]
mod tests;
