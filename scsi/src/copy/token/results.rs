//! Held results of POPULATE TOKEN and WRITE USING TOKEN, per (I_T nexus,
//! list id), for RECEIVE ROD TOKEN INFORMATION and RECEIVE COPY STATUS
//! (LID4). A result stays until its list id is reused on that nexus, the
//! retention time passes, or the nexus goes; reading it does not free it
//! (a lost RRTI response must not lose the token). A running operation
//! makes its list id busy (OPERATION IN PROGRESS).

use crate::copy::odx::{CopyOperationStatus, ROD_TOKEN_LEN};
use crate::sense::ScsiError;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Bytes done so far.
    pub progress: AtomicU64,
    /// Set by COPY OPERATION ABORT.
    pub abort: AtomicBool,
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
        self.progress.load(Ordering::Acquire) / u64::from(self.block_size.max(1))
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
#[derive(Debug)]
pub struct OdxResults {
    map: Mutex<HashMap<(u64, u32), Arc<OdxRecord>>>,
    retention: Duration,
    max: usize,
}

impl OdxResults {
    pub fn new(retention: Duration, max: usize) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
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
        let now = Instant::now();
        let mut map = lock(&self.map);
        map.retain(|_, r| !r.expired(now, self.retention));
        if map.get(&(nexus, list_id)).is_some_and(|r| r.running()) {
            return Err(ScsiError::OperationInProgress);
        }
        if !map.contains_key(&(nexus, list_id)) && map.len() >= self.max {
            let oldest = map
                .iter()
                .filter_map(|(k, r)| lock(&r.finished).map(|t| (t, *k)))
                .min()
                .map(|(_, k)| k);
            match oldest {
                Some(k) => {
                    map.remove(&k);
                }
                None => return Err(ScsiError::OperationInProgress),
            }
        }
        let r = Arc::new(OdxRecord {
            service_action,
            immed,
            block_size,
            lu,
            progress: AtomicU64::new(0),
            abort: AtomicBool::new(false),
            outcome: Mutex::new(Outcome::Running),
            finished: Mutex::new(None),
        });
        map.insert((nexus, list_id), r.clone());
        Ok(r)
    }

    /// Whether an operation runs on (nexus, list id).
    pub fn busy(&self, nexus: u64, list_id: u32) -> bool {
        self.get(nexus, list_id).is_some_and(|r| r.running())
    }

    pub fn get(&self, nexus: u64, list_id: u32) -> Option<Arc<OdxRecord>> {
        let now = Instant::now();
        let mut map = lock(&self.map);
        map.retain(|_, r| !r.expired(now, self.retention));
        map.get(&(nexus, list_id)).cloned()
    }

    /// The nexus is gone: its finished results go; its running operations
    /// (IMMED copies) are told to stop at their next step, finish as
    /// terminated with the blocks done, then age out.
    pub fn nexus_lost(&self, nexus: u64) {
        lock(&self.map).retain(|(n, _), r| {
            if *n != nexus {
                return true;
            }
            if r.running() {
                r.abort.store(true, Ordering::Release);
            }
            r.running()
        });
    }

    /// The LU `lu` (NAA id) was reset: its running operations stop at
    /// their next step and finish terminated with the blocks done.
    pub fn abort_lu(&self, lu: u64) {
        for r in lock(&self.map).values() {
            if r.lu == lu && r.running() {
                r.abort.store(true, Ordering::Release);
            }
        }
    }

    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
