//! Logical Block Provisioning (SBC-4 6.6.6). The bits follow what the
//! backend can do and which commands the opcode table serves.

use super::{with_header, LOGICAL_BLOCK_PROVISIONING};
use crate::cdb;
use crate::device::LogicalUnit;

pub fn logical_block_provisioning(lu: &LogicalUnit) -> Vec<u8> {
    let caps = lu.capabilities();
    let unmap = caps.unmap && !lu.config.read_only;
    let mut b5 = 0u8;
    if unmap && cdb::by_name("UNMAP").is_some() {
        b5 |= 0x80; // LBPU
    }
    if unmap && cdb::by_name("WRITE_SAME_16").is_some() {
        b5 |= 0x40; // LBPWS
    }
    if unmap && cdb::by_name("WRITE_SAME_10").is_some() {
        b5 |= 0x20; // LBPWS10
    }
    if caps.unmap && caps.unmapped_reads_zero {
        b5 |= 0x01 << 2; // LBPRZ = 001b: deallocated blocks read as zero
    }
    // ANC_SUP = 0: the ANCHOR bit is not supported; DP = 0.
    let provisioning_type = if caps.unmap { 0x02 } else { 0x00 }; // thin / full
    let p = [
        0x00, // THRESHOLD EXPONENT: no thresholds
        b5,
        provisioning_type,
        0x00, // THRESHOLD PERCENTAGE
    ];
    with_header(LOGICAL_BLOCK_PROVISIONING, &p)
}
