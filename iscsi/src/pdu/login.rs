//! Login Request (RFC 7143 11.12) and Login Response (11.13).

use super::{Bhs, CmdSn, Itt, PduCodec, PduError, RawPdu, StatSn};
use bytes::Bytes;

fn stage_flags(transit: bool, cont: bool, csg: u8, nsg: u8) -> u8 {
    let mut f = ((csg & 3) << 2) | (nsg & 3);
    if transit {
        f |= 0x80;
    }
    if cont {
        f |= 0x40;
    }
    f
}

/// The inverse of [`stage_flags`]: (T, C, CSG, NSG) from byte 1.
fn parse_stage_flags(f: u8) -> (bool, bool, u8, u8) {
    (f & 0x80 != 0, f & 0x40 != 0, (f >> 2) & 3, f & 3)
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginRequest {
    pub transit: bool,
    pub cont: bool,
    pub csg: u8,
    pub nsg: u8,
    pub version_max: u8,
    pub version_min: u8,
    pub isid: [u8; 6],
    pub tsih: u16,
    pub itt: Itt,
    pub cid: u16,
    pub cmdsn: CmdSn,
    pub exp_statsn: StatSn,
    pub data: Bytes,
}

impl PduCodec for LoginRequest {
    const OPCODE: u8 = 0x03;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        super::no_ahs(raw)?;
        let b = &raw.bhs;
        let (transit, cont, csg, nsg) = parse_stage_flags(b.flags());
        Ok(Self {
            transit,
            cont,
            csg,
            nsg,
            version_max: b.u8_at(2),
            version_min: b.u8_at(3),
            isid: b.isid(),
            tsih: b.u16_at(14),
            itt: b.itt(),
            cid: b.u16_at(20),
            cmdsn: b.cmdsn(),
            exp_statsn: b.exp_statsn(),
            data: raw.data.clone(),
        })
    }

    fn to_raw(&self) -> RawPdu {
        // The I bit is always 1 in a Login Request (RFC 7143 11.12).
        let mut b = Bhs::new(Self::OPCODE, true);
        b.set_flags(stage_flags(self.transit, self.cont, self.csg, self.nsg));
        b.set_u8(2, self.version_max);
        b.set_u8(3, self.version_min);
        b.set_isid(self.isid);
        b.set_u16(14, self.tsih);
        b.set_itt(self.itt);
        b.set_u16(20, self.cid);
        b.set_cmdsn(self.cmdsn);
        b.set_exp_statsn(self.exp_statsn);
        RawPdu::new(b, Bytes::new(), self.data.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginResponse {
    pub transit: bool,
    pub cont: bool,
    pub csg: u8,
    pub nsg: u8,
    pub version_max: u8,
    pub version_active: u8,
    pub isid: [u8; 6],
    pub tsih: u16,
    pub itt: Itt,
    pub statsn: StatSn,
    pub exp_cmdsn: CmdSn,
    pub max_cmdsn: CmdSn,
    pub status_class: u8,
    pub status_detail: u8,
    pub data: Bytes,
}

impl PduCodec for LoginResponse {
    const OPCODE: u8 = 0x23;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        super::no_ahs(raw)?;
        let b = &raw.bhs;
        let (transit, cont, csg, nsg) = parse_stage_flags(b.flags());
        Ok(Self {
            transit,
            cont,
            csg,
            nsg,
            version_max: b.u8_at(2),
            version_active: b.u8_at(3),
            isid: b.isid(),
            tsih: b.u16_at(14),
            itt: b.itt(),
            statsn: b.statsn(),
            exp_cmdsn: b.exp_cmdsn(),
            max_cmdsn: b.max_cmdsn(),
            status_class: b.u8_at(36),
            status_detail: b.u8_at(37),
            data: raw.data.clone(),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, false);
        b.set_flags(stage_flags(self.transit, self.cont, self.csg, self.nsg));
        b.set_u8(2, self.version_max);
        b.set_u8(3, self.version_active);
        b.set_isid(self.isid);
        b.set_u16(14, self.tsih);
        b.set_itt(self.itt);
        b.set_statsn(self.statsn);
        b.set_exp_cmdsn(self.exp_cmdsn);
        b.set_max_cmdsn(self.max_cmdsn);
        b.set_u8(36, self.status_class);
        b.set_u8(37, self.status_detail);
        RawPdu::new(b, Bytes::new(), self.data.clone())
    }
}
