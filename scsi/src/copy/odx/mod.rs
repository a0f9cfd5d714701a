//! ODX token commands on the wire: POPULATE TOKEN, WRITE USING TOKEN,
//! COPY OPERATION ABORT, RECEIVE ROD TOKEN INFORMATION, RECEIVE COPY STATUS
//! (LID4) and REPORT ALL ROD TOKENS (SBC-4 5.12, 5.59; SPC-5 6.3, 6.24,
//! 6.26, 6.31), and their VPD 0x8F descriptors.
//!
//! I/O free and pure: CDB and parameter bytes in, validated structs or the
//! exact [`ScsiError`](crate::sense::ScsiError) out (`cdb`, `params`,
//! `ranges`); status and token lists in, response bytes out (`responses`,
//! `vpd`). One [`OdxLimits`] and one list of [`RodTypeSupport`] per LU feed
//! both VPD 0x8F and the checks, so what is advertised is what is enforced.
//! Token validation (type, length, MAC, lifetime) belongs to the token
//! store; running the copy, to the copy engine.

pub mod cdb;
pub mod config;
#[cfg(test)]
mod fuzz_tests;
pub mod limits;
pub mod params;
pub mod ranges;
pub mod responses;
pub mod vpd;

pub use cdb::{
    CopyOperationAbortCdb, ReceiveCopyStatusCdb, ReportAllRodTokensCdb, TokenCopyOutCdb,
};
pub use config::OdxConfig;
pub use limits::{rod_type, OdxLimits, RodTypeSupport};
pub use params::{
    offset_into_rod, parse_populate_token, parse_write_using_token, PopulateToken, WriteUsingToken,
    ROD_TOKEN_LEN,
};
pub use ranges::{BlockRange, LuExtent};
pub use responses::{
    management_token, receive_copy_status_lid4, receive_rod_token_information,
    report_all_rod_tokens, CopyOperationStatus, CopyStatusReport, TransferCountUnits,
};
