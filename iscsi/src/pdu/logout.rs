//! Logout Request (RFC 7143 11.14) and Logout Response (11.15).

use super::{Bhs, CmdSn, Itt, PduCodec, PduError, RawPdu, StatSn};
use bytes::Bytes;

/// Reason codes (RFC 7143 11.14.1).
pub const REASON_CLOSE_SESSION: u8 = 0;
pub const REASON_CLOSE_CONNECTION: u8 = 1;
pub const REASON_REMOVE_FOR_RECOVERY: u8 = 2;

/// Response codes (RFC 7143 11.15.1).
pub const RESPONSE_CLOSED: u8 = 0;
pub const RESPONSE_CID_NOT_FOUND: u8 = 1;
pub const RESPONSE_RECOVERY_NOT_SUPPORTED: u8 = 2;
pub const RESPONSE_CLEANUP_FAILED: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    pub immediate: bool,
    pub reason: u8,
    pub itt: Itt,
    pub cid: u16,
    pub cmdsn: CmdSn,
    pub exp_statsn: StatSn,
}

impl PduCodec for LogoutRequest {
    const OPCODE: u8 = 0x06;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        super::no_ahs(raw)?;
        super::no_data(raw)?;
        let b = &raw.bhs;
        let reason = b.flags() & 0x7f;
        // RFC 7143 11.14.1: reason codes 3..=127 are reserved.
        if reason > REASON_REMOVE_FOR_RECOVERY {
            return Err(PduError::Protocol("reserved logout reason code"));
        }
        Ok(Self {
            immediate: b.immediate(),
            reason,
            itt: b.itt(),
            cid: b.u16_at(20),
            cmdsn: b.cmdsn(),
            exp_statsn: b.exp_statsn(),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, self.immediate);
        b.set_flags(0x80 | (self.reason & 0x7f));
        b.set_itt(self.itt);
        b.set_u16(20, self.cid);
        b.set_cmdsn(self.cmdsn);
        b.set_exp_statsn(self.exp_statsn);
        RawPdu::new(b, Bytes::new(), Bytes::new())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogoutResponse {
    pub response: u8,
    pub itt: Itt,
    pub statsn: StatSn,
    pub exp_cmdsn: CmdSn,
    pub max_cmdsn: CmdSn,
    pub time2wait: u16,
    pub time2retain: u16,
}

impl PduCodec for LogoutResponse {
    const OPCODE: u8 = 0x26;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        let b = &raw.bhs;
        Ok(Self {
            response: b.u8_at(2),
            itt: b.itt(),
            statsn: b.statsn(),
            exp_cmdsn: b.exp_cmdsn(),
            max_cmdsn: b.max_cmdsn(),
            time2wait: b.u16_at(40),
            time2retain: b.u16_at(42),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, false);
        b.set_flags(0x80);
        b.set_u8(2, self.response);
        b.set_itt(self.itt);
        b.set_statsn(self.statsn);
        b.set_exp_cmdsn(self.exp_cmdsn);
        b.set_max_cmdsn(self.max_cmdsn);
        b.set_u16(40, self.time2wait);
        b.set_u16(42, self.time2retain);
        RawPdu::new(b, Bytes::new(), Bytes::new())
    }
}
