//! Asynchronous Message (RFC 7143 11.9).

use super::{Bhs, CmdSn, Itt, Lun, PduCodec, PduError, RawPdu, StatSn};
use bytes::Bytes;

/// AsyncEvent codes (RFC 7143 11.9.1).
pub const EVENT_SCSI: u8 = 0;
pub const EVENT_LOGOUT_REQUEST: u8 = 1;
pub const EVENT_DROP_CONNECTION: u8 = 2;
pub const EVENT_DROP_ALL_CONNECTIONS: u8 = 3;
pub const EVENT_NEGOTIATION_REQUEST: u8 = 4;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AsyncMessage {
    pub lun: Lun,
    pub statsn: StatSn,
    pub exp_cmdsn: CmdSn,
    pub max_cmdsn: CmdSn,
    pub event: u8,
    pub vcode: u8,
    pub parameter1: u16,
    pub parameter2: u16,
    pub parameter3: u16,
    /// Sense data (SCSI event) or vendor data.
    pub data: Bytes,
}

impl PduCodec for AsyncMessage {
    const OPCODE: u8 = 0x32;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        let b = &raw.bhs;
        Ok(Self {
            lun: b.lun(),
            statsn: b.statsn(),
            exp_cmdsn: b.exp_cmdsn(),
            max_cmdsn: b.max_cmdsn(),
            event: b.u8_at(36),
            vcode: b.u8_at(37),
            parameter1: b.u16_at(38),
            parameter2: b.u16_at(40),
            parameter3: b.u16_at(42),
            data: raw.data.clone(),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, false);
        b.set_flags(0x80);
        b.set_lun(self.lun);
        b.set_itt(Itt::RESERVED);
        b.set_statsn(self.statsn);
        b.set_exp_cmdsn(self.exp_cmdsn);
        b.set_max_cmdsn(self.max_cmdsn);
        b.set_u8(36, self.event);
        b.set_u8(37, self.vcode);
        b.set_u16(38, self.parameter1);
        b.set_u16(40, self.parameter2);
        b.set_u16(42, self.parameter3);
        RawPdu::new(b, Bytes::new(), self.data.clone())
    }
}
