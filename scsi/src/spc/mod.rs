//! Primary commands (SPC-5): INQUIRY and VPD pages, REPORT LUNS, REQUEST
//! SENSE, MODE SENSE/SELECT, REPORT SUPPORTED OPERATION CODES, TEST UNIT
//! READY, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL.

pub mod inquiry;
pub mod mode;
pub mod report_luns;
pub mod request_sense;
pub mod rsoc;
pub mod unit;
pub mod vpd;

#[cfg(test)]
mod tests;

use crate::device::ua::{lock, UaTable};
use crate::sense::ScsiError;
use bytes::Bytes;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Per-LU state of the primary command set.
#[derive(Default)]
pub struct SpcState {
    /// Unit attention conditions per I_T nexus (SAM-5 5.14).
    pub ua: UaTable,
    /// Current values of the changeable mode parameters.
    mode: Mutex<mode::ModeState>,
    /// I_T nexuses that hold a PREVENT (SPC-5 6.16).
    prevent: Mutex<HashSet<u64>>,
    /// The removable medium was ejected (START STOP UNIT LOEJ=1 START=0).
    ejected: AtomicBool,
}

impl SpcState {
    /// WCE of the Caching mode page.
    pub fn write_cache_enabled(&self) -> bool {
        lock(&self.mode).wce
    }

    /// D_SENSE of the Control mode page (SPC-5 7.5.8): sense data of
    /// CHECK CONDITION is returned in descriptor format.
    pub fn descriptor_sense(&self) -> bool {
        lock(&self.mode).d_sense
    }

    pub(crate) fn mode(&self) -> mode::ModeState {
        *lock(&self.mode)
    }

    /// Replaces the mode state; returns true when it changed.
    pub(crate) fn set_mode(&self, new: mode::ModeState) -> bool {
        let mut m = lock(&self.mode);
        let changed = *m != new;
        *m = new;
        changed
    }

    pub(crate) fn register_nexus(&self, nexus: u64) {
        self.ua.register(nexus);
    }

    pub(crate) fn unregister_nexus(&self, nexus: u64) {
        self.ua.unregister(nexus);
        lock(&self.prevent).remove(&nexus);
    }

    /// A reset of this LU (SAM-5 6.3): `ua` for every I_T nexus, medium
    /// removal allowed again, mode parameters back to their defaults (no
    /// parameters are saved).
    pub(crate) fn reset(&self, ua: &ScsiError) {
        self.ua.establish_all(ua, None);
        lock(&self.prevent).clear();
        *lock(&self.mode) = mode::ModeState::default();
    }

    /// Records PREVENT (true) or ALLOW (false) for one I_T nexus.
    pub(crate) fn set_prevent(&self, nexus: u64, prevent: bool) {
        let mut p = lock(&self.prevent);
        if prevent {
            p.insert(nexus);
        } else {
            p.remove(&nexus);
        }
    }

    /// True after an eject until the next load (SBC-4 5.25).
    pub fn medium_ejected(&self) -> bool {
        self.ejected.load(Ordering::Acquire)
    }

    /// Records an eject (true) or a load (false) of the medium.
    pub(crate) fn set_medium_ejected(&self, ejected: bool) {
        self.ejected.store(ejected, Ordering::Release);
    }

    /// True when any I_T nexus holds a PREVENT on this LU.
    pub fn removal_prevented(&self) -> bool {
        !lock(&self.prevent).is_empty()
    }
}

/// Truncates parameter data to the ALLOCATION LENGTH (SPC-5 4.2.5.6).
pub(crate) fn truncate(mut v: Vec<u8>, allocation_length: usize) -> Bytes {
    v.truncate(allocation_length);
    Bytes::from(v)
}

/// Writes `s` into a fixed-width ASCII field: left-aligned, padded with
/// spaces, non-printable characters replaced (SPC-5 4.3.1).
pub(crate) fn ascii_field(s: &str, width: usize) -> Vec<u8> {
    let mut v: Vec<u8> = s
        .bytes()
        .map(|b| if (0x20..=0x7E).contains(&b) { b } else { b'_' })
        .take(width)
        .collect();
    v.resize(width, b' ');
    v
}
