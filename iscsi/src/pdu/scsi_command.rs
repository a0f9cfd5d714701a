//! SCSI Command (RFC 7143 11.3) with its AHS: extended CDB (11.2.2.3) and
//! bidirectional expected read-data length (11.2.2.4).

use super::{Bhs, CmdSn, Itt, Lun, PduCodec, PduError, RawPdu, StatSn};
use bytes::{BufMut, Bytes, BytesMut};

/// AHS type of an extended CDB (RFC 7143 11.2.2.3).
pub const AHS_EXTENDED_CDB: u8 = 1;
/// AHS type of the bidirectional expected read-data length (11.2.2.4).
pub const AHS_BIDI_READ_LENGTH: u8 = 2;
/// The largest defined ATTR value (4: ACA, RFC 7143 11.3.1).
const ATTR_ACA: u8 = 4;
/// Largest CDB we accept (SPC-5 allows up to 260 bytes).
pub const MAX_CDB_LEN: usize = 260;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScsiCommand {
    pub immediate: bool,
    pub final_bit: bool,
    /// R: data will be read from the target.
    pub read: bool,
    /// W: data will be written to the target.
    pub write: bool,
    /// ATTR (RFC 7143 11.3.1): 0 untagged, 1 simple, 2 ordered, 3 HoQ, 4 ACA.
    pub attr: u8,
    pub lun: Lun,
    pub itt: Itt,
    /// Expected Data Transfer Length (11.3.5).
    pub edtl: u32,
    pub cmdsn: CmdSn,
    pub exp_statsn: StatSn,
    /// The full CDB: 16 bytes from the BHS plus any extended CDB AHS.
    pub cdb: Bytes,
    /// Bidirectional Expected Read-Data Length from AHS type 2.
    pub bidi_read_length: Option<u32>,
    /// Immediate data.
    pub data: Bytes,
}

/// Walk the AHS list (RFC 7143 11.2.2): (type, specific bytes) entries.
fn parse_ahs(mut ahs: &[u8]) -> Result<Vec<(u8, &[u8])>, PduError> {
    let mut out = Vec::new();
    while !ahs.is_empty() {
        let hdr = ahs.get(..3).ok_or(PduError::InvalidField("AHS"))?;
        let len = usize::from(u16::from_be_bytes([hdr[0], hdr[1]]));
        let ty = hdr[2];
        // AHSLength counts the bytes after the type byte (incl. reserved).
        let body = ahs
            .get(3..3 + len)
            .ok_or(PduError::InvalidField("AHSLength"))?;
        out.push((ty, body));
        let used = 3 + len;
        let padded = used + super::pad_len(used);
        ahs = ahs.get(padded..).unwrap_or(&[]);
    }
    Ok(out)
}

impl PduCodec for ScsiCommand {
    const OPCODE: u8 = 0x01;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        let b = &raw.bhs;
        let f = b.flags();
        // RFC 7143 11.3.1: ATTR values 5-7 are reserved.
        if f & 0x07 > ATTR_ACA {
            return Err(PduError::Protocol("reserved task attribute"));
        }
        let mut cdb = BytesMut::with_capacity(16);
        cdb.extend_from_slice(&b.0[32..48]);
        let mut bidi_read_length = None;
        for (ty, body) in parse_ahs(&raw.ahs)? {
            match ty {
                AHS_EXTENDED_CDB => {
                    // One reserved byte, then the CDB bytes beyond 16.
                    let ext = body
                        .get(1..)
                        .ok_or(PduError::InvalidField("extended CDB"))?;
                    if ext.is_empty() || cdb.len() + ext.len() > MAX_CDB_LEN || cdb.len() > 16 {
                        return Err(PduError::InvalidField("extended CDB"));
                    }
                    cdb.extend_from_slice(ext);
                }
                AHS_BIDI_READ_LENGTH => {
                    let v = body
                        .get(1..5)
                        .ok_or(PduError::InvalidField("bidi read length"))?;
                    bidi_read_length = Some(u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
                }
                _ => return Err(PduError::InvalidField("AHS type")),
            }
        }
        Ok(Self {
            immediate: b.immediate(),
            final_bit: f & 0x80 != 0,
            read: f & 0x40 != 0,
            write: f & 0x20 != 0,
            attr: f & 0x07,
            lun: b.lun(),
            itt: b.itt(),
            edtl: b.u32_at(20),
            cmdsn: b.cmdsn(),
            exp_statsn: b.exp_statsn(),
            cdb: cdb.freeze(),
            bidi_read_length,
            data: raw.data.clone(),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, self.immediate);
        let mut f = self.attr & 0x07;
        if self.final_bit {
            f |= 0x80;
        }
        if self.read {
            f |= 0x40;
        }
        if self.write {
            f |= 0x20;
        }
        b.set_flags(f);
        b.set_lun(self.lun);
        b.set_itt(self.itt);
        b.set_u32(20, self.edtl);
        b.set_cmdsn(self.cmdsn);
        b.set_exp_statsn(self.exp_statsn);
        let head = self.cdb.get(..16).unwrap_or(&self.cdb);
        b.0[32..32 + head.len()].copy_from_slice(head);
        let mut ahs = BytesMut::new();
        if let Some(ext) = self.cdb.get(16..).filter(|e| !e.is_empty()) {
            ahs.put_u16((ext.len() + 1) as u16);
            ahs.put_u8(AHS_EXTENDED_CDB);
            ahs.put_u8(0);
            ahs.put_slice(ext);
            ahs.resize(ahs.len() + super::pad_len(ahs.len()), 0);
        }
        if let Some(l) = self.bidi_read_length {
            ahs.put_u16(5);
            ahs.put_u8(AHS_BIDI_READ_LENGTH);
            ahs.put_u8(0);
            ahs.put_u32(l);
        }
        RawPdu::new(b, ahs.freeze(), self.data.clone())
    }
}
