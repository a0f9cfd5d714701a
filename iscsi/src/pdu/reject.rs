//! Reject (RFC 7143 11.17).

use super::{Bhs, CmdSn, DataSn, Itt, PduCodec, PduError, RawPdu, StatSn};
use bytes::Bytes;

/// Reject reasons (RFC 7143 11.17.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RejectReason {
    DataDigestError = 0x02,
    SnackReject = 0x03,
    ProtocolError = 0x04,
    CommandNotSupported = 0x05,
    ImmediateCommandReject = 0x06,
    TaskInProgress = 0x07,
    InvalidDataAck = 0x08,
    InvalidPduField = 0x09,
    LongOperationReject = 0x0a,
    WaitingForLogout = 0x0c,
}

impl RejectReason {
    /// Label for the `xtgt_pdu_rejects_total` metric.
    pub fn name(self) -> &'static str {
        use RejectReason::*;
        match self {
            DataDigestError => "data_digest_error",
            SnackReject => "snack_reject",
            ProtocolError => "protocol_error",
            CommandNotSupported => "command_not_supported",
            ImmediateCommandReject => "immediate_command_reject",
            TaskInProgress => "task_in_progress",
            InvalidDataAck => "invalid_data_ack",
            InvalidPduField => "invalid_pdu_field",
            LongOperationReject => "long_operation_reject",
            WaitingForLogout => "waiting_for_logout",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reject {
    /// Raw reason byte (unknown values are kept).
    pub reason: u8,
    pub statsn: StatSn,
    pub exp_cmdsn: CmdSn,
    pub max_cmdsn: CmdSn,
    /// DataSN/R2TSN (only for a rejected SNACK/Data ack).
    pub datasn: DataSn,
    /// The complete header of the rejected PDU (11.17.3).
    pub data: Bytes,
}

impl Reject {
    pub fn new(reason: RejectReason, rejected_header: &[u8]) -> Self {
        let h = rejected_header
            .get(..rejected_header.len().min(super::BHS_LEN))
            .unwrap_or(&[]);
        Self {
            reason: reason as u8,
            data: Bytes::copy_from_slice(h),
            ..Default::default()
        }
    }
}

impl PduCodec for Reject {
    const OPCODE: u8 = 0x3f;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        let b = &raw.bhs;
        Ok(Self {
            reason: b.u8_at(2),
            statsn: b.statsn(),
            exp_cmdsn: b.exp_cmdsn(),
            max_cmdsn: b.max_cmdsn(),
            datasn: DataSn(b.u32_at(36)),
            data: raw.data.clone(),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, false);
        b.set_flags(0x80);
        b.set_u8(2, self.reason);
        b.set_itt(Itt::RESERVED);
        b.set_statsn(self.statsn);
        b.set_exp_cmdsn(self.exp_cmdsn);
        b.set_max_cmdsn(self.max_cmdsn);
        b.set_u32(36, self.datasn.0);
        RawPdu::new(b, Bytes::new(), self.data.clone())
    }
}
