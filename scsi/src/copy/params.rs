//! EXTENDED COPY (LID1) parameter list parsing (SPC-4 6.4.3, SPC-5 6.5.3).
//!
//! I/O free: bytes in, a [`Lid1ParameterList`] or the exact [`ScsiError`]
//! out. Nothing here resolves a CSCD or touches a backend; `plan` does that.
//! Every length comes from the wire, so every access is checked and every
//! count is bounded by [`CopyLimits`] before anything is allocated.

use crate::sense::{FieldPointer, ScsiError};
use crate::wire::be_uint;

/// Offset of the first CSCD descriptor in a LID1 parameter list.
pub const LID1_HEADER_LEN: usize = 16;
/// Length of every CSCD descriptor (SPC-5 6.5.7.1).
pub const CSCD_DESCRIPTOR_LEN: usize = 32;
/// Identification descriptor CSCD descriptor type code (SPC-5 6.5.7.2).
pub const CSCD_TYPE_IDENTIFICATION: u8 = 0xE4;
/// Block device to block device segment descriptor (SPC-5 6.5.8.5).
pub const SEGMENT_TYPE_BLOCK_TO_BLOCK: u8 = 0x02;
/// Block device to block device with offsets (SPC-5 6.5.8.7).
pub const SEGMENT_TYPE_BLOCK_TO_BLOCK_OFFSETS: u8 = 0x0A;
/// The descriptor type codes this copy manager implements, in the order
/// OPERATING PARAMETERS and VPD 0x8F (Supported Descriptors) list them.
pub const IMPLEMENTED_DESCRIPTOR_TYPES: [u8; 3] = [
    SEGMENT_TYPE_BLOCK_TO_BLOCK,
    SEGMENT_TYPE_BLOCK_TO_BLOCK_OFFSETS,
    CSCD_TYPE_IDENTIFICATION,
];
/// The CSCD ID that names the LU that received the command (SPC-5 6.5.7.1).
pub const CSCD_ID_RECEIVING_LU: u16 = 0xFFFF;
/// CSCD IDs supported besides indexes into the CSCD list (VPD 0x8F 0x000C).
pub const SUPPORTED_CSCD_IDS: [u16; 1] = [CSCD_ID_RECEIVING_LU];

/// The limits of this copy manager. One value feeds RECEIVE COPY OPERATING
/// PARAMETERS (SPC-5 6.22), VPD 0x8F (SPC-5 7.7.18) and the checks made
/// here, in `plan` and in `engine`, so what is advertised is what is enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyLimits {
    /// MAXIMUM CSCD DESCRIPTOR COUNT (>= 64).
    pub max_cscd_descriptors: u16,
    /// MAXIMUM SEGMENT DESCRIPTOR COUNT (>= 64).
    pub max_segment_descriptors: u16,
    /// MAXIMUM DESCRIPTOR LIST LENGTH in bytes: CSCD plus segment lists.
    pub max_descriptor_list_length: u32,
    /// MAXIMUM SEGMENT LENGTH in bytes written by one segment.
    pub max_segment_length: u32,
    /// MAXIMUM INLINE DATA LENGTH (0: no inline data).
    pub max_inline_data_length: u32,
    /// HELD DATA LIMIT (0: no held data for RECEIVE COPY DATA).
    pub held_data_limit: u32,
    /// MAXIMUM STREAM DEVICE TRANSFER SIZE (0: no stream devices).
    pub max_stream_device_transfer_size: u32,
    /// TOTAL CONCURRENT COPIES: copies the copy manager runs at once; more
    /// wait for a slot.
    pub total_concurrent_copies: u16,
    /// MAXIMUM CONCURRENT COPIES (with a list identifier).
    pub max_concurrent_copies: u8,
    /// DATA SEGMENT GRANULARITY (log2 bytes): a 0x0A segment's NUMBER OF
    /// BYTES must be a multiple of this, else 0x26/0x0D.
    pub data_segment_granularity_log2: u8,
    /// INLINE DATA GRANULARITY (log2).
    pub inline_data_granularity_log2: u8,
    /// HELD DATA GRANULARITY (log2).
    pub held_data_granularity_log2: u8,
    /// Emulated copy: bytes per read/write chunk.
    pub chunk_size: u32,
    /// Emulated copy: chunks in flight per copy (memory per copy is
    /// `chunk_size * chunks_in_flight`).
    pub chunks_in_flight: u16,
}

impl Default for CopyLimits {
    /// Generous limits: ESXi's 4-16 MiB segments and QEMU's 65535-block
    /// segments on 4096-byte LUs (256 MiB - 4 KiB) fit in one segment.
    fn default() -> Self {
        Self {
            max_cscd_descriptors: 64,
            max_segment_descriptors: 64,
            max_descriptor_list_length: 8192,
            max_segment_length: 256 * 1024 * 1024,
            max_inline_data_length: 0,
            held_data_limit: 0,
            max_stream_device_transfer_size: 0,
            total_concurrent_copies: 16,
            max_concurrent_copies: 16,
            data_segment_granularity_log2: 9,
            inline_data_granularity_log2: 0,
            held_data_granularity_log2: 0,
            chunk_size: 1024 * 1024,
            chunks_in_flight: 4,
        }
    }
}

impl CopyLimits {
    /// The largest EXTENDED COPY (LID1) parameter list accepted.
    pub fn max_parameter_list_length(&self) -> u64 {
        LID1_HEADER_LEN as u64
            + u64::from(self.max_descriptor_list_length)
            + u64::from(self.max_inline_data_length)
    }
}

/// LIST ID USAGE (SPC-5 6.5.3, table 117).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListIdUsage {
    /// 00b: hold the results for RECEIVE COPY RESULTS.
    HoldResults,
    /// 10b: the list identifier is in use while the copy runs; no held results.
    NoHoldResults,
    /// 11b: no list identifier (LIST IDENTIFIER must be zero).
    NoListId,
}

/// The 16-byte LID1 parameter list header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lid1Header {
    pub list_identifier: u8,
    /// STR (sequential striped) bit; a hint only.
    pub str_bit: bool,
    pub list_id_usage: ListIdUsage,
    /// PRIORITY (0 highest .. 7 lowest).
    pub priority: u8,
    pub cscd_descriptor_list_length: u16,
    pub segment_descriptor_list_length: u32,
    pub inline_data_length: u32,
}

/// A designation descriptor as carried in an identification CSCD
/// descriptor (bytes 4..28) and in VPD 0x83 (SPC-5 7.7.6.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Designator {
    /// CODE SET (low 4 bits of byte 0).
    pub code_set: u8,
    /// ASSOCIATION (2 bits): 00b logical unit.
    pub association: u8,
    /// DESIGNATOR TYPE (4 bits): 2 EUI-64, 3 NAA, 1 T10 vendor ID, 8 SCSI name.
    pub designator_type: u8,
    /// The designator bytes (at most 20 in a CSCD descriptor).
    pub value: Vec<u8>,
}

impl Designator {
    /// Parse one designation descriptor header + designator at the start of
    /// `b` (VPD 0x83 layout); returns the descriptor and its total length.
    /// The device server can turn its VPD 0x83 page into the designators a
    /// CSCD resolver matches against, so the two never disagree.
    pub fn parse_designation_descriptor(b: &[u8]) -> Option<(Designator, usize)> {
        let head = b.get(..4)?;
        let len = usize::from(head[3]);
        let value = b.get(4..4 + len)?;
        Some((
            Designator {
                code_set: head[0] & 0x0F,
                association: (head[1] >> 4) & 0x03,
                designator_type: head[1] & 0x0F,
                value: value.to_vec(),
            },
            4 + len,
        ))
    }

    /// All designation descriptors of a VPD 0x83 page (with its 4-byte page
    /// header). Truncated trailing descriptors are ignored.
    pub fn from_vpd83_page(page: &[u8]) -> Vec<Designator> {
        let mut out = Vec::new();
        let Some(len) = page
            .get(2..4)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
        else {
            return out;
        };
        let end = page.len().min(4 + len);
        let mut off = 4;
        while off < end {
            let Some(rest) = page.get(off..end) else {
                break;
            };
            let Some((d, n)) = Designator::parse_designation_descriptor(rest) else {
                break;
            };
            out.push(d);
            off += n;
        }
        out
    }
}

/// An identification descriptor CSCD descriptor (type 0xE4, SPC-5 6.5.7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentificationCscd {
    /// Byte offset of this descriptor in the parameter list (for sense).
    pub offset: u16,
    /// LU ID TYPE: ignored as SPC-4 requires (libiscsi ValidTgtDescr).
    pub lu_id_type: u8,
    /// NUL bit (SPC-3 null device; obsolete): refused by `plan` when used.
    pub nul: bool,
    pub peripheral_device_type: u8,
    pub relative_initiator_port_identifier: u16,
    pub designator: Designator,
    /// PAD bit of the device type specific parameters.
    pub pad: bool,
    /// DISK BLOCK LENGTH (0: the LU's own).
    pub disk_block_length: u32,
}

/// The source or destination of a segment: an index into the CSCD list or
/// the receiving LU (0xFFFF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CscdRef {
    Index(u16),
    ReceivingLu,
}

impl CscdRef {
    fn from_id(id: u16) -> Self {
        if id == CSCD_ID_RECEIVING_LU {
            CscdRef::ReceivingLu
        } else {
            CscdRef::Index(id)
        }
    }
}

/// What one block-device segment asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    /// 0x02: NUMBER OF BLOCKS counted in destination blocks when `dc`,
    /// else in source blocks.
    BlockToBlock { dc: bool, number_of_blocks: u16 },
    /// 0x0A: NUMBER OF BYTES with byte offsets into the first blocks.
    BlockToBlockOffsets {
        number_of_bytes: u32,
        source_byte_offset: u16,
        destination_byte_offset: u16,
    },
}

/// One parsed segment descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentDescriptor {
    /// Byte offset of this descriptor in the parameter list (segment pointer).
    pub offset: u16,
    pub type_code: u8,
    /// CAT bit.
    pub cat: bool,
    pub source: CscdRef,
    pub destination: CscdRef,
    pub source_lba: u64,
    pub destination_lba: u64,
    pub kind: SegmentKind,
}

/// A parsed, syntactically valid LID1 parameter list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lid1ParameterList {
    pub header: Lid1Header,
    pub cscds: Vec<IdentificationCscd>,
    pub segments: Vec<SegmentDescriptor>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    u16::try_from(be_uint(b, at, 2)?).ok()
}
fn be24(b: &[u8], at: usize) -> Option<u32> {
    u32::try_from(be_uint(b, at, 3)?).ok()
}
fn be32(b: &[u8], at: usize) -> Option<u32> {
    u32::try_from(be_uint(b, at, 4)?).ok()
}
fn be64(b: &[u8], at: usize) -> Option<u64> {
    be_uint(b, at, 8)
}

/// A field pointer into the parameter list; offsets past u16 cannot occur
/// because the list is bounded by [`CopyLimits`], but saturate anyway.
fn fp(byte: usize) -> FieldPointer {
    FieldPointer::byte(u16::try_from(byte).unwrap_or(u16::MAX))
}
fn fp_bit(byte: usize, bit: u8) -> FieldPointer {
    FieldPointer::bit(u16::try_from(byte).unwrap_or(u16::MAX), bit)
}

/// Parse the header (SPC-5 6.5.3). `data` is the whole parameter list.
pub fn parse_lid1_header(data: &[u8]) -> Result<Lid1Header, ScsiError> {
    let h = data
        .get(..LID1_HEADER_LEN)
        .ok_or(ScsiError::ParameterListLengthError)?;
    let list_identifier = h[0];
    let list_id_usage = match (h[1] >> 3) & 0x03 {
        0b00 => ListIdUsage::HoldResults,
        0b10 => ListIdUsage::NoHoldResults,
        0b11 => ListIdUsage::NoListId,
        _ => return Err(ScsiError::InvalidFieldInParameterList(fp_bit(1, 4))),
    };
    if list_id_usage == ListIdUsage::NoListId && list_identifier != 0 {
        return Err(ScsiError::InvalidFieldInParameterList(fp(0)));
    }
    Ok(Lid1Header {
        list_identifier,
        str_bit: h[1] & 0x20 != 0,
        list_id_usage,
        priority: h[1] & 0x07,
        cscd_descriptor_list_length: be16(h, 2).ok_or(ScsiError::ParameterListLengthError)?,
        segment_descriptor_list_length: be32(h, 8).ok_or(ScsiError::ParameterListLengthError)?,
        inline_data_length: be32(h, 12).ok_or(ScsiError::ParameterListLengthError)?,
    })
}

/// Parse a whole EXTENDED COPY (LID1) parameter list. `data` is the
/// Data-Out, already cut to the CDB's PARAMETER LIST LENGTH (a length of
/// zero is the caller's "do nothing, GOOD" and never reaches here).
///
/// Check order (libiscsi DescrLimits depends on it): header; overall
/// lengths (0x1A/0x00); CSCD count (0x26/0x06); CSCD types (0x26/0x07);
/// segments one by one (count 0x26/0x08, type 0x26/0x09, layout).
pub fn parse_lid1(data: &[u8], limits: &CopyLimits) -> Result<Lid1ParameterList, ScsiError> {
    if data.len() as u64 > limits.max_parameter_list_length() {
        return Err(ScsiError::ParameterListLengthError);
    }
    let header = parse_lid1_header(data)?;
    let cscd_len = usize::from(header.cscd_descriptor_list_length);
    let seg_len = usize::try_from(header.segment_descriptor_list_length)
        .map_err(|_| ScsiError::ParameterListLengthError)?;
    let inline_len = usize::try_from(header.inline_data_length)
        .map_err(|_| ScsiError::ParameterListLengthError)?;
    let descriptors = cscd_len
        .checked_add(seg_len)
        .ok_or(ScsiError::ParameterListLengthError)?;
    if descriptors as u64 > u64::from(limits.max_descriptor_list_length) {
        return Err(ScsiError::ParameterListLengthError);
    }
    if header.inline_data_length > limits.max_inline_data_length {
        return Err(ScsiError::InlineDataLengthExceeded);
    }
    let needed = LID1_HEADER_LEN
        .checked_add(descriptors)
        .and_then(|n| n.checked_add(inline_len))
        .ok_or(ScsiError::ParameterListLengthError)?;
    if data.len() < needed {
        return Err(ScsiError::ParameterListLengthError);
    }
    if cscd_len % CSCD_DESCRIPTOR_LEN != 0 {
        return Err(ScsiError::InvalidFieldInParameterList(fp(2)));
    }
    if cscd_len / CSCD_DESCRIPTOR_LEN > usize::from(limits.max_cscd_descriptors) {
        return Err(ScsiError::TooManyTargetDescriptors);
    }

    let mut cscds = Vec::with_capacity(cscd_len / CSCD_DESCRIPTOR_LEN);
    let mut off = LID1_HEADER_LEN;
    while off < LID1_HEADER_LEN + cscd_len {
        let d = data
            .get(off..off + CSCD_DESCRIPTOR_LEN)
            .ok_or(ScsiError::ParameterListLengthError)?;
        cscds.push(parse_cscd(d, off)?);
        off += CSCD_DESCRIPTOR_LEN;
    }

    let seg_start = LID1_HEADER_LEN + cscd_len;
    let seg_end = seg_start + seg_len;
    let mut segments = Vec::new();
    let mut off = seg_start;
    while off < seg_end {
        if segments.len() >= usize::from(limits.max_segment_descriptors) {
            return Err(ScsiError::TooManySegmentDescriptors);
        }
        let rest = data
            .get(off..seg_end)
            .ok_or(ScsiError::ParameterListLengthError)?;
        let (seg, len) = parse_segment(rest, off)?;
        segments.push(seg);
        off += len;
    }
    Ok(Lid1ParameterList {
        header,
        cscds,
        segments,
    })
}

/// One CSCD descriptor at parameter-list offset `off` (32 bytes in `d`).
fn parse_cscd(d: &[u8], off: usize) -> Result<IdentificationCscd, ScsiError> {
    let short = ScsiError::ParameterListLengthError;
    let type_code = *d.first().ok_or(short.clone())?;
    if type_code != CSCD_TYPE_IDENTIFICATION {
        return Err(ScsiError::UnsupportedTargetDescriptorType(fp(off)));
    }
    let b1 = *d.get(1).ok_or(short.clone())?;
    let desig_len = usize::from(*d.get(7).ok_or(short.clone())?);
    if desig_len > 20 {
        return Err(ScsiError::InvalidFieldInParameterList(fp(off + 7)));
    }
    let value = d.get(8..8 + desig_len).ok_or(short.clone())?.to_vec();
    let b4 = *d.get(4).ok_or(short.clone())?;
    let b5 = *d.get(5).ok_or(short.clone())?;
    Ok(IdentificationCscd {
        offset: u16::try_from(off).unwrap_or(u16::MAX),
        lu_id_type: b1 >> 6,
        nul: b1 & 0x20 != 0,
        peripheral_device_type: b1 & 0x1F,
        relative_initiator_port_identifier: be16(d, 2).ok_or(short.clone())?,
        designator: Designator {
            code_set: b4 & 0x0F,
            association: (b5 >> 4) & 0x03,
            designator_type: b5 & 0x0F,
            value,
        },
        pad: d.get(28).ok_or(short.clone())? & 0x04 != 0,
        disk_block_length: be24(d, 29).ok_or(short)?,
    })
}

/// One segment descriptor at the start of `d` (the rest of the segment
/// list), parameter-list offset `off`. Returns it and its length.
fn parse_segment(d: &[u8], off: usize) -> Result<(SegmentDescriptor, usize), ScsiError> {
    let short = ScsiError::ParameterListLengthError;
    let type_code = *d.first().ok_or(short.clone())?;
    let expected_len: u16 = match type_code {
        SEGMENT_TYPE_BLOCK_TO_BLOCK => 0x18,
        SEGMENT_TYPE_BLOCK_TO_BLOCK_OFFSETS => 0x1C,
        _ => return Err(ScsiError::UnsupportedSegmentDescriptorType(fp(off))),
    };
    let descriptor_length = be16(d, 2).ok_or(short.clone())?;
    if descriptor_length != expected_len {
        return Err(ScsiError::InvalidFieldInParameterList(fp(off + 2)));
    }
    let total = 4 + usize::from(expected_len);
    let d = d.get(..total).ok_or(short.clone())?;
    let b1 = d[1];
    let kind = if type_code == SEGMENT_TYPE_BLOCK_TO_BLOCK {
        SegmentKind::BlockToBlock {
            dc: b1 & 0x02 != 0,
            number_of_blocks: be16(d, 10).ok_or(short.clone())?,
        }
    } else {
        SegmentKind::BlockToBlockOffsets {
            number_of_bytes: be32(d, 8).ok_or(short.clone())?,
            source_byte_offset: be16(d, 28).ok_or(short.clone())?,
            destination_byte_offset: be16(d, 30).ok_or(short.clone())?,
        }
    };
    Ok((
        SegmentDescriptor {
            offset: u16::try_from(off).unwrap_or(u16::MAX),
            type_code,
            cat: b1 & 0x01 != 0,
            source: CscdRef::from_id(be16(d, 4).ok_or(short.clone())?),
            destination: CscdRef::from_id(be16(d, 6).ok_or(short.clone())?),
            source_lba: be64(d, 12).ok_or(short.clone())?,
            destination_lba: be64(d, 20).ok_or(short)?,
            kind,
        },
        total,
    ))
}

/// Builders for parameter lists, shared by the tests of `copy`.
#[cfg(test)]
pub(crate) mod build {
    use super::*;

    /// A 0xE4 CSCD naming an NAA designator (LU association).
    pub fn cscd_naa(naa: [u8; 8], block_len: u32) -> Vec<u8> {
        cscd(0x01, 0x03, &naa, block_len)
    }

    pub fn cscd(code_set: u8, desig_type: u8, value: &[u8], block_len: u32) -> Vec<u8> {
        let mut d = vec![0u8; 32];
        d[0] = CSCD_TYPE_IDENTIFICATION;
        d[4] = code_set;
        d[5] = desig_type;
        d[7] = value.len() as u8;
        d[8..8 + value.len()].copy_from_slice(value);
        d[29..32].copy_from_slice(&block_len.to_be_bytes()[1..]);
        d
    }

    pub fn seg_b2b(
        dc: bool,
        src: u16,
        dst: u16,
        blocks: u16,
        src_lba: u64,
        dst_lba: u64,
    ) -> Vec<u8> {
        let mut d = vec![0u8; 28];
        d[0] = SEGMENT_TYPE_BLOCK_TO_BLOCK;
        d[1] = if dc { 0x02 } else { 0 };
        d[2..4].copy_from_slice(&0x18u16.to_be_bytes());
        d[4..6].copy_from_slice(&src.to_be_bytes());
        d[6..8].copy_from_slice(&dst.to_be_bytes());
        d[10..12].copy_from_slice(&blocks.to_be_bytes());
        d[12..20].copy_from_slice(&src_lba.to_be_bytes());
        d[20..28].copy_from_slice(&dst_lba.to_be_bytes());
        d
    }

    #[allow(clippy::too_many_arguments)]
    pub fn seg_offsets(
        src: u16,
        dst: u16,
        bytes: u32,
        src_lba: u64,
        dst_lba: u64,
        src_off: u16,
        dst_off: u16,
    ) -> Vec<u8> {
        let mut d = vec![0u8; 32];
        d[0] = SEGMENT_TYPE_BLOCK_TO_BLOCK_OFFSETS;
        d[2..4].copy_from_slice(&0x1Cu16.to_be_bytes());
        d[4..6].copy_from_slice(&src.to_be_bytes());
        d[6..8].copy_from_slice(&dst.to_be_bytes());
        d[8..12].copy_from_slice(&bytes.to_be_bytes());
        d[12..20].copy_from_slice(&src_lba.to_be_bytes());
        d[20..28].copy_from_slice(&dst_lba.to_be_bytes());
        d[28..30].copy_from_slice(&src_off.to_be_bytes());
        d[30..32].copy_from_slice(&dst_off.to_be_bytes());
        d
    }

    /// Header + descriptors with the lengths filled in.
    pub fn list(list_id: u8, usage: u8, cscds: &[Vec<u8>], segs: &[Vec<u8>]) -> Vec<u8> {
        let c: Vec<u8> = cscds.concat();
        let s: Vec<u8> = segs.concat();
        let mut h = vec![0u8; 16];
        h[0] = list_id;
        h[1] = (usage & 3) << 3;
        h[2..4].copy_from_slice(&(c.len() as u16).to_be_bytes());
        h[8..12].copy_from_slice(&(s.len() as u32).to_be_bytes());
        [h, c, s].concat()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::build::*;
    use super::*;

    const NAA: [u8; 8] = [0x60, 0x01, 0x40, 0x50, 0, 0, 0, 1];

    fn simple() -> Vec<u8> {
        list(
            1,
            0b10,
            &[cscd_naa(NAA, 512)],
            &[
                seg_b2b(false, 0, 0xFFFF, 2048, 0, 4096),
                seg_offsets(0xFFFF, 0, 4096, 7, 9, 0, 0),
            ],
        )
    }

    #[test]
    fn parses_header_cscd_and_both_segment_types() {
        let p = parse_lid1(&simple(), &CopyLimits::default()).unwrap();
        assert_eq!(p.header.list_identifier, 1);
        assert_eq!(p.header.list_id_usage, ListIdUsage::NoHoldResults);
        assert_eq!(p.cscds.len(), 1);
        let c = &p.cscds[0];
        assert_eq!(c.offset, 16);
        assert_eq!(c.designator.designator_type, 3);
        assert_eq!(c.designator.code_set, 1);
        assert_eq!(c.designator.value, NAA.to_vec());
        assert_eq!(c.disk_block_length, 512);
        assert_eq!(p.segments.len(), 2);
        assert_eq!(
            p.segments[0],
            SegmentDescriptor {
                offset: 48,
                type_code: 2,
                cat: false,
                source: CscdRef::Index(0),
                destination: CscdRef::ReceivingLu,
                source_lba: 0,
                destination_lba: 4096,
                kind: SegmentKind::BlockToBlock {
                    dc: false,
                    number_of_blocks: 2048
                },
            }
        );
        assert_eq!(p.segments[1].offset, 76);
        assert_eq!(
            p.segments[1].kind,
            SegmentKind::BlockToBlockOffsets {
                number_of_bytes: 4096,
                source_byte_offset: 0,
                destination_byte_offset: 0
            }
        );
    }

    /// Every strict prefix of a valid list is refused with PARAMETER LIST
    /// LENGTH ERROR (the header still claims the full lengths) and never
    /// panics.
    #[test]
    fn every_truncation_is_a_parameter_list_length_error() {
        let full = simple();
        for n in 0..full.len() {
            assert_eq!(
                parse_lid1(&full[..n], &CopyLimits::default()),
                Err(ScsiError::ParameterListLengthError),
                "prefix {n}"
            );
        }
    }

    /// libiscsi ExtendedCopy.ParamHdr: list length cutting the CSCD or the
    /// segment descriptor.
    #[test]
    fn libiscsi_param_hdr() {
        let full = list(
            1,
            0,
            &[cscd_naa(NAA, 512)],
            &[seg_b2b(false, 0, 0, 2048, 0, 8)],
        );
        let l = CopyLimits::default();
        assert_eq!(
            parse_lid1(&full[..16 + 31], &l),
            Err(ScsiError::ParameterListLengthError)
        );
        assert_eq!(
            parse_lid1(&full[..16 + 32 + 27], &l),
            Err(ScsiError::ParameterListLengthError)
        );
        assert!(parse_lid1(&full, &l).is_ok());
    }

    /// libiscsi ExtendedCopy.DescrLimits, with our advertised limits.
    #[test]
    fn libiscsi_descr_limits() {
        let l = CopyLimits::default();
        let c = cscd_naa(NAA, 512);
        let s = seg_b2b(false, 0, 0, 2048, 0, 8);
        let max_c = usize::from(l.max_cscd_descriptors);
        let max_s = usize::from(l.max_segment_descriptors);
        let too_many_cscds = list(1, 0, &vec![c.clone(); max_c + 1], std::slice::from_ref(&s));
        assert_eq!(
            parse_lid1(&too_many_cscds, &l),
            Err(ScsiError::TooManyTargetDescriptors)
        );
        let too_many_segs = list(2, 0, std::slice::from_ref(&c), &vec![s.clone(); max_s + 1]);
        assert_eq!(
            parse_lid1(&too_many_segs, &l),
            Err(ScsiError::TooManySegmentDescriptors)
        );
        // 65 CSCDs and enough segments to pass max descriptor list length.
        let alloc = 16 + l.max_descriptor_list_length as usize + 28;
        let seg_count = (alloc - 16 - (max_c + 1) * 32) / 28;
        let too_long = list(3, 0, &vec![c; max_c + 1], &vec![s; seg_count]);
        assert_eq!(
            parse_lid1(&too_long, &l),
            Err(ScsiError::ParameterListLengthError)
        );
        // Exactly at the limits is accepted.
        let at = list(
            4,
            0,
            &vec![cscd_naa(NAA, 512); max_c],
            &vec![seg_b2b(false, 0, 0, 1, 0, 8); max_s],
        );
        assert_eq!(parse_lid1(&at, &l).unwrap().segments.len(), max_s);
    }

    /// libiscsi ExtendedCopy.DescrType: FC N_Port_Name CSCD (0xE0) and a
    /// stream-to-stream segment (0x03) are refused with a field pointer.
    #[test]
    fn unsupported_descriptor_types() {
        let l = CopyLimits::default();
        let mut fc = cscd_naa(NAA, 512);
        fc[0] = 0xE0;
        let p = list(1, 0, &[fc], &[seg_b2b(false, 0, 0, 1, 0, 8)]);
        assert_eq!(
            parse_lid1(&p, &l),
            Err(ScsiError::UnsupportedTargetDescriptorType(
                FieldPointer::byte(16)
            ))
        );
        let mut s2s = vec![0u8; 20];
        s2s[0] = 0x03;
        s2s[3] = 0x10;
        let p = list(1, 0, &[cscd_naa(NAA, 512)], &[s2s]);
        assert_eq!(
            parse_lid1(&p, &l),
            Err(ScsiError::UnsupportedSegmentDescriptorType(
                FieldPointer::byte(48)
            ))
        );
        let e = ScsiError::UnsupportedSegmentDescriptorType(FieldPointer::byte(48)).sense();
        assert_eq!(e.encode_fixed()[12..18], [0x26, 0x09, 0, 0x80, 0, 48]);
    }

    #[test]
    fn header_field_checks() {
        let l = CopyLimits::default();
        let mut p = simple();
        p[1] = 0b01 << 3; // reserved LIST ID USAGE
        assert_eq!(
            parse_lid1(&p, &l),
            Err(ScsiError::InvalidFieldInParameterList(FieldPointer::bit(
                1, 4
            )))
        );
        let mut p = simple();
        p[1] = 0b11 << 3; // no list id, but LIST IDENTIFIER 1
        assert_eq!(
            parse_lid1(&p, &l),
            Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
                0
            )))
        );
        p[0] = 0;
        p[1] = (0b11 << 3) | 0x05;
        let h = parse_lid1(&p, &l).unwrap().header;
        assert_eq!((h.list_id_usage, h.priority), (ListIdUsage::NoListId, 5));
        let mut p = simple();
        p[15] = 1; // inline data
        assert_eq!(parse_lid1(&p, &l), Err(ScsiError::InlineDataLengthExceeded));
        let mut p = simple();
        p[3] = 31; // CSCD list length not a multiple of 32
        p.remove(16);
        assert_eq!(
            parse_lid1(&p, &l),
            Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
                2
            )))
        );
        let mut p = simple();
        p[48 + 3] = 0x1C; // wrong descriptor length for 0x02
        assert_eq!(
            parse_lid1(&p, &l),
            Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
                50
            )))
        );
        let mut p = simple();
        p[16 + 7] = 21; // designator longer than 20 bytes
        assert_eq!(
            parse_lid1(&p, &l),
            Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
                23
            )))
        );
    }

    #[test]
    fn oversized_parameter_list_is_refused_before_parsing() {
        let l = CopyLimits::default();
        let big = vec![0u8; l.max_parameter_list_length() as usize + 1];
        assert_eq!(
            parse_lid1(&big, &l),
            Err(ScsiError::ParameterListLengthError)
        );
    }

    #[test]
    fn designators_from_vpd83() {
        // page header + NAA (LU) + T10 vendor id (ascii)
        let mut page = vec![0x00, 0x83, 0, 0];
        page.extend_from_slice(&[0x01, 0x03, 0, 8]);
        page.extend_from_slice(&NAA);
        page.extend_from_slice(&[0x02, 0x01, 0, 4, b'X', b'T', b'G', b'T']);
        let len = (page.len() - 4) as u16;
        page[2..4].copy_from_slice(&len.to_be_bytes());
        let d = Designator::from_vpd83_page(&page);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].value, NAA.to_vec());
        assert_eq!((d[1].code_set, d[1].designator_type), (2, 1));
        // truncated page: the cut descriptor is dropped, no panic
        for n in 0..page.len() {
            let _ = Designator::from_vpd83_page(&page[..n]);
        }
    }
}
