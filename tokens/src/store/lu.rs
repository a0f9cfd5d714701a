//! The per-LU part of the store: every live token of the LU (for
//! cancellation) and the interval index of the change-vulnerable ones (for
//! revocation by writes).

use super::types::{BlockRange, TokenId};
use crate::index::IntervalSet;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

#[derive(Default)]
struct Inner {
    tokens: HashSet<TokenId>,
    ranges: IntervalSet,
}

/// The tokens of one LU.
#[derive(Default)]
pub(crate) struct LuTokens {
    /// Live change-vulnerable tokens: the write path's one atomic check.
    vulnerable: AtomicUsize,
    inner: RwLock<Inner>,
}

impl LuTokens {
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn add(&self, id: TokenId, ranges: &[BlockRange], vulnerable: bool) {
        let mut g = self.write();
        g.tokens.insert(id);
        if vulnerable {
            for (i, r) in (0u32..).zip(ranges) {
                g.ranges.insert((r.lba, id, i), r.end());
            }
            self.vulnerable.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub(crate) fn remove(&self, id: TokenId, ranges: &[BlockRange], vulnerable: bool) {
        let mut g = self.write();
        g.tokens.remove(&id);
        if vulnerable {
            for (i, r) in (0u32..).zip(ranges) {
                g.ranges.remove(&(r.lba, id, i));
            }
            self.vulnerable.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Change-vulnerable tokens with a range overlapping [lba, lba+count):
    /// one atomic load when there are none.
    pub(crate) fn overlapping(&self, lba: u64, count: u64) -> Vec<TokenId> {
        if self.vulnerable.load(Ordering::Acquire) == 0 || count == 0 {
            return Vec::new();
        }
        let mut ids = Vec::new();
        self.read()
            .ranges
            .overlapping(lba, lba.saturating_add(count), |id| ids.push(id));
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub(crate) fn all(&self) -> Vec<TokenId> {
        self.read().tokens.iter().copied().collect()
    }

    #[cfg(test)]
    pub(crate) fn indexed_ranges(&self) -> usize {
        self.read().ranges.len()
    }
}
