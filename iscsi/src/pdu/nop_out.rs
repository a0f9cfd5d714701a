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
        super::no_ahs(raw)?;
        let b = &raw.bhs;
        // RFC 7143 11.18.1: with ITT 0xffffffff the I bit MUST be 1.
        if b.itt() == Itt::RESERVED && !b.immediate() {
            return Err(PduError::Protocol("NOP-Out with reserved ITT and I=0"));
        }
        Ok(Self {
            immediate: b.immediate(),
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
        b.set_flags(0x80);
        b.set_lun(self.lun);
        b.set_itt(self.itt);
        b.set_ttt(self.ttt);
        b.set_cmdsn(self.cmdsn);
        b.set_exp_statsn(self.exp_statsn);
        RawPdu::new(b, Bytes::new(), self.data.clone())
    }
}
