//! The ODX token commands at work: POPULATE TOKEN (`populate`), WRITE
//! USING TOKEN (`write`), RECEIVE ROD TOKEN INFORMATION, RECEIVE COPY
//! STATUS (LID4), REPORT ALL ROD TOKENS and COPY OPERATION ABORT
//! (`status`), on top of the I/O-free pieces: the wire formats
//! (`copy::odx`), the token store (`tokens`), the block-I/O facade and
//! the piece engine (`copy::pieces`).
//!
//! [`Odx`] is the copy manager's token state: the store, what each live
//! token copies from (its source LU and, for a point-in-time token, the
//! snapshot, dropped when the token dies), the held results per (I_T
//! nexus, list id), and the write hooks that revoke change-vulnerable
//! tokens (one per LU, installed with its first such token).

mod populate;
mod results;
mod status;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
mod write;

pub use results::{EndGuard, OdxRecord, OdxResults, Outcome};

use super::odx::{rod_type, OdxConfig, RodTypeSupport};
use crate::backend::Snapshot;
use crate::blockio::{LbaRange, WriteKind, WriteObserver};
use crate::device::LogicalUnit;
use crate::sense::ScsiError;
use dashmap::DashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokens::{Clock, TargetDescriptor, TokenError, TokenId, TokenStore};

/// A clock shared by the store and the tests that move it.
#[derive(Clone)]
pub struct SharedClock(pub Arc<dyn Clock>);

impl Clock for SharedClock {
    fn now(&self) -> Duration {
        self.0.now()
    }
}

/// The token store of the copy manager: LUs are keyed by their NAA id.
pub type Store = TokenStore<u64, SharedClock>;

/// What a live token copies from.
#[derive(Clone)]
pub(crate) struct Source {
    pub lu: Arc<LogicalUnit>,
    pub snapshot: Option<Arc<dyn Snapshot>>,
    /// The target and LUN the POPULATE TOKEN came through: the labels of
    /// `xtgt_rod_tokens` for this token.
    pub target: Arc<str>,
    pub lun: u64,
}

impl Source {
    /// Count this token in `xtgt_rod_tokens{target,lun}` (+1 when it is
    /// recorded, -1 when it is forgotten).
    pub(crate) fn count(&self, delta: f64) {
        metrics::gauge!(
            "xtgt_rod_tokens",
            "target" => self.target.to_string(),
            "lun" => self.lun.to_string()
        )
        .increment(delta);
    }
}

/// The copy manager's ROD token state.
pub struct Odx {
    pub config: OdxConfig,
    pub store: Store,
    pub results: OdxResults,
    sources: DashMap<TokenId, Source>,
    /// LUs whose write hook is installed (by address, with a weak
    /// reference to tell a new LU at a reused address).
    hooked: Mutex<Vec<Weak<LogicalUnit>>>,
    target: TargetDescriptor,
}

impl Odx {
    /// Token state with a fresh MAC key, timed by `clock`.
    pub fn new(config: OdxConfig, clock: Arc<dyn Clock>) -> Result<Self, TokenError> {
        let store = TokenStore::new(config.store_config(), SharedClock(clock))?;
        // TARGET DEVICE DESCRIPTOR: a T10 vendor ID designator (ASCII,
        // association target device) naming this copy manager.
        let mut target = vec![0x02, 0x21, 0x00, 12];
        target.extend_from_slice(b"XTGT    xtgt");
        Ok(Self {
            results: OdxResults::new(config.result_retention, config.max_results),
            config,
            store,
            sources: DashMap::new(),
            hooked: Mutex::new(Vec::new()),
            target: TargetDescriptor::new(&target)?,
        })
    }

    /// The ROD types `lu` supports (VPD 0x8F Supported ROD Types and the
    /// POPULATE TOKEN ROD TYPE check): point in time where its backend
    /// can snapshot, change vulnerable everywhere, the zero token for
    /// WRITE USING TOKEN.
    pub fn rod_types(lu: &LogicalUnit) -> Vec<RodTypeSupport> {
        let mut v = Vec::with_capacity(3);
        if lu.capabilities().point_in_time {
            v.push(RodTypeSupport {
                rod_type: rod_type::POINT_IN_TIME_DEFAULT,
                ecpy_int: false,
                token_in: true,
                token_out: true,
                preference: 0,
            });
        }
        v.push(RodTypeSupport {
            rod_type: rod_type::POINT_IN_TIME_CHANGE_VULNERABLE,
            ecpy_int: false,
            token_in: true,
            token_out: true,
            preference: 0,
        });
        v.push(RodTypeSupport {
            rod_type: rod_type::BLOCK_DEVICE_ZERO,
            ecpy_int: false,
            token_in: true,
            token_out: false,
            preference: 0,
        });
        v
    }

    /// Install the write hook of `lu` once (before its first
    /// change-vulnerable token exists).
    fn hook(self: &Arc<Self>, lu: &Arc<LogicalUnit>) {
        let mut hooked = self.hooked.lock().unwrap_or_else(|p| p.into_inner());
        hooked.retain(|w| w.strong_count() > 0);
        if hooked
            .iter()
            .any(|w| w.upgrade().is_some_and(|l| Arc::ptr_eq(&l, lu)))
        {
            return;
        }
        hooked.push(Arc::downgrade(lu));
        lu.add_write_observer(Arc::new(Revoker {
            odx: Arc::downgrade(self),
            hook: self.store.write_hook(lu.config.naa_id),
        }));
    }

    /// Forget what dead tokens copied from (a snapshot is released here),
    /// count them and log each.
    pub(crate) fn reaped(&self, ids: &[TokenId], event: &'static str) {
        for &id in ids {
            self.forget(id);
            tracing::debug!(token = id, event, "ROD token died");
        }
        if !ids.is_empty() {
            metrics::counter!("xtgt_rod_token_events_total", "event" => event)
                .increment(ids.len() as u64);
        }
    }

    /// Expire what is due (work proportional to what expires).
    pub(crate) fn sweep(&self) {
        let ids = self.store.sweep();
        if !ids.is_empty() {
            tracing::info!(expired = ids.len(), "ROD tokens expired");
        }
        self.reaped(&ids, "expired");
    }

    /// Drop what a dead token copied from (its snapshot goes) and its
    /// count in `xtgt_rod_tokens`. True if the token was still recorded.
    pub(crate) fn forget(&self, id: TokenId) -> bool {
        match self.sources.remove(&id) {
            Some((_, source)) => {
                source.count(-1.0);
                true
            }
            None => false,
        }
    }

    pub(crate) fn source(&self, id: TokenId) -> Option<Source> {
        self.sources.get(&id).map(|s| s.clone())
    }

    /// Live tokens whose source is kept (for tests and metrics).
    pub fn sources_held(&self) -> usize {
        self.sources.len()
    }

    /// `lu` was reset or removed: every live token of it is cancelled
    /// (later uses get 0x23/0x08; copies from it stop with that error).
    /// The copy manager stops the operations touching it (60h).
    pub fn cancel_lu(&self, lu: &LogicalUnit) {
        let ids = self.store.cancel_lu(&lu.config.naa_id);
        if !ids.is_empty() {
            tracing::info!(lu = %lu.config.serial, cancelled = ids.len(), "ROD tokens cancelled");
        }
        self.reaped(&ids, "cancelled");
    }

    /// Expire the tokens whose inactivity timeout passed and release what
    /// they held (snapshots); the token commands do this on their own, a
    /// periodic call frees idle snapshots sooner. Work proportional to what
    /// expires.
    pub fn sweep_expired(&self) {
        self.sweep();
    }

    /// The I_T nexus ended: its held results go; its tokens live on.
    pub fn nexus_lost(&self, nexus: u64) {
        self.results.nexus_lost(nexus);
    }
}

/// The write hook of one LU: revokes the change-vulnerable tokens whose
/// source a write is about to modify (one atomic load with none live).
struct Revoker {
    odx: Weak<Odx>,
    hook: tokens::WriteHook<u64, SharedClock>,
}

impl WriteObserver for Revoker {
    fn before_write(&self, _lu: &LogicalUnit, range: LbaRange, _kind: WriteKind) {
        let ids = self.hook.on_write(range.lba, range.blocks);
        if ids.is_empty() {
            return;
        }
        if let Some(odx) = self.odx.upgrade() {
            odx.reaped(&ids, "revoked");
        }
    }
}

/// A token error as the SCSI layer answers it.
pub fn token_error(e: TokenError) -> ScsiError {
    match e {
        TokenError::UnsupportedType(_) => ScsiError::TokenUnsupportedType,
        TokenError::Unknown => ScsiError::TokenUnknown,
        TokenError::Corrupt => ScsiError::TokenCorrupt,
        TokenError::Revoked => ScsiError::TokenRevoked,
        TokenError::Expired => ScsiError::TokenExpired,
        TokenError::Cancelled => ScsiError::TokenCancelled,
        TokenError::Deleted => ScsiError::TokenDeleted,
        TokenError::InvalidLength => ScsiError::TokenInvalidLength,
        TokenError::InsufficientResources(_) => ScsiError::InsufficientResourcesRodToken,
        TokenError::Random | TokenError::Internal(_) => ScsiError::InternalTargetFailure,
    }
}

/// The COPY MANAGER ROD TOKEN IDENTIFIER of a token whose MAC verified.
fn token_id_of(token: &[u8]) -> Option<TokenId> {
    let b: [u8; 8] = token.get(8..16)?.try_into().ok()?;
    Some(u64::from_be_bytes(b))
}
