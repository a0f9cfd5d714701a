//! MODE SENSE(6)/(10) and MODE SELECT(6)/(10) (SPC-5 6.11-6.14) with the
//! Read-Write Error Recovery, Caching, Control and Informational
//! Exceptions Control pages. Only WCE is changeable; nothing is saveable.

mod pages;
mod select;

pub use pages::{page, PageControl, PAGE_CODES};
pub use select::{mode_select10, mode_select6};

use super::truncate;
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::device::LogicalUnit;
use crate::sense::{FieldPointer, ScsiError};

/// The changeable mode parameters of one LU (current values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModeState {
    /// WCE of the Caching page (SBC-4 6.5.5).
    pub wce: bool,
    /// D_SENSE of the Control page (SPC-5 7.5.8): CHECK CONDITION sense
    /// in descriptor format (0x72) instead of fixed (0x70).
    pub d_sense: bool,
}

impl Default for ModeState {
    fn default() -> Self {
        Self {
            wce: true,
            d_sense: false,
        }
    }
}

/// Page code "return all pages".
pub const ALL_PAGES: u8 = 0x3F;

/// DEVICE-SPECIFIC PARAMETER for direct access devices (SBC-4 6.5.1): WP
/// and DPOFUA (DPO and FUA are accepted by the read/write commands).
pub fn device_specific_parameter(lu: &LogicalUnit) -> u8 {
    let wp = if lu.config.read_only { 0x80 } else { 0 };
    wp | 0x10
}

/// Block descriptor: short (SBC-4 6.5.2.2) or long LBA (6.5.2.3).
fn block_descriptor(lu: &LogicalUnit, long: bool, pc: PageControl) -> Vec<u8> {
    // Nothing in the block descriptor is changeable.
    let (blocks, len) = if pc == PageControl::Changeable {
        (0, 0)
    } else {
        (lu.capacity_blocks(), lu.block_size())
    };
    let mut d = Vec::with_capacity(16);
    if long {
        d.extend_from_slice(&blocks.to_be_bytes());
        d.extend_from_slice(&[0; 4]);
        d.extend_from_slice(&len.to_be_bytes());
    } else {
        let blocks = u32::try_from(blocks).unwrap_or(u32::MAX);
        d.extend_from_slice(&blocks.to_be_bytes());
        d.push(0);
        d.extend_from_slice(&len.to_be_bytes()[1..4]);
    }
    d
}

/// Parsed MODE SENSE CDB fields common to both forms.
struct SenseCdb {
    dbd: bool,
    llbaa: bool,
    pc: PageControl,
    page_code: u8,
    subpage_code: u8,
    allocation_length: usize,
}

/// The mode pages selected by the CDB.
fn selected_pages(lu: &LogicalUnit, c: &SenseCdb) -> Result<Vec<u8>, ScsiError> {
    let state = lu.spc.mode();
    let mut out = Vec::new();
    if c.page_code == ALL_PAGES {
        // 00h: all pages; FFh: all pages and subpages (we have none).
        if c.subpage_code != 0x00 && c.subpage_code != 0xFF {
            return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(3)));
        }
        for code in PAGE_CODES {
            out.extend_from_slice(&page(code, c.pc, state).unwrap_or_default());
        }
        return Ok(out);
    }
    if c.subpage_code != 0 {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(3)));
    }
    match page(c.page_code, c.pc, state) {
        Some(p) => Ok(p),
        None => Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(2, 5))),
    }
}

fn parse_sense(cdb: &[u8], ten: bool) -> Result<SenseCdb, ScsiError> {
    let b = |i: usize| cdb.get(i).copied().unwrap_or(0);
    let pc = match b(2) >> 6 {
        0 => PageControl::Current,
        1 => PageControl::Changeable,
        2 => PageControl::Default,
        // SPC-5 6.11: saved values requested but saving not implemented.
        _ => return Err(ScsiError::SavingParametersNotSupported),
    };
    Ok(SenseCdb {
        dbd: b(1) & 0x08 != 0,
        llbaa: ten && b(1) & 0x10 != 0,
        pc,
        page_code: b(2) & 0x3F,
        subpage_code: b(3),
        allocation_length: if ten {
            usize::from(u16::from_be_bytes([b(7), b(8)]))
        } else {
            usize::from(b(4))
        },
    })
}

/// The MODE SENSE parameter data (SPC-5 7.5.5 header, block descriptor,
/// pages), not yet truncated.
pub fn mode_sense_data(
    lu: &LogicalUnit,
    cdb: &[u8],
    ten: bool,
) -> Result<(Vec<u8>, usize), ScsiError> {
    let c = parse_sense(cdb, ten)?;
    let pages = selected_pages(lu, &c)?;
    let bd = if c.dbd {
        Vec::new()
    } else {
        block_descriptor(lu, c.llbaa, c.pc)
    };
    let dsp = device_specific_parameter(lu);
    let mut d = Vec::with_capacity(8 + bd.len() + pages.len());
    if ten {
        let total = 8 + bd.len() + pages.len();
        let mdl = u16::try_from(total - 2).unwrap_or(u16::MAX);
        d.extend_from_slice(&mdl.to_be_bytes());
        d.push(0); // MEDIUM TYPE
        d.push(dsp);
        d.push(u8::from(c.llbaa && !c.dbd)); // LONGLBA
        d.push(0);
        let bdl = u16::try_from(bd.len()).unwrap_or(0);
        d.extend_from_slice(&bdl.to_be_bytes());
    } else {
        let total = 4 + bd.len() + pages.len();
        d.push(u8::try_from(total - 1).unwrap_or(u8::MAX));
        d.push(0);
        d.push(dsp);
        d.push(u8::try_from(bd.len()).unwrap_or(0));
    }
    d.extend_from_slice(&bd);
    d.extend_from_slice(&pages);
    Ok((d, c.allocation_length))
}

pub async fn mode_sense6(ctx: &CommandCtx<'_>) -> CommandResult {
    let (d, alloc) = mode_sense_data(ctx.lu, ctx.cdb, false)?;
    Ok(Completion::data(truncate(d, alloc)))
}

pub async fn mode_sense10(ctx: &CommandCtx<'_>) -> CommandResult {
    let (d, alloc) = mode_sense_data(ctx.lu, ctx.cdb, true)?;
    Ok(Completion::data(truncate(d, alloc)))
}
