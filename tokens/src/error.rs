//! The one error type of the crate, with its SCSI sense triple.
//!
//! Every way a token operation can fail is one variant here, and
//! [`TokenError::sense`] gives the (sense key, ASC, ASCQ) the standard
//! prescribes for it, so the SCSI layer maps token errors in one place.

/// Sense key ILLEGAL REQUEST (SPC-5 table 48).
pub const SENSE_KEY_ILLEGAL_REQUEST: u8 = 0x05;
/// Sense key HARDWARE ERROR (SPC-5 table 48).
pub const SENSE_KEY_HARDWARE_ERROR: u8 = 0x04;

/// Which resource limit refused a new token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Live tokens overall ([`crate::StoreConfig::max_live_tokens`]).
    LiveTokens,
    /// Live tokens of one initiator ([`crate::StoreConfig::max_tokens_per_initiator`]).
    PerInitiator,
    /// Bytes represented by all live tokens ([`crate::StoreConfig::max_bytes_represented`]).
    BytesRepresented,
}

/// A failed token operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// ROD TYPE is not one this copy manager issues or accepts: 0x23/0x01.
    #[error("invalid token operation, unsupported token type {0:#010x}")]
    UnsupportedType(u32),
    /// No token with this identifier was ever issued by this process, or its
    /// tombstone has been evicted: 0x23/0x04.
    #[error("invalid token operation, token unknown")]
    Unknown,
    /// The MAC does not verify: the token was altered, forged, or made by
    /// another process (another key, e.g. before a restart): 0x23/0x05.
    #[error("invalid token operation, token corrupt")]
    Corrupt,
    /// A write to the token's source ranges revoked it: 0x23/0x06.
    #[error("invalid token operation, token revoked")]
    Revoked,
    /// The inactivity timeout passed with the token unused: 0x23/0x07.
    #[error("invalid token operation, token expired")]
    Expired,
    /// The token was cancelled (source LU reset or removed): 0x23/0x08.
    #[error("invalid token operation, token cancelled")]
    Cancelled,
    /// The token was deleted (WRITE USING TOKEN with DEL_TKN): 0x23/0x09.
    #[error("invalid token operation, token deleted")]
    Deleted,
    /// ROD TOKEN LENGTH is not 0x01F8, or the token is not 512 bytes: 0x23/0x0A.
    #[error("invalid token operation, invalid token length")]
    InvalidLength,
    /// A resource limit is reached; live tokens are unaffected: 0x55/0x0D.
    #[error("insufficient resources to create ROD token ({0:?} limit)")]
    InsufficientResources(Limit),
    /// The OS random generator failed: 0x44/0x00 INTERNAL TARGET FAILURE.
    #[error("random generator failed")]
    Random,
    /// The caller passed a value the token format cannot carry (a bug of the
    /// caller, not of the initiator): 0x44/0x00 INTERNAL TARGET FAILURE.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl TokenError {
    /// The (sense key, ADDITIONAL SENSE CODE, ADDITIONAL SENSE CODE QUALIFIER)
    /// for this error (SPC-5 4.4.8 and the ASC/ASCQ table, annex F).
    pub fn sense(&self) -> (u8, u8, u8) {
        use TokenError::*;
        const IR: u8 = SENSE_KEY_ILLEGAL_REQUEST;
        match self {
            UnsupportedType(_) => (IR, 0x23, 0x01),
            Unknown => (IR, 0x23, 0x04),
            Corrupt => (IR, 0x23, 0x05),
            Revoked => (IR, 0x23, 0x06),
            Expired => (IR, 0x23, 0x07),
            Cancelled => (IR, 0x23, 0x08),
            Deleted => (IR, 0x23, 0x09),
            InvalidLength => (IR, 0x23, 0x0A),
            InsufficientResources(_) => (IR, 0x55, 0x0D),
            Random | Internal(_) => (SENSE_KEY_HARDWARE_ERROR, 0x44, 0x00),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_sense_triple() {
        let cases = [
            (TokenError::UnsupportedType(7), (0x05, 0x23, 0x01)),
            (TokenError::Unknown, (0x05, 0x23, 0x04)),
            (TokenError::Corrupt, (0x05, 0x23, 0x05)),
            (TokenError::Revoked, (0x05, 0x23, 0x06)),
            (TokenError::Expired, (0x05, 0x23, 0x07)),
            (TokenError::Cancelled, (0x05, 0x23, 0x08)),
            (TokenError::Deleted, (0x05, 0x23, 0x09)),
            (TokenError::InvalidLength, (0x05, 0x23, 0x0A)),
            (
                TokenError::InsufficientResources(Limit::LiveTokens),
                (0x05, 0x55, 0x0D),
            ),
            (
                TokenError::InsufficientResources(Limit::PerInitiator),
                (0x05, 0x55, 0x0D),
            ),
            (
                TokenError::InsufficientResources(Limit::BytesRepresented),
                (0x05, 0x55, 0x0D),
            ),
            (TokenError::Random, (0x04, 0x44, 0x00)),
            (TokenError::Internal("x"), (0x04, 0x44, 0x00)),
        ];
        for (e, want) in cases {
            assert_eq!(e.sense(), want, "{e}");
        }
    }
}
