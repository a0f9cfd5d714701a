//! Block Device Characteristics (SBC-4 6.6.2).

use super::{with_header, BLOCK_DEVICE_CHARACTERISTICS};
use crate::device::LogicalUnit;

/// PAGE LENGTH of this page.
const PAGE_LENGTH: usize = 0x3C;

pub fn block_device_characteristics(lu: &LogicalUnit) -> Vec<u8> {
    let mut p = vec![0u8; PAGE_LENGTH];
    // MEDIUM ROTATION RATE: 0001h non-rotating; 0000h not reported.
    let rate: u16 = if lu.capabilities().rotational {
        0x0000
    } else {
        0x0001
    };
    p[0..2].copy_from_slice(&rate.to_be_bytes());
    // PRODUCT TYPE 0, WABEREQ/WACEREQ 0, NOMINAL FORM FACTOR 0 (not reported).
    with_header(BLOCK_DEVICE_CHARACTERISTICS, &p)
}
