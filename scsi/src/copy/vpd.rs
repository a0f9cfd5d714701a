//! The Third-party Copy VPD page (0x8F, SPC-5 7.7.18) as far as EXTENDED
//! COPY (LID1) needs it: Supported Commands (0x0001), Parameter Data
//! (0x0004), Supported Descriptors (0x0008), Supported CSCD IDs (0x000C),
//! General Copy Operations (0x8001).
//!
//! Built from the same [`CopyLimits`] as OPERATING PARAMETERS and from the
//! (operation code, service action) pairs of the opcode table, so VPD 0x8F,
//! RECEIVE COPY OPERATING PARAMETERS and REPORT SUPPORTED OPERATION CODES
//! agree by construction. Later descriptors (ROD token limits and features
//! for POPULATE TOKEN / WRITE USING TOKEN) are appended by their owners.

use super::params::{CopyLimits, IMPLEMENTED_DESCRIPTOR_TYPES, SUPPORTED_CSCD_IDS};
use bytes::{BufMut, BytesMut};

/// Third-party copy descriptor type codes (SPC-5 table 634).
pub const DESC_SUPPORTED_COMMANDS: u16 = 0x0001;
pub const DESC_PARAMETER_DATA: u16 = 0x0004;
pub const DESC_SUPPORTED_DESCRIPTORS: u16 = 0x0008;
pub const DESC_SUPPORTED_CSCD_IDS: u16 = 0x000C;
pub const DESC_GENERAL_COPY_OPERATIONS: u16 = 0x8001;

/// Append one descriptor: type, length (padded to a multiple of 4), body.
fn put_descriptor(out: &mut BytesMut, desc_type: u16, body: &[u8]) {
    let padded = body.len().div_ceil(4) * 4;
    out.put_u16(desc_type);
    out.put_u16(u16::try_from(padded).unwrap_or(u16::MAX));
    out.put_slice(body);
    out.put_bytes(0, padded - body.len());
}

/// Supported Commands descriptor body from (operation code, service action)
/// pairs sorted by operation code (the 0x83/0x84 rows of the opcode table).
fn supported_commands_body(commands: &[(u8, u8)]) -> Vec<u8> {
    let mut list = Vec::new();
    let mut i = 0;
    while let Some(&(opcode, _)) = commands.get(i) {
        let sas: Vec<u8> = commands[i..]
            .iter()
            .take_while(|(o, _)| *o == opcode)
            .map(|(_, sa)| *sa)
            .collect();
        i += sas.len();
        list.push(opcode);
        list.push(u8::try_from(sas.len()).unwrap_or(u8::MAX));
        list.extend_from_slice(&sas);
    }
    let mut body = vec![u8::try_from(list.len()).unwrap_or(u8::MAX)];
    body.extend_from_slice(&list);
    body
}

/// The third-party copy descriptors for EXTENDED COPY (LID1), to be placed
/// after the 4-byte VPD page header. `commands`: every (opcode, service
/// action) of the opcode table with opcode 0x83 or 0x84, sorted.
pub fn extended_copy_descriptors(limits: &CopyLimits, commands: &[(u8, u8)]) -> BytesMut {
    BytesMut::from(&third_party_copy_descriptors(limits, commands, &[], &[])[..])
}

/// The whole VPD 0x8F payload in ascending descriptor type order:
/// `first` (Block Device ROD Token Limits, 0x0000: Windows enables ODX
/// only when it comes first), the EXTENDED COPY descriptors 0x0001..0x000C,
/// `middle` (ROD Token Features 0x0106, Supported ROD Types 0x0108), then
/// General Copy Operations (0x8001).
pub fn third_party_copy_descriptors(
    limits: &CopyLimits,
    commands: &[(u8, u8)],
    first: &[u8],
    middle: &[u8],
) -> Vec<u8> {
    let mut out = BytesMut::new();
    out.put_slice(first);
    put_descriptor(
        &mut out,
        DESC_SUPPORTED_COMMANDS,
        &supported_commands_body(commands),
    );

    let mut pd = BytesMut::zeroed(4);
    pd.put_u16(limits.max_cscd_descriptors);
    pd.put_u16(limits.max_segment_descriptors);
    pd.put_u32(limits.max_descriptor_list_length);
    pd.put_u32(limits.max_inline_data_length);
    pd.put_bytes(0, 12);
    put_descriptor(&mut out, DESC_PARAMETER_DATA, &pd);

    let mut sd = vec![u8::try_from(IMPLEMENTED_DESCRIPTOR_TYPES.len()).unwrap_or(0)];
    sd.extend_from_slice(&IMPLEMENTED_DESCRIPTOR_TYPES);
    put_descriptor(&mut out, DESC_SUPPORTED_DESCRIPTORS, &sd);

    let mut ids = BytesMut::new();
    ids.put_u16(u16::try_from(SUPPORTED_CSCD_IDS.len() * 2).unwrap_or(0));
    for id in SUPPORTED_CSCD_IDS {
        ids.put_u16(id);
    }
    put_descriptor(&mut out, DESC_SUPPORTED_CSCD_IDS, &ids);

    out.put_slice(middle);
    let mut gco = BytesMut::new();
    gco.put_u32(u32::from(limits.total_concurrent_copies));
    gco.put_u32(u32::from(limits.max_concurrent_copies));
    gco.put_u32(limits.max_segment_length);
    gco.put_u8(limits.data_segment_granularity_log2);
    gco.put_u8(limits.inline_data_granularity_log2);
    gco.put_bytes(0, 18);
    put_descriptor(&mut out, DESC_GENERAL_COPY_OPERATIONS, &gco);
    out.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_byte_exact() {
        let d = extended_copy_descriptors(
            &CopyLimits::default(),
            &[(0x83, 0x00), (0x84, 0x00), (0x84, 0x03), (0x84, 0x04)],
        );
        #[rustfmt::skip]
        let want: Vec<u8> = [
            // Supported Commands: list length 8, body 9 padded to 12.
            &[0x00, 0x01, 0x00, 0x0C, 8, 0x83, 1, 0x00, 0x84, 3, 0x00, 0x03, 0x04, 0, 0, 0][..],
            // Parameter Data (0x1C).
            &[0x00, 0x04, 0x00, 0x1C, 0, 0, 0, 0, 0, 64, 0, 64, 0, 0, 0x20, 0, 0, 0, 0, 0,
              0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            // Supported Descriptors: 3 codes, padded to 4.
            &[0x00, 0x08, 0x00, 0x04, 3, 0x02, 0x0A, 0xE4],
            // Supported CSCD IDs: 0xFFFF.
            &[0x00, 0x0C, 0x00, 0x04, 0, 2, 0xFF, 0xFF],
            // General Copy Operations (0x20).
            &[0x80, 0x01, 0x00, 0x20, 0, 0, 0, 16, 0, 0, 0, 16, 0x10, 0, 0, 0, 9, 0,
              0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ]
        .concat();
        assert_eq!(&d[..], &want[..]);
    }
}
