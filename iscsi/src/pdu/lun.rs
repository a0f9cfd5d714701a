//! The 8-byte LUN field (SAM-5 4.7, RFC 7143 11.2.1.6 / 11.3.4).

/// A LUN as carried in the BHS: the raw 8 bytes, kept for exact echoing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Lun(pub [u8; 8]);

impl Lun {
    /// Decode a single-level LUN to the number the device server uses.
    ///
    /// Peripheral device addressing (SAM-5 4.7.7.2, method 00b, bus 0) and
    /// flat space addressing (SAM-5 4.7.7.4, method 01b, 14 bits) give the
    /// LUN number; any other form (multi-level, extended, well-known LUNs)
    /// is returned as the full 64-bit big-endian value with the top bit set,
    /// which matches no configured LUN.
    pub fn to_index(self) -> u64 {
        let b = self.0;
        let second_level_empty = b[2..].iter().all(|&x| x == 0);
        match b[0] >> 6 {
            0b00 if b[0] == 0 && second_level_empty => u64::from(b[1]),
            0b01 if second_level_empty => (u64::from(b[0] & 0x3f) << 8) | u64::from(b[1]),
            _ => u64::from_be_bytes(b) | (1 << 63),
        }
    }

    /// Encode a LUN number: peripheral addressing below 256, flat space
    /// addressing below 16384 (SAM-5 4.7.7).
    pub fn from_index(lun: u64) -> Self {
        let mut b = [0u8; 8];
        if lun < 256 {
            b[1] = lun as u8;
        } else if lun < 0x4000 {
            b[0] = 0x40 | (lun >> 8) as u8;
            b[1] = lun as u8;
        } else {
            b = (lun & !(1 << 63)).to_be_bytes();
        }
        Self(b)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn peripheral_and_flat() {
        assert_eq!(Lun([0, 5, 0, 0, 0, 0, 0, 0]).to_index(), 5);
        assert_eq!(Lun([0x40, 5, 0, 0, 0, 0, 0, 0]).to_index(), 5);
        assert_eq!(Lun([0x7f, 0xff, 0, 0, 0, 0, 0, 0]).to_index(), 0x3fff);
        assert_eq!(Lun::from_index(5).0, [0, 5, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Lun::from_index(300).0, [0x41, 0x2c, 0, 0, 0, 0, 0, 0]);
        for l in [0u64, 1, 255, 256, 1000, 0x3fff] {
            assert_eq!(Lun::from_index(l).to_index(), l);
        }
    }

    #[test]
    fn other_forms_match_nothing_small() {
        // Well-known REPORT LUNS LUN (SAM-5 4.7.10): 0xC101...
        assert!(Lun([0xc1, 0x01, 0, 0, 0, 0, 0, 0]).to_index() > 0x3fff);
        // Two-level LUN.
        assert!(Lun([0, 1, 0, 2, 0, 0, 0, 0]).to_index() > 0x3fff);
    }
}
