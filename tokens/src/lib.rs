#![forbid(unsafe_code)]
//! ROD tokens for ODX copy offload (POPULATE TOKEN / WRITE USING TOKEN):
//! the 512-byte token codec, its MAC, the token store with expiry,
//! tombstones and limits, and the per-LU revocation index. No I/O: no
//! files, sockets or async runtime; time comes from a [`Clock`]. The SCSI
//! layer parses commands, checks ranges and authorization, does the copy,
//! and calls this crate for everything about tokens.
//!
//! # Design
//!
//! **Why a MAC.** A token travels through initiators, possibly to another
//! host, and comes back in a WRITE USING TOKEN: it is input from the
//! network. Every issued token ([`codec`]) ends with 256 random bits and an
//! HMAC-SHA256 ([`mac`]) over everything it claims, under a key drawn from
//! the OS at start-up that never leaves the process. So a token altered in
//! any byte, forged, or issued before a restart (another key) is answered
//! TOKEN CORRUPT (0x23/0x05) before any store lookup, in constant time, and
//! a valid one cannot be guessed from others. The well-known block device
//! zero ROD token (0xFFFF_0001) has no MAC and its own path.
//!
//! **Why tombstones.** The standard distinguishes why a token is unusable:
//! unknown 0x23/0x04, revoked 06, expired 07, cancelled 08, deleted 09.
//! Initiators (Windows) act on the difference, and "unknown for
//! everything" (as some targets answer) hides bugs. A dead token keeps a
//! small tombstone with its reason; their number is bounded
//! ([`StoreConfig::max_tombstones`], oldest forgotten first), after which
//! the identifier answers unknown, which is then true.
//!
//! **Why the index.** A change-vulnerable token (0x0080_0001) stands for
//! data that is read at WRITE USING TOKEN time, so any write to its source
//! must revoke it, or the copy would mix old and new data silently. Every
//! write calls the LU's [`WriteHook`]: one atomic load when the LU has no
//! such token, else an interval query over the LU's token ranges that
//! finds the overlapping tokens without looking at the others.
//! Point-in-time tokens (0x0080_0000, data cloned at POPULATE TOKEN time)
//! are not indexed: writes do not affect them.
//!
//! **Expiry without scans.** Each live token has one entry in a deadline
//! queue; [`TokenStore::sweep`] pops only due entries and re-queues the
//! tokens used (or pinned by a running WRITE USING TOKEN) since, so its
//! work is proportional to what is due. A lookup also expires its own token
//! when due, so answers are exact between sweeps.
//!
//! **Limits.** Live tokens overall, per initiator and total bytes
//! represented are bounded ([`StoreConfig`]); a refused POPULATE TOKEN gets
//! 0x55/0x0D and the live tokens are unaffected.
//!
//! Every failure is a [`TokenError`], whose [`TokenError::sense`] gives the
//! sense key, ASC and ASCQ to answer with.
//!
//! # Example
//!
//! ```
//! use tokens::*;
//! # fn main() -> Result<(), TokenError> {
//! let clock = ManualClock::new();
//! let store: TokenStore<u64, ManualClock> = TokenStore::new(StoreConfig::default(), clock.clone())?;
//! // POPULATE TOKEN on LU 0, blocks 0..8, change vulnerable.
//! let created = store.create(NewToken {
//!     lu: 0,
//!     rod_type: RodType::ChangeVulnerable,
//!     ranges: vec![BlockRange { lba: 0, count: 8 }],
//!     block_size: 512,
//!     inactivity_timeout_secs: 0,
//!     owner: Owner { nexus: 1, initiator: "iqn.2026-11.org.example:host".into() },
//!     creator: CreatorDescriptor::from_designator(0, 1, 0, 3, &[0x60; 8], 512)?,
//!     device: DeviceSpecific([0; 24]),
//!     target: TargetDescriptor::new(&[0x53, 0xA8, 0x00, 0x00])?,
//! })?;
//! // WRITE USING TOKEN: decode and find it, authorize (caller), pin, copy.
//! let Lookup::Token(info) = store.lookup(&created.token)? else { unreachable!() };
//! let pin = store.pin(info.id)?;
//! pin.still_valid()?;
//! drop(pin);
//! // A write to block 3 of LU 0 revokes it.
//! let hook = store.write_hook(0);
//! assert_eq!(hook.on_write(3, 1), vec![info.id]);
//! assert_eq!(store.lookup(&created.token), Err(TokenError::Revoked));
//! assert_eq!(TokenError::Revoked.sense(), (0x05, 0x23, 0x06));
//! # Ok(())
//! # }
//! ```
pub mod clock;
pub mod codec;
pub mod config;
pub mod error;
mod index;
pub mod mac;
pub mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use codec::{CreatorDescriptor, DeviceSpecific, RodType, TargetDescriptor, TOKEN_LEN};
pub use config::StoreConfig;
pub use error::{Limit, TokenError};
pub use store::{
    BlockRange, Created, Death, ListFilter, Lookup, LuId, NewToken, Owner, PinGuard, StoreStats,
    TokenId, TokenInfo, TokenState, TokenStore, WriteHook,
};
