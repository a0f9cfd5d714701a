//! The copy scheduler: every copy operation (EXTENDED COPY, WRITE USING
//! TOKEN) is admitted here, and every chunk of copy work (an emulated
//! read+write, a native copy_file_range/FICLONERANGE piece, a zeroing
//! step) asks for a grant before it starts and returns it when it ends.
//!
//! The rules are in [`policy`] (I/O-free, tested without timers); this
//! module is the async shell: one lock around the policy, a [`Notify`] to
//! wake waiters when grants return, timers for the policy's wake-up times,
//! and the domain of each LU ([`foreground`]).

pub mod foreground;
pub mod policy;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod wired_tests;

pub use foreground::{mono_ns, Foreground, ForegroundIo};
pub use policy::{ChunkKind, DomainKey, OpSpec, Policy, Refusal, SchedConfig};

use crate::device::LogicalUnit;
use crate::sense::ScsiError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The scheduler shared by the copy manager's commands.
pub struct CopyScheduler {
    policy: Mutex<Policy>,
    /// Chunk requests wait here: a grant returned, a request granted.
    wake: Notify,
    /// Copies waiting for admission wait here: only the end of a copy
    /// lets another one in, so a returned chunk grant does not wake the
    /// (possibly hundreds of) queued copies.
    admit_wake: Notify,
    /// Times a queued copy looked at the policy (tests: the herd check).
    #[cfg(test)]
    admit_checks: AtomicU64,
}

impl Default for CopyScheduler {
    fn default() -> Self {
        Self::new(SchedConfig::default())
    }
}

/// The domain of `lu`, found once: the device of its backing file, or the
/// LU itself (memory backends, block devices without a file to share).
pub(crate) fn domain_of(lu: &LogicalUnit) -> &(DomainKey, Arc<Foreground>) {
    lu.io.copy_domain.get_or_init(|| {
        static NEXT_LU: AtomicU64 = AtomicU64::new(1);
        static DEVICES: Mutex<Vec<(u64, Weak<Foreground>)>> = Mutex::new(Vec::new());
        match lu.backing_device() {
            Some(dev) => {
                let mut all = DEVICES.lock().unwrap_or_else(|p| p.into_inner());
                all.retain(|(_, w)| w.strong_count() > 0);
                let fg = all
                    .iter()
                    .find(|(d, _)| *d == dev)
                    .and_then(|(_, w)| w.upgrade());
                let fg = fg.unwrap_or_else(|| {
                    let fg = Arc::new(Foreground::default());
                    all.push((dev, Arc::downgrade(&fg)));
                    fg
                });
                (DomainKey::Device(dev), fg)
            }
            None => (
                DomainKey::Lu(NEXT_LU.fetch_add(1, Ordering::Relaxed)),
                Arc::new(Foreground::default()),
            ),
        }
    })
}

impl CopyScheduler {
    pub fn new(cfg: SchedConfig) -> Self {
        Self {
            policy: Mutex::new(Policy::new(cfg)),
            wake: Notify::new(),
            admit_wake: Notify::new(),
            #[cfg(test)]
            admit_checks: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Policy> {
        self.policy.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn config(&self) -> SchedConfig {
        self.lock().config().clone()
    }

    /// Chunks granted since the start.
    pub fn grants(&self) -> u64 {
        self.lock().grants()
    }

    /// A new copy operation on `lu` (the receiving LU) for `initiator`:
    /// admitted or queued; refused with INSUFFICIENT RESOURCES (55h/03h)
    /// when the queue of waiting copies is full.
    pub fn enqueue(
        self: &Arc<Self>,
        lu: &LogicalUnit,
        initiator: &str,
        priority: u8,
    ) -> Result<CopyOp, ScsiError> {
        self.enqueue_for(lu.config.naa_id, &lu.config.serial, initiator, priority)
    }

    /// As [`CopyScheduler::enqueue`], for the LU with NAA id `lu_id` and
    /// serial `serial` (the `lu` label of the gauges).
    pub fn enqueue_for(
        self: &Arc<Self>,
        lu_id: u64,
        serial: &str,
        initiator: &str,
        priority: u8,
    ) -> Result<CopyOp, ScsiError> {
        let spec = OpSpec {
            lu: lu_id,
            initiator: initiator.to_string(),
            priority,
        };
        let result = self.lock().enqueue(spec, mono_ns());
        match result {
            Ok((id, _)) => {
                let op = CopyOp {
                    sched: self.clone(),
                    id,
                    lu: lu_id,
                    serial: serial.to_string(),
                };
                op.gauges();
                Ok(op)
            }
            Err(why) => {
                metrics::counter!("xtgt_copy_refusals_total", "reason" => why.label()).increment(1);
                tracing::warn!(
                    initiator,
                    lu = serial,
                    limit = why.label(),
                    "copy refused: too many copies waiting"
                );
                Err(ScsiError::InsufficientResources)
            }
        }
    }

    /// Run the policy until `ready` says so; between tries wait for a
    /// notification on `on` or, with `timed`, the policy's next wake-up
    /// time.
    async fn wait_until(&self, on: &Notify, timed: bool, mut ready: impl FnMut(&Policy) -> bool) {
        loop {
            let notified = on.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = mono_ns();
            let (done, wake, others) = {
                let mut p = self.lock();
                let granted = p.pump(now);
                let wake = if timed { p.next_wake(now) } else { None };
                (ready(&p), wake, !granted.is_empty())
            };
            if others {
                self.wake.notify_waiters();
            }
            if done {
                return;
            }
            match wake {
                Some(t) => {
                    let d = Duration::from_nanos(t.saturating_sub(now));
                    let _ = tokio::time::timeout(d, notified).await;
                }
                None => notified.await,
            }
        }
    }
}

/// One admitted (or waiting) copy operation; ends it when dropped.
pub struct CopyOp {
    sched: Arc<CopyScheduler>,
    id: policy::OpId,
    lu: u64,
    serial: String,
}

impl CopyOp {
    fn gauges(&self) {
        let (running, queued) = self.sched.lock().counts_for_lu(self.lu);
        metrics::gauge!("xtgt_copies_running", "lu" => self.serial.clone()).set(running as f64);
        metrics::gauge!("xtgt_copies_queued", "lu" => self.serial.clone()).set(queued as f64);
    }

    /// Wait until the operation may run (its turn within the limits).
    pub async fn admitted(&self) {
        let id = self.id;
        let s = &self.sched;
        s.wait_until(&s.admit_wake, false, |p| {
            #[cfg(test)]
            s.admit_checks.fetch_add(1, Ordering::Relaxed);
            p.is_running(id)
        })
        .await;
        self.gauges();
    }

    /// A grant for one chunk of at most `want` bytes between the LUs
    /// `lus` (source and destination); the chunk may be smaller (see
    /// [`ChunkGrant::bytes`]). Drop the grant when the chunk ends.
    pub async fn chunk(&self, lus: &[&LogicalUnit], want: u64, kind: ChunkKind) -> ChunkGrant {
        let asked = Instant::now();
        let now = mono_ns();
        let keys: Vec<DomainKey> = {
            let mut p = self.sched.lock();
            lus.iter()
                .map(|lu| {
                    let (key, fg) = domain_of(lu);
                    p.add_domain(*key, fg.clone(), now);
                    *key
                })
                .collect()
        };
        let req = self.sched.lock().request(self.id, &keys, want, kind, now);
        let mut grant = ChunkGrant {
            sched: self.sched.clone(),
            req,
            bytes: 0,
            busy: false,
        };
        let s = &self.sched;
        s.wait_until(&s.wake, true, |p| p.granted(req).is_some())
            .await;
        if let Some(g) = self.sched.lock().granted(req) {
            grant.bytes = g.bytes;
            grant.busy = g.busy;
        }
        metrics::counter!("xtgt_copy_grant_wait_microseconds_total")
            .increment(u64::try_from(asked.elapsed().as_micros()).unwrap_or(u64::MAX));
        grant
    }

    /// Bytes per emulated chunk in an idle domain (the engine's step).
    pub fn chunk_idle(&self) -> u64 {
        self.sched.lock().config().chunk_idle
    }
}

impl Drop for CopyOp {
    fn drop(&mut self) {
        self.sched.lock().finish(self.id, mono_ns());
        self.gauges();
        self.sched.wake.notify_waiters();
        self.sched.admit_wake.notify_waiters();
    }
}

/// The right to run one chunk of copy work; returned when dropped.
pub struct ChunkGrant {
    sched: Arc<CopyScheduler>,
    req: policy::ReqId,
    /// Bytes this chunk may move (at most what was asked, never 0).
    pub bytes: u64,
    /// Granted with foreground I/O present on a domain of the chunk.
    pub busy: bool,
}

impl Drop for ChunkGrant {
    fn drop(&mut self) {
        self.sched.lock().release(self.req, mono_ns());
        self.sched.wake.notify_waiters();
    }
}

/// Per-LU counters are kept by LU identity; a LU seen by several copy
/// managers (tests) shares its domain.
pub(crate) type LuDomain = (DomainKey, Arc<Foreground>);
