//! Reservations (SPC-5 5.14; SPC-2 7.21/7.22 for RESERVE and RELEASE):
//! the state per logical unit ([`PrState`]), its I/O-free parts (`types`,
//! `out`, `inq`, `conflict`, `persist`, `transport_id`) and the command
//! handlers (`handlers`).
//!
//! Persistent reservations survive LUN resets and I_T nexus loss; with
//! APTPL=1 and a state file configured ([`PrState::attach_store`]) they
//! also survive a restart. SPC-2 reservations belong to one I_T nexus and
//! go with it, with a LUN or target reset, or with RELEASE.

pub mod conflict;
pub mod handlers;
pub mod inq;
pub mod out;
pub mod persist;
pub mod transport_id;
pub mod types;

#[cfg(test)]
mod tests;

pub use conflict::PrAccess;
pub use types::{NexusIdent, PrData, PrType, Registration, Reservation};

use crate::device::ua::lock;
use crate::device::Nexus;
use crate::sense::ScsiError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

#[derive(Default)]
struct Inner {
    data: PrData,
    /// The I_T nexus holding an SPC-2 reservation (RESERVE(6)/(10)).
    spc2: Option<u64>,
    /// The live I_T nexuses of this LU, for unit attentions to the I_T
    /// nexuses of a registration.
    nexuses: HashMap<u64, NexusIdent>,
}

impl Inner {
    fn engaged(&self) -> bool {
        self.data.reservation.is_some() || self.spc2.is_some()
    }
}

/// The reservation state of one logical unit.
#[derive(Default)]
pub struct PrState {
    inner: Mutex<Inner>,
    /// A reservation of either kind exists: commands must be checked.
    /// Without one the dispatcher does not lock.
    engaged: AtomicBool,
    /// The APTPL file; unset for a LU that cannot persist (memory).
    store: OnceLock<PathBuf>,
    /// Orders PERSISTENT RESERVE OUT commands with their file writes.
    persist: tokio::sync::Mutex<()>,
}

impl PrState {
    fn update_engaged(&self, inner: &Inner) {
        self.engaged.store(inner.engaged(), Ordering::Release);
    }

    /// Makes APTPL available, with the state file at `path`, and restores
    /// the state a previous run saved there. Called once, at start.
    pub fn attach_store(&self, path: &Path) -> Result<(), String> {
        if let Some(mut d) = persist::load(path)? {
            // SPC-5 6.15.2: regardless of APTPL, a power on sets
            // PRgeneration to zero.
            d.generation = 0;
            let mut g = lock(&self.inner);
            tracing::info!(
                path = %path.display(),
                registrations = d.registrations.len(),
                reserved = d.reservation.is_some(),
                "persistent reservations restored (APTPL)"
            );
            g.data = d;
            self.update_engaged(&g);
        }
        self.store
            .set(path.to_path_buf())
            .map_err(|_| "the reservation file is already set".to_string())
    }

    /// PTPL_C: this LU can persist its reservations.
    pub fn ptpl_capable(&self) -> bool {
        self.store.get().is_some()
    }

    /// A copy of the current persistent reservation state.
    pub fn snapshot(&self) -> PrData {
        lock(&self.inner).data.clone()
    }

    /// The I_T nexus holding the SPC-2 reservation, if any.
    pub fn spc2_holder(&self) -> Option<u64> {
        lock(&self.inner).spc2
    }

    pub(crate) fn nexus_registered(&self, id: u64, ident: NexusIdent) {
        lock(&self.inner).nexuses.insert(id, ident);
    }

    /// I_T nexus loss: its SPC-2 reservation goes; registrations and the
    /// persistent reservation stay (SPC-5 5.14.11.1).
    pub(crate) fn nexus_lost(&self, id: u64) {
        let mut g = lock(&self.inner);
        g.nexuses.remove(&id);
        if g.spc2 == Some(id) {
            g.spc2 = None;
        }
        self.update_engaged(&g);
    }

    /// A LUN reset (or target reset): the SPC-2 reservation is released;
    /// persistent reservations are not affected.
    pub(crate) fn reset(&self) {
        let mut g = lock(&self.inner);
        g.spc2 = None;
        self.update_engaged(&g);
    }

    /// RESERVATION CONFLICT when a command of `access` with `cdb` from
    /// `nexus` conflicts with a reservation of this LU.
    pub fn check(&self, nexus: &Nexus, access: PrAccess, cdb: &[u8]) -> Result<(), ScsiError> {
        if !self.engaged.load(Ordering::Acquire) {
            return Ok(());
        }
        let g = lock(&self.inner);
        if conflict::spc2_conflict(g.spc2, nexus.id, access) {
            return Err(ScsiError::ReservationConflict);
        }
        if let Some(write) = access.kind(cdb) {
            if conflict::persistent_conflict(&g.data, &NexusIdent::from_nexus(nexus), write) {
                return Err(ScsiError::ReservationConflict);
            }
        }
        Ok(())
    }

    /// The check for a copy manager reading (`write` false) or writing
    /// this LU for the initiator port of `nexus`, which may have come
    /// through another target port: an SPC-2 reservation of any other
    /// I_T nexus conflicts; a persistent reservation conflicts unless that
    /// initiator port has access through some target port.
    pub fn check_copy(&self, nexus: &Nexus, write: bool) -> Result<(), ScsiError> {
        if !self.engaged.load(Ordering::Acquire) {
            return Ok(());
        }
        let g = lock(&self.inner);
        if g.spc2.is_some_and(|h| h != nexus.id) {
            return Err(ScsiError::ReservationConflict);
        }
        let who = NexusIdent::from_nexus(nexus);
        if conflict::copy_conflict(&g.data, &who.initiator, &who.isid, write) {
            return Err(ScsiError::ReservationConflict);
        }
        Ok(())
    }

    /// The live I_T nexuses of `reg`.
    fn nexuses_of(inner: &Inner, reg: &Registration) -> Vec<u64> {
        inner
            .nexuses
            .iter()
            .filter(|(_, n)| reg.matches(n))
            .map(|(&id, _)| id)
            .collect()
    }

    /// Applies a PERSISTENT RESERVE OUT; saves the state when it changed
    /// and the LU persists (APTPL=1: the file is written, APTPL=0: it is
    /// removed). Returns the unit attentions to establish, by I_T nexus,
    /// and the I_T nexuses whose tasks PREEMPT AND ABORT aborts.
    pub async fn apply_out(
        &self,
        nexus: &Nexus,
        req: &out::OutRequest,
    ) -> Result<OutEffects, ScsiError> {
        let _order = self.persist.lock().await;
        let who = NexusIdent::from_nexus(nexus);
        let (before, after, uas, aborted) = {
            let mut g = lock(&self.inner);
            // SPC-2 reserved: every PERSISTENT RESERVE OUT conflicts
            // (SPC-5 5.14.3).
            if g.spc2.is_some() {
                return Err(ScsiError::ReservationConflict);
            }
            let before = g.data.clone();
            let outcome = out::apply(&mut g.data, &who, req)?;
            let mut uas = Vec::new();
            for n in outcome.notices {
                for id in Self::nexuses_of(&g, &n.to) {
                    if id != nexus.id {
                        uas.push((id, n.ua.clone()));
                    }
                }
            }
            let mut aborted = Vec::new();
            for r in &outcome.preempted {
                for id in Self::nexuses_of(&g, r) {
                    if id != nexus.id && !aborted.contains(&id) {
                        aborted.push(id);
                    }
                }
            }
            if !outcome.preempted.is_empty() {
                tracing::info!(
                    preempted = outcome.preempted.len(),
                    "PREEMPT AND ABORT: the preempted I_T nexuses get REGISTRATIONS PREEMPTED"
                );
            }
            self.update_engaged(&g);
            (before, g.data.clone(), uas, aborted)
        };
        if after != before {
            if let Some(path) = self.store.get() {
                if let Err(e) = self.save(path, &after).await {
                    tracing::error!(path = %path.display(), error = %e, "cannot save the persistent reservations; the command is undone");
                    let mut g = lock(&self.inner);
                    g.data = before;
                    self.update_engaged(&g);
                    return Err(ScsiError::InternalTargetFailure);
                }
            }
        }
        Ok(OutEffects { uas, aborted })
    }

    async fn save(&self, path: &Path, d: &PrData) -> std::io::Result<()> {
        let path = path.to_path_buf();
        let text = d.aptpl.then(|| persist::encode(d));
        tokio::task::spawn_blocking(move || match text {
            Some(t) => persist::save(&path, &t),
            None => persist::remove(&path),
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// RESERVE(6)/(10) from `nexus` (SPC-2 7.21 with SPC-5 5.14.3, CRH=1).
    pub fn reserve(&self, nexus: &Nexus) -> Result<(), ScsiError> {
        let mut g = lock(&self.inner);
        if !g.data.registrations.is_empty() {
            return crh_exception(&g.data, nexus);
        }
        match g.spc2 {
            Some(h) if h != nexus.id => Err(ScsiError::ReservationConflict),
            _ => {
                g.spc2 = Some(nexus.id);
                self.update_engaged(&g);
                Ok(())
            }
        }
    }

    /// RELEASE(6)/(10) from `nexus`: releases its own SPC-2 reservation;
    /// from any other I_T nexus GOOD without effect (SPC-2 7.17).
    pub fn release(&self, nexus: &Nexus) -> Result<(), ScsiError> {
        let mut g = lock(&self.inner);
        if !g.data.registrations.is_empty() {
            return crh_exception(&g.data, nexus);
        }
        if g.spc2 == Some(nexus.id) {
            g.spc2 = None;
            self.update_engaged(&g);
        }
        Ok(())
    }
}

/// RESERVE or RELEASE while registrations exist: RESERVATION CONFLICT,
/// except from the persistent reservation holder, where it completes with
/// GOOD and does nothing (SPC-5 5.14.3, CRH=1).
fn crh_exception(d: &PrData, nexus: &Nexus) -> Result<(), ScsiError> {
    let who = NexusIdent::from_nexus(nexus);
    match d.registration_of(&who) {
        Some(r) if d.reservation.is_some() && d.is_holder(r) => Ok(()),
        _ => Err(ScsiError::ReservationConflict),
    }
}

/// What a PERSISTENT RESERVE OUT asks of the rest of the device server.
#[derive(Debug, Default)]
pub struct OutEffects {
    /// Unit attentions to establish, by I_T nexus.
    pub uas: Vec<(u64, ScsiError)>,
    /// I_T nexuses whose registrations PREEMPT AND ABORT removed: their
    /// tasks for this LU are aborted (SPC-5 5.14.11.2.6), copies included.
    pub aborted: Vec<u64>,
}
