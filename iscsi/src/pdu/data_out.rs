//! SCSI Data-Out (RFC 7143 11.7).

use super::{Bhs, DataSn, Itt, Lun, PduCodec, PduError, RawPdu, StatSn, Ttt};
use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataOut {
    /// F: last PDU of the (unsolicited or R2T) sequence.
    pub final_bit: bool,
    pub lun: Lun,
    pub itt: Itt,
    /// The R2T's tag, or 0xffffffff for unsolicited data.
    pub ttt: Ttt,
    pub exp_statsn: StatSn,
    /// Per-sequence DataSN (starts at 0 for each R2T and for unsolicited data).
    pub datasn: DataSn,
    pub buffer_offset: u32,
    pub data: Bytes,
}

impl PduCodec for DataOut {
    const OPCODE: u8 = 0x05;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        super::no_ahs(raw)?;
        let b = &raw.bhs;
        Ok(Self {
            final_bit: b.final_bit(),
            lun: b.lun(),
            itt: b.itt(),
            ttt: b.ttt(),
            exp_statsn: b.exp_statsn(),
            datasn: DataSn(b.u32_at(36)),
            buffer_offset: b.u32_at(40),
            data: raw.data.clone(),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, false);
        b.set_flags(if self.final_bit { 0x80 } else { 0 });
        b.set_lun(self.lun);
        b.set_itt(self.itt);
        b.set_ttt(self.ttt);
        b.set_exp_statsn(self.exp_statsn);
        b.set_u32(36, self.datasn.0);
        b.set_u32(40, self.buffer_offset);
        RawPdu::new(b, Bytes::new(), self.data.clone())
    }
}
