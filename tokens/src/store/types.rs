//! The values the store takes and gives.

use crate::codec::{CreatorDescriptor, DeviceSpecific, RodType, TargetDescriptor};
use crate::TokenError;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

/// COPY MANAGER ROD TOKEN IDENTIFIER: the store key.
pub type TokenId = u64;

/// What identifies a logical unit to the store: any small key the caller
/// chooses (a LUN index, a device id).
pub trait LuId: Clone + Eq + Hash + Debug + Send + Sync + 'static {}
impl<T: Clone + Eq + Hash + Debug + Send + Sync + 'static> LuId for T {}

/// A range of logical blocks: `count` blocks from `lba`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRange {
    /// First LBA.
    pub lba: u64,
    /// Number of logical blocks.
    pub count: u64,
}

impl BlockRange {
    /// Exclusive end LBA (saturating: the caller checked the LU capacity).
    pub fn end(&self) -> u64 {
        self.lba.saturating_add(self.count)
    }
}

/// Who created a token: the I_T nexus and its initiator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The I_T nexus id.
    pub nexus: u64,
    /// The initiator name (IQN), the key of the per-initiator limit.
    pub initiator: Arc<str>,
}

/// A POPULATE TOKEN, once the SCSI layer has validated its ranges.
#[derive(Debug, Clone)]
pub struct NewToken<L> {
    /// The source LU.
    pub lu: L,
    /// The ROD type to issue.
    pub rod_type: RodType,
    /// The source ranges, in order.
    pub ranges: Vec<BlockRange>,
    /// Logical block length of the source LU.
    pub block_size: u32,
    /// INACTIVITY TIMEOUT of the POPULATE TOKEN (seconds, 0 = default).
    pub inactivity_timeout_secs: u32,
    /// The creating nexus.
    pub owner: Owner,
    /// CREATOR LOGICAL UNIT DESCRIPTOR of the source LU.
    pub creator: CreatorDescriptor,
    /// READ CAPACITY(16) bytes 8-31 of the source LU.
    pub device: DeviceSpecific,
    /// TARGET DEVICE DESCRIPTOR.
    pub target: TargetDescriptor,
}

/// What the store knows about a live token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo<L> {
    /// The token identifier.
    pub id: TokenId,
    /// The source LU.
    pub lu: L,
    /// The ROD type.
    pub rod_type: RodType,
    /// The source ranges.
    pub ranges: Arc<[BlockRange]>,
    /// Logical block length of the source LU.
    pub block_size: u32,
    /// NUMBER OF BYTES REPRESENTED.
    pub bytes_represented: u128,
    /// The granted inactivity timeout.
    pub inactivity_timeout: Duration,
    /// Clock time of creation.
    pub created: Duration,
    /// Clock time of the last use (creation, touch, pin or unpin).
    pub last_use: Duration,
    /// Running WRITE USING TOKENs holding it.
    pub pins: u32,
    /// The creating nexus.
    pub owner: Owner,
}

/// Why a token died. Its tombstone answers with [`Death::error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Death {
    /// Unused for longer than its inactivity timeout.
    Expired,
    /// Deleted (DEL_TKN).
    Deleted,
    /// Its source ranges were written (change-vulnerable tokens).
    Revoked,
    /// Cancelled (source LU reset or removed).
    Cancelled,
}

impl Death {
    /// The error a later use of the dead token gets.
    pub fn error(self) -> TokenError {
        match self {
            Death::Expired => TokenError::Expired,
            Death::Deleted => TokenError::Deleted,
            Death::Revoked => TokenError::Revoked,
            Death::Cancelled => TokenError::Cancelled,
        }
    }
}

/// The state of a token identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Usable.
    Live,
    /// Dead, tombstone still remembered.
    Dead(Death),
    /// Never issued, or its tombstone was evicted.
    Unknown,
}

/// A presented token after [`crate::TokenStore::lookup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<L> {
    /// The block device zero ROD token: write zeroes.
    Zero,
    /// A live token of this store.
    Token(TokenInfo<L>),
}

/// A token just created.
#[derive(Debug, Clone)]
pub struct Created<L> {
    /// Its wire bytes, for RECEIVE ROD TOKEN INFORMATION.
    pub token: [u8; crate::codec::TOKEN_LEN],
    /// What the store keeps about it.
    pub info: TokenInfo<L>,
}

/// Which tokens [`crate::TokenStore::list`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter<'a> {
    /// Every live token.
    All,
    /// Tokens created on this I_T nexus.
    Nexus(u64),
    /// Tokens created by this initiator (any nexus).
    Initiator(&'a str),
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Live tokens.
    pub live: usize,
    /// Bytes represented by live tokens.
    pub bytes_represented: u128,
    /// Remembered tombstones.
    pub tombstones: usize,
}
