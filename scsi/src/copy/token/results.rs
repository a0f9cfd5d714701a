//! Held results of POPULATE TOKEN and WRITE USING TOKEN, per (I_T nexus,
//! list id), for RECEIVE ROD TOKEN INFORMATION and RECEIVE COPY STATUS
//! (LID4). A result stays until its list id is reused on that nexus, the
//! retention time passes, or the nexus goes; reading it does not free it
//! (a lost RRTI response must not lose the token). A running operation
//! makes its list id busy (OPERATION IN PROGRESS).

use crate::copy::engine::CopyProgress;
use crate::copy::odx::{CopyOperationStatus, ROD_TOKEN_LEN};
use crate::sense::ScsiError;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Running,
    Done {
        status: CopyOperationStatus,
        /// SAM status the command ended (or would have ended) with.
        completion_status: u8,
        /// Its sense data (empty with GOOD), in the LU's format.
        sense: Bytes,
        /// Blocks: represented (POPULATE TOKEN) or written (WRITE USING
        /// TOKEN).
        transfer_count: u64,
        /// The token a POPULATE TOKEN created.
        token: Option<Box<[u8; ROD_TOKEN_LEN]>>,
    },
}

/// One operation's record.
#[derive(Debug)]
pub struct OdxRecord {
    /// 0x10 POPULATE TOKEN, 0x11 WRITE USING TOKEN.
    pub service_action: u8,
    /// Runs in the background (IMMED=1).
    pub immed: bool,
    /// Destination block length (transfer counts of a running copy).
    pub block_size: u32,
    /// NAA id of the LU that received the command (a LUN reset stops it).
    pub lu: u64,
    /// Bytes done so far, and the stop flag (shared with the copy's
    /// entry in the copy control registry).
    pub progress: Arc<CopyProgress>,
    outcome: Mutex<Outcome>,
    finished: Mutex<Option<Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl OdxRecord {
    pub fn outcome(&self) -> Outcome {
        lock(&self.outcome).clone()
    }

    pub fn running(&self) -> bool {
        *lock(&self.outcome) == Outcome::Running
    }

    /// Record the end (once; later calls are ignored).
    pub fn finish(&self, outcome: Outcome) {
        let mut o = lock(&self.outcome);
        if *o == Outcome::Running {
            *o = outcome;
            *lock(&self.finished) = Some(Instant::now());
        }
    }

    fn expired(&self, now: Instant, retention: Duration) -> bool {
        lock(&self.finished).is_some_and(|t| now.saturating_duration_since(t) >= retention)
    }

    /// Blocks done so far.
    pub fn blocks_done(&self) -> u64 {
        self.progress.bytes_transferred() / u64::from(self.block_size.max(1))
    }
}

/// Ends a record whose command's future is dropped before it finished
/// (task abort, connection loss): terminated (60h) with the blocks done,
/// so its list id does not stay busy. Finishing first makes it a no-op.
pub struct EndGuard(pub Arc<OdxRecord>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        if self.0.running() {
            tracing::info!("ODX token command dropped before completion");
        }
        self.0.finish(Outcome::Done {
            status: CopyOperationStatus::Terminated,
            completion_status: 0x40,
            sense: Bytes::new(),
            transfer_count: self.0.blocks_done(),
            token: None,
        });
    }
}

/// The held results of one copy manager.
///
/// Commands look their own (nexus, list id) up in a hash map; nothing on
/// the command path walks all held results. Retention is enforced on
/// access (an expired record is never returned) and by a sweep that runs
/// at most once per [`SWEEP_INTERVAL`]; when the map is full, the oldest
/// finished record goes, found from the front of the begin-order queue.
#[derive(Debug)]
pub struct OdxResults {
    inner: Mutex<Held>,
    retention: Duration,
    max: usize,
}

/// How often a command may pay for a walk over all held results.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

type Key = (u64, u32);

#[derive(Debug)]
struct Held {
    /// Each record with the sequence number of its `begin`.
    map: HashMap<Key, (u64, Arc<OdxRecord>)>,
    /// Keys in begin order; an entry whose sequence number no longer
    /// matches the map's is stale (superseded or removed) and skipped.
    order: VecDeque<(Key, u64)>,
    next_seq: u64,
    last_sweep: Option<Instant>,
}

impl Held {
    fn sweep_if_due(&mut self, now: Instant, retention: Duration) {
        if self
            .last_sweep
            .is_some_and(|t| now.saturating_duration_since(t) < SWEEP_INTERVAL)
        {
            return;
        }
        self.last_sweep = Some(now);
        self.map.retain(|_, (_, r)| !r.expired(now, retention));
        let map = &self.map;
        self.order
            .retain(|(k, seq)| map.get(k).is_some_and(|(s, _)| s == seq));
    }

    fn current(&self, key: &Key, seq: u64) -> bool {
        self.map.get(key).is_some_and(|(s, _)| *s == seq)
    }

    /// Remove the finished record that began first; false if every held
    /// record is still running.
    fn evict_oldest_finished(&mut self) -> bool {
        while let Some(&(k, seq)) = self.order.front() {
            if self.current(&k, seq) {
                break;
            }
            self.order.pop_front();
        }
        let found = self.order.iter().position(|(k, seq)| {
            self.map
                .get(k)
                .is_some_and(|(s, r)| s == seq && !r.running())
        });
        match found.and_then(|i| self.order.remove(i)) {
            Some((k, _)) => {
                self.map.remove(&k);
                true
            }
            None => false,
        }
    }
}

impl OdxResults {
    pub fn new(retention: Duration, max: usize) -> Self {
        Self {
            inner: Mutex::new(Held {
                map: HashMap::new(),
                order: VecDeque::new(),
                next_seq: 0,
                last_sweep: None,
            }),
            retention,
            max: max.max(1),
        }
    }

    /// Start an operation on (nexus, list id): OPERATION IN PROGRESS while
    /// one runs there; a finished one is superseded.
    pub fn begin(
        &self,
        nexus: u64,
        list_id: u32,
        service_action: u8,
        immed: bool,
        block_size: u32,
        lu: u64,
    ) -> Result<Arc<OdxRecord>, ScsiError> {
        let progress = Arc::default();
        self.begin_with(
            nexus,
            list_id,
            service_action,
            immed,
            block_size,
            lu,
            progress,
        )
    }

    /// As [`Self::begin`], with the progress of the copy's registry entry.
    #[allow(clippy::too_many_arguments)]
    pub fn begin_with(
        &self,
        nexus: u64,
        list_id: u32,
        service_action: u8,
        immed: bool,
        block_size: u32,
        lu: u64,
        progress: Arc<CopyProgress>,
    ) -> Result<Arc<OdxRecord>, ScsiError> {
        let now = Instant::now();
        let key = (nexus, list_id);
        let mut held = lock(&self.inner);
        held.sweep_if_due(now, self.retention);
        if let Some((_, r)) = held.map.get(&key) {
            if r.running() {
                return Err(ScsiError::OperationInProgress);
            }
        } else if held.map.len() >= self.max && !held.evict_oldest_finished() {
            return Err(ScsiError::OperationInProgress);
        }
        let r = Arc::new(OdxRecord {
            service_action,
            immed,
            block_size,
            lu,
            progress,
            outcome: Mutex::new(Outcome::Running),
            finished: Mutex::new(None),
        });
        let seq = held.next_seq;
        held.next_seq += 1;
        held.map.insert(key, (seq, r.clone()));
        held.order.push_back((key, seq));
        Ok(r)
    }

    /// Whether an operation runs on (nexus, list id).
    pub fn busy(&self, nexus: u64, list_id: u32) -> bool {
        self.get(nexus, list_id).is_some_and(|r| r.running())
    }

    pub fn get(&self, nexus: u64, list_id: u32) -> Option<Arc<OdxRecord>> {
        let now = Instant::now();
        let key = (nexus, list_id);
        let mut held = lock(&self.inner);
        held.sweep_if_due(now, self.retention);
        let (_, r) = held.map.get(&key)?;
        if r.expired(now, self.retention) {
            held.map.remove(&key);
            return None;
        }
        Some(r.clone())
    }

    /// The nexus is gone: its results go, also those of background
    /// (IMMED) copies that go on running (SPC-5 table 109: I_T nexus loss
    /// does not stop a copy operation; 5.17.4.5: its held data is
    /// discarded). Such a copy finishes its own record, held nowhere.
    pub fn nexus_lost(&self, nexus: u64) {
        // Their entries in `order` are stale now, skipped and swept.
        lock(&self.inner).map.retain(|(n, _), _| *n != nexus);
    }

    pub fn len(&self) -> usize {
        lock(&self.inner).map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn done(r: &OdxRecord) {
        r.finish(Outcome::Done {
            status: CopyOperationStatus::CompletedWithoutErrors,
            completion_status: 0,
            sense: Bytes::new(),
            transfer_count: 0,
            token: None,
        });
    }

    #[test]
    fn full_store_evicts_the_oldest_finished_and_refuses_when_all_run() {
        let held = OdxResults::new(Duration::from_secs(300), 2);
        let a = held.begin(1, 1, 0x10, false, 512, 0).unwrap();
        let b = held.begin(1, 2, 0x10, false, 512, 0).unwrap();
        // Both running: no room for a third.
        assert!(matches!(
            held.begin(1, 3, 0x10, false, 512, 0),
            Err(ScsiError::OperationInProgress)
        ));
        done(&b);
        done(&a);
        // a began first: it goes, b stays.
        held.begin(1, 3, 0x10, false, 512, 0).unwrap();
        assert!(held.get(1, 1).is_none());
        assert!(Arc::ptr_eq(&held.get(1, 2).unwrap(), &b));
        assert_eq!(held.len(), 2);
        // Superseding a finished id keeps one record for it.
        held.begin(1, 2, 0x11, false, 512, 0).unwrap();
        assert_eq!(held.get(1, 2).unwrap().service_action, 0x11);
        assert_eq!(held.len(), 2);
    }

    #[test]
    fn expired_results_are_never_returned() {
        let held = OdxResults::new(Duration::ZERO, 8);
        let a = held.begin(7, 1, 0x10, false, 512, 0).unwrap();
        assert!(held.get(7, 1).is_some(), "running records do not expire");
        done(&a);
        assert!(held.get(7, 1).is_none());
    }
}
