//! The opcode table: the whole description of every supported command,
//! and the single source of truth for dispatch (handler, unit attention,
//! LUN, medium and write-protection rules, Data-Out), the CDB reserved-bit
//! check, REPORT SUPPORTED OPERATION CODES (SPC-5 6.35) and VPD 0x8F.
//! Every supported command is exactly one [`OpcodeEntry`] in
//! [`table::TABLE`]; a command that is not in the table answers INVALID
//! COMMAND OPERATION CODE. A command is looked up once, through an index by
//! operation code built on first use.

pub mod opcodes;
mod table;

use crate::command::{CommandCtx, CommandResult};
use crate::copy::CopyManager;
use crate::device::Nexus;
use crate::sense::{FieldPointer, ScsiError};
use crate::wire::be_uint;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

pub use table::TABLE;

/// The future a handler returns.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = CommandResult> + Send + 'a>>;

/// A handler that needs the addressed LU and the command only.
pub type LuHandler = for<'a, 'b> fn(&'a CommandCtx<'b>) -> HandlerFuture<'a>;

/// A handler that also needs the copy manager (THIRD PARTY COPY IN/OUT,
/// and INQUIRY for the copy manager's VPD page 0x8F).
pub type CopyHandler = for<'a, 'b> fn(&'a CopyManager, &'a CommandCtx<'b>) -> HandlerFuture<'a>;

/// How a command addressed to a LUN without a logical unit is answered
/// (SPC-5 6.7.2, 6.33, 6.39); the CDB has passed the row's checks.
pub type UnmappedHandler = fn(&Nexus, &[u8]) -> CommandResult;

/// A row's handler, by the context it needs.
#[derive(Clone, Copy)]
pub enum Handler {
    Lu(LuHandler),
    Copy(CopyHandler),
}

/// How many Data-Out bytes a command's CDB asks for (so the transport can
/// compute residuals before the handler runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataOut {
    /// A TRANSFER LENGTH in logical blocks at `offset`, `width` bytes wide
    /// (big-endian), times the logical block length.
    Blocks { offset: u8, width: u8 },
    /// WRITE(6): a one-byte TRANSFER LENGTH at byte 4 where 0 means 256
    /// blocks (SBC-4 5.48).
    Blocks6,
    /// A PARAMETER LIST LENGTH in bytes at `offset`, `width` bytes wide.
    Bytes { offset: u8, width: u8 },
    /// COMPARE AND WRITE: twice NUMBER OF LOGICAL BLOCKS (byte 13) blocks
    /// (SBC-4 5.3).
    CompareAndWrite,
    /// WRITE SAME(10): one logical block (SBC-4 5.47).
    OneBlock,
    /// WRITE SAME(16): one logical block unless NDOB (byte 1 bit 0) is set
    /// (SBC-4 5.48).
    WriteSame16,
    /// VERIFY: depends on BYTCHK (byte 1 bits 2..1, SBC-4 5.28): 00b none,
    /// 01b VERIFICATION LENGTH blocks, 11b one block.
    Verify { offset: u8, width: u8 },
}

/// Direction of the data transfer of a command; a command with Data-Out
/// says how long its CDB makes it. Only `Out` commands see Data-Out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataDir {
    None,
    In,
    Out(DataOut),
}

/// Flags of a table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(pub u16);

impl Flags {
    /// Not terminated by a pending unit attention (SPC-5 5.14: INQUIRY,
    /// REPORT LUNS, REQUEST SENSE).
    pub const UA_ALLOWED: Flags = Flags(1 << 0);
    /// Served while the removable medium is ejected (SBC-4 5.25): the
    /// command reports on or acts upon the LU, not the medium.
    pub const NO_MEDIUM_OK: Flags = Flags(1 << 1);
    /// Writes the medium: terminated with WRITE PROTECTED on a read-only LU
    /// before any CDB field is looked at.
    pub const WRITES_MEDIUM: Flags = Flags(1 << 2);
    /// Processed through a target port in the standby ALUA state
    /// (SPC-5 5.16.2.4.4); other commands get NOT READY, TARGET PORT IN
    /// STANDBY STATE.
    pub const ALUA_STANDBY_OK: Flags = Flags(1 << 8);
    /// Processed through a target port in the unavailable ALUA state
    /// (SPC-5 5.16.2.4.5); other commands get NOT READY, TARGET PORT IN
    /// UNAVAILABLE STATE.
    pub const ALUA_UNAVAILABLE_OK: Flags = Flags(1 << 9);
    /// Supported only by a target with explicit ALUA (SET TARGET PORT
    /// GROUPS): elsewhere the row is as absent (INVALID COMMAND OPERATION
    /// CODE, not listed by REPORT SUPPORTED OPERATION CODES).
    pub const EXPLICIT_ALUA: Flags = Flags(1 << 10);

    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        self.union(rhs)
    }
}

/// One supported command.
pub struct OpcodeEntry {
    pub opcode: u8,
    /// Service action (in byte 1 bits 4..0 for the opcodes used here).
    pub service_action: Option<u16>,
    /// Command name as used in metrics labels ("READ_10").
    pub name: &'static str,
    /// CDB USAGE DATA (SPC-5 6.35.3): one byte per CDB byte with the bits
    /// the device server looks at; its length is the CDB length. Byte 0 is
    /// the operation code, the last byte the CONTROL byte.
    pub usage: &'static [u8],
    pub dir: DataDir,
    pub handler: Handler,
    /// Served for a LUN that is not mapped, by this handler.
    pub unmapped: Option<UnmappedHandler>,
    pub flags: Flags,
    /// How reservations affect the command (SPC-5 5.14.1, SBC-4 4.17):
    /// the dispatcher answers RESERVATION CONFLICT from this.
    pub pr: crate::pr::PrAccess,
    /// Nominal and recommended command timeouts in seconds (SPC-5 6.35.4).
    pub timeouts: (u32, u32),
}

impl OpcodeEntry {
    /// The CDB length of this command.
    pub fn cdb_len(&self) -> usize {
        self.usage.len()
    }

    /// Checks every CDB bit against the usage mask. A set bit outside the
    /// mask is INVALID FIELD IN CDB with the field pointer at its byte and
    /// (most significant offending) bit (SPC-5 4.4.2.2.2).
    pub fn check_reserved(&self, cdb: &[u8]) -> Result<(), ScsiError> {
        for (i, (&b, &m)) in cdb.iter().zip(self.usage.iter()).enumerate() {
            let bad = b & !m;
            if bad != 0 {
                let byte = u16::try_from(i).unwrap_or(u16::MAX);
                return Err(ScsiError::InvalidFieldInCdb(FieldPointer::top_bit(
                    byte, bad,
                )));
            }
        }
        Ok(())
    }

    /// The CDB cut to this command's length, after the length and
    /// reserved-bit checks.
    pub fn check<'c>(&self, cdb: &'c [u8]) -> Result<&'c [u8], ScsiError> {
        let Some(cut) = cdb.get(..self.cdb_len()) else {
            // Shorter than the command's CDB: the transport delivered a
            // truncated CDB. Point at the first missing byte.
            let byte = u16::try_from(cdb.len()).unwrap_or(u16::MAX);
            return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(byte)));
        };
        self.check_reserved(cut)?;
        Ok(cut)
    }

    /// True when the command transfers Data-Out.
    pub fn has_data_out(&self) -> bool {
        matches!(self.dir, DataDir::Out(_))
    }

    /// The number of Data-Out bytes the CDB asks for; fields the CDB is
    /// too short to hold read as 0.
    pub fn data_out_wanted(&self, cdb: &[u8], block_size: u32) -> u32 {
        let DataDir::Out(out) = self.dir else {
            return 0;
        };
        let bs = u64::from(block_size);
        let field =
            |at: u8, width: u8| be_uint(cdb, usize::from(at), usize::from(width)).unwrap_or(0);
        let n: u64 = match out {
            DataOut::Blocks { offset, width } => field(offset, width).saturating_mul(bs),
            DataOut::Blocks6 => {
                let n = field(4, 1);
                if n == 0 { 256 } else { n }.saturating_mul(bs)
            }
            DataOut::Bytes { offset, width } => field(offset, width),
            DataOut::CompareAndWrite => field(13, 1).saturating_mul(2).saturating_mul(bs),
            DataOut::OneBlock => bs,
            DataOut::WriteSame16 => {
                if cdb.get(1).is_some_and(|b| b & 0x01 != 0) {
                    0
                } else {
                    bs
                }
            }
            DataOut::Verify { offset, width } => {
                match (cdb.get(1).copied().unwrap_or(0) >> 1) & 3 {
                    0b01 => field(offset, width).saturating_mul(bs),
                    0b11 => bs,
                    _ => 0,
                }
            }
        };
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// True when the opcode of this entry has service actions.
    pub fn has_service_action(&self) -> bool {
        self.service_action.is_some()
    }
}

/// For each operation code, the range of its rows in the (sorted) table.
fn index() -> &'static [(u16, u16); 256] {
    static INDEX: OnceLock<[(u16, u16); 256]> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut idx = [(0u16, 0u16); 256];
        for (i, e) in TABLE.iter().enumerate() {
            let i = u16::try_from(i).unwrap_or(u16::MAX);
            let slot = &mut idx[usize::from(e.opcode)];
            if slot.1 == 0 {
                *slot = (i, 1);
            } else {
                slot.1 += 1;
            }
        }
        idx
    })
}

/// The rows of `opcode` (none, one, or one per service action).
pub fn rows(opcode: u8) -> &'static [OpcodeEntry] {
    let (start, n) = index()[usize::from(opcode)];
    let start = usize::from(start);
    TABLE.get(start..start + usize::from(n)).unwrap_or(&[])
}

/// Opcodes whose service action is in byte 1 bits 4..0 and that are
/// therefore looked up by (opcode, service action).
pub fn opcode_has_service_actions(opcode: u8) -> bool {
    rows(opcode).iter().any(|e| e.service_action.is_some())
}

/// The service action field of a CDB (byte 1 bits 4..0).
pub fn service_action(cdb: &[u8]) -> u16 {
    u16::from(cdb.get(1).copied().unwrap_or(0) & 0x1F)
}

/// The result of looking a CDB up in the table.
#[derive(Clone, Copy)]
pub enum Lookup {
    Found(&'static OpcodeEntry),
    /// The operation code is not supported.
    UnknownOpcode,
    /// The operation code is supported but not this service action.
    UnknownServiceAction,
}

impl Lookup {
    /// The matched row, if any.
    pub fn row(self) -> Option<&'static OpcodeEntry> {
        match self {
            Lookup::Found(e) => Some(e),
            _ => None,
        }
    }

    /// The matched row, or the error an unsupported command gets.
    pub fn found(self) -> Result<&'static OpcodeEntry, ScsiError> {
        match self {
            Lookup::Found(e) => Ok(e),
            Lookup::UnknownOpcode => Err(ScsiError::InvalidOpcode),
            Lookup::UnknownServiceAction => {
                Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 4)))
            }
        }
    }
}

/// Looks the CDB up by operation code and, where the opcode has service
/// actions, by service action: one index access.
pub fn lookup(cdb: &[u8]) -> Lookup {
    let Some(&opcode) = cdb.first() else {
        return Lookup::UnknownOpcode;
    };
    let rows = rows(opcode);
    match rows.first() {
        None => Lookup::UnknownOpcode,
        Some(e) if e.service_action.is_none() => Lookup::Found(e),
        Some(_) => {
            let sa = service_action(cdb);
            rows.iter()
                .find(|e| e.service_action == Some(sa))
                .map_or(Lookup::UnknownServiceAction, Lookup::Found)
        }
    }
}

/// The entry for exactly (opcode, service action).
pub fn find(opcode: u8, sa: Option<u16>) -> Option<&'static OpcodeEntry> {
    rows(opcode).iter().find(|e| e.service_action == sa)
}

/// The entry for a command name ("READ_10"), for VPD pages and tests.
pub fn by_name(name: &str) -> Option<&'static OpcodeEntry> {
    TABLE.iter().find(|e| e.name == name)
}

/// Parses a CDB against the table: lookup, length and reserved bits.
/// Returns the entry and the CDB cut to the command's length.
pub fn parse(cdb: &[u8]) -> Result<(&'static OpcodeEntry, &[u8]), ScsiError> {
    let entry = lookup(cdb).found()?;
    Ok((entry, entry.check(cdb)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (i, e) in TABLE.iter().enumerate() {
            assert_eq!(e.usage.first(), Some(&e.opcode), "{}", e.name);
            assert!(matches!(e.cdb_len(), 6 | 10 | 12 | 16), "{}", e.name);
            if let Some(sa) = e.service_action {
                assert_eq!(e.usage[1] & 0x1F, sa as u8, "{}", e.name);
            }
            // A command that writes the medium has Data-Out; a command
            // served without a LU is one reported despite a unit attention
            // and without a medium (INQUIRY, REPORT LUNS, REQUEST SENSE).
            if e.flags.contains(Flags::WRITES_MEDIUM) {
                assert!(e.has_data_out(), "{}", e.name);
                assert!(!e.flags.contains(Flags::NO_MEDIUM_OK), "{}", e.name);
            }
            if e.unmapped.is_some() {
                let always = Flags::UA_ALLOWED | Flags::NO_MEDIUM_OK;
                assert!(e.flags.contains(always), "{}", e.name);
            }
            for o in TABLE.iter().skip(i + 1) {
                assert!(
                    (e.opcode, e.service_action) < (o.opcode, o.service_action),
                    "table must be sorted and unique: {} {}",
                    e.name,
                    o.name
                );
                assert_ne!(e.name, o.name);
                if e.opcode == o.opcode {
                    assert_eq!(e.service_action.is_some(), o.service_action.is_some());
                }
            }
        }
    }

    #[test]
    fn reserved_bit_gives_field_pointer() {
        let tur = find(0x00, None).unwrap();
        assert!(tur.check_reserved(&[0, 0, 0, 0, 0, 0]).is_ok());
        assert_eq!(
            tur.check_reserved(&[0, 0, 0, 0x21, 0, 0]),
            Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(3, 5)))
        );
        assert_eq!(
            tur.check_reserved(&[0, 0, 0, 0, 0, 0x01]),
            Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(5, 0)))
        );
    }

    #[test]
    fn unknown_and_truncated() {
        assert!(matches!(parse(&[]), Err(ScsiError::InvalidOpcode)));
        assert!(matches!(parse(&[0xFF; 16]), Err(ScsiError::InvalidOpcode)));
        assert_eq!(
            parse(&[0x12, 0, 0]).err(),
            Some(ScsiError::InvalidFieldInCdb(FieldPointer::byte(3)))
        );
        // MAINTENANCE IN with an unknown service action.
        assert_eq!(
            parse(&[0xA3, 0x1F, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).err(),
            Some(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 4)))
        );
    }

    #[test]
    fn data_out_wanted_follows_the_cdb() {
        let want = |cdb: &[u8], bs: u32| find(cdb[0], None).unwrap().data_out_wanted(cdb, bs);
        // VERIFY(10): BYTCHK 00b none, 01b VERIFICATION LENGTH, 11b one block.
        assert_eq!(want(&[0x2F, 0x00, 0, 0, 0, 0, 0, 0, 4, 0], 512), 0);
        assert_eq!(want(&[0x2F, 0x02, 0, 0, 0, 0, 0, 0, 4, 0], 512), 2048);
        assert_eq!(want(&[0x2F, 0x06, 0, 0, 0, 0, 0, 0, 4, 0], 512), 512);
        // WRITE SAME(16): one block, none with NDOB.
        let mut ws16 = [0u8; 16];
        ws16[0] = 0x93;
        assert_eq!(want(&ws16, 4096), 4096);
        ws16[1] = 0x09;
        assert_eq!(want(&ws16, 4096), 0);
        // WRITE(16) with a huge TRANSFER LENGTH saturates instead of wrapping.
        let mut w16 = [0xFFu8; 16];
        w16[0] = 0x8A;
        assert_eq!(want(&w16, 4096), u32::MAX);
        // UNMAP: PARAMETER LIST LENGTH in bytes.
        assert_eq!(want(&[0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0], 512), 24);
        // A CDB cut short reads missing bytes as zero.
        assert_eq!(want(&[0x2A, 0], 512), 0);
    }

    #[test]
    fn index_finds_every_row_and_nothing_else() {
        assert!(TABLE.len() < usize::from(u16::MAX));
        for e in TABLE {
            let mut cdb = e.usage.to_vec();
            cdb[1] &= 0x1F;
            let found = lookup(&cdb).row().unwrap();
            assert!(std::ptr::eq(found, e), "{}", e.name);
            assert!(std::ptr::eq(find(e.opcode, e.service_action).unwrap(), e));
        }
        for op in 0..=255u8 {
            let n = TABLE.iter().filter(|e| e.opcode == op).count();
            assert_eq!(rows(op).len(), n, "{op:#x}");
            assert!(rows(op).iter().all(|e| e.opcode == op));
        }
    }
}
