//! The 8-byte LUN field (SAM-5 4.7, RFC 7143 11.2.1.6 / 11.3.4).

/// A LUN as carried in the BHS: the raw 8 bytes, kept for exact echoing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Lun(pub [u8; 8]);

impl Lun {
    /// The LUN number the device server uses ([`scsi::lun::decode`]).
    pub fn to_index(self) -> u64 {
        scsi::lun::decode(self.0)
    }

    /// The wire form of a LUN number ([`scsi::lun::encode`]).
    pub fn from_index(lun: u64) -> Self {
        Self(scsi::lun::encode(lun))
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
