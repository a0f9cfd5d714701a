//! Unit attention conditions, per logical unit and I_T nexus (SAM-5 5.14,
//! SPC-5 5.14).
//!
//! Each logical unit keeps one queue per registered I_T nexus. A queue holds
//! at most [`MAX_PENDING`] conditions (the peer cannot grow it: conditions
//! are established by the device server, and duplicates are merged). A
//! POWER ON, RESET, OR BUS DEVICE RESET class condition (ASC 29h) replaces
//! every other 29h condition and is reported first.

use crate::sense::ScsiError;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// Upper bound of queued unit attentions per I_T nexus and logical unit.
pub const MAX_PENDING: usize = 8;

/// The unit attention queues of one logical unit.
#[derive(Default)]
pub struct UaTable {
    queues: Mutex<HashMap<u64, VecDeque<ScsiError>>>,
}

/// Locks a std mutex, ignoring poisoning (state stays consistent because no
/// code panics while holding these locks).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn is_reset_class(ua: &ScsiError) -> bool {
    ua.code().1 == 0x29
}

fn push(q: &mut VecDeque<ScsiError>, ua: ScsiError) {
    if is_reset_class(&ua) {
        q.retain(|u| !is_reset_class(u));
        q.push_front(ua);
    } else if !q.contains(&ua) {
        q.push_back(ua);
    }
    while q.len() > MAX_PENDING {
        q.pop_back();
    }
}

impl UaTable {
    /// A new I_T nexus can access this LU: it starts with POWER ON, RESET,
    /// OR BUS DEVICE RESET OCCURRED (SAM-5 6.3.2: I_T nexus establishment
    /// after a power on counts as a power on for that nexus).
    pub fn register(&self, nexus: u64) {
        let mut q = VecDeque::new();
        q.push_back(ScsiError::PowerOnReset);
        lock(&self.queues).insert(nexus, q);
    }

    /// The I_T nexus is gone: forget its conditions.
    pub fn unregister(&self, nexus: u64) {
        lock(&self.queues).remove(&nexus);
    }

    /// Establishes a condition for one registered nexus.
    pub fn establish(&self, nexus: u64, ua: ScsiError) {
        if let Some(q) = lock(&self.queues).get_mut(&nexus) {
            push(q, ua);
        }
    }

    /// Establishes a condition for every registered nexus except `except`.
    pub fn establish_all(&self, ua: &ScsiError, except: Option<u64>) {
        for (id, q) in lock(&self.queues).iter_mut() {
            if Some(*id) != except {
                push(q, ua.clone());
            }
        }
    }

    /// Takes the condition to report next for `nexus`, if any.
    pub fn take(&self, nexus: u64) -> Option<ScsiError> {
        lock(&self.queues).get_mut(&nexus)?.pop_front()
    }

    /// True when `nexus` has a pending condition.
    pub fn pending(&self, nexus: u64) -> bool {
        lock(&self.queues)
            .get(&nexus)
            .is_some_and(|q| !q.is_empty())
    }

    /// Clears one kind of condition for `nexus` (REPORT LUNS clears REPORTED
    /// LUNS DATA HAS CHANGED, SPC-5 6.33).
    pub fn clear(&self, nexus: u64, ua: &ScsiError) {
        if let Some(q) = lock(&self.queues).get_mut(&nexus) {
            q.retain(|u| u != ua);
        }
    }

    /// The registered nexuses (for tests and diagnostics).
    pub fn nexuses(&self) -> Vec<u64> {
        let mut v: Vec<u64> = lock(&self.queues).keys().copied().collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_class_goes_first_and_replaces() {
        let t = UaTable::default();
        t.register(1);
        t.establish(1, ScsiError::ModeParametersChanged);
        t.establish(1, ScsiError::ModeParametersChanged);
        t.establish(1, ScsiError::BusDeviceResetOccurred);
        t.establish(1, ScsiError::CapacityDataChanged);
        assert_eq!(t.take(1), Some(ScsiError::BusDeviceResetOccurred));
        assert_eq!(t.take(1), Some(ScsiError::ModeParametersChanged));
        assert_eq!(t.take(1), Some(ScsiError::CapacityDataChanged));
        assert_eq!(t.take(1), None);
        assert_eq!(t.take(2), None);
    }

    #[test]
    fn establish_all_skips_originator_and_unregistered() {
        let t = UaTable::default();
        t.register(1);
        t.register(2);
        while t.take(1).is_some() {}
        while t.take(2).is_some() {}
        t.establish_all(&ScsiError::ModeParametersChanged, Some(1));
        assert!(!t.pending(1));
        assert_eq!(t.take(2), Some(ScsiError::ModeParametersChanged));
        t.unregister(2);
        t.establish(2, ScsiError::CapacityDataChanged);
        assert!(!t.pending(2));
        assert_eq!(t.nexuses(), vec![1]);
    }

    #[test]
    fn queue_is_bounded() {
        let t = UaTable::default();
        t.register(1);
        for e in [
            ScsiError::ModeParametersChanged,
            ScsiError::CapacityDataChanged,
            ScsiError::ReportedLunsDataChanged,
            ScsiError::CommandsClearedByAnotherInitiator,
        ] {
            t.establish(1, e);
        }
        let mut n = 0;
        while t.take(1).is_some() {
            n += 1;
        }
        assert!(n <= MAX_PENDING);
        assert_eq!(n, 5);
    }
}
