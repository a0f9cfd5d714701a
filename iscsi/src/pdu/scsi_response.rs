//! SCSI Response (RFC 7143 11.4).

use super::{Bhs, CmdSn, DataSn, Itt, PduCodec, PduError, RawPdu, StatSn};
use bytes::{BufMut, Bytes, BytesMut};

/// Response field (RFC 7143 11.4.3).
pub const RESPONSE_COMPLETED: u8 = 0x00;
pub const RESPONSE_TARGET_FAILURE: u8 = 0x01;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScsiResponse {
    /// o: bidirectional read residual overflow.
    pub bidi_overflow: bool,
    /// u: bidirectional read residual underflow.
    pub bidi_underflow: bool,
    /// O: residual overflow (11.4.5.1).
    pub overflow: bool,
    /// U: residual underflow.
    pub underflow: bool,
    pub response: u8,
    pub status: u8,
    pub itt: Itt,
    pub snack_tag: u32,
    pub statsn: StatSn,
    pub exp_cmdsn: CmdSn,
    pub max_cmdsn: CmdSn,
    /// Number of Data-In and R2T PDUs sent for the command (11.4.6).
    pub exp_datasn: DataSn,
    pub bidi_residual: u32,
    pub residual: u32,
    /// SenseLength + sense data, or response data (11.4.7).
    pub data: Bytes,
}

impl ScsiResponse {
    /// The data segment for sense data: 2-byte SenseLength, then the sense
    /// (RFC 7143 11.4.7.2).
    pub fn sense_segment(sense: &[u8]) -> Bytes {
        let s = sense.get(..sense.len().min(0xffff)).unwrap_or(&[]);
        let mut d = BytesMut::with_capacity(2 + s.len());
        d.put_u16(s.len() as u16);
        d.put_slice(s);
        d.freeze()
    }
}

impl PduCodec for ScsiResponse {
    const OPCODE: u8 = 0x21;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        let b = &raw.bhs;
        let f = b.flags();
        Ok(Self {
            bidi_overflow: f & 0x10 != 0,
            bidi_underflow: f & 0x08 != 0,
            overflow: f & 0x04 != 0,
            underflow: f & 0x02 != 0,
            response: b.u8_at(2),
            status: b.u8_at(3),
            itt: b.itt(),
            snack_tag: b.u32_at(20),
            statsn: b.statsn(),
            exp_cmdsn: b.exp_cmdsn(),
            max_cmdsn: b.max_cmdsn(),
            exp_datasn: DataSn(b.u32_at(36)),
            bidi_residual: b.u32_at(40),
            residual: b.u32_at(44),
            data: raw.data.clone(),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, false);
        let mut f = 0x80;
        for (bit, on) in [
            (0x10, self.bidi_overflow),
            (0x08, self.bidi_underflow),
            (0x04, self.overflow),
            (0x02, self.underflow),
        ] {
            if on {
                f |= bit;
            }
        }
        b.set_flags(f);
        b.set_u8(2, self.response);
        b.set_u8(3, self.status);
        b.set_itt(self.itt);
        b.set_u32(20, self.snack_tag);
        b.set_statsn(self.statsn);
        b.set_exp_cmdsn(self.exp_cmdsn);
        b.set_max_cmdsn(self.max_cmdsn);
        b.set_u32(36, self.exp_datasn.0);
        b.set_u32(40, self.bidi_residual);
        b.set_u32(44, self.residual);
        RawPdu::new(b, Bytes::new(), self.data.clone())
    }
}
