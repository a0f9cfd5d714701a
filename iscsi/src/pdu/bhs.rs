//! The Basic Header Segment (RFC 7143 11.2.1) and the raw PDU: BHS, AHS and
//! data segment before typed parsing.

use super::{CmdSn, Itt, Lun, PduError, StatSn, Ttt};
use bytes::Bytes;

/// Length of the Basic Header Segment.
pub const BHS_LEN: usize = 48;

/// Largest total AHS length (TotalAHSLength is one byte of 4-byte words).
pub const MAX_AHS_LEN: usize = 255 * 4;

/// The 48-byte Basic Header Segment with typed accessors. Offsets are
/// constants below 48, so indexing cannot fail.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Bhs(pub [u8; BHS_LEN]);

impl std::fmt::Debug for Bhs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bhs({})", hex::encode(self.0))
    }
}

impl Default for Bhs {
    fn default() -> Self {
        Self([0; BHS_LEN])
    }
}

impl Bhs {
    /// A zeroed header with the opcode (and I bit) set.
    pub fn new(opcode: u8, immediate: bool) -> Self {
        let mut b = Self::default();
        b.0[0] = (opcode & 0x3f) | if immediate { 0x40 } else { 0 };
        b
    }

    pub fn from_slice(s: &[u8]) -> Result<Self, PduError> {
        let a: [u8; BHS_LEN] = s
            .get(..BHS_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(PduError::Truncated)?;
        Ok(Self(a))
    }

    pub fn opcode(&self) -> u8 {
        self.0[0] & 0x3f
    }
    pub fn immediate(&self) -> bool {
        self.0[0] & 0x40 != 0
    }
    /// Byte 1: the F bit and opcode-specific flags.
    pub fn flags(&self) -> u8 {
        self.0[1]
    }
    pub fn set_flags(&mut self, f: u8) {
        self.0[1] = f;
    }
    pub fn final_bit(&self) -> bool {
        self.0[1] & 0x80 != 0
    }
    /// TotalAHSLength in bytes.
    pub fn total_ahs_len(&self) -> usize {
        usize::from(self.0[4]) * 4
    }
    pub fn data_segment_len(&self) -> usize {
        (usize::from(self.0[5]) << 16) | (usize::from(self.0[6]) << 8) | usize::from(self.0[7])
    }
    pub fn set_lengths(&mut self, ahs_len: usize, data_len: usize) {
        self.0[4] = (ahs_len / 4).min(255) as u8;
        let d = data_len.min(0xff_ffff) as u32;
        self.0[5] = (d >> 16) as u8;
        self.0[6] = (d >> 8) as u8;
        self.0[7] = d as u8;
    }
    pub fn u8_at(&self, at: usize) -> u8 {
        self.0.get(at).copied().unwrap_or(0)
    }
    pub fn set_u8(&mut self, at: usize, v: u8) {
        if let Some(b) = self.0.get_mut(at) {
            *b = v;
        }
    }
    pub fn u16_at(&self, at: usize) -> u16 {
        let mut a = [0u8; 2];
        if let Some(s) = self.0.get(at..at + 2) {
            a.copy_from_slice(s);
        }
        u16::from_be_bytes(a)
    }
    pub fn set_u16(&mut self, at: usize, v: u16) {
        if let Some(s) = self.0.get_mut(at..at + 2) {
            s.copy_from_slice(&v.to_be_bytes());
        }
    }
    pub fn u32_at(&self, at: usize) -> u32 {
        let mut a = [0u8; 4];
        if let Some(s) = self.0.get(at..at + 4) {
            a.copy_from_slice(s);
        }
        u32::from_be_bytes(a)
    }
    pub fn set_u32(&mut self, at: usize, v: u32) {
        if let Some(s) = self.0.get_mut(at..at + 4) {
            s.copy_from_slice(&v.to_be_bytes());
        }
    }
    pub fn lun(&self) -> Lun {
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.0[8..16]);
        Lun(a)
    }
    pub fn set_lun(&mut self, l: Lun) {
        self.0[8..16].copy_from_slice(&l.0);
    }
    pub fn itt(&self) -> Itt {
        Itt(self.u32_at(16))
    }
    pub fn set_itt(&mut self, i: Itt) {
        self.set_u32(16, i.0);
    }

    // The fields below sit at the same offset in every PDU that carries
    // them (RFC 7143 11.2.1): each offset is written once, here.

    /// Target Transfer Tag (bytes 20-23).
    pub fn ttt(&self) -> Ttt {
        Ttt(self.u32_at(20))
    }
    pub fn set_ttt(&mut self, t: Ttt) {
        self.set_u32(20, t.0);
    }
    /// ISID (bytes 8-13 of Login Request and Response, RFC 7143 11.12.5).
    pub fn isid(&self) -> [u8; 6] {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.0[8..14]);
        a
    }
    pub fn set_isid(&mut self, isid: [u8; 6]) {
        self.0[8..14].copy_from_slice(&isid);
    }
    /// CmdSN of an initiator PDU (bytes 24-27).
    pub fn cmdsn(&self) -> CmdSn {
        CmdSn(self.u32_at(24))
    }
    pub fn set_cmdsn(&mut self, v: CmdSn) {
        self.set_u32(24, v.0);
    }
    /// ExpStatSN of an initiator PDU (bytes 28-31).
    pub fn exp_statsn(&self) -> StatSn {
        StatSn(self.u32_at(28))
    }
    pub fn set_exp_statsn(&mut self, v: StatSn) {
        self.set_u32(28, v.0);
    }
    /// StatSN of a target PDU (bytes 24-27).
    pub fn statsn(&self) -> StatSn {
        StatSn(self.u32_at(24))
    }
    pub fn set_statsn(&mut self, v: StatSn) {
        self.set_u32(24, v.0);
    }
    /// ExpCmdSN of a target PDU (bytes 28-31).
    pub fn exp_cmdsn(&self) -> CmdSn {
        CmdSn(self.u32_at(28))
    }
    pub fn set_exp_cmdsn(&mut self, v: CmdSn) {
        self.set_u32(28, v.0);
    }
    /// MaxCmdSN of a target PDU (bytes 32-35).
    pub fn max_cmdsn(&self) -> CmdSn {
        CmdSn(self.u32_at(32))
    }
    pub fn set_max_cmdsn(&mut self, v: CmdSn) {
        self.set_u32(32, v.0);
    }
}

/// A PDU split into its segments, digests and padding removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawPdu {
    pub bhs: Bhs,
    /// Additional header segments (a multiple of 4 bytes).
    pub ahs: Bytes,
    /// The data segment without padding.
    pub data: Bytes,
}

impl RawPdu {
    pub fn new(bhs: Bhs, ahs: Bytes, data: Bytes) -> Self {
        let mut r = Self { bhs, ahs, data };
        r.bhs.set_lengths(r.ahs.len(), r.data.len());
        r
    }

    /// Strict decode of one PDU without digests (RFC 7143 11.2): the input
    /// must be exactly BHS + AHS + data + padding.
    pub fn decode(buf: &[u8]) -> Result<Self, PduError> {
        let bhs = Bhs::from_slice(buf)?;
        let ahs_len = bhs.total_ahs_len();
        let dlen = bhs.data_segment_len();
        let ahs_end = BHS_LEN + ahs_len;
        let data_end = ahs_end.checked_add(dlen).ok_or(PduError::Truncated)?;
        let total = data_end + pad_len(dlen);
        if buf.len() < total {
            return Err(PduError::Truncated);
        }
        if buf.len() > total {
            return Err(PduError::TrailingBytes);
        }
        let ahs = Bytes::copy_from_slice(buf.get(BHS_LEN..ahs_end).ok_or(PduError::Truncated)?);
        let data = Bytes::copy_from_slice(buf.get(ahs_end..data_end).ok_or(PduError::Truncated)?);
        Ok(Self { bhs, ahs, data })
    }

    /// Encode without digests: BHS + AHS + data + zero padding.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(BHS_LEN + self.ahs.len() + self.data.len() + 3);
        let mut bhs = self.bhs;
        bhs.set_lengths(self.ahs.len(), self.data.len());
        v.extend_from_slice(&bhs.0);
        v.extend_from_slice(&self.ahs);
        v.extend_from_slice(&self.data);
        v.resize(v.len() + pad_len(self.data.len()), 0);
        v
    }
}

/// Padding to the next multiple of 4 (RFC 7143 11.2.3).
pub fn pad_len(len: usize) -> usize {
    (4 - len % 4) % 4
}
