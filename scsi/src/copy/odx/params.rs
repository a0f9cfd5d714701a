//! POPULATE TOKEN and WRITE USING TOKEN parameter lists (SBC-4 5.12.2,
//! 5.59.2).
//!
//! I/O free: the Data-Out, cut to the CDB's PARAMETER LIST LENGTH (0 is
//! the caller's "nothing to do, GOOD" and never reaches here), in; a
//! validated request or the exact [`ScsiError`] out. Every count is
//! bounded by [`OdxLimits`] before anything is allocated.
//!
//! Where SBC-4 is silent the answers follow FreeBSD CTL or say why:
//! - a parameter list too short for its fixed header: PARAMETER LIST
//!   LENGTH ERROR (SBC-4 says so for POPULATE TOKEN, lengths 1..=15);
//! - a DATA LENGTH that does not cover the range descriptor list it
//!   announces (POPULATE TOKEN: less than BLOCK DEVICE RANGE DESCRIPTOR
//!   LENGTH + 14, as CTL; WRITE USING TOKEN: not equal to it + 534, SBC-4's
//!   "should"): INVALID FIELD IN PARAMETER LIST pointing at the DATA
//!   LENGTH field (byte 0), the field the rule is about.
//!
//! The ROD token of a WRITE USING TOKEN is handed out as it came (its
//! type, ROD TOKEN LENGTH 0x01F8, integrity and identity are the token
//! store's to check: 0x23/0x0A, 0x23/0x05, 0x23/0x04, ...).

use super::limits::{rod_type, OdxLimits, RodTypeSupport};
use super::ranges::{fp, parse_ranges, BlockRange, LuExtent};
use crate::sense::ScsiError;
use crate::wire::be_uint;

/// Fixed part of a POPULATE TOKEN parameter list; range descriptors follow.
pub const PT_HEADER_LEN: usize = 16;
/// Smallest POPULATE TOKEN DATA LENGTH (SBC-4 5.12.2): header + 1 range - 2.
pub const PT_MIN_DATA_LENGTH: u64 = 0x1E;
/// Fixed part of a WRITE USING TOKEN parameter list.
pub const WUT_HEADER_LEN: usize = 536;
/// Smallest WRITE USING TOKEN DATA LENGTH (SBC-4 5.59.2).
pub const WUT_MIN_DATA_LENGTH: u64 = 0x226;
/// Length of a ROD token (SPC-5 5.17.6.4: ROD TOKEN LENGTH 0x01F8 + 8).
pub const ROD_TOKEN_LEN: usize = 512;
/// Offset of the ROD TOKEN field in a WRITE USING TOKEN parameter list.
const WUT_TOKEN_AT: usize = 16;

/// A validated POPULATE TOKEN parameter list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopulateToken {
    /// IMMED: return GOOD once the parameter data is checked, populate in
    /// the background.
    pub immed: bool,
    /// ROD TYPE when RTV is set (a point in time type the LU creates
    /// tokens of); `None`: the copy manager picks any point in time type.
    pub rod_type: Option<u32>,
    /// The inactivity timeout in seconds the token gets: INACTIVITY TIMEOUT,
    /// or the DEFAULT INACTIVITY TIMEOUT when that was 0.
    pub inactivity_timeout_secs: u32,
    /// The non-empty source ranges, in list order.
    pub ranges: Vec<BlockRange>,
    /// Blocks represented (the token's NUMBER OF BYTES REPRESENTED is this
    /// times the source block size).
    pub total_blocks: u64,
}

/// A validated WRITE USING TOKEN parameter list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteUsingToken<'a> {
    /// IMMED: return GOOD once the parameter data is checked, copy in the
    /// background.
    pub immed: bool,
    /// DEL_TKN: delete the token when this command is done.
    pub del_tkn: bool,
    /// OFFSET INTO ROD in blocks of the destination ([`offset_into_rod`]).
    pub offset_into_rod: u64,
    /// The ROD TOKEN field as sent, for the token store to validate.
    pub rod_token: &'a [u8; ROD_TOKEN_LEN],
    /// The non-empty destination ranges, in list order.
    pub ranges: Vec<BlockRange>,
    /// Blocks to write.
    pub total_blocks: u64,
}

impl WriteUsingToken<'_> {
    /// ROD TYPE of the token (bytes 0-3), e.g. [`rod_type::BLOCK_DEVICE_ZERO`].
    pub fn token_rod_type(&self) -> u32 {
        u32::from_be_bytes([
            self.rod_token[0],
            self.rod_token[1],
            self.rod_token[2],
            self.rod_token[3],
        ])
    }
}

fn data_length(data: &[u8]) -> Result<u64, ScsiError> {
    be_uint(data, 0, 2).ok_or(ScsiError::ParameterListLengthError)
}

/// Whether the LU creates tokens of ROD type `t` for POPULATE TOKEN: an
/// entry with TOKEN_OUT; "point in time, any" when it creates any point in
/// time type.
fn creates(t: u32, supported: &[RodTypeSupport]) -> bool {
    let out = |s: &&RodTypeSupport| s.token_out && s.rod_type != rod_type::BLOCK_DEVICE_ZERO;
    if t == rod_type::POINT_IN_TIME_ANY {
        supported
            .iter()
            .filter(out)
            .any(|s| rod_type::is_point_in_time(s.rod_type))
    } else {
        supported.iter().filter(out).any(|s| s.rod_type == t)
    }
}

/// Parse a POPULATE TOKEN parameter list against the source LU `lu`, the
/// ROD types it supports (the same list VPD 0x8F reports) and `limits`.
///
/// Order: header length (0x1A/0x00); POPULATE TOKEN DATA LENGTH below 0x1E
/// or short of the descriptor list (0x26/0x00, byte 0); INACTIVITY TIMEOUT
/// past the maximum (byte 4); with RTV, a ROD TYPE that is not point in
/// time or that the LU does not create (byte 8); then the ranges (see
/// `ranges`; length field at byte 14).
pub fn parse_populate_token(
    data: &[u8],
    limits: &OdxLimits,
    rod_types: &[RodTypeSupport],
    lu: &LuExtent,
) -> Result<PopulateToken, ScsiError> {
    if data.len() < PT_HEADER_LEN {
        return Err(ScsiError::ParameterListLengthError);
    }
    let len = data_length(data)?;
    let desc_len = be_uint(data, 14, 2).ok_or(ScsiError::ParameterListLengthError)?;
    if len < PT_MIN_DATA_LENGTH || len < desc_len + 14 {
        return Err(ScsiError::InvalidFieldInParameterList(fp(0)));
    }
    let flags = data[2];
    let requested = be_uint(data, 4, 4)
        .and_then(|t| u32::try_from(t).ok())
        .ok_or(ScsiError::ParameterListLengthError)?;
    let inactivity_timeout_secs = limits
        .inactivity_timeout(requested)
        .ok_or(ScsiError::InvalidFieldInParameterList(fp(4)))?;
    let rod_type = if flags & 0x02 != 0 {
        let t = be_uint(data, 8, 4)
            .and_then(|t| u32::try_from(t).ok())
            .ok_or(ScsiError::ParameterListLengthError)?;
        if !rod_type::is_point_in_time(t) || !creates(t, rod_types) {
            return Err(ScsiError::InvalidFieldInParameterList(fp(8)));
        }
        Some(t)
    } else {
        None
    };
    let list = parse_ranges(data, 14, PT_HEADER_LEN, limits, lu)?;
    Ok(PopulateToken {
        immed: flags & 0x01 != 0,
        rod_type,
        inactivity_timeout_secs,
        ranges: list.ranges,
        total_blocks: list.total_blocks,
    })
}

/// Parse a WRITE USING TOKEN parameter list against the destination LU
/// `lu` and `limits`.
///
/// Order: header length (0x1A/0x00); WRITE USING TOKEN DATA LENGTH below
/// 0x226 or not BLOCK DEVICE RANGE DESCRIPTOR LENGTH + 534 (0x26/0x00, byte
/// 0); then the ranges (see `ranges`; length field at byte 534).
pub fn parse_write_using_token<'a>(
    data: &'a [u8],
    limits: &OdxLimits,
    lu: &LuExtent,
) -> Result<WriteUsingToken<'a>, ScsiError> {
    let header = data
        .get(..WUT_HEADER_LEN)
        .ok_or(ScsiError::ParameterListLengthError)?;
    let len = data_length(header)?;
    let desc_len = be_uint(header, 534, 2).ok_or(ScsiError::ParameterListLengthError)?;
    if len < WUT_MIN_DATA_LENGTH || len != desc_len + 534 {
        return Err(ScsiError::InvalidFieldInParameterList(fp(0)));
    }
    let rod_token: &[u8; ROD_TOKEN_LEN] = header
        .get(WUT_TOKEN_AT..WUT_TOKEN_AT + ROD_TOKEN_LEN)
        .and_then(|t| t.try_into().ok())
        .ok_or(ScsiError::ParameterListLengthError)?;
    let offset_into_rod = be_uint(header, 8, 8).ok_or(ScsiError::ParameterListLengthError)?;
    let list = parse_ranges(data, 534, WUT_HEADER_LEN, limits, lu)?;
    Ok(WriteUsingToken {
        immed: header[2] & 0x01 != 0,
        del_tkn: header[2] & 0x02 != 0,
        offset_into_rod,
        rod_token,
        ranges: list.ranges,
        total_blocks: list.total_blocks,
    })
}

/// The byte offset into the ROD that OFFSET INTO ROD (in blocks of the
/// destination, `block_size` bytes each) names (SBC-4 5.59.2), or INVALID
/// FIELD IN PARAMETER LIST pointing at OFFSET INTO ROD (byte 8) when it is
/// at or past the token's NUMBER OF BYTES REPRESENTED. Not for the block
/// device zero ROD token, which represents no bytes.
pub fn offset_into_rod(
    offset_blocks: u64,
    block_size: u32,
    bytes_represented: u128,
) -> Result<u128, ScsiError> {
    let offset = u128::from(offset_blocks) * u128::from(block_size);
    if offset >= bytes_represented {
        return Err(ScsiError::InvalidFieldInParameterList(fp(8)));
    }
    Ok(offset)
}

/// Builders for parameter lists, shared by the tests of `odx`.
#[cfg(test)]
pub(crate) mod build {
    use super::super::ranges::build::range;
    use super::*;

    /// A POPULATE TOKEN list with consistent lengths.
    pub fn pt(flags: u8, timeout: u32, rod_type: u32, ranges: &[(u64, u32)]) -> Vec<u8> {
        let body: Vec<u8> = ranges.iter().flat_map(|&(l, n)| range(l, n)).collect();
        let mut d = vec![0u8; PT_HEADER_LEN];
        d[0..2].copy_from_slice(&((body.len() + 14) as u16).to_be_bytes());
        d[2] = flags;
        d[4..8].copy_from_slice(&timeout.to_be_bytes());
        d[8..12].copy_from_slice(&rod_type.to_be_bytes());
        d[14..16].copy_from_slice(&(body.len() as u16).to_be_bytes());
        d.extend_from_slice(&body);
        d
    }

    /// A WRITE USING TOKEN list with consistent lengths.
    pub fn wut(
        flags: u8,
        offset: u64,
        token: &[u8; ROD_TOKEN_LEN],
        ranges: &[(u64, u32)],
    ) -> Vec<u8> {
        let body: Vec<u8> = ranges.iter().flat_map(|&(l, n)| range(l, n)).collect();
        let mut d = vec![0u8; WUT_HEADER_LEN];
        d[0..2].copy_from_slice(&((body.len() + 534) as u16).to_be_bytes());
        d[2] = flags;
        d[8..16].copy_from_slice(&offset.to_be_bytes());
        d[16..528].copy_from_slice(token);
        d[534..536].copy_from_slice(&(body.len() as u16).to_be_bytes());
        d.extend_from_slice(&body);
        d
    }

    /// A recognisable 512-byte token: ROD type, ROD TOKEN LENGTH 0x01F8,
    /// then a byte pattern.
    pub fn token(rod_type: u32) -> [u8; ROD_TOKEN_LEN] {
        let mut t = [0u8; ROD_TOKEN_LEN];
        for (i, b) in t.iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        t[..4].copy_from_slice(&rod_type.to_be_bytes());
        t[4..8].copy_from_slice(&[0, 0, 0x01, 0xF8]);
        t
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::build::*;
    use super::*;
    use crate::sense::FieldPointer;

    const LU: LuExtent = LuExtent {
        capacity_blocks: 1 << 20,
        block_size: 512,
    };

    fn types() -> Vec<RodTypeSupport> {
        vec![
            RodTypeSupport {
                rod_type: rod_type::POINT_IN_TIME_CHANGE_VULNERABLE,
                ecpy_int: false,
                token_in: true,
                token_out: true,
                preference: 0,
            },
            RodTypeSupport {
                rod_type: rod_type::BLOCK_DEVICE_ZERO,
                ecpy_int: false,
                token_in: true,
                token_out: true,
                preference: 0,
            },
        ]
    }

    fn pt_parse(d: &[u8]) -> Result<PopulateToken, ScsiError> {
        parse_populate_token(d, &OdxLimits::default(), &types(), &LU)
    }

    fn field(byte: u16) -> Result<PopulateToken, ScsiError> {
        Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
            byte,
        )))
    }

    #[test]
    fn populate_token_fields() {
        let d = pt(
            0x03,
            30,
            rod_type::POINT_IN_TIME_CHANGE_VULNERABLE,
            &[(100, 8), (0, 0), (7, 3)],
        );
        assert_eq!(
            pt_parse(&d).unwrap(),
            PopulateToken {
                immed: true,
                rod_type: Some(rod_type::POINT_IN_TIME_CHANGE_VULNERABLE),
                inactivity_timeout_secs: 30,
                ranges: vec![
                    BlockRange {
                        lba: 100,
                        blocks: 8
                    },
                    BlockRange { lba: 7, blocks: 3 }
                ],
                total_blocks: 11,
            }
        );
        // RTV clear: ROD TYPE ignored, whatever it holds; timeout 0: default.
        let p = pt_parse(&pt(0x00, 0, 0xDEAD_BEEF, &[(0, 1)])).unwrap();
        assert_eq!(
            (p.immed, p.rod_type, p.inactivity_timeout_secs),
            (false, None, 60)
        );
        // "Any point in time" when the LU creates a point in time type.
        let p = pt_parse(&pt(0x02, 0, rod_type::POINT_IN_TIME_ANY, &[(0, 1)])).unwrap();
        assert_eq!(p.rod_type, Some(rod_type::POINT_IN_TIME_ANY));
    }

    /// The same 64-range list Windows sends for a fragmented file.
    #[test]
    fn sixty_four_ranges() {
        let ranges: Vec<(u64, u32)> = (0..64).map(|i| (i * 1000, 512)).collect();
        let p = pt_parse(&pt(0, 0, 0, &ranges)).unwrap();
        assert_eq!((p.ranges.len(), p.total_blocks), (64, 64 * 512));
    }

    #[test]
    fn populate_token_length_errors() {
        let d = pt(0, 0, 0, &[(0, 1)]);
        assert_eq!(d.len(), 32);
        for n in 1..PT_HEADER_LEN {
            assert_eq!(
                pt_parse(&d[..n]),
                Err(ScsiError::ParameterListLengthError),
                "{n}"
            );
        }
        // Header only: the range descriptor is cut away.
        assert_eq!(pt_parse(&d[..16]), Err(ScsiError::ParameterListLengthError));
        assert_eq!(pt_parse(&d[..31]), Err(ScsiError::ParameterListLengthError));
        let mut short = d.clone();
        short[1] = 0x1D; // POPULATE TOKEN DATA LENGTH < 0x1E
        assert_eq!(pt_parse(&short), field(0));
        let mut two = pt(0, 0, 0, &[(0, 1), (1, 1)]);
        two[1] = 0x1E; // data length covers one of the two descriptors
        assert_eq!(pt_parse(&two), field(0));
        let mut bdrdl = d.clone();
        bdrdl[15] = 0x0F; // BLOCK DEVICE RANGE DESCRIPTOR LENGTH < 16
        assert_eq!(pt_parse(&bdrdl), field(14));
        // A larger data length than needed is accepted.
        let mut long = d.clone();
        long[1] = 0x40;
        assert!(pt_parse(&long).is_ok());
        let s = ScsiError::ParameterListLengthError.sense().encode_fixed();
        assert_eq!((s[2], s[12], s[13], s[15]), (0x05, 0x1A, 0x00, 0));
        let s = ScsiError::InvalidFieldInParameterList(FieldPointer::byte(14))
            .sense()
            .encode_fixed();
        assert_eq!(&s[12..18], &[0x26, 0, 0, 0x80, 0, 14]);
    }

    #[test]
    fn populate_token_timeout_and_rod_type_errors() {
        assert_eq!(pt_parse(&pt(0, 601, 0, &[(0, 1)])), field(4));
        assert!(pt_parse(&pt(0, 600, 0, &[(0, 1)])).is_ok());
        for t in [
            rod_type::POINT_IN_TIME_DEFAULT,    // point in time, not created here
            rod_type::POINT_IN_TIME_PERSISTENT, // likewise
            rod_type::ACCESS_UPON_REFERENCE,    // not point in time
            rod_type::BLOCK_DEVICE_ZERO,        // never returned
            rod_type::COPY_MANAGER_CHOICE,
        ] {
            assert_eq!(pt_parse(&pt(0x02, 0, t, &[(0, 1)])), field(8), "{t:#x}");
        }
        // "Any" needs a point in time type with TOKEN_OUT.
        let no_out = [RodTypeSupport {
            token_out: false,
            ..types()[0]
        }];
        assert_eq!(
            parse_populate_token(
                &pt(0x02, 0, rod_type::POINT_IN_TIME_ANY, &[(0, 1)]),
                &OdxLimits::default(),
                &no_out,
                &LU
            ),
            field(8)
        );
        // Timeout is checked before the ROD type, the ROD type before ranges.
        assert_eq!(pt_parse(&pt(0x02, 601, 1, &[(u64::MAX, 1)])), field(4));
        assert_eq!(pt_parse(&pt(0x02, 1, 1, &[(u64::MAX, 1)])), field(8));
    }

    #[test]
    fn populate_token_range_errors() {
        assert_eq!(
            pt_parse(&pt(0, 0, 0, &[(LU.capacity_blocks, 1)])),
            Err(ScsiError::LbaOutOfRange)
        );
        assert_eq!(pt_parse(&pt(0, 0, 0, &[(0, 10), (5, 1)])), field(32));
        let many: Vec<(u64, u32)> = (0..65).map(|i| (i, 1)).collect();
        assert_eq!(
            pt_parse(&pt(0, 0, 0, &many)),
            Err(ScsiError::TooManySegmentDescriptors)
        );
        let l = OdxLimits {
            max_token_transfer_bytes: 8 * 512,
            ..OdxLimits::default()
        };
        assert_eq!(
            parse_populate_token(&pt(0, 0, 0, &[(0, 8), (8, 1)]), &l, &types(), &LU),
            field(40)
        );
    }

    /// What VPD 0x8F says is what the parsers enforce: the limits decoded
    /// from the Block Device ROD Token Limits descriptor are accepted
    /// exactly and refused one past, for both block sizes; the ROD types
    /// decoded from Supported ROD Types with TOKEN_OUT are the ones RTV
    /// may ask for.
    #[test]
    fn advertised_is_enforced() {
        let limits = OdxLimits {
            max_range_descriptors: 70,
            max_token_transfer_bytes: 3 << 20,
            ..OdxLimits::default()
        };
        for block_size in [512u32, 4096] {
            let lu = LuExtent {
                capacity_blocks: 1 << 30,
                block_size,
            };
            let v = super::super::vpd::block_device_rod_token_limits(&limits, block_size);
            let max_ranges = u64::from(u16::from_be_bytes([v[10], v[11]]));
            let max_blocks = u64::from_be_bytes(v[20..28].try_into().unwrap());
            let spread = |n: u64, total: u64| -> Vec<(u64, u32)> {
                (0..n)
                    .map(|i| (i * total, (total / n + u64::from(i < total % n)) as u32))
                    .collect()
            };
            let at = pt(0, 0, 0, &spread(max_ranges, max_blocks));
            let p = parse_populate_token(&at, &limits, &types(), &lu).unwrap();
            assert_eq!(
                (p.ranges.len() as u64, p.total_blocks),
                (max_ranges, max_blocks)
            );
            let t = token(rod_type::POINT_IN_TIME_CHANGE_VULNERABLE);
            let w = wut(0, 0, &t, &spread(max_ranges, max_blocks));
            assert!(parse_write_using_token(&w, &limits, &lu).is_ok());
            let too_many = pt(0, 0, 0, &spread(max_ranges + 1, max_ranges + 1));
            assert_eq!(
                parse_populate_token(&too_many, &limits, &types(), &lu),
                Err(ScsiError::TooManySegmentDescriptors)
            );
            let too_big = pt(0, 0, 0, &spread(1, max_blocks + 1));
            assert_eq!(
                parse_populate_token(&too_big, &limits, &types(), &lu),
                field(24)
            );
        }
        let srt = super::super::vpd::supported_rod_types(&types());
        for e in srt[8..].chunks(64) {
            let t = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            let token_out = e[4] & 0x01 != 0;
            let r = pt_parse(&pt(0x02, 0, t, &[(0, 1)]));
            assert_eq!(r.is_ok(), token_out, "{t:#x}");
        }
    }

    fn wut_parse(d: &[u8]) -> Result<WriteUsingToken<'_>, ScsiError> {
        parse_write_using_token(d, &OdxLimits::default(), &LU)
    }

    #[test]
    fn write_using_token_fields() {
        let t = token(rod_type::POINT_IN_TIME_CHANGE_VULNERABLE);
        let d = wut(
            0x03,
            0x0102_0304_0506_0708,
            &t,
            &[(50, 10), (0, 0), (0, 50)],
        );
        let w = wut_parse(&d).unwrap();
        assert!(w.immed && w.del_tkn);
        assert_eq!(w.offset_into_rod, 0x0102_0304_0506_0708);
        assert_eq!(w.rod_token, &t);
        assert_eq!(
            w.token_rod_type(),
            rod_type::POINT_IN_TIME_CHANGE_VULNERABLE
        );
        assert_eq!(
            w.ranges,
            vec![
                BlockRange {
                    lba: 50,
                    blocks: 10
                },
                BlockRange { lba: 0, blocks: 50 }
            ]
        );
        assert_eq!(w.total_blocks, 60);
        let z = wut(0, 0, &token(rod_type::BLOCK_DEVICE_ZERO), &[(0, 1)]);
        let w = wut_parse(&z).unwrap();
        assert!(!w.immed && !w.del_tkn);
        assert_eq!(w.token_rod_type(), rod_type::BLOCK_DEVICE_ZERO);
    }

    #[test]
    fn write_using_token_length_errors() {
        let d = wut(0, 0, &token(0x0080_0001), &[(0, 1)]);
        assert_eq!(d.len(), 552);
        for n in [0, 1, 2, 100, 535, 536, 551] {
            assert_eq!(
                wut_parse(&d[..n]).map(|_| ()),
                Err(ScsiError::ParameterListLengthError),
                "{n}"
            );
        }
        let wfield = |b| {
            Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
                b,
            )))
        };
        let mut short = d.clone();
        short[0..2].copy_from_slice(&0x225u16.to_be_bytes());
        assert_eq!(wut_parse(&short).map(|_| ()), wfield(0));
        let mut unequal = d.clone();
        unequal[0..2].copy_from_slice(&0x236u16.to_be_bytes()); // 566 != 16 + 534
        assert_eq!(wut_parse(&unequal).map(|_| ()), wfield(0));
        // A descriptor list length below 16 cannot pass both data length
        // rules (>= 550 and == length + 534): the data length is named.
        let mut bdrdl = d.clone();
        bdrdl[535] = 15;
        assert_eq!(wut_parse(&bdrdl).map(|_| ()), wfield(0));
        bdrdl[0..2].copy_from_slice(&(15u16 + 534).to_be_bytes());
        assert_eq!(wut_parse(&bdrdl).map(|_| ()), wfield(0));
        let many: Vec<(u64, u32)> = (0..65).map(|i| (i, 1)).collect();
        let t = token(0x0080_0001);
        assert_eq!(
            wut_parse(&wut(0, 0, &t, &many)).map(|_| ()),
            Err(ScsiError::TooManySegmentDescriptors)
        );
        assert_eq!(
            wut_parse(&wut(0, 0, &t, &[(LU.capacity_blocks - 1, 2)])).map(|_| ()),
            Err(ScsiError::LbaOutOfRange)
        );
        assert_eq!(
            wut_parse(&wut(0, 0, &t, &[(0, 2), (1, 2)])).map(|_| ()),
            wfield(552)
        );
        let small = OdxLimits {
            max_token_transfer_bytes: 4 * 512,
            ..OdxLimits::default()
        };
        assert_eq!(
            parse_write_using_token(&wut(0, 0, &t, &[(0, 3), (9, 2)]), &small, &LU).map(|_| ()),
            wfield(536 + 16 + 8)
        );
    }

    #[test]
    fn offset_into_rod_is_checked_in_destination_blocks() {
        // SBC-4's example: 4096-byte destination, offset 1 = byte 4096.
        assert_eq!(offset_into_rod(1, 4096, 66 * 512), Ok(4096));
        assert_eq!(offset_into_rod(0, 512, 1), Ok(0));
        let e = Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
            8,
        )));
        assert_eq!(offset_into_rod(8, 512, 4096), e);
        assert_eq!(offset_into_rod(0, 512, 0), e);
        assert_eq!(
            offset_into_rod(u64::MAX, u32::MAX, u128::MAX),
            Ok(u128::from(u64::MAX) * u128::from(u32::MAX))
        );
    }
}
