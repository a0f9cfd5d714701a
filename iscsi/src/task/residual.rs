//! Residuals (RFC 7143 11.4.5, SAM-5 5.4.3): compare what the command
//! transfers with the initiator's Expected Data Transfer Length.

/// The O/U flags and Residual Count of a SCSI Response or final Data-In.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Residual {
    /// O: the command wanted more than EDTL; `count` bytes were not transferred.
    pub overflow: bool,
    /// U: the command transferred less than EDTL; `count` bytes short.
    pub underflow: bool,
    pub count: u32,
}

impl Residual {
    /// `wanted` is what the command would transfer (Data-In produced, or
    /// Data-Out the CDB asks for); `edtl` what the initiator expected.
    pub fn compute(edtl: u32, wanted: u64) -> Self {
        let edtl64 = u64::from(edtl);
        if wanted > edtl64 {
            Self {
                overflow: true,
                underflow: false,
                count: u32::try_from(wanted - edtl64).unwrap_or(u32::MAX),
            }
        } else if wanted < edtl64 {
            Self {
                overflow: false,
                underflow: true,
                count: edtl - wanted as u32,
            }
        } else {
            Self::default()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn exact_overflow_underflow() {
        assert_eq!(Residual::compute(512, 512), Residual::default());
        assert_eq!(
            Residual::compute(512, 1024),
            Residual {
                overflow: true,
                underflow: false,
                count: 512
            }
        );
        assert_eq!(
            Residual::compute(255, 36),
            Residual {
                overflow: false,
                underflow: true,
                count: 219
            }
        );
        assert_eq!(Residual::compute(0, 512).count, 512);
        assert_eq!(Residual::compute(0, u64::MAX).count, u32::MAX);
    }
}
