//! Sense data (SPC-5 4.4). Every SCSI error is a [`ScsiError`]; the mapping to
//! (sense key, ASC, ASCQ) lives in one table here. Handlers never build sense
//! bytes by hand.

/// Placeholder: the scsi crate owner fills in the full closed enum and table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScsiError {
    #[error("invalid command operation code")]
    InvalidOpcode,
}
