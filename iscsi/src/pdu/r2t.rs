//! Ready To Transfer (RFC 7143 11.8).

use super::{Bhs, CmdSn, Itt, Lun, PduCodec, PduError, R2tSn, RawPdu, StatSn, Ttt};
use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct R2t {
    pub lun: Lun,
    pub itt: Itt,
    pub ttt: Ttt,
    pub statsn: StatSn,
    pub exp_cmdsn: CmdSn,
    pub max_cmdsn: CmdSn,
    pub r2tsn: R2tSn,
    pub buffer_offset: u32,
    /// Desired Data Transfer Length (11.8.4): at most MaxBurstLength.
    pub desired_length: u32,
}

impl PduCodec for R2t {
    const OPCODE: u8 = 0x31;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        let b = &raw.bhs;
        Ok(Self {
            lun: b.lun(),
            itt: b.itt(),
            ttt: b.ttt(),
            statsn: b.statsn(),
            exp_cmdsn: b.exp_cmdsn(),
            max_cmdsn: b.max_cmdsn(),
            r2tsn: R2tSn(b.u32_at(36)),
            buffer_offset: b.u32_at(40),
            desired_length: b.u32_at(44),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, false);
        b.set_flags(0x80);
        b.set_lun(self.lun);
        b.set_itt(self.itt);
        b.set_ttt(self.ttt);
        b.set_statsn(self.statsn);
        b.set_exp_cmdsn(self.exp_cmdsn);
        b.set_max_cmdsn(self.max_cmdsn);
        b.set_u32(36, self.r2tsn.0);
        b.set_u32(40, self.buffer_offset);
        b.set_u32(44, self.desired_length);
        RawPdu::new(b, Bytes::new(), Bytes::new())
    }
}
