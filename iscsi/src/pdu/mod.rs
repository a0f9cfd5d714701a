//! iSCSI PDU codec (RFC 7143 11): one file per PDU type, typed structs that
//! parse strictly from a [`RawPdu`] and encode back to one.
//!
//! Parsing never panics: every field comes from the fixed 48-byte BHS, and
//! variable parts (AHS, data) are walked with checked accessors.

mod async_message;
mod bhs;
mod data_in;
mod data_out;
mod login;
mod logout;
mod lun;
mod nop_in;
mod nop_out;
mod r2t;
mod reject;
mod scsi_command;
mod scsi_response;
mod serial;
mod snack;
mod task_mgmt;
mod text;

pub use async_message::AsyncMessage;
pub use bhs::{pad_len, Bhs, RawPdu, BHS_LEN, MAX_AHS_LEN};
pub use data_in::DataIn;
pub use data_out::DataOut;
pub use login::{LoginRequest, LoginResponse};
pub use logout::{LogoutRequest, LogoutResponse};
pub use lun::Lun;
pub use nop_in::NopIn;
pub use nop_out::NopOut;
pub use r2t::R2t;
pub use reject::{Reject, RejectReason};
pub use scsi_command::{ScsiCommand, MAX_CDB_LEN};
pub use scsi_response::ScsiResponse;
pub use serial::{CmdSn, DataSn, Itt, R2tSn, StatSn, Ttt};
pub use snack::SnackRequest;
pub use task_mgmt::{TaskMgmtRequest, TaskMgmtResponse};
pub use text::{TextRequest, TextResponse};

/// Constants of the individual PDU types.
pub mod consts {
    pub use super::async_message::*;
    pub use super::logout::{
        REASON_CLOSE_CONNECTION, REASON_CLOSE_SESSION, REASON_REMOVE_FOR_RECOVERY,
        RESPONSE_CID_NOT_FOUND, RESPONSE_CLEANUP_FAILED, RESPONSE_CLOSED,
        RESPONSE_RECOVERY_NOT_SUPPORTED,
    };
    pub use super::scsi_command::{AHS_BIDI_READ_LENGTH, AHS_EXTENDED_CDB};
    pub use super::scsi_response::{RESPONSE_COMPLETED, RESPONSE_TARGET_FAILURE};
    pub use super::task_mgmt::{function, response};
}

/// Why a PDU could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    #[error("PDU truncated")]
    Truncated,
    #[error("bytes after the PDU")]
    TrailingBytes,
    #[error("unknown or unexpected opcode {0:#04x}")]
    UnknownOpcode(u8),
    #[error("invalid field: {0}")]
    InvalidField(&'static str),
    /// A reserved code value in a defined field (RFC 7143 11.2: "MUST be
    /// reported as a protocol error") or a combination the RFC forbids.
    #[error("protocol error: {0}")]
    Protocol(&'static str),
}

impl PduError {
    /// The Reject reason for this error (RFC 7143 11.17.1).
    pub fn reject_reason(&self) -> RejectReason {
        match self {
            PduError::UnknownOpcode(_) => RejectReason::CommandNotSupported,
            PduError::InvalidField(_) => RejectReason::InvalidPduField,
            PduError::Truncated | PduError::TrailingBytes | PduError::Protocol(_) => {
                RejectReason::ProtocolError
            }
        }
    }

    /// The Reject PDU answering the PDU with header `bhs` (RFC 7143 11.17:
    /// the reason and the complete header of the rejected PDU).
    pub fn reject(&self, bhs: &Bhs) -> Reject {
        Reject::new(self.reject_reason(), &bhs.0)
    }
}

// What the parsers check beyond the field layout.
//
// RFC 7143 11.2: "Any compliant receiver MUST ignore any bit not defined
// and all reserved fields unless specified otherwise", so reserved bits
// and bytes are not checked. What is checked is what the RFC does specify:
// - reserved code values in defined fields are a protocol error (11.2);
// - TotalAHSLength: only the SCSI Command defines AHS (11.2.2); on every
//   other initiator PDU an AHS is an invalid PDU field;
// - DataSegmentLength "MUST be 0 for this PDU" (Task Management Function
//   Request 11.5, Logout Request 11.14, SNACK 11.16): invalid PDU field;
// - per-PDU rules named where they are checked (Text F with C, NOP-Out
//   I bit).

/// The PDU carries no AHS (see above).
fn no_ahs(raw: &RawPdu) -> Result<(), PduError> {
    if raw.ahs.is_empty() && raw.bhs.total_ahs_len() == 0 {
        Ok(())
    } else {
        Err(PduError::InvalidField("TotalAHSLength"))
    }
}

/// The PDU has no data segment (see above).
fn no_data(raw: &RawPdu) -> Result<(), PduError> {
    if raw.data.is_empty() && raw.bhs.data_segment_len() == 0 {
        Ok(())
    } else {
        Err(PduError::InvalidField("DataSegmentLength"))
    }
}

/// One typed PDU: parse from and encode to a [`RawPdu`].
pub trait PduCodec: Sized {
    const OPCODE: u8;
    fn parse(raw: &RawPdu) -> Result<Self, PduError>;
    fn to_raw(&self) -> RawPdu;
}

/// Every PDU an initiator may send (RFC 7143 11.2.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitiatorPdu {
    NopOut(NopOut),
    ScsiCommand(ScsiCommand),
    TaskMgmt(TaskMgmtRequest),
    Login(LoginRequest),
    Text(TextRequest),
    DataOut(DataOut),
    Logout(LogoutRequest),
    Snack(SnackRequest),
}

impl InitiatorPdu {
    pub fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        Ok(match raw.bhs.opcode() {
            NopOut::OPCODE => Self::NopOut(NopOut::parse(raw)?),
            ScsiCommand::OPCODE => Self::ScsiCommand(ScsiCommand::parse(raw)?),
            TaskMgmtRequest::OPCODE => Self::TaskMgmt(TaskMgmtRequest::parse(raw)?),
            LoginRequest::OPCODE => Self::Login(LoginRequest::parse(raw)?),
            TextRequest::OPCODE => Self::Text(TextRequest::parse(raw)?),
            DataOut::OPCODE => Self::DataOut(DataOut::parse(raw)?),
            LogoutRequest::OPCODE => Self::Logout(LogoutRequest::parse(raw)?),
            SnackRequest::OPCODE => Self::Snack(SnackRequest::parse(raw)?),
            op => return Err(PduError::UnknownOpcode(op)),
        })
    }

    pub fn to_raw(&self) -> RawPdu {
        match self {
            Self::NopOut(p) => p.to_raw(),
            Self::ScsiCommand(p) => p.to_raw(),
            Self::TaskMgmt(p) => p.to_raw(),
            Self::Login(p) => p.to_raw(),
            Self::Text(p) => p.to_raw(),
            Self::DataOut(p) => p.to_raw(),
            Self::Logout(p) => p.to_raw(),
            Self::Snack(p) => p.to_raw(),
        }
    }
}

/// Every PDU a target may send (RFC 7143 11.2.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetPdu {
    NopIn(NopIn),
    ScsiResponse(ScsiResponse),
    TaskMgmt(TaskMgmtResponse),
    Login(LoginResponse),
    Text(TextResponse),
    DataIn(DataIn),
    Logout(LogoutResponse),
    R2t(R2t),
    Async(AsyncMessage),
    Reject(Reject),
}

impl TargetPdu {
    pub fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        Ok(match raw.bhs.opcode() {
            NopIn::OPCODE => Self::NopIn(NopIn::parse(raw)?),
            ScsiResponse::OPCODE => Self::ScsiResponse(ScsiResponse::parse(raw)?),
            TaskMgmtResponse::OPCODE => Self::TaskMgmt(TaskMgmtResponse::parse(raw)?),
            LoginResponse::OPCODE => Self::Login(LoginResponse::parse(raw)?),
            TextResponse::OPCODE => Self::Text(TextResponse::parse(raw)?),
            DataIn::OPCODE => Self::DataIn(DataIn::parse(raw)?),
            LogoutResponse::OPCODE => Self::Logout(LogoutResponse::parse(raw)?),
            R2t::OPCODE => Self::R2t(R2t::parse(raw)?),
            AsyncMessage::OPCODE => Self::Async(AsyncMessage::parse(raw)?),
            Reject::OPCODE => Self::Reject(Reject::parse(raw)?),
            op => return Err(PduError::UnknownOpcode(op)),
        })
    }

    pub fn to_raw(&self) -> RawPdu {
        match self {
            Self::NopIn(p) => p.to_raw(),
            Self::ScsiResponse(p) => p.to_raw(),
            Self::TaskMgmt(p) => p.to_raw(),
            Self::Login(p) => p.to_raw(),
            Self::Text(p) => p.to_raw(),
            Self::DataIn(p) => p.to_raw(),
            Self::Logout(p) => p.to_raw(),
            Self::R2t(p) => p.to_raw(),
            Self::Async(p) => p.to_raw(),
            Self::Reject(p) => p.to_raw(),
        }
    }

    /// Fill StatSN, ExpCmdSN and MaxCmdSN where the PDU carries them; the
    /// connection calls this just before sending (RFC 7143 4.2.2.2).
    pub fn set_sequence(&mut self, statsn: StatSn, exp_cmdsn: CmdSn, max_cmdsn: CmdSn) {
        macro_rules! fill {
            ($p:expr) => {{
                $p.statsn = statsn;
                $p.exp_cmdsn = exp_cmdsn;
                $p.max_cmdsn = max_cmdsn;
            }};
        }
        match self {
            Self::NopIn(p) => fill!(p),
            Self::ScsiResponse(p) => fill!(p),
            Self::TaskMgmt(p) => fill!(p),
            Self::Login(p) => fill!(p),
            Self::Text(p) => fill!(p),
            Self::DataIn(p) => fill!(p),
            Self::Logout(p) => fill!(p),
            Self::R2t(p) => fill!(p),
            Self::Async(p) => fill!(p),
            Self::Reject(p) => fill!(p),
        }
    }

    /// Whether sending this PDU consumes a StatSN (RFC 7143 4.2.2.2): every
    /// status-bearing response does; R2T, Data-In without status and
    /// target-initiated NOP-In (ITT 0xffffffff) carry the current value.
    pub fn advances_statsn(&self) -> bool {
        match self {
            Self::NopIn(p) => p.itt != Itt::RESERVED,
            Self::DataIn(p) => p.status.is_some(),
            Self::R2t(_) => false,
            _ => true,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
