//! Text Request (RFC 7143 11.10) and Text Response (11.11).

use super::{Bhs, CmdSn, Itt, Lun, PduCodec, PduError, RawPdu, StatSn, Ttt};
use bytes::Bytes;

fn fc(final_bit: bool, cont: bool) -> u8 {
    (if final_bit { 0x80 } else { 0 }) | (if cont { 0x40 } else { 0 })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRequest {
    pub immediate: bool,
    pub final_bit: bool,
    /// C: the text continues in the next PDU.
    pub cont: bool,
    pub lun: Lun,
    pub itt: Itt,
    /// 0xffffffff on a new request; the target's tag on a continuation.
    pub ttt: Ttt,
    pub cmdsn: CmdSn,
    pub exp_statsn: StatSn,
    pub data: Bytes,
}

impl PduCodec for TextRequest {
    const OPCODE: u8 = 0x04;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        super::no_ahs(raw)?;
        let b = &raw.bhs;
        // RFC 7143 11.10.2: "If the C bit is set to 1, the F bit MUST be
        // set to 0."
        if b.flags() & 0xc0 == 0xc0 {
            return Err(PduError::Protocol("Text Request with F=1 and C=1"));
        }
        Ok(Self {
            immediate: b.immediate(),
            final_bit: b.flags() & 0x80 != 0,
            cont: b.flags() & 0x40 != 0,
            lun: b.lun(),
            itt: b.itt(),
            ttt: b.ttt(),
            cmdsn: b.cmdsn(),
            exp_statsn: b.exp_statsn(),
            data: raw.data.clone(),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, self.immediate);
        b.set_flags(fc(self.final_bit, self.cont));
        b.set_lun(self.lun);
        b.set_itt(self.itt);
        b.set_ttt(self.ttt);
        b.set_cmdsn(self.cmdsn);
        b.set_exp_statsn(self.exp_statsn);
        RawPdu::new(b, Bytes::new(), self.data.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextResponse {
    pub final_bit: bool,
    pub cont: bool,
    pub lun: Lun,
    pub itt: Itt,
    /// 0xffffffff when final; a tag the initiator echoes to get more.
    pub ttt: Ttt,
    pub statsn: StatSn,
    pub exp_cmdsn: CmdSn,
    pub max_cmdsn: CmdSn,
    pub data: Bytes,
}

impl PduCodec for TextResponse {
    const OPCODE: u8 = 0x24;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        let b = &raw.bhs;
        Ok(Self {
            final_bit: b.flags() & 0x80 != 0,
            cont: b.flags() & 0x40 != 0,
            lun: b.lun(),
            itt: b.itt(),
            ttt: b.ttt(),
            statsn: b.statsn(),
            exp_cmdsn: b.exp_cmdsn(),
            max_cmdsn: b.max_cmdsn(),
            data: raw.data.clone(),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, false);
        b.set_flags(fc(self.final_bit, self.cont));
        b.set_lun(self.lun);
        b.set_itt(self.itt);
        b.set_ttt(self.ttt);
        b.set_statsn(self.statsn);
        b.set_exp_cmdsn(self.exp_cmdsn);
        b.set_max_cmdsn(self.max_cmdsn);
        RawPdu::new(b, Bytes::new(), self.data.clone())
    }
}
