//! Typed parsing of the block command CDBs (SBC-4 5.x). Parsing only reads
//! fields (never panics on short or garbage input); value checks that need
//! the LU (ranges, limits) are made by the handlers.

use crate::sense::{FieldPointer, ScsiError};

pub use crate::cdb::opcodes::{
    COMPARE_AND_WRITE, ORWRITE_16, PRE_FETCH_10, PRE_FETCH_16, READ_10, READ_12, READ_16, READ_6,
    READ_CAPACITY_10, SA_GET_LBA_STATUS, SA_READ_CAPACITY_16, SERVICE_ACTION_IN_16,
    SYNCHRONIZE_CACHE_10, SYNCHRONIZE_CACHE_16, UNMAP, VERIFY_10, VERIFY_12, VERIFY_16, WRITE_10,
    WRITE_12, WRITE_16, WRITE_6, WRITE_AND_VERIFY_10, WRITE_AND_VERIFY_12, WRITE_AND_VERIFY_16,
    WRITE_SAME_10, WRITE_SAME_16,
};

/// Big-endian unsigned field of `len` bytes at `start`.
fn be(cdb: &[u8], start: usize, len: usize) -> Result<u64, ScsiError> {
    crate::wire::be_uint(cdb, start, len).ok_or(ScsiError::InvalidFieldInCdb(FieldPointer::byte(0)))
}

fn byte(cdb: &[u8], i: usize) -> Result<u8, ScsiError> {
    cdb.get(i)
        .copied()
        .ok_or(ScsiError::InvalidFieldInCdb(FieldPointer::byte(0)))
}

/// Where the LBA and length fields of a 6/10/12/16-byte block CDB live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    lba_at: usize,
    lba_len: usize,
    len_at: usize,
    len_len: usize,
}

fn layout(opcode: u8) -> Option<Layout> {
    let l = |lba_at, lba_len, len_at, len_len| {
        Some(Layout {
            lba_at,
            lba_len,
            len_at,
            len_len,
        })
    };
    match opcode >> 5 {
        0 => l(1, 3, 4, 1),
        1 | 2 => l(2, 4, 7, 2),
        4 => l(2, 8, 10, 4),
        5 => l(2, 4, 6, 4),
        _ => None,
    }
}

/// LBA and length of a block CDB plus byte 1 (flags), by CDB group.
fn lba_len(cdb: &[u8]) -> Result<(u64, u64, u8, u16), ScsiError> {
    let op = byte(cdb, 0)?;
    let l = layout(op).ok_or(ScsiError::InvalidOpcode)?;
    let mut lba = be(cdb, l.lba_at, l.lba_len)?;
    if l.lba_len == 3 {
        lba &= 0x1F_FFFF;
    }
    let len = be(cdb, l.len_at, l.len_len)?;
    let flags = if l.lba_len == 3 { 0 } else { byte(cdb, 1)? };
    Ok((lba, len, flags, l.len_at as u16))
}

/// READ / WRITE (6/10/12/16), SBC-4 5.15-5.18, 5.40-5.43, and ORWRITE(16),
/// SBC-4 5.12 (same layout; `protect` is ORPROTECT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rw {
    pub lba: u64,
    /// TRANSFER LENGTH in blocks (READ(6)/WRITE(6): 0 means 256).
    pub blocks: u64,
    pub dpo: bool,
    pub fua: bool,
    /// RDPROTECT / WRPROTECT.
    pub protect: u8,
    /// Byte offset of the TRANSFER LENGTH field (for field pointers).
    pub length_field: u16,
}

impl Rw {
    pub fn parse(cdb: &[u8]) -> Result<Self, ScsiError> {
        let (lba, mut blocks, flags, length_field) = lba_len(cdb)?;
        let six = matches!(byte(cdb, 0)?, READ_6 | WRITE_6);
        if six && blocks == 0 {
            blocks = 256;
        }
        Ok(Self {
            lba,
            blocks,
            dpo: flags & 0x10 != 0,
            fua: flags & 0x08 != 0,
            protect: flags >> 5,
            length_field,
        })
    }
}

/// VERIFY and WRITE AND VERIFY (10/12/16), SBC-4 5.34-5.36, 5.44-5.46.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verify {
    pub lba: u64,
    /// VERIFICATION LENGTH / TRANSFER LENGTH in blocks.
    pub blocks: u64,
    pub dpo: bool,
    /// VRPROTECT / WRPROTECT.
    pub protect: u8,
    /// BYTCHK: 2 bits for VERIFY, 1 bit (as 0/1) for WRITE AND VERIFY.
    pub bytchk: u8,
    pub length_field: u16,
}

impl Verify {
    pub fn parse(cdb: &[u8]) -> Result<Self, ScsiError> {
        let (lba, blocks, flags, length_field) = lba_len(cdb)?;
        let write = matches!(
            byte(cdb, 0)?,
            WRITE_AND_VERIFY_10 | WRITE_AND_VERIFY_12 | WRITE_AND_VERIFY_16
        );
        let bytchk = if write {
            (flags >> 1) & 1
        } else {
            (flags >> 1) & 3
        };
        Ok(Self {
            lba,
            blocks,
            dpo: flags & 0x10 != 0,
            protect: flags >> 5,
            bytchk,
            length_field,
        })
    }
}

/// WRITE SAME (10/16), SBC-4 5.47-5.48.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteSame {
    pub lba: u64,
    pub blocks: u64,
    pub protect: u8,
    pub anchor: bool,
    pub unmap: bool,
    /// NDOB (WRITE SAME(16) only).
    pub ndob: bool,
    pub length_field: u16,
}

impl WriteSame {
    pub fn parse(cdb: &[u8]) -> Result<Self, ScsiError> {
        let (lba, blocks, flags, length_field) = lba_len(cdb)?;
        let sixteen = byte(cdb, 0)? == WRITE_SAME_16;
        Ok(Self {
            lba,
            blocks,
            protect: flags >> 5,
            anchor: flags & 0x10 != 0,
            unmap: flags & 0x08 != 0,
            ndob: sixteen && flags & 0x01 != 0,
            length_field,
        })
    }
}

/// UNMAP, SBC-4 5.32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unmap {
    pub anchor: bool,
    pub parameter_list_length: u16,
}

impl Unmap {
    pub fn parse(cdb: &[u8]) -> Result<Self, ScsiError> {
        Ok(Self {
            anchor: byte(cdb, 1)? & 0x01 != 0,
            parameter_list_length: be(cdb, 7, 2)? as u16,
        })
    }
}

/// GET LBA STATUS (SERVICE ACTION IN(16) 0x12), SBC-4 5.8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetLbaStatus {
    pub lba: u64,
    pub allocation_length: u32,
    /// REPORT TYPE (byte 14 bits 1..0).
    pub report_type: u8,
}

impl GetLbaStatus {
    pub fn parse(cdb: &[u8]) -> Result<Self, ScsiError> {
        Ok(Self {
            lba: be(cdb, 2, 8)?,
            allocation_length: be(cdb, 10, 4)? as u32,
            report_type: cdb.get(14).map_or(0, |b| b & 0x03),
        })
    }
}

/// COMPARE AND WRITE, SBC-4 5.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompareAndWrite {
    pub lba: u64,
    pub blocks: u8,
    pub dpo: bool,
    pub fua: bool,
    pub protect: u8,
}

impl CompareAndWrite {
    pub fn parse(cdb: &[u8]) -> Result<Self, ScsiError> {
        let flags = byte(cdb, 1)?;
        Ok(Self {
            lba: be(cdb, 2, 8)?,
            blocks: byte(cdb, 13)?,
            dpo: flags & 0x10 != 0,
            fua: flags & 0x08 != 0,
            protect: flags >> 5,
        })
    }
}

/// SYNCHRONIZE CACHE and PRE-FETCH (10/16), SBC-4 5.22-5.23, 5.13-5.14:
/// an LBA range (0 blocks: to the end of the medium) and IMMED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheRange {
    pub lba: u64,
    pub blocks: u64,
    pub immed: bool,
    pub length_field: u16,
}

impl CacheRange {
    pub fn parse(cdb: &[u8]) -> Result<Self, ScsiError> {
        let (lba, blocks, flags, length_field) = lba_len(cdb)?;
        Ok(Self {
            lba,
            blocks,
            immed: flags & 0x02 != 0,
            length_field,
        })
    }
}

/// READ CAPACITY(10), SBC-4 5.19: the obsolete LBA/PMI fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadCapacity10 {
    pub lba: u32,
    pub pmi: bool,
}

impl ReadCapacity10 {
    pub fn parse(cdb: &[u8]) -> Result<Self, ScsiError> {
        Ok(Self {
            lba: be(cdb, 2, 4)? as u32,
            pmi: byte(cdb, 8)? & 0x01 != 0,
        })
    }
}

/// READ CAPACITY(16) (SERVICE ACTION IN(16) 0x10), SBC-4 5.20.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadCapacity16 {
    pub allocation_length: u32,
}

impl ReadCapacity16 {
    pub fn parse(cdb: &[u8]) -> Result<Self, ScsiError> {
        Ok(Self {
            allocation_length: be(cdb, 10, 4)? as u32,
        })
    }
}

/// Any block command of this module, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockCdb {
    Read(Rw),
    Write(Rw),
    OrWrite(Rw),
    Verify(Verify),
    WriteAndVerify(Verify),
    WriteSame(WriteSame),
    Unmap(Unmap),
    GetLbaStatus(GetLbaStatus),
    CompareAndWrite(CompareAndWrite),
    SynchronizeCache(CacheRange),
    PreFetch(CacheRange),
    ReadCapacity10(ReadCapacity10),
    ReadCapacity16(ReadCapacity16),
}

/// Parse any CDB handled by this module.
pub fn parse(cdb: &[u8]) -> Result<BlockCdb, ScsiError> {
    Ok(match byte(cdb, 0)? {
        READ_6 | READ_10 | READ_12 | READ_16 => BlockCdb::Read(Rw::parse(cdb)?),
        WRITE_6 | WRITE_10 | WRITE_12 | WRITE_16 => BlockCdb::Write(Rw::parse(cdb)?),
        ORWRITE_16 => BlockCdb::OrWrite(Rw::parse(cdb)?),
        VERIFY_10 | VERIFY_12 | VERIFY_16 => BlockCdb::Verify(Verify::parse(cdb)?),
        WRITE_AND_VERIFY_10 | WRITE_AND_VERIFY_12 | WRITE_AND_VERIFY_16 => {
            BlockCdb::WriteAndVerify(Verify::parse(cdb)?)
        }
        WRITE_SAME_10 | WRITE_SAME_16 => BlockCdb::WriteSame(WriteSame::parse(cdb)?),
        UNMAP => BlockCdb::Unmap(Unmap::parse(cdb)?),
        COMPARE_AND_WRITE => BlockCdb::CompareAndWrite(CompareAndWrite::parse(cdb)?),
        SYNCHRONIZE_CACHE_10 | SYNCHRONIZE_CACHE_16 => {
            BlockCdb::SynchronizeCache(CacheRange::parse(cdb)?)
        }
        PRE_FETCH_10 | PRE_FETCH_16 => BlockCdb::PreFetch(CacheRange::parse(cdb)?),
        READ_CAPACITY_10 => BlockCdb::ReadCapacity10(ReadCapacity10::parse(cdb)?),
        SERVICE_ACTION_IN_16 => match byte(cdb, 1)? & 0x1F {
            SA_READ_CAPACITY_16 => BlockCdb::ReadCapacity16(ReadCapacity16::parse(cdb)?),
            SA_GET_LBA_STATUS => BlockCdb::GetLbaStatus(GetLbaStatus::parse(cdb)?),
            _ => return Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 4))),
        },
        _ => return Err(ScsiError::InvalidOpcode),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn read6_zero_length_means_256_and_lba_is_21_bits() {
        let rw = Rw::parse(&[READ_6, 0xFF, 0xFF, 0xFF, 0, 0]).unwrap();
        assert_eq!((rw.lba, rw.blocks, rw.fua), (0x1F_FFFF, 256, false));
        let rw = Rw::parse(&[WRITE_10, 0x08, 0, 0, 1, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!((rw.lba, rw.blocks, rw.fua), (256, 0, true));
    }

    #[test]
    fn sixteen_byte_fields() {
        let mut c = [0u8; 16];
        c[0] = READ_16;
        c[1] = 0x18;
        c[2..10].copy_from_slice(&u64::MAX.to_be_bytes());
        c[10..14].copy_from_slice(&0x0102_0304u32.to_be_bytes());
        let rw = Rw::parse(&c).unwrap();
        assert_eq!(
            rw,
            Rw {
                lba: u64::MAX,
                blocks: 0x0102_0304,
                dpo: true,
                fua: true,
                protect: 0,
                length_field: 10
            }
        );
        let mut c = [0u8; 12];
        c[0] = VERIFY_12;
        c[1] = 0x06;
        c[6..10].copy_from_slice(&7u32.to_be_bytes());
        let v = Verify::parse(&c).unwrap();
        assert_eq!((v.bytchk, v.blocks, v.length_field), (3, 7, 6));
    }

    #[test]
    fn every_prefix_is_refused_without_panic() {
        let mut c = [0xFFu8; 16];
        for op in [
            READ_16,
            ORWRITE_16,
            WRITE_SAME_16,
            COMPARE_AND_WRITE,
            SERVICE_ACTION_IN_16,
        ] {
            c[0] = op;
            c[1] = if op == SERVICE_ACTION_IN_16 { 0x12 } else { 0 };
            // The whole CDB parses, so each refusal below is the truncation.
            assert!(parse(&c).is_ok(), "op {op:#x}");
            for n in 0..14 {
                assert_eq!(
                    parse(&c[..n]),
                    Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(0))),
                    "op {op:#x} prefix {n}"
                );
            }
        }
    }
}
