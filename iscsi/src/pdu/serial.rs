//! Sequence numbers with serial number arithmetic (RFC 1982, SERIAL_BITS =
//! 32), as RFC 7143 4.2.2.1 requires for CmdSN, StatSN, DataSN and R2TSN.

use std::cmp::Ordering;

macro_rules! serial_number {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u32);

        impl $name {
            /// The next number (wraps at 2^32).
            pub fn next(self) -> Self {
                Self(self.0.wrapping_add(1))
            }

            /// This number plus `n` (wraps at 2^32; RFC 1982 addition).
            pub fn plus(self, n: u32) -> Self {
                Self(self.0.wrapping_add(n))
            }

            /// This number minus `n` (wraps at 2^32).
            pub fn minus(self, n: u32) -> Self {
                Self(self.0.wrapping_sub(n))
            }

            /// `other - self` as a distance, when `self <= other` in serial order.
            pub fn distance_to(self, other: Self) -> Option<u32> {
                let d = other.0.wrapping_sub(self.0);
                if d < 0x8000_0000 {
                    Some(d)
                } else {
                    None
                }
            }

            /// True when `self` lies in the closed serial interval `[lo, hi]`.
            pub fn in_window(self, lo: Self, hi: Self) -> bool {
                matches!(
                    self.partial_cmp(&lo),
                    Some(Ordering::Greater | Ordering::Equal)
                ) && matches!(
                    self.partial_cmp(&hi),
                    Some(Ordering::Less | Ordering::Equal)
                )
            }
        }

        /// RFC 1982 3.2: comparison is undefined (None) at distance 2^31.
        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                let d = other.0.wrapping_sub(self.0);
                match d {
                    0 => Some(Ordering::Equal),
                    0x8000_0000 => None,
                    d if d < 0x8000_0000 => Some(Ordering::Less),
                    _ => Some(Ordering::Greater),
                }
            }
        }

        impl From<u32> for $name {
            fn from(v: u32) -> Self {
                Self(v)
            }
        }
    };
}

serial_number!(
    /// Command sequence number (RFC 7143 4.2.2.1); also ExpCmdSN, MaxCmdSN.
    CmdSn
);
serial_number!(
    /// Status sequence number (RFC 7143 4.2.2.2); also ExpStatSN.
    StatSn
);
serial_number!(
    /// Data sequence number of Data-In / Data-Out PDUs (RFC 7143 11.7.5).
    DataSn
);
serial_number!(
    /// R2T sequence number (RFC 7143 11.8.6).
    R2tSn
);

/// Initiator Task Tag (RFC 7143 11.2.1.8). 0xffffffff is reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Itt(pub u32);

impl Itt {
    pub const RESERVED: Itt = Itt(0xffff_ffff);
}

/// Target Transfer Tag (RFC 7143 11.7.4). 0xffffffff means "none".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Ttt(pub u32);

impl Ttt {
    pub const RESERVED: Ttt = Ttt(0xffff_ffff);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn serial_order_wraps() {
        assert!(CmdSn(0xffff_fffe) < CmdSn(1));
        assert!(CmdSn(1) > CmdSn(0xffff_ffff));
        assert!(CmdSn(5) < CmdSn(6));
        assert_eq!(CmdSn(0).partial_cmp(&CmdSn(0x8000_0000)), None);
        assert_eq!(CmdSn(0xffff_ffff).next(), CmdSn(0));
    }

    #[test]
    fn window_across_wrap() {
        let lo = CmdSn(0xffff_fff0);
        let hi = lo.plus(63);
        assert!(CmdSn(0xffff_fff0).in_window(lo, hi));
        assert!(CmdSn(0x2f).in_window(lo, hi));
        assert!(!CmdSn(0x30).in_window(lo, hi));
        assert!(!CmdSn(0xffff_ffef).in_window(lo, hi));
        assert_eq!(lo.distance_to(CmdSn(2)), Some(18));
        assert_eq!(CmdSn(2).distance_to(lo), None);
    }
}
