//! The copy control registry: every running copy operation of the copy
//! manager (EXTENDED COPY (LID1), POPULATE TOKEN, WRITE USING TOKEN),
//! foreground or background, keyed by (I_T nexus, list identifier).
//!
//! An entry carries what the copy's work checks between chunks (the stop
//! flag and progress of [`CopyProgress`]), why it was asked to stop, the
//! LUs it touches, the task tag of the command that originated it and
//! whether it runs in the background (IMMED=1). It exists from the moment
//! the copy is accepted until its work has ended (the [`Registration`] is
//! dropped), so:
//! - a list identifier is busy for every kind of copy while one runs on
//!   that nexus (SPC-5 5.17.4.2: ILLEGAL REQUEST, OPERATION IN PROGRESS);
//!   LID1 and LID4 identifiers are one 32-bit space;
//! - COPY OPERATION ABORT, ABORT TASK, a LUN or target reset, the loss of
//!   an I_T nexus and shutdown find the copies they stop here, and can
//!   wait until their work has stopped (SPC-5 5.17.4.6, 5.17.4.7): a copy
//!   stops at a chunk boundary, never mid-chunk;
//! - `xtgt_copies_in_flight{kind}` counts the entries.

use super::engine::CopyProgress;
use crate::sense::ScsiError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// The kind of copy operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CopyKind {
    ExtendedCopy,
    PopulateToken,
    WriteUsingToken,
}

impl CopyKind {
    /// The `kind` label of `xtgt_copies_in_flight`.
    pub fn label(self) -> &'static str {
        match self {
            CopyKind::ExtendedCopy => "extended_copy",
            CopyKind::PopulateToken => "populate_token",
            CopyKind::WriteUsingToken => "write_using_token",
        }
    }
}

/// Why a copy was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopCause {
    /// COPY OPERATION ABORT (SPC-5 6.3).
    CopyOperationAbort,
    /// The originating command was aborted (ABORT TASK, ABORT TASK SET,
    /// CLEAR TASK SET, I_T nexus loss): no status is sent for it.
    TaskAbort,
    /// Logical unit reset, target reset: as if COPY OPERATION ABORT
    /// (SPC-5 table 109).
    Reset,
    /// The process is shutting down.
    Shutdown,
}

/// What a new copy operation is.
#[derive(Debug, Clone)]
pub struct NewCopy {
    pub kind: CopyKind,
    pub nexus: u64,
    /// `None`: an EXTENDED COPY with LIST ID USAGE 11b (no list id).
    pub list_id: Option<u32>,
    /// The originating command's task tag (the iSCSI ITT).
    pub tag: u32,
    /// NAA ids of the LUs it reads or writes (the receiving LU first).
    pub lus: Vec<u64>,
    /// Runs in the background (IMMED=1).
    pub immed: bool,
}

/// One running copy operation.
#[derive(Debug)]
pub struct CopyEntry {
    pub copy: NewCopy,
    /// Stop flag, segments and bytes done.
    pub progress: Arc<CopyProgress>,
    cause: Mutex<Option<StopCause>>,
    stop_tx: watch::Sender<bool>,
    ended_tx: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl CopyEntry {
    /// Ask the copy to stop at its next chunk boundary; the first cause
    /// given is the one that counts.
    pub fn stop(&self, cause: StopCause) {
        {
            let mut c = lock(&self.cause);
            if c.is_none() {
                *c = Some(cause);
            }
        }
        self.progress.cancel();
        self.stop_tx.send_replace(true);
    }

    /// Why it was asked to stop, if it was.
    pub fn cause(&self) -> Option<StopCause> {
        *lock(&self.cause)
    }

    /// Resolves once a stop was asked for (e.g. to stop waiting for a
    /// copy slot).
    pub async fn stop_requested(&self) {
        let mut rx = self.stop_tx.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Resolves once the copy's work has ended (its registration dropped).
    pub async fn ended(&self) {
        let mut rx = self.ended_tx.subscribe();
        let _ = rx.wait_for(|e| *e).await;
    }

    pub fn has_ended(&self) -> bool {
        *self.ended_tx.borrow()
    }

    /// The error a copy stopped at a chunk boundary answers with, per
    /// cause, from the engine's [`ScsiError::CopyCleared`] (`e`): the
    /// aborted command's own answer is never sent for [`StopCause::TaskAbort`].
    pub fn stopped_error(&self, e: ScsiError) -> ScsiError {
        match self.cause() {
            Some(StopCause::TaskAbort) => ScsiError::Aborted,
            _ => e,
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    by_id: HashMap<u64, Arc<CopyEntry>>,
    by_list: HashMap<(u64, u32), u64>,
}

/// The registry of one copy manager.
#[derive(Debug, Default)]
pub struct CopyControl {
    inner: Mutex<Inner>,
}

/// A registered copy: dropping it ends the entry (after the copy's work
/// has ended, also when its future is dropped), frees its list id, counts
/// it out of `xtgt_copies_in_flight` and wakes whoever waits for it.
#[derive(Debug)]
pub struct Registration {
    control: Arc<CopyControl>,
    id: u64,
    pub entry: Arc<CopyEntry>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        {
            let mut inner = lock(&self.control.inner);
            inner.by_id.remove(&self.id);
            if let Some(l) = self.entry.copy.list_id {
                let key = (self.entry.copy.nexus, l);
                if inner.by_list.get(&key) == Some(&self.id) {
                    inner.by_list.remove(&key);
                }
            }
        }
        metrics::gauge!("xtgt_copies_in_flight", "kind" => self.entry.copy.kind.label())
            .decrement(1.0);
        self.entry.ended_tx.send_replace(true);
    }
}

impl CopyControl {
    /// Register a copy about to run: OPERATION IN PROGRESS when a copy of
    /// any kind with that list id runs on that nexus.
    pub fn register(self: &Arc<Self>, copy: NewCopy) -> Result<Registration, ScsiError> {
        self.register_with(copy, Arc::new(CopyProgress::default()))
    }

    /// As [`Self::register`], with the progress the copy's record shares.
    pub fn register_with(
        self: &Arc<Self>,
        copy: NewCopy,
        progress: Arc<CopyProgress>,
    ) -> Result<Registration, ScsiError> {
        let mut inner = lock(&self.inner);
        if let Some(l) = copy.list_id {
            if inner.by_list.contains_key(&(copy.nexus, l)) {
                return Err(ScsiError::OperationInProgress);
            }
        }
        let id = inner.next;
        inner.next += 1;
        let kind = copy.kind;
        let list = copy.list_id.map(|l| (copy.nexus, l));
        let entry = Arc::new(CopyEntry {
            copy,
            progress,
            cause: Mutex::new(None),
            stop_tx: watch::Sender::new(false),
            ended_tx: watch::Sender::new(false),
        });
        inner.by_id.insert(id, entry.clone());
        if let Some(key) = list {
            inner.by_list.insert(key, id);
        }
        drop(inner);
        metrics::gauge!("xtgt_copies_in_flight", "kind" => kind.label()).increment(1.0);
        Ok(Registration {
            control: self.clone(),
            id,
            entry,
        })
    }

    /// Whether a copy with this list id runs on the nexus.
    pub fn busy(&self, nexus: u64, list_id: u32) -> bool {
        lock(&self.inner).by_list.contains_key(&(nexus, list_id))
    }

    /// The running copy with this list id on the nexus.
    pub fn find(&self, nexus: u64, list_id: u32) -> Option<Arc<CopyEntry>> {
        let inner = lock(&self.inner);
        let id = inner.by_list.get(&(nexus, list_id))?;
        inner.by_id.get(id).cloned()
    }

    /// Copies running now.
    pub fn len(&self) -> usize {
        lock(&self.inner).by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ask every copy matching `pred` to stop for `cause`; returns them.
    pub fn stop_where(
        &self,
        cause: StopCause,
        pred: impl Fn(&NewCopy) -> bool,
    ) -> Vec<Arc<CopyEntry>> {
        let hit: Vec<Arc<CopyEntry>> = lock(&self.inner)
            .by_id
            .values()
            .filter(|e| pred(&e.copy))
            .cloned()
            .collect();
        for e in &hit {
            e.stop(cause);
        }
        if !hit.is_empty() {
            tracing::info!(copies = hit.len(), cause = ?cause, "copy operations asked to stop");
        }
        hit
    }

    /// The foreground copies of the command with task tag `tag` on the
    /// nexus (ABORT TASK).
    pub fn stop_task(&self, nexus: u64, tag: u32) -> Vec<Arc<CopyEntry>> {
        self.stop_where(StopCause::TaskAbort, |c| {
            c.nexus == nexus && c.tag == tag && !c.immed
        })
    }

    /// Every copy that reads or writes the LU (NAA id) `lu`.
    pub fn stop_lu(&self, lu: u64, cause: StopCause) -> Vec<Arc<CopyEntry>> {
        self.stop_where(cause, |c| c.lus.contains(&lu))
    }

    /// Every copy (shutdown).
    pub fn stop_all(&self, cause: StopCause) -> Vec<Arc<CopyEntry>> {
        self.stop_where(cause, |_| true)
    }

    /// Wait until the work of every entry of `entries` has ended, at most
    /// `limit`; false if some still run then.
    pub async fn wait(entries: &[Arc<CopyEntry>], limit: Duration) -> bool {
        let all = async {
            for e in entries {
                e.ended().await;
            }
        };
        let done = tokio::time::timeout(limit, all).await.is_ok();
        if !done {
            tracing::warn!(
                running = entries.iter().filter(|e| !e.has_ended()).count(),
                "copy operations did not stop in time"
            );
        }
        done
    }

    /// Wait until no copy runs, at most `limit`; false if some still do.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let entries: Vec<Arc<CopyEntry>> = lock(&self.inner).by_id.values().cloned().collect();
        Self::wait(&entries, limit).await
    }
}

/// How long task management and COPY OPERATION ABORT wait for a copy to
/// reach its next chunk boundary (a chunk is bounded: a hung backend must
/// not hang the session forever).
pub const STOP_WAIT: Duration = Duration::from_secs(30);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn new(kind: CopyKind, nexus: u64, list_id: Option<u32>) -> NewCopy {
        NewCopy {
            kind,
            nexus,
            list_id,
            tag: 9,
            lus: vec![1, 2],
            immed: false,
        }
    }

    const KINDS: [CopyKind; 3] = [
        CopyKind::ExtendedCopy,
        CopyKind::PopulateToken,
        CopyKind::WriteUsingToken,
    ];

    /// Every (running kind, new kind) pair: the same list id on the same
    /// nexus is OPERATION IN PROGRESS; another nexus or list id is not;
    /// once the first ended, the id is free.
    #[test]
    fn list_id_busy_across_kinds() {
        let c = Arc::new(CopyControl::default());
        for running in KINDS {
            for next in KINDS {
                let r = c.register(new(running, 1, Some(0xFD))).unwrap();
                assert_eq!(
                    c.register(new(next, 1, Some(0xFD))).unwrap_err(),
                    ScsiError::OperationInProgress,
                    "{running:?} then {next:?}"
                );
                drop(c.register(new(next, 2, Some(0xFD))).unwrap());
                drop(c.register(new(next, 1, Some(0xFE))).unwrap());
                drop(r);
                drop(c.register(new(next, 1, Some(0xFD))).unwrap());
            }
        }
        assert!(c.is_empty());
    }

    #[test]
    fn copies_without_list_id_never_collide() {
        let c = Arc::new(CopyControl::default());
        let a = c.register(new(CopyKind::ExtendedCopy, 1, None)).unwrap();
        let b = c.register(new(CopyKind::ExtendedCopy, 1, None)).unwrap();
        assert_eq!(c.len(), 2);
        drop((a, b));
        assert!(c.is_empty());
    }

    #[tokio::test]
    async fn stops_by_task_lu_and_all_and_waits_for_the_end() {
        let c = Arc::new(CopyControl::default());
        let fg = c.register(new(CopyKind::ExtendedCopy, 1, Some(1))).unwrap();
        let mut bg = new(CopyKind::WriteUsingToken, 1, Some(2));
        bg.immed = true;
        bg.lus = vec![3];
        let bg = c.register(bg).unwrap();
        // ABORT TASK reaches the foreground copy of that tag only.
        assert!(c.stop_task(1, 8).is_empty());
        let hit = c.stop_task(1, 9);
        assert_eq!(hit.len(), 1);
        assert!(fg.entry.progress.cancelled());
        assert_eq!(fg.entry.cause(), Some(StopCause::TaskAbort));
        assert!(!bg.entry.progress.cancelled());
        // A later cause does not replace the first.
        fg.entry.stop(StopCause::Reset);
        assert_eq!(fg.entry.cause(), Some(StopCause::TaskAbort));
        assert!(!CopyControl::wait(&hit, Duration::from_millis(10)).await);
        drop(fg);
        assert!(CopyControl::wait(&hit, Duration::from_millis(10)).await);
        // A reset of LU 3 stops the background copy.
        let hit = c.stop_lu(3, StopCause::Reset);
        assert_eq!(hit.len(), 1);
        assert_eq!(bg.entry.cause(), Some(StopCause::Reset));
        tokio::time::timeout(Duration::from_millis(100), bg.entry.stop_requested())
            .await
            .unwrap();
        drop(bg);
        assert!(c.wait_idle(Duration::from_millis(10)).await);
        assert!(c.stop_all(StopCause::Shutdown).is_empty());
    }
}
