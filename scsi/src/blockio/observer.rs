//! The write hook: every medium-modifying operation of a logical unit
//! announces the LBA range it is about to modify, before it modifies it.
//!
//! This is where ODX token revocation plugs in (a change-vulnerable ROD
//! token whose source ranges are written must be revoked before the write
//! lands). Until then the list is empty and [`WriteObservers::notify`] is a
//! single relaxed atomic load.

use crate::device::LogicalUnit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// What kind of operation modifies the medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteKind {
    /// WRITE, WRITE AND VERIFY.
    Write,
    /// WRITE SAME (written, zeroed or deallocated).
    WriteSame,
    /// UNMAP.
    Unmap,
    /// COMPARE AND WRITE (after the compare matched).
    CompareAndWrite,
    /// ORWRITE.
    OrWrite,
    /// The copy manager writing a copy destination by reading and writing.
    CopyDestination,
    /// The copy manager's native copy (copy_file_range / FICLONERANGE)
    /// into a copy destination.
    NativeCopy,
}

/// `blocks` logical blocks from `lba`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LbaRange {
    pub lba: u64,
    pub blocks: u64,
}

/// Told about every write before it reaches the backend. Called on the I/O
/// path with the LU's write lock held: must be cheap and must not block.
pub trait WriteObserver: Send + Sync {
    fn before_write(&self, lu: &LogicalUnit, range: LbaRange, kind: WriteKind);
}

/// The observers of one logical unit (none by default).
#[derive(Default)]
pub struct WriteObservers {
    any: AtomicBool,
    list: RwLock<Vec<Arc<dyn WriteObserver>>>,
}

impl WriteObservers {
    pub fn add(&self, observer: Arc<dyn WriteObserver>) {
        let mut list = self.list.write().unwrap_or_else(|p| p.into_inner());
        list.push(observer);
        self.any.store(true, Ordering::Release);
    }

    /// Tells every observer that `range` of `lu` is about to be modified.
    pub(crate) fn notify(&self, lu: &LogicalUnit, range: LbaRange, kind: WriteKind) {
        if !self.any.load(Ordering::Acquire) || range.blocks == 0 {
            return;
        }
        let list = self.list.read().unwrap_or_else(|p| p.into_inner());
        for o in list.iter() {
            o.before_write(lu, range, kind);
        }
    }
}
