//! The 8-byte SAM LUN structure (SAM-5 4.7): the one place that maps LUN
//! numbers to and from their wire form, for the transport and REPORT LUNS.

/// Decode a single-level LUN to the number the device server uses.
///
/// Peripheral device addressing (SAM-5 4.7.7.2, method 00b, bus 0) and flat
/// space addressing (SAM-5 4.7.7.4, method 01b, 14 bits) give the LUN number;
/// any other form (multi-level, extended, well-known LUNs) is returned as the
/// full 64-bit big-endian value with the top bit set, which matches no
/// configured LUN.
pub fn decode(b: [u8; 8]) -> u64 {
    let second_level_empty = b[2..].iter().all(|&x| x == 0);
    match b[0] >> 6 {
        0b00 if b[0] == 0 && second_level_empty => u64::from(b[1]),
        0b01 if second_level_empty => (u64::from(b[0] & 0x3f) << 8) | u64::from(b[1]),
        _ => u64::from_be_bytes(b) | (1 << 63),
    }
}

/// Encode a LUN number: peripheral device addressing below 256, flat space
/// addressing below 16384 (SAM-5 4.7.7); larger numbers (never configured)
/// are written as their low 63 bits.
pub fn encode(lun: u64) -> [u8; 8] {
    let mut b = [0u8; 8];
    if lun < 256 {
        b[1] = lun as u8;
    } else if lun < 0x4000 {
        b[0] = 0x40 | (lun >> 8) as u8;
        b[1] = lun as u8;
    } else {
        b = (lun & !(1 << 63)).to_be_bytes();
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peripheral_and_flat_round_trip() {
        assert_eq!(decode([0, 5, 0, 0, 0, 0, 0, 0]), 5);
        assert_eq!(decode([0x40, 5, 0, 0, 0, 0, 0, 0]), 5);
        assert_eq!(decode([0x7f, 0xff, 0, 0, 0, 0, 0, 0]), 0x3fff);
        assert_eq!(encode(5), [0, 5, 0, 0, 0, 0, 0, 0]);
        assert_eq!(encode(300), [0x41, 0x2c, 0, 0, 0, 0, 0, 0]);
        for l in [0u64, 1, 255, 256, 1000, 0x3fff] {
            assert_eq!(decode(encode(l)), l);
        }
    }

    #[test]
    fn other_forms_match_no_configurable_lun() {
        // Well-known REPORT LUNS LUN (SAM-5 4.7.10) and a two-level LUN.
        for b in [[0xC1, 0x01, 0, 0, 0, 0, 0, 0], [0, 1, 0, 2, 0, 0, 0, 0]] {
            assert!(decode(b) >= 1 << 63);
        }
    }
}
