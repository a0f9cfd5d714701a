//! Handles given out by the store: the pin of a running WRITE USING TOKEN
//! and the write hook of an LU.

use super::lu::LuTokens;
use super::types::{LuId, TokenId, TokenInfo, TokenState};
use super::TokenStore;
use crate::clock::Clock;
use crate::TokenError;
use std::sync::Arc;

/// A token held by a running WRITE USING TOKEN. While any guard lives the
/// token does not expire; dropping the guard counts as a use. Revocation,
/// cancellation and deletion still apply: check [`PinGuard::still_valid`]
/// after copying, before answering GOOD.
pub struct PinGuard<L: LuId, C: Clock> {
    store: TokenStore<L, C>,
    info: TokenInfo<L>,
}

impl<L: LuId, C: Clock> PinGuard<L, C> {
    pub(super) fn new(store: TokenStore<L, C>, info: TokenInfo<L>) -> Self {
        PinGuard { store, info }
    }

    /// The token as it was when pinned.
    pub fn info(&self) -> &TokenInfo<L> {
        &self.info
    }

    /// The token identifier.
    pub fn id(&self) -> TokenId {
        self.info.id
    }

    /// Whether the data the token stands for is still what it was: an error
    /// if the token was revoked (source written) or cancelled meanwhile, or
    /// if its tombstone is already forgotten. A deleted token's data is
    /// intact: users that pinned it before the deletion may finish.
    pub fn still_valid(&self) -> Result<(), TokenError> {
        match self.store.state(self.info.id) {
            TokenState::Live => Ok(()),
            TokenState::Dead(super::Death::Deleted) => Ok(()),
            TokenState::Dead(d) => Err(d.error()),
            TokenState::Unknown => Err(TokenError::Unknown),
        }
    }

    /// Releases the pin and deletes the token (WRITE USING TOKEN with
    /// DEL_TKN, once it has finished).
    pub fn delete(self) -> Result<(), TokenError> {
        let (store, id) = (self.store.clone(), self.info.id);
        drop(self);
        store.delete(id)
    }
}

impl<L: LuId, C: Clock> Drop for PinGuard<L, C> {
    fn drop(&mut self) {
        self.store.unpin(self.info.id);
    }
}

/// The revocation point of one LU's write path: call
/// [`WriteHook::on_write`] after every write to the medium (WRITE, WRITE
/// SAME, UNMAP, COMPARE AND WRITE, copies), before completing the command.
/// With no live change-vulnerable token on the LU it costs one atomic load.
pub struct WriteHook<L: LuId, C: Clock> {
    store: TokenStore<L, C>,
    lu: Arc<LuTokens>,
}

impl<L: LuId, C: Clock> Clone for WriteHook<L, C> {
    fn clone(&self) -> Self {
        WriteHook {
            store: self.store.clone(),
            lu: self.lu.clone(),
        }
    }
}

impl<L: LuId, C: Clock> WriteHook<L, C> {
    pub(super) fn new(store: TokenStore<L, C>, lu: Arc<LuTokens>) -> Self {
        WriteHook { store, lu }
    }

    /// `count` blocks from `lba` were written: revokes the change-vulnerable
    /// tokens whose source overlaps them; returns their ids.
    pub fn on_write(&self, lba: u64, count: u64) -> Vec<TokenId> {
        self.store.revoke_in(&self.lu, lba, count)
    }
}
