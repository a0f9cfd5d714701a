//! Vital product data pages (SPC-5 7.7, SBC-4 6.6), one file per page.

mod block_characteristics;
mod block_limits;
mod device_id;
mod provisioning;
mod serial;
mod supported;

pub use block_characteristics::block_device_characteristics;
pub use block_limits::block_limits;
pub use device_id::{
    device_identification, device_identification_via, naa6, t10_vendor_id, CSCD_DESIGNATOR_LEN,
};
pub use provisioning::logical_block_provisioning;
pub use serial::unit_serial_number;
pub use supported::supported_pages;

use super::inquiry::{NO_LUN, TYPE_DISK};
use crate::command::CommandCtx;
use crate::copy::CopyManager;
use crate::sense::{FieldPointer, ScsiError};

pub const SUPPORTED_PAGES: u8 = 0x00;
pub const UNIT_SERIAL_NUMBER: u8 = 0x80;
pub const DEVICE_IDENTIFICATION: u8 = 0x83;
pub const THIRD_PARTY_COPY: u8 = 0x8F;
pub const BLOCK_LIMITS: u8 = 0xB0;
pub const BLOCK_DEVICE_CHARACTERISTICS: u8 = 0xB1;
pub const LOGICAL_BLOCK_PROVISIONING: u8 = 0xB2;

/// Every page we implement, ascending (SPC-5 7.7.15 requires the order).
pub const PAGES: [u8; 7] = [
    SUPPORTED_PAGES,
    UNIT_SERIAL_NUMBER,
    DEVICE_IDENTIFICATION,
    THIRD_PARTY_COPY,
    BLOCK_LIMITS,
    BLOCK_DEVICE_CHARACTERISTICS,
    LOGICAL_BLOCK_PROVISIONING,
];

/// A VPD page: 4-byte header (SPC-5 7.7.1) and `payload`. The PAGE LENGTH
/// is a 16-bit field; payloads are bounded well below that by construction.
pub(crate) fn with_header(page_code: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    let mut v = Vec::with_capacity(4 + payload.len());
    v.push(TYPE_DISK);
    v.push(page_code);
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&payload[..usize::from(len)]);
    v
}

/// The VPD page `page_code` of the addressed logical unit.
pub fn page(ctx: &CommandCtx<'_>, copy: &CopyManager, page_code: u8) -> Result<Vec<u8>, ScsiError> {
    let lu = ctx.lu;
    Ok(match page_code {
        SUPPORTED_PAGES => supported_pages(),
        UNIT_SERIAL_NUMBER => unit_serial_number(lu),
        DEVICE_IDENTIFICATION => device_identification_via(lu, &ctx.nexus.target, &ctx.nexus.port),
        // SPC-5 7.7.17: from the opcode table and the copy manager's limits,
        // like RSOC and RECEIVE COPY OPERATING PARAMETERS.
        THIRD_PARTY_COPY => with_header(THIRD_PARTY_COPY, &copy.third_party_copy_descriptors(lu)),
        BLOCK_LIMITS => block_limits(lu),
        BLOCK_DEVICE_CHARACTERISTICS => block_device_characteristics(lu),
        LOGICAL_BLOCK_PROVISIONING => logical_block_provisioning(lu),
        _ => return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(2))),
    })
}

/// VPD for a LUN without a logical unit: only the supported pages page,
/// listing itself, with peripheral qualifier 011b.
pub fn page_unmapped(page_code: u8) -> Result<Vec<u8>, ScsiError> {
    if page_code != SUPPORTED_PAGES {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(2)));
    }
    Ok(vec![NO_LUN, SUPPORTED_PAGES, 0, 1, SUPPORTED_PAGES])
}
