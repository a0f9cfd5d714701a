#![forbid(unsafe_code)]
//! tokens
pub mod clock;
pub mod codec;
pub mod error;
pub mod mac;
pub use error::{Limit, TokenError};
