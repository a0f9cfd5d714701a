//! The limits of POPULATE TOKEN / WRITE USING TOKEN and the ROD types a
//! logical unit supports.
//!
//! One [`OdxLimits`] feeds the Block Device ROD Token Limits and ROD Token
//! Features descriptors of VPD 0x8F (`vpd`) and the parameter-list checks
//! (`params`), through the same methods, so what is advertised is what is
//! enforced. One list of [`RodTypeSupport`] per LU feeds the Supported ROD
//! Types descriptor and the POPULATE TOKEN ROD TYPE check.

/// ROD type codes (SPC-5 table 110, SBC-4 4.28.4).
pub mod rod_type {
    /// Copy manager internal ROD: the command chooses.
    pub const COPY_MANAGER_CHOICE: u32 = 0x0000_0000;
    /// Access upon reference.
    pub const ACCESS_UPON_REFERENCE: u32 = 0x0001_0000;
    /// Point in time copy, default (method vendor specific).
    pub const POINT_IN_TIME_DEFAULT: u32 = 0x0080_0000;
    /// Point in time copy, change vulnerable.
    pub const POINT_IN_TIME_CHANGE_VULNERABLE: u32 = 0x0080_0001;
    /// Point in time copy, persistent.
    pub const POINT_IN_TIME_PERSISTENT: u32 = 0x0080_0002;
    /// Point in time copy, any (persistent, else change vulnerable).
    pub const POINT_IN_TIME_ANY: u32 = 0x0080_FFFF;
    /// Block device zero ROD token (WRITE USING TOKEN only; never returned).
    pub const BLOCK_DEVICE_ZERO: u32 = 0xFFFF_0001;

    /// The point in time copy ROD types SPC-5 5.17.6.2.3 defines: the only
    /// ones POPULATE TOKEN may be asked for (SBC-4 5.12.2).
    pub fn is_point_in_time(t: u32) -> bool {
        matches!(
            t,
            POINT_IN_TIME_DEFAULT
                | POINT_IN_TIME_CHANGE_VULNERABLE
                | POINT_IN_TIME_PERSISTENT
                | POINT_IN_TIME_ANY
        )
    }
}

/// What a logical unit does with one ROD type: one ROD type descriptor of
/// the Supported ROD Types descriptor (SPC-5 7.8.17.9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RodTypeSupport {
    pub rod_type: u32,
    /// ECPY_INT: usable for internal RODs of EXTENDED COPY (LID4).
    pub ecpy_int: bool,
    /// TOKEN_IN: ROD tokens of this type are accepted (WRITE USING TOKEN).
    pub token_in: bool,
    /// TOKEN_OUT: ROD tokens of this type are created (POPULATE TOKEN).
    /// Never set for the block device zero ROD token (SPC-5 7.8.17.9.1).
    pub token_out: bool,
    /// PREFERENCE INDICATOR (0: no preference information).
    pub preference: u16,
}

/// The limits of the ODX token commands. Units are explicit in each name:
/// byte sizes are turned into blocks of a given LU by [`OdxLimits`]'
/// methods, which both the VPD encoder and the parsers call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdxLimits {
    /// MAXIMUM RANGE DESCRIPTORS (>= 64) per POPULATE TOKEN or WRITE USING
    /// TOKEN.
    pub max_range_descriptors: u16,
    /// MAXIMUM INACTIVITY TIMEOUT in seconds: a larger INACTIVITY TIMEOUT
    /// in POPULATE TOKEN is refused (SBC-4 5.12.2).
    pub max_inactivity_timeout_secs: u32,
    /// DEFAULT INACTIVITY TIMEOUT in seconds (INACTIVITY TIMEOUT 0).
    pub default_inactivity_timeout_secs: u32,
    /// MAXIMUM TOKEN TRANSFER SIZE in bytes; advertised and enforced in
    /// whole blocks of the LU ([`OdxLimits::max_token_transfer_blocks`]).
    pub max_token_transfer_bytes: u64,
    /// OPTIMAL TRANSFER COUNT in bytes (Windows sends WRITE USING TOKENs of
    /// this size, 64 MiB when 0 is reported, at most 256 MiB); advertised
    /// in whole blocks ([`OdxLimits::optimal_transfer_blocks`]).
    pub optimal_transfer_bytes: u64,
    /// REMOTE TOKENS of the ROD Token Features descriptor (SPC-5 table
    /// 652): 0h = tokens of any copy manager of this SCSI target device.
    pub remote_tokens: u8,
    /// MINIMUM TOKEN LIFETIME in seconds.
    pub min_token_lifetime_secs: u32,
    /// MAXIMUM TOKEN LIFETIME in seconds.
    pub max_token_lifetime_secs: u32,
}

impl Default for OdxLimits {
    /// FreeBSD CTL's range count and timeouts (64 ranges, 60 s default,
    /// 600 s maximum inactivity timeout); tokens up to 4 GiB, 64 MiB per
    /// WRITE USING TOKEN (Windows' own default).
    fn default() -> Self {
        Self {
            max_range_descriptors: 64,
            max_inactivity_timeout_secs: 600,
            default_inactivity_timeout_secs: 60,
            max_token_transfer_bytes: 4 << 30,
            optimal_transfer_bytes: 64 << 20,
            remote_tokens: 0,
            min_token_lifetime_secs: 1,
            max_token_lifetime_secs: u32::MAX,
        }
    }
}

impl OdxLimits {
    /// MAXIMUM TOKEN TRANSFER SIZE in logical blocks of `block_size`
    /// bytes, as VPD 0x8F reports it and the parsers enforce it. Never 0
    /// (which would mean "no limit") unless the byte limit is below one
    /// block.
    pub fn max_token_transfer_blocks(&self, block_size: u32) -> u64 {
        self.max_token_transfer_bytes / u64::from(block_size.max(1))
    }

    /// OPTIMAL TRANSFER COUNT in logical blocks of `block_size` bytes.
    pub fn optimal_transfer_blocks(&self, block_size: u32) -> u64 {
        self.optimal_transfer_bytes / u64::from(block_size.max(1))
    }

    /// The inactivity timeout a POPULATE TOKEN asking for `requested`
    /// seconds gets: the default for 0; `None` past the maximum (the
    /// command is refused, SBC-4 5.12.2).
    pub fn inactivity_timeout(&self, requested: u32) -> Option<u32> {
        match requested {
            0 => Some(self.default_inactivity_timeout_secs),
            t if t <= self.max_inactivity_timeout_secs => Some(t),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_limits_become_whole_blocks() {
        let l = OdxLimits::default();
        assert_eq!(l.max_token_transfer_blocks(512), 8 * 1024 * 1024);
        assert_eq!(l.max_token_transfer_blocks(4096), 1024 * 1024);
        assert_eq!(l.optimal_transfer_blocks(512), 128 * 1024);
        assert_eq!(l.optimal_transfer_blocks(4096), 16 * 1024);
        // A bogus block size of 0 does not divide by zero.
        assert_eq!(l.optimal_transfer_blocks(0), 64 << 20);
        let odd = OdxLimits {
            max_token_transfer_bytes: 1000,
            ..OdxLimits::default()
        };
        assert_eq!(odd.max_token_transfer_blocks(512), 1);
    }

    #[test]
    fn inactivity_timeout_default_and_maximum() {
        let l = OdxLimits::default();
        assert_eq!(l.inactivity_timeout(0), Some(60));
        assert_eq!(l.inactivity_timeout(1), Some(1));
        assert_eq!(l.inactivity_timeout(600), Some(600));
        assert_eq!(l.inactivity_timeout(601), None);
        assert!(l.max_range_descriptors >= 64);
    }

    #[test]
    fn point_in_time_types() {
        use rod_type::*;
        for t in [
            POINT_IN_TIME_DEFAULT,
            POINT_IN_TIME_CHANGE_VULNERABLE,
            POINT_IN_TIME_PERSISTENT,
            POINT_IN_TIME_ANY,
        ] {
            assert!(is_point_in_time(t), "{t:#x}");
        }
        for t in [
            COPY_MANAGER_CHOICE,
            ACCESS_UPON_REFERENCE,
            BLOCK_DEVICE_ZERO,
            0x0080_0003,
        ] {
            assert!(!is_point_in_time(t), "{t:#x}");
        }
    }
}
