//! A test double that wraps another backend: injects I/O errors for byte
//! ranges and holds I/O at a gate until released (abort, reset and ordering
//! tests).

use super::{Backend, Capabilities, Extent, Snapshot};
use async_trait::async_trait;
use bytes::Bytes;
use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Fault-injecting wrapper around a backend.
pub struct FaultBackend {
    inner: Arc<dyn Backend>,
    read_faults: Mutex<Vec<Range<u64>>>,
    write_faults: Mutex<Vec<Range<u64>>>,
    flush_fault: AtomicBool,
    gate: watch::Sender<bool>,
    waiting: AtomicUsize,
}

impl FaultBackend {
    pub fn new(inner: Arc<dyn Backend>) -> Self {
        Self {
            inner,
            read_faults: Mutex::new(Vec::new()),
            write_faults: Mutex::new(Vec::new()),
            flush_fault: AtomicBool::new(false),
            gate: watch::Sender::new(false),
            waiting: AtomicUsize::new(0),
        }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &Arc<dyn Backend> {
        &self.inner
    }

    /// Reads touching any byte of `range` fail with an I/O error.
    pub fn fail_reads(&self, range: Range<u64>) {
        lock(&self.read_faults).push(range);
    }

    /// Writes, unmaps and write-zeroes touching `range` fail.
    pub fn fail_writes(&self, range: Range<u64>) {
        lock(&self.write_faults).push(range);
    }

    /// Flushes fail while `on`.
    pub fn fail_flush(&self, on: bool) {
        self.flush_fault.store(on, Ordering::SeqCst);
    }

    /// Remove every injected failure.
    pub fn clear_faults(&self) {
        lock(&self.read_faults).clear();
        lock(&self.write_faults).clear();
        self.fail_flush(false);
    }

    /// Close the gate: every I/O from now on waits until [`Self::release`].
    pub fn hold(&self) {
        self.gate.send_replace(true);
    }

    /// Open the gate and let held I/O proceed.
    pub fn release(&self) {
        self.gate.send_replace(false);
    }

    /// How many I/Os are waiting at the gate right now.
    pub fn held(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    async fn pass_gate(&self) {
        let mut rx = self.gate.subscribe();
        if !*rx.borrow() {
            return;
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        // The sender lives in `self`, so the channel cannot close under us.
        let _ = rx.wait_for(|held| !*held).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock(m: &Mutex<Vec<Range<u64>>>) -> std::sync::MutexGuard<'_, Vec<Range<u64>>> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn hits(faults: &Mutex<Vec<Range<u64>>>, offset: u64, len: u64) -> bool {
    let end = offset.saturating_add(len);
    lock(faults)
        .iter()
        .any(|r| r.start < end && offset < r.end && len > 0)
}

fn injected(what: &str, offset: u64) -> io::Error {
    io::Error::other(format!("injected {what} fault at byte {offset}"))
}

#[async_trait]
impl Backend for FaultBackend {
    fn describe(&self) -> String {
        format!("fault({})", self.inner.describe())
    }

    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn read(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        self.pass_gate().await;
        if hits(&self.read_faults, offset, len as u64) {
            return Err(injected("read", offset));
        }
        self.inner.read(offset, len).await
    }

    async fn write(&self, offset: u64, data: Bytes, fua: bool) -> io::Result<()> {
        self.pass_gate().await;
        if hits(&self.write_faults, offset, data.len() as u64) {
            return Err(injected("write", offset));
        }
        self.inner.write(offset, data, fua).await
    }

    async fn flush(&self) -> io::Result<()> {
        self.pass_gate().await;
        if self.flush_fault.load(Ordering::SeqCst) {
            return Err(injected("flush", 0));
        }
        self.inner.flush().await
    }

    async fn unmap(&self, offset: u64, len: u64) -> io::Result<()> {
        self.pass_gate().await;
        if hits(&self.write_faults, offset, len) {
            return Err(injected("unmap", offset));
        }
        self.inner.unmap(offset, len).await
    }

    async fn write_zeroes(&self, offset: u64, len: u64) -> io::Result<()> {
        self.pass_gate().await;
        if hits(&self.write_faults, offset, len) {
            return Err(injected("write zeroes", offset));
        }
        self.inner.write_zeroes(offset, len).await
    }

    async fn mapping(&self, offset: u64, len: u64) -> io::Result<Vec<Extent>> {
        self.pass_gate().await;
        self.inner.mapping(offset, len).await
    }

    /// Forwarded, so the wrapper does what its capabilities say.
    async fn snapshot(&self, ranges: &[(u64, u64)]) -> io::Result<Arc<dyn Snapshot>> {
        self.pass_gate().await;
        self.inner.snapshot(ranges).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::backend::memory::MemoryBackend;

    #[tokio::test]
    async fn injected_ranges_fail_only_where_they_overlap() {
        let f = FaultBackend::new(Arc::new(MemoryBackend::new(1 << 20)));
        f.fail_reads(4096..8192);
        f.fail_writes(0..1);
        assert!(f.read(0, 4096).await.is_ok());
        assert!(f.read(4095, 2).await.is_err());
        assert!(f.read(8192, 10).await.is_ok());
        assert!(f.write(0, Bytes::from_static(b"x"), false).await.is_err());
        assert!(f.write(1, Bytes::from_static(b"x"), false).await.is_ok());
        f.clear_faults();
        assert!(f.read(4096, 1).await.is_ok());
    }

    #[tokio::test]
    async fn hold_blocks_until_release() {
        let f = Arc::new(FaultBackend::new(Arc::new(MemoryBackend::new(4096))));
        f.hold();
        let f2 = f.clone();
        let t = tokio::spawn(async move { f2.write(0, Bytes::from_static(b"abc"), false).await });
        while f.held() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(!t.is_finished());
        assert_eq!(&f.inner().read(0, 3).await.unwrap()[..], &[0, 0, 0]);
        f.release();
        t.await.unwrap().unwrap();
        assert_eq!(&f.read(0, 3).await.unwrap()[..], b"abc");
        assert_eq!(f.held(), 0);
    }
}
