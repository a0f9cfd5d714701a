//! From a parsed parameter list to a validated [`CopyPlan`]: every CSCD a
//! segment names is resolved (and authorized), every length and LBA range is
//! checked, all before the first byte moves (SPC-5 6.5, 5.17.4).
//!
//! CSCDs are resolved, and authorized, by a [`CscdResolver`] (`resolve`).

use super::params::{
    CopyLimits, CscdRef, IdentificationCscd, Lid1ParameterList, ListIdUsage, SegmentDescriptor,
    SegmentKind,
};
use super::resolve::{CscdResolver, Requester, Resolution, ResolvedLu};
use crate::device::LogicalUnit;
use crate::sense::{CopyEnd, FieldPointer, ScsiError};
use std::sync::Arc;

/// COPY ABORTED with UNREACHABLE COPY TARGET (0x08/0x04): a segment names a
/// CSCD index that is not in the list (libiscsi ValidSegDescr accepts
/// 0x00/0x00, 0x08/0x04 or 0x0D/0x02).
pub const UNREACHABLE_COPY_TARGET: (u8, u8) = (0x08, 0x04);
/// COPY ABORTED additional sense for a segment whose blocks lie outside its
/// source or destination. The precise reason, LOGICAL BLOCK ADDRESS OUT OF
/// RANGE (0x21/0x00), is the forwarded sense (what the copy target itself
/// would answer); the copy-level ASC must be one libiscsi ValidSegDescr
/// accepts ("beyond EOL" expects COPY ABORTED with 0x00/0x00, 0x08/0x04 or
/// 0x0D/0x02), and NO ADDITIONAL SENSE INFORMATION is the one that does not
/// claim a device is unreachable.
pub const RANGE_ABORT: (u8, u8) = (0x00, 0x00);

/// One byte-range move of a plan; a segment descriptor becomes one of these.
#[derive(Clone)]
pub struct PlannedSegment {
    /// Segment number (0-based), reported in COMMAND-SPECIFIC INFORMATION.
    pub number: u32,
    /// Offset of the segment descriptor in the parameter list (segment pointer).
    pub descriptor_offset: u16,
    pub source: Arc<LogicalUnit>,
    pub source_offset: u64,
    pub destination: Arc<LogicalUnit>,
    pub destination_offset: u64,
    pub length: u64,
    pub source_block_size: u32,
    pub destination_block_size: u32,
}

impl PlannedSegment {
    /// Same LU and the byte ranges intersect: must copy as memmove would.
    pub fn overlaps(&self) -> bool {
        Arc::ptr_eq(&self.source, &self.destination)
            && self.source_offset < self.destination_offset.saturating_add(self.length)
            && self.destination_offset < self.source_offset.saturating_add(self.length)
    }
}

impl std::fmt::Debug for PlannedSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlannedSegment")
            .field("number", &self.number)
            .field("source", &self.source.config.serial)
            .field("source_offset", &self.source_offset)
            .field("destination", &self.destination.config.serial)
            .field("destination_offset", &self.destination_offset)
            .field("length", &self.length)
            .finish()
    }
}

/// A validated EXTENDED COPY: nothing left to check but the I/O itself.
#[derive(Debug, Clone)]
pub struct CopyPlan {
    pub list_identifier: u8,
    pub list_id_usage: ListIdUsage,
    pub priority: u8,
    pub segments: Vec<PlannedSegment>,
    pub total_bytes: u64,
}

/// What a plan is built against.
pub struct PlanContext<'a> {
    /// The LU that received the EXTENDED COPY (CSCD ID 0xFFFF).
    pub receiving_lu: &'a Arc<LogicalUnit>,
    /// The initiator and target port of the I_T nexus (authorization).
    pub requester: Requester<'a>,
    pub resolver: &'a dyn CscdResolver,
    pub limits: &'a CopyLimits,
}

fn fp(byte: u32) -> FieldPointer {
    FieldPointer::byte(u16::try_from(byte).unwrap_or(u16::MAX))
}

/// Validate `list` into a plan (SPC-5 6.5.8.5 and 6.5.8.7 block device
/// segments). Errors are ILLEGAL REQUEST except those SPC makes part of
/// segment processing (unknown CSCD index, range), which are COPY ABORTED
/// with the segment number.
pub fn build_plan(list: &Lid1ParameterList, cx: &PlanContext<'_>) -> Result<CopyPlan, ScsiError> {
    let mut resolved: Vec<Option<ResolvedLu>> = vec![None; list.cscds.len()];
    let receiving = ResolvedLu::from_lu(cx.receiving_lu);
    let mut segments = Vec::with_capacity(list.segments.len());
    let mut total_bytes = 0u64;
    for (i, seg) in list.segments.iter().enumerate() {
        let number = u32::try_from(i).unwrap_or(u32::MAX);
        let at = |field: u16| (number, seg.offset.saturating_add(field));
        let src = resolve_ref(seg.source, at(4), list, &mut resolved, &receiving, cx)?;
        let dst = resolve_ref(seg.destination, at(6), list, &mut resolved, &receiving, cx)?;
        dst.lu.check_writable()?;
        // A removable medium that is ejected cannot be read or written
        // (SBC-4 5.25): the copy target is unreachable, and the LU's own
        // NOT READY, MEDIUM NOT PRESENT is forwarded.
        for (lu, field, end) in [(&src, 4, CopyEnd::Source), (&dst, 6, CopyEnd::Destination)] {
            if lu.lu.medium_absent() {
                let (segment, pointer) = at(field);
                return Err(ScsiError::CopyAborted {
                    asc: UNREACHABLE_COPY_TARGET.0,
                    ascq: UNREACHABLE_COPY_TARGET.1,
                    segment,
                    cause: Some((end, Box::new(ScsiError::MediumNotPresent))),
                    segment_pointer: Some(pointer),
                });
            }
        }
        let planned = plan_segment(seg, number, &src, &dst, cx.limits)?;
        total_bytes = total_bytes.saturating_add(planned.length);
        segments.push(planned);
    }
    Ok(CopyPlan {
        list_identifier: list.header.list_identifier,
        list_id_usage: list.header.list_id_usage,
        priority: list.header.priority,
        segments,
        total_bytes,
    })
}

/// Reservations of every LU the plan reads or writes (SPC-5 5.14.1: the
/// copy manager obeys them as if the initiator had sent the reads and
/// writes): a conflict refuses the whole copy with RESERVATION CONFLICT
/// before anything is written.
pub fn check_reservations(plan: &CopyPlan, nexus: &crate::device::Nexus) -> Result<(), ScsiError> {
    for seg in &plan.segments {
        seg.source.pr.check_copy(nexus, false)?;
        seg.destination.pr.check_copy(nexus, true)?;
    }
    Ok(())
}

/// `(segment, field)`: the segment number and the parameter-list offset of
/// its CSCD ID field (the segment pointer when the index is unknown).
fn resolve_ref(
    r: CscdRef,
    (segment, field): (u32, u16),
    list: &Lid1ParameterList,
    cache: &mut [Option<ResolvedLu>],
    receiving: &ResolvedLu,
    cx: &PlanContext<'_>,
) -> Result<ResolvedLu, ScsiError> {
    let idx = match r {
        CscdRef::ReceivingLu => return Ok(receiving.clone()),
        CscdRef::Index(i) => usize::from(i),
    };
    let (Some(cscd), Some(slot)) = (list.cscds.get(idx), cache.get_mut(idx)) else {
        return Err(ScsiError::CopyAborted {
            asc: UNREACHABLE_COPY_TARGET.0,
            ascq: UNREACHABLE_COPY_TARGET.1,
            segment,
            cause: None,
            segment_pointer: Some(field),
        });
    };
    if let Some(r) = slot {
        return Ok(r.clone());
    }
    let r = resolve_cscd(cscd, cx)?;
    *slot = Some(r.clone());
    Ok(r)
}

fn resolve_cscd(cscd: &IdentificationCscd, cx: &PlanContext<'_>) -> Result<ResolvedLu, ScsiError> {
    let off = u32::from(cscd.offset);
    if cscd.nul {
        return Err(ScsiError::InvalidFieldInParameterList(FieldPointer::bit(
            u16::try_from(off + 1).unwrap_or(u16::MAX),
            5,
        )));
    }
    if cscd.peripheral_device_type != 0x00 {
        // Block segments need block devices (SPC-5 6.5.8.5).
        return Err(ScsiError::InvalidCopyOperation);
    }
    let r = match cx.resolver.resolve(&cx.requester, &cscd.designator) {
        Resolution::Found(r) => r,
        other => {
            tracing::warn!(
                initiator = cx.requester.initiator_name,
                designator = ?cscd.designator,
                resolution = if matches!(other, Resolution::NotFound) { "not_found" } else { "not_authorized" },
                "EXTENDED COPY CSCD refused"
            );
            return Err(ScsiError::CopyNotAuthorized);
        }
    };
    if cscd.disk_block_length != 0 && cscd.disk_block_length != r.block_size {
        return Err(ScsiError::InvalidFieldInParameterList(fp(off + 29)));
    }
    Ok(r)
}

fn plan_segment(
    seg: &SegmentDescriptor,
    number: u32,
    src: &ResolvedLu,
    dst: &ResolvedLu,
    limits: &CopyLimits,
) -> Result<PlannedSegment, ScsiError> {
    let off = u32::from(seg.offset);
    let sbs = u64::from(src.block_size);
    let dbs = u64::from(dst.block_size);
    let (length, src_byte, dst_byte, length_field) = match seg.kind {
        SegmentKind::BlockToBlock {
            dc,
            number_of_blocks,
        } => {
            let unit = if dc { dbs } else { sbs };
            let len = u64::from(number_of_blocks) * unit;
            if len % sbs != 0 || len % dbs != 0 {
                return Err(ScsiError::UnexpectedInexactSegment);
            }
            (len, 0u64, 0u64, off + 10)
        }
        SegmentKind::BlockToBlockOffsets {
            number_of_bytes,
            source_byte_offset,
            destination_byte_offset,
        } => {
            let len = u64::from(number_of_bytes);
            let gran = 1u64 << limits.data_segment_granularity_log2.min(31);
            if len % gran != 0 {
                return Err(ScsiError::CopySegmentGranularityViolation);
            }
            if u64::from(source_byte_offset) >= sbs {
                return Err(ScsiError::InvalidFieldInParameterList(fp(off + 28)));
            }
            if u64::from(destination_byte_offset) >= dbs {
                return Err(ScsiError::InvalidFieldInParameterList(fp(off + 30)));
            }
            (
                len,
                u64::from(source_byte_offset),
                u64::from(destination_byte_offset),
                off + 8,
            )
        }
    };
    if length > u64::from(limits.max_segment_length) {
        return Err(ScsiError::InvalidFieldInParameterList(fp(length_field)));
    }
    // Segment pointer at the LOGICAL BLOCK ADDRESS field that is out of range.
    let out_of_range = |field: u16, end: CopyEnd, cause: ScsiError| ScsiError::CopyAborted {
        asc: RANGE_ABORT.0,
        ascq: RANGE_ABORT.1,
        segment: number,
        cause: Some((end, Box::new(cause))),
        segment_pointer: Some(seg.offset.saturating_add(field)),
    };
    let source_offset = byte_range(&src.lu, seg.source_lba, sbs, src_byte, length)
        .map_err(|e| out_of_range(12, CopyEnd::Source, e))?;
    let destination_offset = byte_range(&dst.lu, seg.destination_lba, dbs, dst_byte, length)
        .map_err(|e| out_of_range(20, CopyEnd::Destination, e))?;
    Ok(PlannedSegment {
        number,
        descriptor_offset: seg.offset,
        source: src.lu.clone(),
        source_offset,
        destination: dst.lu.clone(),
        destination_offset,
        length,
        source_block_size: src.block_size,
        destination_block_size: dst.block_size,
    })
}

/// The byte offset of `lba` + `byte_offset`, if every block the byte range
/// `[offset, offset + len)` touches passes the range check initiator
/// READ/WRITE get ([`LogicalUnit::check_range`]: LBA + blocks within the capacity, no
/// wrap).
fn byte_range(
    lu: &LogicalUnit,
    lba: u64,
    block: u64,
    byte_offset: u64,
    len: u64,
) -> Result<u64, ScsiError> {
    let start = lba
        .checked_mul(block)
        .and_then(|s| s.checked_add(byte_offset))
        .ok_or(ScsiError::LbaOutOfRange)?;
    let end = start.checked_add(len).ok_or(ScsiError::LbaOutOfRange)?;
    let end_block = end.div_ceil(block).max(lba);
    lu.check_range(lba, end_block - lba)?;
    Ok(start)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::copy::params::build::*;
    use crate::copy::params::parse_lid1;
    use crate::copy::resolve::AclResolver;
    use crate::copy::testutil::*;
    use crate::device::LogicalUnit;
    use crate::sense::FieldPointer;

    fn plan(
        p: &[u8],
        recv: &Arc<LogicalUnit>,
        r: &AclResolver,
        initiator: &str,
    ) -> Result<CopyPlan, ScsiError> {
        let limits = CopyLimits::default();
        let list = parse_lid1(p, &limits)?;
        let elsewhere = outside();
        build_plan(
            &list,
            &PlanContext {
                receiving_lu: recv,
                requester: Requester {
                    initiator_name: initiator,
                    target: &elsewhere,
                },
                resolver: r,
                limits: &limits,
            },
        )
    }

    #[test]
    fn resolves_naa_and_scsi_name_and_builds_byte_moves() {
        let a = lu(1, 512, 8192, false);
        let b = lu(2, 4096, 1024, false);
        let r = resolver(&[&a, &b], &[]);
        let name = format!("naa.{:016x}", 2u64).into_bytes();
        let p = list(
            1,
            0b10,
            &[cscd_naa(naa_of(&a), 512), cscd(0x02, 0x08, &name, 4096)],
            &[
                seg_b2b(false, 0, 1, 16, 8, 3),
                seg_b2b(true, 0xFFFF, 1, 2, 0, 100),
            ],
        );
        let pl = plan(&p, &a, &r, "iqn.x").unwrap();
        assert_eq!(pl.segments.len(), 2);
        let s0 = &pl.segments[0];
        assert!(Arc::ptr_eq(&s0.source, &a) && Arc::ptr_eq(&s0.destination, &b));
        assert_eq!(
            (s0.source_offset, s0.destination_offset, s0.length),
            (8 * 512, 3 * 4096, 8192)
        );
        let s1 = &pl.segments[1];
        // DC: NUMBER OF BLOCKS counts destination (4096-byte) blocks.
        assert!(Arc::ptr_eq(&s1.source, &a) && Arc::ptr_eq(&s1.destination, &b));
        assert_eq!((s1.length, s1.destination_offset), (8192, 100 * 4096));
        assert_eq!(s1.descriptor_offset, 16 + 64 + 28);
        assert_eq!(pl.total_bytes, 8192 + 8192);
    }

    #[test]
    fn inexact_segment_when_length_is_not_a_multiple_of_both_blocks() {
        let a = lu(1, 512, 8192, false);
        let b = lu(2, 4096, 1024, false);
        let r = resolver(&[&a, &b], &[]);
        let cs = [cscd_naa(naa_of(&a), 512), cscd_naa(naa_of(&b), 4096)];
        // 3 source blocks of 512 = 1536 bytes, not whole 4096-byte blocks.
        let p = list(1, 0b10, &cs, &[seg_b2b(false, 0, 1, 3, 0, 0)]);
        assert_eq!(
            plan(&p, &a, &r, "i").unwrap_err(),
            ScsiError::UnexpectedInexactSegment
        );
        // 8 source blocks = 1 destination block: fine.
        let p = list(1, 0b10, &cs, &[seg_b2b(false, 0, 1, 8, 0, 0)]);
        assert_eq!(plan(&p, &a, &r, "i").unwrap().total_bytes, 4096);
    }

    #[test]
    fn authorization_is_by_initiator_and_not_found_is_refused_alike() {
        let a = lu(1, 512, 8192, false);
        let secret = lu(9, 512, 8192, false);
        let r = resolver(&[&a], &[&secret]);
        let p = list(
            1,
            0b10,
            &[cscd_naa(naa_of(&secret), 512)],
            &[seg_b2b(false, 0, 0xFFFF, 1, 0, 0)],
        );
        assert_eq!(
            plan(&p, &a, &r, "iqn.x").unwrap_err(),
            ScsiError::CopyNotAuthorized
        );
        assert!(plan(&p, &a, &r, "iqn.b").is_ok());
        let p = list(
            1,
            0b10,
            &[cscd_naa([0x60, 0, 0, 0, 0, 0, 0, 0x77], 512)],
            &[seg_b2b(false, 0, 0xFFFF, 1, 0, 0)],
        );
        assert_eq!(
            plan(&p, &a, &r, "iqn.b").unwrap_err(),
            ScsiError::CopyNotAuthorized
        );
        // Same bytes but another designator type does not match.
        let p = list(
            1,
            0b10,
            &[cscd(0x01, 0x02, &naa_of(&a), 512)],
            &[seg_b2b(false, 0, 0xFFFF, 1, 0, 0)],
        );
        assert_eq!(
            plan(&p, &a, &r, "iqn.x").unwrap_err(),
            ScsiError::CopyNotAuthorized
        );
    }

    #[test]
    fn unknown_cscd_index_is_copy_aborted_unreachable() {
        let a = lu(1, 512, 8192, false);
        let r = resolver(&[&a], &[]);
        let p = list(
            1,
            0,
            &[cscd_naa(naa_of(&a), 512)],
            &[seg_b2b(false, 0, 1, 2048, 0, 6144)],
        );
        let e = plan(&p, &a, &r, "i").unwrap_err();
        assert_eq!(e.code(), (crate::sense::SenseKey::CopyAborted, 0x08, 0x04));
        assert!(matches!(e, ScsiError::CopyAborted { segment: 0, .. }));
        // Segment pointer at the DESTINATION CSCD DESCRIPTOR ID (16+32+6).
        assert_eq!(e.sense().encode_fixed()[15..18], [0x80, 0, 54]);
    }

    /// libiscsi ValidSegDescr "beyond EOL": COPY ABORTED, LBA OUT OF RANGE
    /// forwarded, segment number in COMMAND-SPECIFIC INFORMATION.
    #[test]
    fn range_errors_are_copy_aborted_with_forwarded_lba_out_of_range() {
        let a = lu(1, 512, 8192, false);
        let r = resolver(&[&a], &[]);
        let cs = [cscd_naa(naa_of(&a), 512)];
        let p = list(
            1,
            0,
            &cs,
            &[
                seg_b2b(false, 0, 0, 8, 0, 0),
                seg_b2b(false, 0, 0, 2048, 0, 8191),
            ],
        );
        let e = plan(&p, &a, &r, "i").unwrap_err();
        assert_eq!(e.code(), (crate::sense::SenseKey::CopyAborted, 0x00, 0x00));
        let s = e.sense().encode_fixed();
        assert_eq!(s[8..12], [0, 0, 0, 1]); // segment 1
                                            // Segment pointer (SD=0) at segment 1's DESTINATION LBA (16+32+28+20).
        assert_eq!(s[15..18], [0x80, 0, 96]);
        let fwd = e.sense().forwarded.unwrap();
        assert_eq!(
            (fwd.source, fwd.sense.key, fwd.sense.asc, fwd.sense.ascq),
            (
                CopyEnd::Destination,
                crate::sense::SenseKey::IllegalRequest,
                0x21,
                0x00
            )
        );
        // LBA overflow never panics.
        let p = list(1, 0, &cs, &[seg_b2b(false, 0, 0, 8, u64::MAX, 0)]);
        assert!(plan(&p, &a, &r, "i").is_err());
        // The last block is in range.
        let p = list(1, 0, &cs, &[seg_b2b(false, 0, 0, 1, 0, 8191)]);
        assert!(plan(&p, &a, &r, "i").is_ok());
    }

    #[test]
    fn block_length_read_only_nul_granularity_offsets() {
        let a = lu(1, 512, 8192, false);
        let ro = lu(2, 512, 8192, true);
        let r = resolver(&[&a, &ro], &[]);
        let p = list(
            1,
            0,
            &[cscd_naa(naa_of(&a), 4096)],
            &[seg_b2b(false, 0, 0, 1, 0, 1)],
        );
        assert_eq!(
            plan(&p, &a, &r, "i").unwrap_err(),
            ScsiError::InvalidFieldInParameterList(FieldPointer::byte(16 + 29))
        );
        let p = list(
            1,
            0,
            &[cscd_naa(naa_of(&a), 0)],
            &[seg_b2b(false, 0, 0, 1, 0, 1)],
        );
        assert!(
            plan(&p, &a, &r, "i").is_ok(),
            "block length 0 means the LU's own"
        );
        let p = list(
            1,
            0,
            &[cscd_naa(naa_of(&ro), 512)],
            &[seg_b2b(false, 0xFFFF, 0, 1, 0, 1)],
        );
        assert_eq!(
            plan(&p, &a, &r, "i").unwrap_err(),
            ScsiError::WriteProtected
        );
        let p = list(
            1,
            0,
            &[cscd_naa(naa_of(&ro), 512)],
            &[seg_b2b(false, 0, 0xFFFF, 1, 0, 1)],
        );
        assert!(plan(&p, &a, &r, "i").is_ok(), "read-only source is fine");
        let mut c = cscd_naa(naa_of(&a), 512);
        c[1] = 0x20;
        let p = list(1, 0, &[c], &[seg_b2b(false, 0, 0, 1, 0, 1)]);
        assert_eq!(
            plan(&p, &a, &r, "i").unwrap_err(),
            ScsiError::InvalidFieldInParameterList(FieldPointer::bit(17, 5))
        );
        let mut c = cscd_naa(naa_of(&a), 512);
        c[1] = 0xC0; // reserved LU ID TYPE is ignored (libiscsi ValidTgtDescr)
        let p = list(1, 0, &[c], &[seg_b2b(false, 0, 0, 1, 0, 1)]);
        assert!(plan(&p, &a, &r, "i").is_ok());
        let cs = [cscd_naa(naa_of(&a), 512)];
        let p = list(1, 0, &cs, &[seg_offsets(0, 0, 100, 0, 8, 0, 0)]);
        assert_eq!(
            plan(&p, &a, &r, "i").unwrap_err(),
            ScsiError::CopySegmentGranularityViolation
        );
        let p = list(1, 0, &cs, &[seg_offsets(0, 0, 1024, 0, 8, 512, 0)]);
        assert_eq!(
            plan(&p, &a, &r, "i").unwrap_err(),
            ScsiError::InvalidFieldInParameterList(FieldPointer::byte(48 + 28))
        );
        let p = list(1, 0, &cs, &[seg_offsets(0, 0, 1024, 1, 8, 7, 9)]);
        let s = &plan(&p, &a, &r, "i").unwrap().segments[0];
        assert_eq!(
            (s.source_offset, s.destination_offset, s.length),
            (519, 8 * 512 + 9, 1024)
        );
        let p = list(
            1,
            0,
            &cs,
            &[seg_offsets(0, 0, 512 * 1024 * 1024, 0, 8, 0, 0)],
        );
        assert_eq!(
            plan(&p, &a, &r, "i").unwrap_err(),
            ScsiError::InvalidFieldInParameterList(FieldPointer::byte(48 + 8))
        );
    }

    /// A poor man's fuzzer (cargo-fuzz has `xcopy_params`): byte flips,
    /// bit flips and truncations of valid lists through parse and plan
    /// never panic, and whatever plans stays inside the LUs.
    #[test]
    fn mutated_lists_never_panic() {
        let a = lu(1, 512, 64, false);
        let b = lu(2, 4096, 8, false);
        let r = resolver(&[&a, &b], &[]);
        let base = list(
            1,
            0,
            &[cscd_naa(naa_of(&a), 512), cscd_naa(naa_of(&b), 4096)],
            &[
                seg_b2b(false, 0, 1, 8, 0, 0),
                seg_offsets(1, 0xFFFF, 1024, 0, 3, 5, 7),
                seg_b2b(true, 0xFFFF, 0, 2, 1, 2),
            ],
        );
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let mut p = base.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() % p.len() as u64) as usize;
                if next() % 2 == 0 {
                    p[i] = next() as u8;
                } else {
                    p[i] ^= 1 << (next() % 8);
                }
            }
            if next() % 8 == 0 {
                p.truncate((next() % p.len() as u64) as usize);
            }
            if let Ok(pl) = plan(&p, &a, &r, "i") {
                for s in &pl.segments {
                    let cap = |l: &Arc<LogicalUnit>| l.backend.size();
                    assert!(s.source_offset + s.length <= cap(&s.source));
                    assert!(s.destination_offset + s.length <= cap(&s.destination));
                }
            }
        }
    }

    #[test]
    fn overlap_detection() {
        let a = lu(1, 512, 64, false);
        let b = lu(2, 512, 64, false);
        let r = resolver(&[&a, &b], &[]);
        let cs = [cscd_naa(naa_of(&a), 512), cscd_naa(naa_of(&b), 512)];
        let p = list(
            1,
            0,
            &cs,
            &[
                seg_b2b(false, 0, 0, 8, 0, 4),
                seg_b2b(false, 0, 0, 4, 0, 4),
                seg_b2b(false, 0, 1, 8, 0, 4),
            ],
        );
        let pl = plan(&p, &a, &r, "i").unwrap();
        assert!(pl.segments[0].overlaps());
        assert!(!pl.segments[1].overlaps());
        assert!(!pl.segments[2].overlaps());
    }
}
