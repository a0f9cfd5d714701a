//! SNACK Request (RFC 7143 11.16). Only meaningful at ErrorRecoveryLevel > 0;
//! xtgt (ERL 0) rejects it, but parses it strictly.

use super::{Bhs, Itt, Lun, PduCodec, PduError, RawPdu, StatSn, Ttt};
use bytes::Bytes;

/// The largest defined SNACK type (3: R-Data SNACK).
const MAX_SNACK_TYPE: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnackRequest {
    /// Type (11.16.1): 0 Data/R2T, 1 Status, 2 DataACK, 3 R-Data.
    pub snack_type: u8,
    pub lun: Lun,
    pub itt: Itt,
    pub ttt: Ttt,
    pub exp_statsn: StatSn,
    pub beg_run: u32,
    pub run_length: u32,
}

impl PduCodec for SnackRequest {
    const OPCODE: u8 = 0x10;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        super::no_ahs(raw)?;
        super::no_data(raw)?;
        let b = &raw.bhs;
        let snack_type = b.flags() & 0x0f;
        // RFC 7143 11.16.1: types 0-3 are defined, the rest reserved.
        if snack_type > MAX_SNACK_TYPE {
            return Err(PduError::Protocol("reserved SNACK type"));
        }
        Ok(Self {
            snack_type,
            lun: b.lun(),
            itt: b.itt(),
            ttt: b.ttt(),
            exp_statsn: b.exp_statsn(),
            beg_run: b.u32_at(40),
            run_length: b.u32_at(44),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, false);
        b.set_flags(0x80 | (self.snack_type & 0x0f));
        b.set_lun(self.lun);
        b.set_itt(self.itt);
        b.set_ttt(self.ttt);
        b.set_exp_statsn(self.exp_statsn);
        b.set_u32(40, self.beg_run);
        b.set_u32(44, self.run_length);
        RawPdu::new(b, Bytes::new(), Bytes::new())
    }
}
