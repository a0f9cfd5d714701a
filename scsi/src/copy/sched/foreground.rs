//! Foreground presence of one backing domain: initiator READs and WRITEs
//! on any LU of the domain mark themselves here (one atomic increment and
//! decrement in the block-I/O path), the copy scheduler reads it before it
//! grants a copy chunk.
//!
//! While no copy uses the domain (`watched` is 0) an I/O costs two relaxed
//! atomic operations and one load: no clock is read.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// Nanoseconds on the monotonic clock since the first call (never 0).
pub fn mono_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let e = EPOCH.get_or_init(Instant::now);
    u64::try_from(e.elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

/// The foreground state of a backing domain (LUs on one device or file
/// system, or one memory LU).
#[derive(Debug, Default)]
pub struct Foreground {
    /// Initiator I/Os running now.
    active: AtomicU32,
    /// When the last initiator I/O ended ([`mono_ns`]); 0: never seen.
    last_ns: AtomicU64,
    /// Copy operations using the domain: only then is `last_ns` kept.
    watched: AtomicU32,
    /// Copy chunks in flight in the domain (for the "waited behind copy
    /// work" metric).
    chunks: AtomicU32,
}

/// One initiator I/O in a domain; ends it when dropped.
#[must_use]
pub struct ForegroundIo<'a> {
    fg: &'a Foreground,
    /// Copy chunks were in flight when the I/O started.
    behind_copy: Option<Instant>,
}

impl Foreground {
    /// An initiator I/O starts.
    pub fn enter(&self) -> ForegroundIo<'_> {
        self.active.fetch_add(1, Ordering::AcqRel);
        let behind_copy = (self.chunks.load(Ordering::Relaxed) > 0).then(Instant::now);
        ForegroundIo {
            fg: self,
            behind_copy,
        }
    }

    /// Foreground I/O is running or ended less than `window_ns` before `now`.
    pub fn present(&self, now: u64, window_ns: u64) -> bool {
        if self.active.load(Ordering::Acquire) > 0 {
            return true;
        }
        let last = self.last_ns.load(Ordering::Acquire);
        last != 0 && now.saturating_sub(last) < window_ns
    }

    /// When presence ends if no new I/O comes (`None`: I/O is running or
    /// none was seen).
    pub fn quiet_at(&self, window_ns: u64) -> Option<u64> {
        if self.active.load(Ordering::Acquire) > 0 {
            return None;
        }
        match self.last_ns.load(Ordering::Acquire) {
            0 => None,
            last => Some(last.saturating_add(window_ns)),
        }
    }

    pub(crate) fn watch(&self, delta: i32) {
        if delta >= 0 {
            self.watched
                .fetch_add(delta.unsigned_abs(), Ordering::AcqRel);
        } else {
            self.watched
                .fetch_sub(delta.unsigned_abs(), Ordering::AcqRel);
        }
    }

    pub(crate) fn chunk_started(&self) {
        self.chunks.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn chunk_ended(&self) {
        self.chunks.fetch_sub(1, Ordering::AcqRel);
    }

    /// Test hook: pretend an initiator I/O ended at `ns` (or none ran).
    #[cfg(test)]
    pub(crate) fn set_last(&self, ns: u64) {
        self.last_ns.store(ns, Ordering::Release);
    }

    /// Test hook: initiator I/Os running now.
    #[cfg(test)]
    pub(crate) fn set_active(&self, n: u32) {
        self.active.store(n, Ordering::Release);
    }
}

impl Drop for ForegroundIo<'_> {
    fn drop(&mut self) {
        let fg = self.fg;
        if fg.watched.load(Ordering::Relaxed) > 0 {
            fg.last_ns.store(mono_ns(), Ordering::Release);
        }
        fg.active.fetch_sub(1, Ordering::AcqRel);
        if let Some(t) = self.behind_copy {
            metrics::counter!("xtgt_copy_foreground_delayed_total").increment(1);
            metrics::counter!("xtgt_copy_foreground_delayed_microseconds_total")
                .increment(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
        }
    }
}
