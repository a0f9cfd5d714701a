//! Device Identification (SPC-5 7.7.6): designators for the logical unit
//! (NAA, T10 vendor ID), the target port (relative port, port group, SCSI
//! name string) and the target device (SCSI name string).

use super::serial::serial_ascii;
use super::{with_header, DEVICE_IDENTIFICATION};
use crate::alua::NexusPort;
use crate::device::{LogicalUnit, TargetPort};
use crate::spc::ascii_field;

/// IEEE COMPANY_ID used in the NAA 6 designator: a locally administered
/// CID (the X bit of the first octet set), since xtgt has no registered OUI.
pub const COMPANY_ID: u32 = 0x0A_5854;

/// PROTOCOL IDENTIFIER for iSCSI (SPC-5 table 444).
const PROTOCOL_ISCSI: u8 = 0x5;

/// Longest SCSI name string we emit (with the NUL and padding: 252 bytes).
const MAX_NAME_LEN: usize = 251;

/// CODE SET values.
const BINARY: u8 = 0x1;
const ASCII: u8 = 0x2;
const UTF8: u8 = 0x3;

/// ASSOCIATION values (bits 5..4 of byte 1).
const ASSOC_LU: u8 = 0b00;
const ASSOC_PORT: u8 = 0b01;
const ASSOC_DEVICE: u8 = 0b10;

/// DESIGNATOR TYPE values.
const T10_VENDOR_ID: u8 = 0x1;
const NAA: u8 = 0x3;
const RELATIVE_TARGET_PORT: u8 = 0x4;
const TARGET_PORT_GROUP: u8 = 0x5;
const SCSI_NAME_STRING: u8 = 0x8;

/// One designation descriptor (SPC-5 7.7.6.1). With `piv`, the PROTOCOL
/// IDENTIFIER is iSCSI.
fn designator(out: &mut Vec<u8>, code_set: u8, piv: bool, assoc: u8, kind: u8, id: &[u8]) {
    let proto = if piv { PROTOCOL_ISCSI << 4 } else { 0 };
    out.push(proto | code_set);
    out.push(if piv { 0x80 } else { 0 } | (assoc << 4) | kind);
    out.push(0);
    out.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(&id[..id.len().min(255)]);
}

/// NAA 6 IEEE Registered Extended (SPC-5 7.7.6.6.5): NAA=6, 24-bit
/// COMPANY_ID, 36-bit VENDOR SPECIFIC IDENTIFIER (0), and the LU's
/// `naa_id` as the 64-bit VENDOR SPECIFIC IDENTIFIER EXTENSION.
pub fn naa6(naa_id: u64) -> [u8; 16] {
    let mut d = [0u8; 16];
    let cid = COMPANY_ID & 0x00FF_FFFF;
    d[0] = 0x60 | ((cid >> 20) & 0x0F) as u8;
    d[1] = (cid >> 12) as u8;
    d[2] = (cid >> 4) as u8;
    d[3] = ((cid & 0x0F) << 4) as u8;
    d[8..16].copy_from_slice(&naa_id.to_be_bytes());
    d
}

/// Longest designator an identification CSCD descriptor can carry
/// (SPC-5 6.5.7.2: a 20-byte DESIGNATOR field).
pub const CSCD_DESIGNATOR_LEN: usize = 20;

/// T10 vendor ID based designator (SPC-5 7.7.6.4): the 8-byte T10 VENDOR
/// IDENTIFICATION and, as VENDOR SPECIFIC IDENTIFIER, the last 12
/// characters of the unit serial number (the low 48 bits of the LU's
/// identity in xtgt's 16-hex-digit serials). Kept at 20 bytes so EXTENDED
/// COPY can name the LU by it in a CSCD; a collision between two LUs makes
/// the designator ambiguous and the copy manager refuses it.
pub fn t10_vendor_id(lu: &LogicalUnit) -> Vec<u8> {
    let mut t10 = ascii_field(&lu.config.vendor, 8);
    let serial = serial_ascii(lu);
    let tail = serial.len().saturating_sub(CSCD_DESIGNATOR_LEN - 8);
    t10.extend_from_slice(serial.get(tail..).unwrap_or_default());
    t10
}

/// A SCSI name string: UTF-8, NUL terminated, padded with NULs to a
/// multiple of 4 bytes (SPC-5 7.7.6.11).
fn scsi_name(s: &str) -> Vec<u8> {
    let mut v: Vec<u8> = s.bytes().filter(|&b| b != 0).take(MAX_NAME_LEN).collect();
    v.push(0);
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
    v
}

/// The page through the target's default port (relative port and TPGT
/// `relative_port_id`, group `port_group`): what the copy manager matches
/// CSCDs against (the LU designators are the same through every port).
pub fn device_identification(lu: &LogicalUnit, port: &TargetPort) -> Vec<u8> {
    let via = PortIds {
        relative_port_id: port.relative_port_id,
        port_group: port.port_group,
        tpgt: port.relative_port_id,
    };
    identification(lu, &port.name, via)
}

/// The page as seen through the target port of an I_T nexus: the LU
/// designators, then the relative target port (type 4), target port group
/// (type 5) and target port name (type 8, "<iqn>,t,0x<tpgt>") of that
/// port, association 01b, and the target device name.
pub fn device_identification_via(
    lu: &LogicalUnit,
    target: &TargetPort,
    port: &NexusPort,
) -> Vec<u8> {
    let via = PortIds {
        relative_port_id: port.relative_port_id,
        port_group: port.port_group,
        tpgt: port.tpgt,
    };
    identification(lu, &target.name, via)
}

/// The port-associated identifiers of one target port.
#[derive(Clone, Copy)]
struct PortIds {
    relative_port_id: u16,
    port_group: u16,
    tpgt: u16,
}

fn identification(lu: &LogicalUnit, target_name: &str, port: PortIds) -> Vec<u8> {
    let mut p = Vec::with_capacity(256);
    designator(
        &mut p,
        BINARY,
        false,
        ASSOC_LU,
        NAA,
        &naa6(lu.config.naa_id),
    );
    designator(
        &mut p,
        ASCII,
        false,
        ASSOC_LU,
        T10_VENDOR_ID,
        &t10_vendor_id(lu),
    );
    let mut rel = [0u8; 4];
    rel[2..4].copy_from_slice(&port.relative_port_id.to_be_bytes());
    designator(&mut p, BINARY, true, ASSOC_PORT, RELATIVE_TARGET_PORT, &rel);
    let mut tpg = [0u8; 4];
    tpg[2..4].copy_from_slice(&port.port_group.to_be_bytes());
    designator(&mut p, BINARY, true, ASSOC_PORT, TARGET_PORT_GROUP, &tpg);
    // RFC 7143 (SCSI port names): the iSCSI target port name is "<name>,t,0x<TPGT>".
    let port_name = format!("{target_name},t,0x{:04x}", port.tpgt);
    designator(
        &mut p,
        UTF8,
        true,
        ASSOC_PORT,
        SCSI_NAME_STRING,
        &scsi_name(&port_name),
    );
    designator(
        &mut p,
        UTF8,
        true,
        ASSOC_DEVICE,
        SCSI_NAME_STRING,
        &scsi_name(target_name),
    );
    with_header(DEVICE_IDENTIFICATION, &p)
}
