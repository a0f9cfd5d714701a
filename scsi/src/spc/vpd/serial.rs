//! Unit Serial Number (SPC-5 7.7.18).

use super::{with_header, UNIT_SERIAL_NUMBER};
use crate::device::LogicalUnit;

/// Longest PRODUCT SERIAL NUMBER we report (keeps the page in one byte of
/// length for old initiators).
pub const MAX_SERIAL_LEN: usize = 252;

/// The serial as ASCII printable characters, at most [`MAX_SERIAL_LEN`].
pub fn serial_ascii(lu: &LogicalUnit) -> Vec<u8> {
    lu.config
        .serial
        .bytes()
        .filter(|b| (0x21..=0x7E).contains(b))
        .take(MAX_SERIAL_LEN)
        .collect()
}

pub fn unit_serial_number(lu: &LogicalUnit) -> Vec<u8> {
    with_header(UNIT_SERIAL_NUMBER, &serial_ascii(lu))
}
