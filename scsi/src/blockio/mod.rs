//! The block-I/O facade of a logical unit: the one way to its medium.
//!
//! Block commands, the copy engine and shutdown reach the backend only
//! through the methods here (a test, `boundary`, checks the sources).
//! The facade owns:
//! - the capacity (one rule: whole logical blocks of the backend) and the
//!   LBA range check (no wrap near `u64::MAX`);
//! - write protection: a [`Writer`] cannot be had on a read-only LU;
//! - the LU write lock: [`LogicalUnit::writer`] holds it shared (ordinary
//!   writes), [`LogicalUnit::exclusive_writer`] exclusive (the
//!   read-modify-write of COMPARE AND WRITE and ORWRITE); every medium
//!   write is a method of a [`Writer`], so none happens without the lock;
//! - write-through: with the write cache disabled (WCE=0) every write is
//!   durable before it completes, as with FUA;
//! - backend error mapping: a read failure is MEDIUM ERROR, UNRECOVERED
//!   READ ERROR, a write failure MEDIUM ERROR, WRITE ERROR, both with the
//!   first LBA of the failed range, and logged;
//! - the read/write byte counters of initiator I/O ([`Account`]);
//! - the write hook ([`WriteObservers`]): called with the LBA range before
//!   every medium modification.

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod boundary;
mod observer;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

pub use observer::{LbaRange, WriteKind, WriteObserver, WriteObservers};

use crate::backend::{Capabilities, Extent, Snapshot};
use crate::copy::native::Pace;
use crate::device::LogicalUnit;
use crate::sense::ScsiError;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Per-LU state of the facade.
#[derive(Default)]
pub struct BlockIoState {
    /// Shared by every writer, exclusive for COMPARE AND WRITE and ORWRITE
    /// (SBC-4 5.3).
    write_lock: RwLock<()>,
    /// The write hook.
    pub observers: WriteObservers,
    /// The backing domain and its foreground state, set by the copy
    /// scheduler when a copy first touches the LU: from then on initiator
    /// reads and writes mark themselves there (`copy::sched`).
    pub(crate) copy_domain: std::sync::OnceLock<crate::copy::sched::LuDomain>,
}

/// Whose I/O this is, for the byte counters.
#[derive(Debug, Clone, Copy)]
pub enum Account<'a> {
    /// Initiator I/O through a target port: `xtgt_read_bytes_total` and
    /// `xtgt_write_bytes_total` by target and LUN.
    Initiator { target: &'a str, lun: u64 },
    /// I/O that moves no data to or from an initiator: the copy manager's
    /// (it counts `xtgt_copy_bytes_total` itself) and medium verification.
    Internal,
}

impl Account<'_> {
    fn count(&self, name: &'static str, bytes: u64) {
        if let Account::Initiator { target, lun } = *self {
            metrics::counter!(name, "target" => target.to_string(), "lun" => lun.to_string())
                .increment(bytes);
        }
    }
}

/// How far a native copy got (see [`Writer::copy_native_from`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeCopy {
    /// The backends have no native copy path between them.
    Unavailable,
    /// This many bytes were copied by the kernel; the rest is the caller's.
    Copied(u64),
}

impl LogicalUnit {
    /// Logical block length in bytes (never zero: 512 if unset).
    pub fn block_size(&self) -> u32 {
        match self.config.block_size {
            0 => 512,
            n => n,
        }
    }

    /// Capacity in logical blocks: the whole blocks of the backend.
    pub fn capacity_blocks(&self) -> u64 {
        self.backend.size() / u64::from(self.block_size())
    }

    /// Capacity in bytes (whole blocks only).
    pub fn capacity_bytes(&self) -> u64 {
        self.capacity_blocks()
            .saturating_mul(u64::from(self.block_size()))
    }

    /// What the backend can do (for VPD pages and READ CAPACITY).
    pub fn capabilities(&self) -> Capabilities {
        self.backend.capabilities()
    }

    /// The backend, for logs ("file:/path", "memory").
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// SBC-4 4.5: `[lba, lba+blocks)` must lie inside the medium; an LBA
    /// near `u64::MAX` must not wrap.
    pub fn check_range(&self, lba: u64, blocks: u64) -> Result<(), ScsiError> {
        match lba.checked_add(blocks) {
            Some(end) if end <= self.capacity_blocks() => Ok(()),
            _ => Err(ScsiError::LbaOutOfRange),
        }
    }

    /// SBC-4 4.11: a write-protected LU refuses every medium modification.
    pub fn check_writable(&self) -> Result<(), ScsiError> {
        if self.config.read_only {
            Err(ScsiError::WriteProtected)
        } else {
            Ok(())
        }
    }

    /// The LBA of byte `offset`.
    fn lba_of(&self, offset: u64) -> u64 {
        offset / u64::from(self.block_size())
    }

    /// The blocks the byte range `[offset, offset+len)` touches.
    fn covering(&self, offset: u64, len: u64) -> LbaRange {
        let bs = u64::from(self.block_size());
        let first = offset / bs;
        let end = offset.saturating_add(len).div_ceil(bs);
        LbaRange {
            lba: first,
            blocks: end.saturating_sub(first),
        }
    }

    /// Byte offset and length of a block range, if it is inside the medium.
    fn byte_range(&self, lba: u64, blocks: u64) -> Result<(u64, u64), ScsiError> {
        self.check_range(lba, blocks)?;
        let bs = u64::from(self.block_size());
        Ok((lba.saturating_mul(bs), blocks.saturating_mul(bs)))
    }

    fn check_bytes(&self, offset: u64, len: u64) -> Result<(), ScsiError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.capacity_bytes() => Ok(()),
            _ => Err(ScsiError::LbaOutOfRange),
        }
    }

    /// WCE=0 (SBC-4 6.5.5): every write is durable before completion.
    fn write_through(&self) -> bool {
        !self.write_cache_enabled()
    }

    fn read_error(&self, lba: u64, e: &std::io::Error) -> ScsiError {
        tracing::warn!(backend = %self.describe(), lba, error = %e, "read failed");
        ScsiError::UnrecoveredReadError { lba: Some(lba) }
    }

    fn write_error(&self, lba: u64, e: &std::io::Error) -> ScsiError {
        tracing::warn!(backend = %self.describe(), lba, error = %e, "write failed");
        ScsiError::WriteError { lba: Some(lba) }
    }

    /// Read `blocks` blocks at `lba`.
    pub async fn read_blocks(
        &self,
        lba: u64,
        blocks: u64,
        account: Account<'_>,
    ) -> Result<Bytes, ScsiError> {
        let (off, len) = self.byte_range(lba, blocks)?;
        self.read_at(off, len, lba, account).await
    }

    /// Read `len` bytes at byte `offset` (the copy engine's byte-granular
    /// segments); errors name the LBA holding `offset`.
    pub async fn read_bytes(
        &self,
        offset: u64,
        len: u64,
        account: Account<'_>,
    ) -> Result<Bytes, ScsiError> {
        self.check_bytes(offset, len)?;
        self.read_at(offset, len, self.lba_of(offset), account)
            .await
    }

    /// A read shorter than asked is a read error: it must never pass for
    /// data (COMPARE AND WRITE would then compare against the wrong bytes).
    async fn read_at(
        &self,
        off: u64,
        len: u64,
        lba: u64,
        account: Account<'_>,
    ) -> Result<Bytes, ScsiError> {
        if len == 0 {
            return Ok(Bytes::new());
        }
        let n = usize::try_from(len).map_err(|_| ScsiError::InternalTargetFailure)?;
        let _fg = self.foreground_io(account);
        let data = match self.backend.read(off, n).await {
            Ok(d) if d.len() == n => d,
            Ok(_) => {
                let e = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
                return Err(self.read_error(lba, &e));
            }
            Err(e) => return Err(self.read_error(lba, &e)),
        };
        account.count("xtgt_read_bytes_total", len);
        Ok(data)
    }

    /// The provisioning status of `len` bytes from LBA `lba` on (at least
    /// one extent); everything is mapped when the backend cannot tell.
    pub async fn mapping(&self, lba: u64, len: u64) -> Result<Vec<Extent>, ScsiError> {
        let offset = lba.saturating_mul(u64::from(self.block_size()));
        if !self.capabilities().mapping_status {
            return Ok(vec![Extent {
                offset,
                len,
                mapped: true,
            }]);
        }
        self.backend
            .mapping(offset, len)
            .await
            .map_err(|e| self.read_error(lba, &e))
    }

    /// Make every completed write durable (SYNCHRONIZE CACHE, eject,
    /// shutdown). A failure is WRITE ERROR with `lba` when given.
    pub async fn flush(&self, lba: Option<u64>) -> Result<(), ScsiError> {
        self.backend.flush().await.map_err(|e| {
            tracing::warn!(backend = %self.describe(), error = %e, "flush failed");
            ScsiError::WriteError { lba }
        })
    }

    /// The right to modify the medium, shared with every other writer.
    /// WRITE PROTECTED on a read-only LU.
    pub async fn writer(&self) -> Result<Writer<'_>, ScsiError> {
        self.check_writable()?;
        Ok(Writer {
            lu: self,
            _held: Held::Shared(self.io.write_lock.read().await),
        })
    }

    /// The right to modify the medium with no other writer at work (the
    /// atomic read-modify-write of COMPARE AND WRITE and ORWRITE).
    pub async fn exclusive_writer(&self) -> Result<Writer<'_>, ScsiError> {
        self.check_writable()?;
        Ok(Writer {
            lu: self,
            _held: Held::Exclusive(self.io.write_lock.write().await),
        })
    }

    /// Keep every writer out until the guard is dropped, also on a
    /// read-only LU (whose medium cannot change anyway): what POPULATE TOKEN
    /// holds so that its ranges are of one instant and a racing write
    /// either finished before the token exists or sees it.
    pub async fn freeze_writes(&self) -> WriteFreeze<'_> {
        WriteFreeze {
            lu: self,
            _held: self.io.write_lock.write().await,
        }
    }

    /// The device (`st_dev`) of the backing file, when the backend has one:
    /// LUs on one device share a copy scheduling domain.
    pub fn backing_device(&self) -> Option<u64> {
        use std::os::unix::fs::MetadataExt;
        let f = self.backend.native_file()?;
        f.metadata().ok().map(|m| m.dev())
    }

    /// A native copy out of `snap` into this LU shares extents (a
    /// reflink): the snapshot's file is on this LU's device and the LU
    /// does point-in-time copies (a reflink file system).
    pub fn can_clone_from_snapshot(&self, snap: &dyn crate::backend::Snapshot) -> bool {
        use std::os::unix::fs::MetadataExt;
        let dev = snap
            .native_file()
            .and_then(|n| n.file.metadata().ok())
            .map(|m| m.dev());
        dev.is_some() && dev == self.backing_device() && self.capabilities().point_in_time
    }

    /// The backend offers its file for the kernel's copy
    /// ([`Writer::copy_native_from`] can do something).
    pub fn offers_native_copy(&self) -> bool {
        self.backend.native_file().is_some()
    }

    /// An initiator I/O marks itself on the LU's copy domain: the domain
    /// (LUs whose backing files share a device) is found on the LU's first
    /// initiator I/O, so reads of a LU that no copy touches still hold back
    /// a copy between two other LUs of the same device. Two atomic
    /// operations per I/O; a clock read only while copies watch the domain.
    fn foreground_io(&self, account: Account<'_>) -> Option<crate::copy::sched::ForegroundIo<'_>> {
        match account {
            Account::Initiator { .. } => Some(crate::copy::sched::domain_of(self).1.enter()),
            Account::Internal => None,
        }
    }

    /// Register a write observer (the write hook).
    pub fn add_write_observer(&self, observer: Arc<dyn WriteObserver>) {
        self.io.observers.add(observer);
    }
}

/// No writer is at work on the LU while this lives.
pub struct WriteFreeze<'a> {
    lu: &'a LogicalUnit,
    _held: RwLockWriteGuard<'a, ()>,
}

impl WriteFreeze<'_> {
    /// A point-in-time copy of the block ranges `(lba, blocks)`, readable
    /// in list order (`Backend::snapshot`), when the backend can make one
    /// (`capabilities().point_in_time`). INSUFFICIENT RESOURCES TO CREATE
    /// ROD (0x55/0x0C) when it cannot; LBA OUT OF RANGE outside the medium.
    pub async fn snapshot(&self, ranges: &[(u64, u64)]) -> Result<Arc<dyn Snapshot>, ScsiError> {
        let mut bytes = Vec::with_capacity(ranges.len());
        for &(lba, blocks) in ranges {
            bytes.push(self.lu.byte_range(lba, blocks)?);
        }
        if !self.lu.capabilities().point_in_time {
            return Err(ScsiError::InsufficientResourcesRod);
        }
        self.lu.backend.snapshot(&bytes).await.map_err(|e| {
            tracing::warn!(backend = %self.lu.describe(), error = %e, "snapshot failed");
            ScsiError::InsufficientResourcesRod
        })
    }
}

enum Held<'a> {
    Shared(#[allow(dead_code)] RwLockReadGuard<'a, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'a, ()>),
}

/// A held write lock of a writable LU: every medium modification is a
/// method of this type. Each one calls the write hook with the blocks it
/// modifies before the backend is touched.
pub struct Writer<'a> {
    lu: &'a LogicalUnit,
    _held: Held<'a>,
}

impl Writer<'_> {
    fn before(&self, range: LbaRange, kind: WriteKind) {
        self.lu.io.observers.notify(self.lu, range, kind);
    }

    /// Read under this writer's lock (the compare or OR of a
    /// read-modify-write).
    pub async fn read_blocks(
        &self,
        lba: u64,
        blocks: u64,
        account: Account<'_>,
    ) -> Result<Bytes, ScsiError> {
        self.lu.read_blocks(lba, blocks, account).await
    }

    /// Write whole blocks at `lba`; durable before return with `fua` or
    /// with the write cache disabled.
    pub async fn write_blocks(
        &self,
        lba: u64,
        data: Bytes,
        fua: bool,
        kind: WriteKind,
        account: Account<'_>,
    ) -> Result<(), ScsiError> {
        let bs = u64::from(self.lu.block_size());
        let len = data.len() as u64;
        if !len.is_multiple_of(bs) {
            return Err(ScsiError::InternalTargetFailure);
        }
        let (off, _) = self.lu.byte_range(lba, len / bs)?;
        self.write_at(off, data, fua, lba, kind, account).await
    }

    /// Write `data` at byte `offset` (the copy engine's byte-granular
    /// segments); errors name the LBA holding `offset`.
    pub async fn write_bytes(
        &self,
        offset: u64,
        data: Bytes,
        kind: WriteKind,
        account: Account<'_>,
    ) -> Result<(), ScsiError> {
        self.lu.check_bytes(offset, data.len() as u64)?;
        let lba = self.lu.lba_of(offset);
        self.write_at(offset, data, false, lba, kind, account).await
    }

    async fn write_at(
        &self,
        off: u64,
        data: Bytes,
        fua: bool,
        lba: u64,
        kind: WriteKind,
        account: Account<'_>,
    ) -> Result<(), ScsiError> {
        if data.is_empty() {
            return Ok(());
        }
        let len = data.len() as u64;
        self.before(self.lu.covering(off, len), kind);
        let durable = fua || self.lu.write_through();
        let _fg = self.lu.foreground_io(account);
        self.lu
            .backend
            .write(off, data, durable)
            .await
            .map_err(|e| self.lu.write_error(lba, &e))?;
        account.count("xtgt_write_bytes_total", len);
        Ok(())
    }

    /// Zero `blocks` blocks at `lba` efficiently (only when
    /// `capabilities().write_zeroes`). Counted as written bytes.
    pub async fn write_zeroes(
        &self,
        lba: u64,
        blocks: u64,
        kind: WriteKind,
        account: Account<'_>,
    ) -> Result<(), ScsiError> {
        let (off, len) = self.lu.byte_range(lba, blocks)?;
        self.before(LbaRange { lba, blocks }, kind);
        self.lu
            .backend
            .write_zeroes(off, len)
            .await
            .map_err(|e| self.lu.write_error(lba, &e))?;
        account.count("xtgt_write_bytes_total", len);
        Ok(())
    }

    /// Deallocate `blocks` blocks at `lba` (only when
    /// `capabilities().unmap`). Not counted as written bytes.
    pub async fn unmap(&self, lba: u64, blocks: u64, kind: WriteKind) -> Result<(), ScsiError> {
        let (off, len) = self.lu.byte_range(lba, blocks)?;
        self.before(LbaRange { lba, blocks }, kind);
        self.lu
            .backend
            .unmap(off, len)
            .await
            .map_err(|e| self.lu.write_error(lba, &e))
    }

    /// With the write cache disabled, make what was written through this
    /// writer by non-FUA paths (deallocation, zeroing, kernel copies)
    /// durable; WRITE ERROR at `lba` when that fails.
    pub async fn settle(&self, lba: u64) -> Result<(), ScsiError> {
        if !self.lu.write_through() {
            return Ok(());
        }
        self.lu
            .backend
            .flush()
            .await
            .map_err(|e| self.lu.write_error(lba, &e))
    }

    /// The kernel's copy of `len` bytes at offset `snap_off` (token order)
    /// of a point-in-time snapshot to this LU at `dst_off`, when the
    /// snapshot and this LU's backend both offer a file. Stops at the first
    /// short step (the caller reads and writes the rest). What the kernel
    /// copied is durable (write-through) before return.
    pub async fn copy_native_from_snapshot(
        &self,
        snap: &dyn Snapshot,
        snap_off: u64,
        dst_off: u64,
        len: u64,
        pace: Pace,
        on_progress: Arc<dyn Fn(u64) + Send + Sync>,
    ) -> Result<NativeCopy, ScsiError> {
        self.lu.check_bytes(dst_off, len)?;
        let (Some(from), Some(to)) = (snap.native_file(), self.lu.backend.native_file()) else {
            return Ok(NativeCopy::Unavailable);
        };
        self.before(self.lu.covering(dst_off, len), WriteKind::NativeCopy);
        let mut copied = 0u64;
        let mut base = 0u64; // token offset of the current extent
        for &(file_off, ext_len) in &from.extents {
            let (want_from, want_to) = (snap_off + copied, snap_off + len);
            let ext_end = base.saturating_add(ext_len);
            if copied < len && want_from < ext_end && want_from >= base {
                let in_ext = want_from - base;
                let n = (ext_len - in_ext).min(want_to - want_from);
                let out = crate::copy::native::copy(
                    from.file.clone(),
                    file_off + in_ext,
                    to.clone(),
                    dst_off + copied,
                    n,
                    pace,
                    on_progress.clone(),
                )
                .await;
                copied += out.copied.min(n);
                if out.copied < n {
                    break;
                }
            }
            base = ext_end;
        }
        if copied > 0 {
            self.settle(self.lu.lba_of(dst_off)).await?;
        }
        Ok(NativeCopy::Copied(copied))
    }

    /// The backends' own copy of `len` bytes from `src` at `src_off` to
    /// this LU at `dst_off` (`copy::native`: reflink or copy_file_range),
    /// when both backends offer their file. The ranges must not overlap.
    /// `on_progress` sees each step's byte count. What the kernel copied
    /// is durable (write-through) before return.
    pub async fn copy_native_from(
        &self,
        src: &LogicalUnit,
        src_off: u64,
        dst_off: u64,
        len: u64,
        pace: Pace,
        on_progress: Arc<dyn Fn(u64) + Send + Sync>,
    ) -> Result<NativeCopy, ScsiError> {
        src.check_bytes(src_off, len)?;
        self.lu.check_bytes(dst_off, len)?;
        let (Some(from), Some(to)) = (src.backend.native_file(), self.lu.backend.native_file())
        else {
            return Ok(NativeCopy::Unavailable);
        };
        self.before(self.lu.covering(dst_off, len), WriteKind::NativeCopy);
        let out =
            crate::copy::native::copy(from, src_off, to, dst_off, len, pace, on_progress).await;
        let copied = out.copied.min(len);
        if copied > 0 {
            // The kernel wrote through the page cache: with the write cache
            // disabled, make it durable as a FUA write would be.
            self.settle(self.lu.lba_of(dst_off)).await?;
        }
        Ok(NativeCopy::Copied(copied))
    }
}
