//! The token store: live tokens, their expiry, tombstones, limits and the
//! per-LU revocation index.
//!
//! One [`DashMap`] slot per token identifier is the source of truth: a slot
//! is live or a tombstone, and a token dies by flipping its slot under the
//! slot's lock, so exactly one of several concurrent killers (expiry,
//! delete, revoke, cancel) wins and the others see its reason. The side
//! structures (accounting, expiry queue, per-LU index, tombstone FIFO) are
//! updated after that, each under its own lock; no lock is taken while
//! another is held except the expiry queue's, which is held while slots are
//! examined during a sweep (never the other way round).

mod lu;
mod pin;
mod types;

pub use pin::{PinGuard, WriteHook};
pub use types::*;

use crate::clock::Clock;
use crate::codec::{self, Decoded, RodToken, NONCE_LEN, TOKEN_LEN};
use crate::config::StoreConfig;
use crate::error::Limit;
use crate::mac::MacKey;
use crate::TokenError;
use dashmap::DashMap;
use lu::LuTokens;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Live<L> {
    info: TokenInfo<L>,
    token: RodToken,
    /// Deadline under which the expiry queue holds this token.
    queued: Duration,
}

impl<L> Live<L> {
    fn expired_at(&self, now: Duration) -> bool {
        self.info.pins == 0
            && now
                >= self
                    .info
                    .last_use
                    .saturating_add(self.info.inactivity_timeout)
    }
}

enum Slot<L> {
    Live(Box<Live<L>>),
    Dead(Death),
}

#[derive(Default)]
struct Accounting {
    live: usize,
    bytes: u128,
    per_initiator: HashMap<Arc<str>, usize>,
}

struct Inner<L, C> {
    config: StoreConfig,
    clock: C,
    key: MacKey,
    next_id: AtomicU64,
    slots: DashMap<TokenId, Slot<L>>,
    accounting: Mutex<Accounting>,
    expiry: Mutex<BTreeSet<(Duration, TokenId)>>,
    tombstones: Mutex<VecDeque<TokenId>>,
    lus: DashMap<L, Arc<LuTokens>>,
}

/// The ROD token store. Cloning gives another handle on the same store.
pub struct TokenStore<L, C> {
    inner: Arc<Inner<L, C>>,
}

impl<L, C> Clone for TokenStore<L, C> {
    fn clone(&self) -> Self {
        TokenStore {
            inner: self.inner.clone(),
        }
    }
}

impl<L: LuId, C: Clock> TokenStore<L, C> {
    /// A store with a fresh MAC key from the OS random generator.
    pub fn new(config: StoreConfig, clock: C) -> Result<Self, TokenError> {
        Ok(Self::with_key(config, clock, MacKey::random()?))
    }

    /// A store with the given MAC key (tests; production uses [`Self::new`]).
    pub fn with_key(config: StoreConfig, clock: C, key: MacKey) -> Self {
        TokenStore {
            inner: Arc::new(Inner {
                config,
                clock,
                key,
                next_id: AtomicU64::new(1),
                slots: DashMap::new(),
                accounting: Mutex::new(Accounting::default()),
                expiry: Mutex::new(BTreeSet::new()),
                tombstones: Mutex::new(VecDeque::new()),
                lus: DashMap::new(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    fn lu_tokens(&self, lu: &L) -> Arc<LuTokens> {
        if let Some(t) = self.inner.lus.get(lu) {
            return t.clone();
        }
        self.inner.lus.entry(lu.clone()).or_default().clone()
    }

    /// Creates a token (POPULATE TOKEN). Expired tokens are swept first, so
    /// their resources count no more; a reached limit answers
    /// [`TokenError::InsufficientResources`] and changes nothing.
    pub fn create(&self, req: NewToken<L>) -> Result<Created<L>, TokenError> {
        self.sweep();
        let inner = &self.inner;
        let blocks: u128 = req.ranges.iter().map(|r| u128::from(r.count)).sum();
        let bytes = blocks * u128::from(req.block_size);
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| TokenError::Random)?;
        {
            let c = &inner.config;
            let mut a = lock(&inner.accounting);
            let mine = a
                .per_initiator
                .get(&req.owner.initiator)
                .copied()
                .unwrap_or(0);
            if a.live >= c.max_live_tokens {
                return Err(TokenError::InsufficientResources(Limit::LiveTokens));
            }
            if mine >= c.max_tokens_per_initiator {
                return Err(TokenError::InsufficientResources(Limit::PerInitiator));
            }
            if a.bytes.saturating_add(bytes) > c.max_bytes_represented {
                return Err(TokenError::InsufficientResources(Limit::BytesRepresented));
            }
            a.live += 1;
            a.bytes += bytes;
            *a.per_initiator
                .entry(req.owner.initiator.clone())
                .or_insert(0) += 1;
        }
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let now = inner.clock.now();
        let timeout = inner.config.granted_timeout(req.inactivity_timeout_secs);
        let token = RodToken {
            rod_type: req.rod_type,
            id,
            creator: req.creator,
            bytes_represented: bytes,
            device: req.device,
            target: req.target,
            nonce,
        };
        let info = TokenInfo {
            id,
            lu: req.lu,
            rod_type: req.rod_type,
            ranges: req.ranges.into(),
            block_size: req.block_size,
            bytes_represented: bytes,
            inactivity_timeout: timeout,
            created: now,
            last_use: now,
            pins: 0,
            owner: req.owner,
        };
        let wire = token.encode(&inner.key);
        let deadline = now.saturating_add(timeout);
        let lu = self.lu_tokens(&info.lu);
        inner.slots.insert(
            id,
            Slot::Live(Box::new(Live {
                info: info.clone(),
                token,
                queued: deadline,
            })),
        );
        lu.add(id, &info.ranges, info.rod_type.revoked_by_writes());
        lock(&inner.expiry).insert((deadline, id));
        Ok(Created { token: wire, info })
    }

    /// Decodes a presented token (format, MAC) and finds it: the zero token,
    /// a live token, or the exact error of a dead, unknown, altered or
    /// foreign one. A token found past its inactivity timeout expires now.
    /// No side effect on a live token (no touch).
    pub fn lookup(&self, token: &[u8]) -> Result<Lookup<L>, TokenError> {
        match codec::decode(token, &self.inner.key)? {
            Decoded::Zero => Ok(Lookup::Zero),
            Decoded::Token(t) => self.live_info(t.id, false).map(Lookup::Token),
        }
    }

    /// The info of a live token, expiring it first if its time is up;
    /// `touch` also records a use.
    fn live_info(&self, id: TokenId, touch: bool) -> Result<TokenInfo<L>, TokenError> {
        let now = self.inner.clock.now();
        {
            let Some(mut slot) = self.inner.slots.get_mut(&id) else {
                return Err(TokenError::Unknown);
            };
            match &mut *slot {
                Slot::Dead(d) => return Err(d.error()),
                Slot::Live(l) if !l.expired_at(now) => {
                    if touch {
                        l.info.last_use = now;
                    }
                    return Ok(l.info.clone());
                }
                Slot::Live(_) => {}
            }
        }
        self.kill_if(id, Death::Expired, |l| l.expired_at(now));
        match self.state(id) {
            TokenState::Dead(d) => Err(d.error()),
            TokenState::Unknown => Err(TokenError::Unknown),
            // Touched or pinned in between: it lives on.
            TokenState::Live => self.live_info(id, touch),
        }
    }

    /// Records a use of a live token (restarts its inactivity timeout).
    pub fn touch(&self, id: TokenId) -> Result<(), TokenError> {
        self.live_info(id, true).map(|_| ())
    }

    /// Pins a live token for a running WRITE USING TOKEN: it does not expire
    /// until the guard is dropped, which counts as a use.
    pub fn pin(&self, id: TokenId) -> Result<PinGuard<L, C>, TokenError> {
        let now = self.inner.clock.now();
        let pinned = {
            let Some(mut slot) = self.inner.slots.get_mut(&id) else {
                return Err(TokenError::Unknown);
            };
            match &mut *slot {
                Slot::Dead(d) => return Err(d.error()),
                Slot::Live(l) if !l.expired_at(now) => {
                    l.info.pins += 1;
                    l.info.last_use = now;
                    Some(l.info.clone())
                }
                Slot::Live(_) => None,
            }
        };
        match pinned {
            Some(info) => Ok(PinGuard::new(self.clone(), info)),
            None => {
                // Expire it (or find it used meanwhile), then try again.
                self.live_info(id, false)?;
                self.pin(id)
            }
        }
    }

    pub(crate) fn unpin(&self, id: TokenId) {
        let now = self.inner.clock.now();
        if let Some(mut slot) = self.inner.slots.get_mut(&id) {
            if let Slot::Live(l) = &mut *slot {
                l.info.pins = l.info.pins.saturating_sub(1);
                l.info.last_use = now;
            }
        }
    }

    /// Deletes a live token (DEL_TKN); running users keep their pins.
    pub fn delete(&self, id: TokenId) -> Result<(), TokenError> {
        self.kill_live(id, Death::Deleted)
    }

    /// Cancels one live token.
    pub fn cancel(&self, id: TokenId) -> Result<(), TokenError> {
        self.kill_live(id, Death::Cancelled)
    }

    fn kill_live(&self, id: TokenId, death: Death) -> Result<(), TokenError> {
        self.live_info(id, false)?;
        if self.kill_if(id, death, |_| true) {
            Ok(())
        } else {
            self.live_info(id, false).map(|_| ())
        }
    }

    /// Cancels every live token whose source is `lu` (LU reset or removal);
    /// returns their ids.
    pub fn cancel_lu(&self, lu: &L) -> Vec<TokenId> {
        let Some(t) = self.inner.lus.get(lu).map(|t| t.clone()) else {
            return Vec::new();
        };
        let mut ids = t.all();
        ids.retain(|&id| self.kill_if(id, Death::Cancelled, |_| true));
        ids.sort_unstable();
        ids
    }

    /// Revokes every live change-vulnerable token with a source range
    /// overlapping `count` blocks from `lba` of `lu`; returns their ids.
    /// Point-in-time tokens are not affected.
    pub fn revoke_overlapping(&self, lu: &L, lba: u64, count: u64) -> Vec<TokenId> {
        match self.inner.lus.get(lu).map(|t| t.clone()) {
            Some(t) => self.revoke_in(&t, lba, count),
            None => Vec::new(),
        }
    }

    fn revoke_in(&self, t: &LuTokens, lba: u64, count: u64) -> Vec<TokenId> {
        let mut ids = t.overlapping(lba, count);
        ids.retain(|&id| self.kill_if(id, Death::Revoked, |_| true));
        ids
    }

    /// The handle the write path of `lu` calls after every write.
    pub fn write_hook(&self, lu: L) -> WriteHook<L, C> {
        WriteHook::new(self.clone(), self.lu_tokens(&lu))
    }

    /// Kills `id` with `death` if it is live and `pred` holds; the one
    /// place a token dies. Returns whether this call killed it.
    fn kill_if(&self, id: TokenId, death: Death, pred: impl FnOnce(&Live<L>) -> bool) -> bool {
        let inner = &self.inner;
        let live = {
            let Some(mut slot) = inner.slots.get_mut(&id) else {
                return false;
            };
            match &*slot {
                Slot::Live(l) if pred(l) => {}
                _ => return false,
            }
            match std::mem::replace(&mut *slot, Slot::Dead(death)) {
                Slot::Live(l) => l,
                Slot::Dead(_) => return false,
            }
        };
        let info = &live.info;
        {
            let mut a = lock(&inner.accounting);
            a.live = a.live.saturating_sub(1);
            a.bytes = a.bytes.saturating_sub(info.bytes_represented);
            if let Some(n) = a.per_initiator.get_mut(&info.owner.initiator) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    a.per_initiator.remove(&info.owner.initiator);
                }
            }
        }
        if let Some(t) = inner.lus.get(&info.lu).map(|t| t.clone()) {
            t.remove(id, &info.ranges, info.rod_type.revoked_by_writes());
        }
        lock(&inner.expiry).remove(&(live.queued, id));
        let evicted: Vec<TokenId> = {
            let mut q = lock(&inner.tombstones);
            q.push_back(id);
            let excess = q.len().saturating_sub(inner.config.max_tombstones);
            q.drain(..excess).collect()
        };
        for e in evicted {
            inner.slots.remove_if(&e, |_, s| matches!(s, Slot::Dead(_)));
        }
        true
    }

    /// Expires every token whose inactivity timeout has passed; returns
    /// their ids. The work is proportional to the tokens whose queued
    /// deadline has passed: a token used since it was queued is re-queued
    /// at its new deadline, a pinned one one timeout later.
    pub fn sweep(&self) -> Vec<TokenId> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let mut due = Vec::new();
        {
            let mut q = lock(&inner.expiry);
            while let Some(&(deadline, id)) = q.first() {
                if deadline > now {
                    break;
                }
                q.pop_first();
                let Some(mut slot) = inner.slots.get_mut(&id) else {
                    continue;
                };
                if let Slot::Live(l) = &mut *slot {
                    let next = if l.info.pins > 0 {
                        now.saturating_add(l.info.inactivity_timeout)
                    } else {
                        l.info.last_use.saturating_add(l.info.inactivity_timeout)
                    };
                    if next > now {
                        l.queued = next;
                        q.insert((next, id));
                    } else {
                        due.push(id);
                    }
                }
            }
        }
        due.retain(|&id| self.kill_if(id, Death::Expired, |l| l.expired_at(now)));
        due
    }

    /// The state of an identifier (no expiry check).
    pub fn state(&self, id: TokenId) -> TokenState {
        match self.inner.slots.get(&id).as_deref() {
            Some(Slot::Live(_)) => TokenState::Live,
            Some(Slot::Dead(d)) => TokenState::Dead(*d),
            None => TokenState::Unknown,
        }
    }

    /// The wire bytes of a live token (RECEIVE ROD TOKEN INFORMATION, the
    /// management tokens of REPORT ALL ROD TOKENS), re-encoded from what the
    /// store keeps.
    pub fn encoded(&self, id: TokenId) -> Result<[u8; TOKEN_LEN], TokenError> {
        match self.inner.slots.get(&id).as_deref() {
            Some(Slot::Live(l)) => Ok(l.token.encode(&self.inner.key)),
            Some(Slot::Dead(d)) => Err(d.error()),
            None => Err(TokenError::Unknown),
        }
    }

    /// Live tokens matching `filter`, by identifier (REPORT ALL ROD TOKENS).
    /// Walks all tokens: for management commands, not the I/O path.
    pub fn list(&self, filter: ListFilter<'_>) -> Vec<TokenInfo<L>> {
        let mut v: Vec<TokenInfo<L>> = self
            .inner
            .slots
            .iter()
            .filter_map(|s| match s.value() {
                Slot::Live(l) => Some(l.info.clone()),
                Slot::Dead(_) => None,
            })
            .filter(|i| match filter {
                ListFilter::All => true,
                ListFilter::Nexus(n) => i.owner.nexus == n,
                ListFilter::Initiator(name) => &*i.owner.initiator == name,
            })
            .collect();
        v.sort_unstable_by_key(|i| i.id);
        v
    }

    /// Counters for metrics.
    pub fn stats(&self) -> StoreStats {
        let a = lock(&self.inner.accounting);
        StoreStats {
            live: a.live,
            bytes_represented: a.bytes,
            tombstones: lock(&self.inner.tombstones).len(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
