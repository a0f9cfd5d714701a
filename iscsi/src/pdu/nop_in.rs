//! NOP-In (RFC 7143 11.19).

use super::{Bhs, CmdSn, Itt, Lun, PduCodec, PduError, RawPdu, StatSn, Ttt};
use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NopIn {
    pub lun: Lun,
    /// The NOP-Out's ITT, or 0xffffffff for a target-initiated ping.
    pub itt: Itt,
    /// 0xffffffff in an answer; our tag when we ask for a NOP-Out back.
    pub ttt: Ttt,
    pub statsn: StatSn,
    pub exp_cmdsn: CmdSn,
    pub max_cmdsn: CmdSn,
    pub data: Bytes,
}

impl PduCodec for NopIn {
    const OPCODE: u8 = 0x20;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        let b = &raw.bhs;
        Ok(Self {
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
        b.set_flags(0x80);
        b.set_lun(self.lun);
        b.set_itt(self.itt);
        b.set_ttt(self.ttt);
        b.set_statsn(self.statsn);
        b.set_exp_cmdsn(self.exp_cmdsn);
        b.set_max_cmdsn(self.max_cmdsn);
        RawPdu::new(b, Bytes::new(), self.data.clone())
    }
}
