//! Sessions (RFC 7143 4.2.2, 6.3.5): the CmdSN window and the registry of
//! live sessions keyed by initiator name, ISID and target, with TSIH
//! allocation and session reinstatement. No I/O here.

use crate::pdu::CmdSn;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The minimum CmdSN window (commands in flight per session).
pub const MIN_QUEUE_DEPTH: u32 = 64;

/// What to do with a non-immediate command (RFC 7143 4.2.2.1, 3.2.2.1).
#[derive(Debug, PartialEq, Eq)]
pub enum Admit<T> {
    /// Deliver these, in CmdSN order (the command itself and any queued
    /// successors it unblocked).
    Deliver(Vec<T>),
    /// Inside the window but ahead of ExpCmdSN: held until the gap fills.
    Queued,
    /// Outside the window or a duplicate: silently ignored.
    Dropped,
}

/// The CmdSN window of one session. ExpCmdSN advances as commands are
/// delivered; MaxCmdSN closes as commands are in flight, so that at most
/// `depth` commands are outstanding.
#[derive(Debug)]
pub struct CmdWindow<T> {
    exp_cmdsn: CmdSn,
    depth: u32,
    in_flight: u32,
    /// Commands ahead of ExpCmdSN, keyed by CmdSN; `None` is an aborted
    /// command whose slot still advances ExpCmdSN when reached.
    pending: BTreeMap<u32, Option<T>>,
}

impl<T> CmdWindow<T> {
    pub fn new(exp_cmdsn: CmdSn, depth: u32) -> Self {
        Self {
            exp_cmdsn,
            depth: depth.max(1),
            in_flight: 0,
            pending: BTreeMap::new(),
        }
    }

    pub fn exp_cmdsn(&self) -> CmdSn {
        self.exp_cmdsn
    }

    /// MaxCmdSN = ExpCmdSN + free slots - 1 (ExpCmdSN - 1 closes the
    /// window, RFC 7143 4.2.2.1).
    pub fn max_cmdsn(&self) -> CmdSn {
        let used = self.in_flight.saturating_add(self.pending.len() as u32);
        self.exp_cmdsn
            .plus(self.depth.saturating_sub(used))
            .minus(1)
    }

    /// Whether another task may start without exceeding the depth (immediate
    /// commands bypass the window but not this bound).
    pub fn has_room(&self) -> bool {
        self.in_flight < self.depth
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// A delivered command became an in-flight task.
    pub fn task_started(&mut self) {
        self.in_flight = self.in_flight.saturating_add(1);
    }

    /// An in-flight task completed or was aborted.
    pub fn task_finished(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Abort queued (not yet delivered) commands matching `pred`: they will
    /// never be delivered, but their CmdSN still counts (RFC 7143 11.5.1:
    /// a task aborted before it arrives in order). Returns how many.
    pub fn cancel_pending(&mut self, pred: impl Fn(&T) -> bool) -> usize {
        let mut n = 0;
        for slot in self.pending.values_mut() {
            if slot.as_ref().is_some_and(&pred) {
                *slot = None;
                n += 1;
            }
        }
        n
    }

    /// Consider `cmdsn` received although no command carried it (RFC 7143
    /// 11.6.1, ABORT TASK b: a task aborted before it arrived). Its slot
    /// advances ExpCmdSN when reached, and a command arriving later with
    /// that CmdSN is dropped as a duplicate. Returns the queued commands this
    /// unblocks, in CmdSN order (empty unless `cmdsn` was ExpCmdSN). Outside
    /// the window, or already queued: nothing changes.
    pub fn consume(&mut self, cmdsn: CmdSn) -> Vec<T> {
        if !cmdsn.in_window(self.exp_cmdsn, self.max_cmdsn()) {
            return Vec::new();
        }
        if cmdsn != self.exp_cmdsn {
            self.pending.entry(cmdsn.0).or_insert(None);
            return Vec::new();
        }
        let mut out = Vec::new();
        self.exp_cmdsn = self.exp_cmdsn.next();
        while let Some(next) = self.pending.remove(&self.exp_cmdsn.0) {
            out.extend(next);
            self.exp_cmdsn = self.exp_cmdsn.next();
        }
        out
    }

    /// Admit a non-immediate command with `cmdsn`.
    pub fn admit(&mut self, cmdsn: CmdSn, item: T) -> Admit<T> {
        if !cmdsn.in_window(self.exp_cmdsn, self.max_cmdsn()) {
            // Beyond MaxCmdSN (the window may be closed) or already seen.
            return Admit::Dropped;
        }
        if cmdsn == self.exp_cmdsn {
            let mut out = vec![item];
            self.exp_cmdsn = self.exp_cmdsn.next();
            while let Some(next) = self.pending.remove(&self.exp_cmdsn.0) {
                out.extend(next);
                self.exp_cmdsn = self.exp_cmdsn.next();
            }
            return Admit::Deliver(out);
        }
        match self.pending.entry(cmdsn.0) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(Some(item));
                Admit::Queued
            }
            // A duplicate of a queued command.
            std::collections::btree_map::Entry::Occupied(_) => Admit::Dropped,
        }
    }
}

/// Identity of a session for reinstatement (RFC 7143 6.3.5): initiator
/// name, ISID and target (the target portal group is the same for all).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub initiator_name: String,
    pub isid: [u8; 6],
    /// Target IQN, or empty for discovery sessions.
    pub target: String,
    /// The portal (target portal group) the session came in on: a session
    /// is identified by ISID and TPGT (RFC 7143 4.4.1), so the same ISID
    /// through another portal is another session (another I_T nexus), not
    /// a reinstatement.
    pub portal: usize,
}

/// Tasks another session's task management function aborts in this one
/// (SAM-5 7.6 LOGICAL UNIT RESET, 7.5 CLEAR TASK SET, 7.9 target reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskAbort {
    /// The LUN whose task set is cleared; `None`: every LUN (target reset).
    pub lun: Option<u64>,
}

/// Handle on a live session, held by the registry.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    pub tsih: u16,
    pub key: SessionKey,
    /// Cancelled to make the session end (reinstatement, cold reset).
    pub stop: CancellationToken,
    /// Cancelled by the session itself once it has fully ended.
    pub done: CancellationToken,
    /// Task aborts caused by other sessions.
    pub aborts: mpsc::UnboundedSender<TaskAbort>,
}

/// A newly registered session.
#[derive(Debug)]
pub struct Registered {
    pub handle: SessionHandle,
    /// The session this one reinstates (same initiator, ISID, target): the
    /// caller stops it and waits for it to end.
    pub replaced: Option<SessionHandle>,
    /// Where the session receives [`TaskAbort`]s.
    pub aborts: mpsc::UnboundedReceiver<TaskAbort>,
}

#[derive(Default)]
struct Inner {
    by_tsih: HashMap<u16, SessionHandle>,
    by_key: HashMap<SessionKey, u16>,
    next_tsih: u16,
}

/// All live sessions of the server.
#[derive(Default)]
pub struct SessionRegistry {
    inner: Mutex<Inner>,
}

impl SessionRegistry {
    pub fn new() -> Self {
        let start = rand::random::<u16>();
        Self {
            inner: Mutex::new(Inner {
                next_tsih: start,
                ..Default::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Register a new session under `key` with a fresh non-zero TSIH. A
    /// session already registered under the same key is removed and
    /// returned: the caller stops it and waits for it (reinstatement).
    pub fn register(&self, key: SessionKey) -> Option<Registered> {
        let mut g = self.lock();
        let old = g.by_key.remove(&key).and_then(|t| g.by_tsih.remove(&t));
        if g.by_tsih.len() >= usize::from(u16::MAX) - 1 {
            return None;
        }
        let mut tsih = g.next_tsih;
        while tsih == 0 || g.by_tsih.contains_key(&tsih) {
            tsih = tsih.wrapping_add(1);
        }
        g.next_tsih = tsih.wrapping_add(1);
        let (tx, rx) = mpsc::unbounded_channel();
        let h = SessionHandle {
            tsih,
            key: key.clone(),
            stop: CancellationToken::new(),
            done: CancellationToken::new(),
            aborts: tx,
        };
        g.by_tsih.insert(tsih, h.clone());
        g.by_key.insert(key, tsih);
        Some(Registered {
            handle: h,
            replaced: old,
            aborts: rx,
        })
    }

    /// Tell every other session of `target` to abort tasks (a LUN or
    /// target reset issued through session `from`).
    pub fn abort_tasks(&self, target: &str, from: u16, abort: TaskAbort) {
        for h in self.lock().by_tsih.values() {
            if h.tsih != from && h.key.target == target {
                let _ = h.aborts.send(abort);
            }
        }
    }

    /// Look up a session by TSIH.
    pub fn get(&self, tsih: u16) -> Option<SessionHandle> {
        self.lock().by_tsih.get(&tsih).cloned()
    }

    /// Remove the session `tsih` if it is still registered (it may have been
    /// replaced by reinstatement).
    pub fn unregister(&self, tsih: u16) {
        let mut g = self.lock();
        if let Some(h) = g.by_tsih.remove(&tsih) {
            if g.by_key.get(&h.key) == Some(&tsih) {
                g.by_key.remove(&h.key);
            }
        }
    }

    /// Every live session of `target` (TARGET COLD RESET: SAM-5 7.9 resets
    /// one target, RFC 7143 11.5.1 drops that target's connections).
    pub fn of_target(&self, target: &str) -> Vec<SessionHandle> {
        self.lock()
            .by_tsih
            .values()
            .filter(|h| h.key.target == target)
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.lock().by_tsih.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn consumed_cmdsn_advances_and_drops_the_late_command() {
        // ExpCmdSN 2^32-1, so the window wraps through zero.
        let start = CmdSn(u32::MAX);
        let mut w: CmdWindow<u32> = CmdWindow::new(start, 8);
        // 0 and 1 arrive ahead of the hole at 2^32-1.
        assert_eq!(w.admit(CmdSn(0), 100), Admit::Queued);
        assert_eq!(w.admit(CmdSn(1), 101), Admit::Queued);
        // A later hole (CmdSN 3) consumed: reserved, nothing delivered.
        assert_eq!(w.consume(CmdSn(3)), Vec::<u32>::new());
        assert_eq!(w.exp_cmdsn(), start);
        assert_eq!(w.max_cmdsn(), start.plus(8 - 3).minus(1));
        // Consuming ExpCmdSN unblocks 0 and 1 and stops at the hole at 2.
        assert_eq!(w.consume(start), vec![100, 101]);
        assert_eq!(w.exp_cmdsn(), CmdSn(2));
        // The command for a consumed CmdSN arrives late: dropped.
        assert_eq!(w.admit(start, 99), Admit::Dropped);
        // 2 fills the hole and runs; 3 (consumed) is skipped over.
        assert_eq!(w.admit(CmdSn(2), 102), Admit::Deliver(vec![102]));
        assert_eq!(w.exp_cmdsn(), CmdSn(4));
        assert_eq!(w.admit(CmdSn(3), 103), Admit::Dropped);
        // Outside the window (before ExpCmdSN, beyond MaxCmdSN) or already
        // queued: no change.
        assert_eq!(w.admit(CmdSn(6), 106), Admit::Queued);
        let (exp, max) = (w.exp_cmdsn(), w.max_cmdsn());
        assert_eq!(w.consume(CmdSn(3)), Vec::<u32>::new());
        assert_eq!(w.consume(max.next()), Vec::<u32>::new());
        assert_eq!(w.consume(CmdSn(6)), Vec::<u32>::new());
        assert_eq!((w.exp_cmdsn(), w.max_cmdsn()), (exp, max));
        assert_eq!(w.admit(CmdSn(4), 104), Admit::Deliver(vec![104]));
        assert_eq!(w.admit(CmdSn(5), 105), Admit::Deliver(vec![105, 106]));
    }

    #[test]
    fn in_order_delivery_and_window_closing() {
        let mut w = CmdWindow::new(CmdSn(10), 4);
        assert_eq!(w.max_cmdsn(), CmdSn(13));
        assert_eq!(w.admit(CmdSn(10), 'a'), Admit::Deliver(vec!['a']));
        w.task_started();
        assert_eq!(w.exp_cmdsn(), CmdSn(11));
        assert_eq!(w.max_cmdsn(), CmdSn(13));
        assert_eq!(w.admit(CmdSn(12), 'c'), Admit::Queued);
        assert_eq!(w.admit(CmdSn(12), 'x'), Admit::Dropped); // duplicate
        assert_eq!(w.admit(CmdSn(14), 'z'), Admit::Dropped); // beyond MaxCmdSN
        assert_eq!(w.admit(CmdSn(9), 'y'), Admit::Dropped); // already seen
        assert_eq!(w.admit(CmdSn(11), 'b'), Admit::Deliver(vec!['b', 'c']));
        w.task_started();
        w.task_started();
        assert_eq!(w.exp_cmdsn(), CmdSn(13));
        assert_eq!(w.max_cmdsn(), CmdSn(13));
        w.task_started();
        // Four in flight: window closed (MaxCmdSN = ExpCmdSN - 1).
        assert_eq!(w.max_cmdsn(), CmdSn(12));
        assert_eq!(w.admit(CmdSn(14), 'q'), Admit::Dropped);
        // Even ExpCmdSN itself is refused while the window is closed.
        assert_eq!(w.admit(CmdSn(13), 'q'), Admit::Dropped);
        w.task_finished();
        assert_eq!(w.max_cmdsn(), CmdSn(13));
    }

    #[test]
    fn cancelled_pending_command_is_skipped_in_order() {
        let mut w = CmdWindow::new(CmdSn(1), 8);
        assert_eq!(w.admit(CmdSn(3), 'c'), Admit::Queued);
        assert_eq!(w.admit(CmdSn(2), 'b'), Admit::Queued);
        assert_eq!(w.cancel_pending(|&x| x == 'b'), 1);
        assert_eq!(w.admit(CmdSn(1), 'a'), Admit::Deliver(vec!['a', 'c']));
        assert_eq!(w.exp_cmdsn(), CmdSn(4));
    }

    #[test]
    fn window_wraps_around() {
        let mut w = CmdWindow::new(CmdSn(0xffff_fffe), 64);
        assert_eq!(w.max_cmdsn(), CmdSn(61));
        assert_eq!(w.admit(CmdSn(0), 2), Admit::Queued);
        assert_eq!(w.admit(CmdSn(0xffff_ffff), 1), Admit::Queued);
        assert_eq!(
            w.admit(CmdSn(0xffff_fffe), 0),
            Admit::Deliver(vec![0, 1, 2])
        );
        assert_eq!(w.exp_cmdsn(), CmdSn(1));
        assert_eq!(w.admit(CmdSn(0xffff_fff0), 9), Admit::Dropped);
        assert_eq!(w.admit(CmdSn(64), 9), Admit::Queued);
        assert_eq!(w.admit(CmdSn(65), 9), Admit::Dropped);
    }

    fn key(isid: u8) -> SessionKey {
        SessionKey {
            initiator_name: "iqn.i".into(),
            isid: [0x80, 0, 0, 0, 0, isid],
            target: "iqn.t".into(),
            portal: 0,
        }
    }

    #[test]
    fn tsih_unique_nonzero_and_reinstatement() {
        let r = SessionRegistry::new();
        let a = r.register(key(1)).unwrap();
        assert!(a.replaced.is_none());
        let mut a_aborts = a.aborts;
        let a = a.handle;
        assert_ne!(a.tsih, 0);
        let b = r.register(key(2)).unwrap();
        assert!(b.replaced.is_none());
        let mut b_aborts = b.aborts;
        let b = b.handle;
        assert_ne!(a.tsih, b.tsih);
        // A LUN reset through `a` reaches `b` only.
        r.abort_tasks("iqn.t", a.tsih, TaskAbort { lun: Some(3) });
        assert_eq!(b_aborts.try_recv(), Ok(TaskAbort { lun: Some(3) }));
        assert!(a_aborts.try_recv().is_err());
        // The same ISID through another portal is another session.
        let p = r
            .register(SessionKey {
                portal: 1,
                ..key(1)
            })
            .unwrap();
        assert!(p.replaced.is_none());
        r.unregister(p.handle.tsih);
        let c = r.register(key(1)).unwrap();
        assert_eq!(c.replaced.map(|o| o.tsih), Some(a.tsih));
        let c = c.handle;
        assert_eq!(r.len(), 2);
        // The replaced session unregistering does not remove its successor.
        r.unregister(a.tsih);
        assert_eq!(r.len(), 2);
        assert!(r.get(c.tsih).is_some());
        r.unregister(c.tsih);
        r.unregister(b.tsih);
        assert!(r.is_empty());
    }

    #[test]
    fn of_target_lists_only_that_targets_sessions() {
        let r = SessionRegistry::new();
        let a = r.register(key(1)).unwrap().handle;
        let other = SessionKey {
            target: "iqn.u".into(),
            ..key(1)
        };
        let b = r.register(other).unwrap().handle;
        let discovery = SessionKey {
            target: String::new(),
            ..key(2)
        };
        let d = r.register(discovery).unwrap().handle;
        let tsihs = |t: &str| -> Vec<u16> { r.of_target(t).iter().map(|h| h.tsih).collect() };
        assert_eq!(tsihs("iqn.t"), vec![a.tsih]);
        assert_eq!(tsihs("iqn.u"), vec![b.tsih]);
        assert_eq!(tsihs(""), vec![d.tsih]);
        assert!(tsihs("iqn.none").is_empty());
    }
}
