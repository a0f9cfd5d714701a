//! SCSI Data-In (RFC 7143 11.7).

use super::{Bhs, CmdSn, DataSn, Itt, Lun, PduCodec, PduError, RawPdu, StatSn, Ttt};
use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataIn {
    /// F: last PDU of a Data-In sequence (burst).
    pub final_bit: bool,
    /// A: acknowledge requested (ERL > 0 only).
    pub ack: bool,
    pub overflow: bool,
    pub underflow: bool,
    /// S bit with the SCSI status: the command's status rides on this PDU
    /// (RFC 7143 11.7.3); only with F.
    pub status: Option<u8>,
    pub lun: Lun,
    pub itt: Itt,
    pub ttt: Ttt,
    pub statsn: StatSn,
    pub exp_cmdsn: CmdSn,
    pub max_cmdsn: CmdSn,
    pub datasn: DataSn,
    pub buffer_offset: u32,
    pub residual: u32,
    pub data: Bytes,
}

impl PduCodec for DataIn {
    const OPCODE: u8 = 0x25;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        let b = &raw.bhs;
        let f = b.flags();
        let s = f & 0x01 != 0;
        if s && f & 0x80 == 0 {
            return Err(PduError::InvalidField("S without F"));
        }
        Ok(Self {
            final_bit: f & 0x80 != 0,
            ack: f & 0x40 != 0,
            overflow: f & 0x04 != 0,
            underflow: f & 0x02 != 0,
            status: s.then(|| b.u8_at(3)),
            lun: b.lun(),
            itt: b.itt(),
            ttt: b.ttt(),
            statsn: b.statsn(),
            exp_cmdsn: b.exp_cmdsn(),
            max_cmdsn: b.max_cmdsn(),
            datasn: DataSn(b.u32_at(36)),
            buffer_offset: b.u32_at(40),
            residual: b.u32_at(44),
            data: raw.data.clone(),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, false);
        let mut f = 0;
        for (bit, on) in [
            (0x80, self.final_bit || self.status.is_some()),
            (0x40, self.ack),
            (0x04, self.overflow),
            (0x02, self.underflow),
            (0x01, self.status.is_some()),
        ] {
            if on {
                f |= bit;
            }
        }
        b.set_flags(f);
        b.set_u8(3, self.status.unwrap_or(0));
        b.set_lun(self.lun);
        b.set_itt(self.itt);
        b.set_ttt(self.ttt);
        b.set_statsn(self.statsn);
        b.set_exp_cmdsn(self.exp_cmdsn);
        b.set_max_cmdsn(self.max_cmdsn);
        b.set_u32(36, self.datasn.0);
        b.set_u32(40, self.buffer_offset);
        b.set_u32(44, self.residual);
        RawPdu::new(b, Bytes::new(), self.data.clone())
    }
}
