//! Storage backends. A backend is byte addressed; the logical unit applies
//! the block size. Backends declare what they can do in [`Capabilities`] and
//! the device server advertises only that (VPD 0xB0/0xB2, READ CAPACITY(16)).

pub mod fault;
pub mod file;
pub mod memory;

pub use fault::FaultBackend;
pub use file::FileBackend;
pub use memory::MemoryBackend;

use async_trait::async_trait;
use bytes::Bytes;
use std::io;

/// What a backend can do beyond read/write/flush.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Deallocation (UNMAP, WRITE SAME with UNMAP) is supported.
    pub unmap: bool,
    /// Deallocated ranges read back as zeroes (LBPRZ).
    pub unmapped_reads_zero: bool,
    /// Efficient zeroing (fallocate zero-range or equivalent).
    pub write_zeroes: bool,
    /// The backend can report mapped/deallocated extents (GET LBA STATUS).
    pub mapping_status: bool,
    /// The medium is rotational (VPD 0xB1); false for files on SSD and memory.
    pub rotational: bool,
    /// [`Backend::snapshot`] works: ranges can be copied cheaply as of now
    /// (file backend on a reflink file system such as XFS or btrfs), so a
    /// POPULATE TOKEN can offer ROD type 0x00800000 (point in time).
    pub point_in_time: bool,
}

/// One extent of a mapping query: `[offset, offset+len)` is mapped or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub offset: u64,
    pub len: u64,
    pub mapped: bool,
}

/// The narrow async contract every backend fulfils.
///
/// Offsets and lengths are in bytes and are always range-checked by the
/// caller against [`Backend::size`]. Implementations must never block the
/// async runtime (use a blocking pool for file I/O).
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Human-readable description for logs ("file:/path", "memory").
    fn describe(&self) -> String;
    /// Size of the medium in bytes.
    fn size(&self) -> u64;
    fn capabilities(&self) -> Capabilities;
    /// Read exactly `len` bytes at `offset`.
    async fn read(&self, offset: u64, len: usize) -> io::Result<Bytes>;
    /// Write `data` at `offset`. With `fua`, the data is durable before return.
    async fn write(&self, offset: u64, data: Bytes, fua: bool) -> io::Result<()>;
    /// Make every completed write durable (SYNCHRONIZE CACHE, shutdown).
    async fn flush(&self) -> io::Result<()>;
    /// Deallocate a range (only called when `capabilities().unmap`).
    async fn unmap(&self, _offset: u64, _len: u64) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    /// Zero a range efficiently (only called when `capabilities().write_zeroes`).
    async fn write_zeroes(&self, _offset: u64, _len: u64) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
    /// Mapping status from `offset` on (at least one extent, possibly up to
    /// `len` bytes). Only called when `capabilities().mapping_status`.
    async fn mapping(&self, offset: u64, len: u64) -> io::Result<Vec<Extent>> {
        Ok(vec![Extent {
            offset,
            len,
            mapped: true,
        }])
    }
    /// The open file behind this backend when its byte offsets are the
    /// file's own offsets, so the copy engine (`copy::native`) may use
    /// `copy_file_range`/`FICLONERANGE` between two such backends. `None`
    /// (the default) means: copy by reading and writing.
    fn native_file(&self) -> Option<std::sync::Arc<std::fs::File>> {
        None
    }

    /// A point-in-time copy of `ranges` (`(byte offset, byte length)` each,
    /// range-checked by the caller), readable in token order: offset 0 of the
    /// snapshot is the first byte of the first range, the second range
    /// follows the first, and so on. Only called when
    /// `capabilities().point_in_time`. Each range is copied atomically with
    /// respect to writes; for all ranges to be of one instant the caller
    /// keeps writers out (the LU write lock) until this returns. Dropping
    /// the last reference releases the copy.
    async fn snapshot(&self, _ranges: &[(u64, u64)]) -> io::Result<std::sync::Arc<dyn Snapshot>> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// The bytes some ranges of a backend held when [`Backend::snapshot`] ran,
/// whatever is written to the medium afterwards.
#[async_trait]
pub trait Snapshot: Send + Sync + 'static {
    /// Bytes represented: the sum of the range lengths.
    fn len(&self) -> u64;
    /// No bytes are represented.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Read exactly `len` bytes at `offset` in token order (see
    /// [`Backend::snapshot`]); a range past [`Snapshot::len`] is InvalidInput.
    async fn read(&self, offset: u64, len: usize) -> io::Result<Bytes>;
    /// For a native copy out of the snapshot (`copy_file_range` or
    /// `FICLONERANGE` in `copy::native`): the file holding the copy and where
    /// the token's bytes are in it. `None` (the default): copy with
    /// [`Snapshot::read`].
    fn native_file(&self) -> Option<NativeSnapshot> {
        None
    }
}

/// Where a snapshot's bytes are, for a native copy out of it.
#[derive(Debug, Clone)]
pub struct NativeSnapshot {
    /// The file holding the copy; read-only by contract. It lives as long
    /// as this handle, even after the snapshot itself is dropped.
    pub file: std::sync::Arc<std::fs::File>,
    /// `(file offset, length)` of each range in token order; the lengths
    /// add up to [`Snapshot::len`].
    pub extents: Vec<(u64, u64)>,
}
