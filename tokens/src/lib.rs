#![forbid(unsafe_code)]
//! tokens
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
