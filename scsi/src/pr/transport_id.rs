//! iSCSI TransportIDs (SPC-5 7.6.4.6): format 00b names an iSCSI
//! initiator device, format 01b one initiator port (name ",i,0x" ISID).

use super::types::split_port_name;
use crate::sense::{FieldPointer, ScsiError};

/// PROTOCOL IDENTIFIER of iSCSI (SPC-5 table 444).
pub const PROTOCOL_ISCSI: u8 = 0x5;

/// The largest iSCSI name (RFC 7143 6.1).
const MAX_NAME: usize = 223;

/// A parsed iSCSI TransportID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportId {
    /// iSCSI name, lower case.
    pub name: String,
    /// ISID, 12 lower-case hex digits (format 01b only).
    pub isid: Option<String>,
}

fn fp(byte: usize) -> FieldPointer {
    FieldPointer::byte(u16::try_from(byte).unwrap_or(u16::MAX))
}

fn fp_bit(byte: usize, bit: u8) -> FieldPointer {
    FieldPointer::bit(u16::try_from(byte).unwrap_or(u16::MAX), bit)
}

/// Parses the TransportID at the start of `b`; `at` is its offset in the
/// parameter list (for field pointers). Returns it and its length.
/// A TransportID that runs past `b` is PARAMETER LIST LENGTH ERROR; a
/// wrong protocol, format or name is INVALID FIELD IN PARAMETER LIST.
pub fn parse(b: &[u8], at: usize) -> Result<(TransportId, usize), ScsiError> {
    let (Some(&b0), Some(len)) = (b.first(), b.get(2..4)) else {
        return Err(ScsiError::ParameterListLengthError);
    };
    if b0 & 0x0F != PROTOCOL_ISCSI {
        return Err(ScsiError::InvalidFieldInParameterList(fp_bit(at, 3)));
    }
    let format = b0 >> 6;
    if format > 1 || b0 & 0x30 != 0 {
        return Err(ScsiError::InvalidFieldInParameterList(fp_bit(at, 7)));
    }
    let add = usize::from(u16::from_be_bytes([len[0], len[1]]));
    if add < 4 || add % 4 != 0 {
        return Err(ScsiError::InvalidFieldInParameterList(fp(at + 2)));
    }
    let Some(field) = b.get(4..4 + add) else {
        return Err(ScsiError::ParameterListLengthError);
    };
    // The name is null-terminated (and null-padded).
    let Some(nul) = field.iter().position(|&c| c == 0) else {
        return Err(ScsiError::InvalidFieldInParameterList(fp(at + 4)));
    };
    let text = std::str::from_utf8(&field[..nul])
        .map_err(|_| ScsiError::InvalidFieldInParameterList(fp(at + 4)))?;
    let bad_name = || ScsiError::InvalidFieldInParameterList(fp(at + 4));
    let (name, isid) = if format == 0 {
        (text, None)
    } else {
        let (name, isid) = split_port_name(text).ok_or_else(bad_name)?;
        if isid.len() != 12 || !isid.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad_name());
        }
        (name, Some(isid.to_ascii_lowercase()))
    };
    if name.is_empty() || name.len() > MAX_NAME || name.bytes().any(|c| c <= b' ' || c == b',') {
        return Err(bad_name());
    }
    Ok((
        TransportId {
            name: name.to_ascii_lowercase(),
            isid,
        },
        4 + add,
    ))
}

/// Encodes an iSCSI TransportID: format 01b with an ISID, 00b without;
/// the name null-terminated and padded to a multiple of 4, at least 20
/// bytes of ADDITIONAL LENGTH (SPC-5 7.6.4.6).
pub fn encode(name: &str, isid: Option<&str>) -> Vec<u8> {
    let text = match isid {
        Some(i) => format!("{name},i,0x{i}"),
        None => name.to_string(),
    };
    let mut add = text.len() + 1;
    add = add.div_ceil(4) * 4;
    add = add.max(20);
    let format = if isid.is_some() { 0x40 } else { 0x00 };
    let mut v = Vec::with_capacity(4 + add);
    v.push(format | PROTOCOL_ISCSI);
    v.push(0);
    v.extend_from_slice(&u16::try_from(add).unwrap_or(u16::MAX).to_be_bytes());
    v.extend_from_slice(text.as_bytes());
    v.resize(4 + add, 0);
    v
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_round_trip() {
        let a = encode("iqn.2026-01.test:i", Some("400001370000"));
        assert_eq!(a[0], 0x45);
        assert_eq!(a.len() % 4, 0);
        let (t, n) = parse(&a, 24).unwrap();
        assert_eq!(n, a.len());
        assert_eq!(t.name, "iqn.2026-01.test:i");
        assert_eq!(t.isid.as_deref(), Some("400001370000"));
        let b = encode("iqn.x", None);
        assert_eq!(b, {
            let mut v = vec![0x05, 0, 0, 20];
            v.extend_from_slice(b"iqn.x");
            v.resize(24, 0);
            v
        });
        let (t, n) = parse(&b, 0).unwrap();
        assert_eq!((t.name.as_str(), t.isid, n), ("iqn.x", None, 24));
    }

    #[test]
    fn bad_transport_ids() {
        let good = encode("IQN.A", Some("ABCDEF012345"));
        assert_eq!(parse(&good, 0).unwrap().0.name, "iqn.a");
        // Every prefix is too short.
        for n in 0..good.len() {
            assert_eq!(
                parse(&good[..n], 0),
                Err(ScsiError::ParameterListLengthError),
                "prefix {n}"
            );
        }
        let mut fc = good.clone();
        fc[0] = 0x40;
        assert_eq!(
            parse(&fc, 28),
            Err(ScsiError::InvalidFieldInParameterList(FieldPointer::bit(
                28, 3
            )))
        );
        let mut f2 = good.clone();
        f2[0] = 0x85;
        assert_eq!(
            parse(&f2, 0),
            Err(ScsiError::InvalidFieldInParameterList(FieldPointer::bit(
                0, 7
            )))
        );
        let mut odd = good.clone();
        odd[3] = 21;
        assert_eq!(
            parse(&odd, 0),
            Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
                2
            )))
        );
        let mut no_nul = vec![0x05, 0, 0, 4];
        no_nul.extend_from_slice(b"abcd");
        assert_eq!(
            parse(&no_nul, 0),
            Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
                4
            )))
        );
        for text in [
            "iqn.a,i,0x12",
            "iqn.a,i,0xzzzzzzzzzzzz",
            ",i,0x000000000000",
        ] {
            let mut v = vec![0x45, 0, 0, 24];
            v.extend_from_slice(text.as_bytes());
            v.resize(28, 0);
            assert!(parse(&v, 0).is_err(), "{text}");
        }
    }
}
