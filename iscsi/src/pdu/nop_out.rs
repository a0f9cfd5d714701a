//! NOP-Out (RFC 7143 11.18).

use super::{Bhs, CmdSn, Itt, Lun, PduCodec, PduError, RawPdu, StatSn, Ttt};
use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NopOut {
    pub immediate: bool,
    pub lun: Lun,
    /// 0xffffffff when this answers a target NOP-In (then `ttt` is its tag).
    pub itt: Itt,
    pub ttt: Ttt,
    pub cmdsn: CmdSn,
    pub exp_statsn: StatSn,
    /// Ping data, echoed in the NOP-In.
    pub data: Bytes,
}

impl PduCodec for NopOut {
    const OPCODE: u8 = 0x00;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        let b = &raw.bhs;
        Ok(Self {
            immediate: b.immediate(),
            lun: b.lun(),
            itt: b.itt(),
            ttt: Ttt(b.u32_at(20)),
            cmdsn: CmdSn(b.u32_at(24)),
            exp_statsn: StatSn(b.u32_at(28)),
            data: raw.data.clone(),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, self.immediate);
        b.set_flags(0x80);
        b.set_lun(self.lun);
        b.set_itt(self.itt);
        b.set_u32(20, self.ttt.0);
        b.set_u32(24, self.cmdsn.0);
        b.set_u32(28, self.exp_statsn.0);
        RawPdu::new(b, Bytes::new(), self.data.clone())
    }
}
