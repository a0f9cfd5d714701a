//! INQUIRY (SPC-5 6.7): standard data and the dispatch to VPD pages.

use super::{ascii_field, truncate, vpd};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::copy::CopyManager;
use crate::device::{LogicalUnit, Nexus};
use crate::sense::{FieldPointer, ScsiError};

/// PERIPHERAL DEVICE TYPE of a direct access block device (SPC-5 6.7.2).
pub const TYPE_DISK: u8 = 0x00;
/// PERIPHERAL QUALIFIER 011b + type 1Fh: no logical unit at this LUN.
pub const NO_LUN: u8 = 0x7F;

/// VERSION: 06h (SPC-4). SPC-5 would be 07h, but libiscsi's
/// iscsi-test-cu (SCSI.Inquiry.Standard) fails every VERSION other than
/// 04h..06h, and initiators treat 06h and 07h alike; the version descriptors
/// below still name SPC-5.
pub const VERSION: u8 = 0x06;

/// Version descriptors (SPC-5 table 148): SAM-5, iSCSI (no version
/// claimed), SPC-5, SBC-4, and the SPC-4 and SBC-3 they extend: initiators
/// (libiscsi among them) key features such as the SBC-3 Block Limits page
/// length on the SBC-3 descriptor.
pub const VERSION_DESCRIPTORS: [u16; 6] = [0x00A0, 0x0960, 0x05C0, 0x0600, 0x0460, 0x04C0];

/// Length of the standard INQUIRY data we return (ADDITIONAL LENGTH 5Bh).
pub const STANDARD_LEN: usize = 96;

/// Fields of an INQUIRY CDB.
struct Cdb {
    evpd: bool,
    page_code: u8,
    allocation_length: usize,
}

fn parse(cdb: &[u8]) -> Result<Cdb, ScsiError> {
    let b = |i: usize| cdb.get(i).copied().unwrap_or(0);
    let c = Cdb {
        evpd: b(1) & 0x01 != 0,
        page_code: b(2),
        allocation_length: usize::from(u16::from_be_bytes([b(3), b(4)])),
    };
    // SPC-5 6.7.1: PAGE CODE with EVPD=0 is an error.
    if !c.evpd && c.page_code != 0 {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(2)));
    }
    Ok(c)
}

/// Standard INQUIRY data (SPC-5 6.7.2) with `peripheral` in byte 0.
pub fn standard_data(peripheral: u8, vendor: &str, product: &str, revision: &str) -> Vec<u8> {
    let mut d = Vec::with_capacity(STANDARD_LEN);
    d.push(peripheral);
    d.push(0x00); // RMB=0: not removable
    d.push(VERSION);
    d.push(0x12); // HISUP=1, RESPONSE DATA FORMAT=2
    d.push((STANDARD_LEN - 5) as u8); // ADDITIONAL LENGTH
                                      // SCCS ACC TPGS=00b (a mapped LU sets its ALUA support) 3PC=1
                                      // (EXTENDED COPY, SPC-5 6.7.2) PROTECT
    d.push(0x08);
    d.push(0x00); // ENCSERV MULTIP
    d.push(0x02); // CMDQUE=1
    d.extend_from_slice(&ascii_field(vendor, 8));
    d.extend_from_slice(&ascii_field(product, 16));
    d.extend_from_slice(&ascii_field(revision, 4));
    d.resize(58, 0); // vendor specific, byte 56 (clocking), byte 57
    for v in VERSION_DESCRIPTORS {
        d.extend_from_slice(&v.to_be_bytes());
    }
    d.resize(STANDARD_LEN, 0);
    d
}

/// The standard data of a mapped LU as seen through `nexus`'s target port:
/// TPGS (byte 5 bits 5..4) 01b, implicit ALUA, or 11b with SET TARGET PORT
/// GROUPS too (SPC-5 6.7.2, 5.16).
fn lu_standard_data(lu: &LogicalUnit, nexus: &Nexus) -> Vec<u8> {
    let c = &lu.config;
    let mut d = standard_data(TYPE_DISK, &c.vendor, &c.product, &c.revision);
    if let Some(b) = d.get_mut(5) {
        *b |= nexus.port.alua.tpgs() << 4;
    }
    if lu.medium.removable {
        if let Some(b) = d.get_mut(1) {
            *b |= 0x80; // RMB=1: removable medium (SPC-5 6.7.2)
        }
    }
    d
}

/// INQUIRY for a mapped logical unit; the copy manager describes itself
/// in VPD page 0x8F.
pub async fn inquiry(copy: &CopyManager, ctx: &CommandCtx<'_>) -> CommandResult {
    let c = parse(ctx.cdb)?;
    let data = if c.evpd {
        vpd::page(ctx, copy, c.page_code)?
    } else {
        lu_standard_data(ctx.lu, ctx.nexus)
    };
    Ok(Completion::data(truncate(data, c.allocation_length)))
}

/// INQUIRY addressed to a LUN that is not mapped (SPC-5 6.7.2: peripheral
/// qualifier 011b, device type 1Fh).
pub fn inquiry_unmapped(_nexus: &Nexus, cdb: &[u8]) -> CommandResult {
    let c = parse(cdb)?;
    let data = if c.evpd {
        vpd::page_unmapped(c.page_code)?
    } else {
        standard_data(NO_LUN, "XTGT", "", "")
    };
    Ok(Completion::data(truncate(data, c.allocation_length)))
}
