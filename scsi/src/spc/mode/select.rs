//! MODE SELECT(6)/(10) (SPC-5 6.11, 6.12): validates the whole parameter
//! list against the current and changeable values before changing anything.

use super::pages::{page, PageControl, CACHING, CONTROL, D_SENSE, WCE};
use super::ModeState;
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::device::LogicalUnit;
use crate::sense::{FieldPointer, ScsiError};

fn field(byte: usize, bit: Option<u8>) -> ScsiError {
    let byte = u16::try_from(byte).unwrap_or(u16::MAX);
    ScsiError::InvalidFieldInParameterList(match bit {
        Some(b) => FieldPointer::bit(byte, b),
        None => FieldPointer::byte(byte),
    })
}

/// Checks a block descriptor at `off` (short or long): the block length
/// must be the LU's; the number of blocks 0 (no change) or the capacity.
fn check_block_descriptor(
    lu: &LogicalUnit,
    list: &[u8],
    off: usize,
    long: bool,
) -> Result<(), ScsiError> {
    let get = |i: usize| list.get(off + i).copied().unwrap_or(0);
    let capacity = lu.capacity_blocks();
    if long {
        let blocks = u64::from_be_bytes(std::array::from_fn(get));
        if blocks != 0 && blocks != capacity {
            return Err(field(off, None));
        }
        let len = u32::from_be_bytes([get(12), get(13), get(14), get(15)]);
        if len != lu.block_size() {
            return Err(field(off + 12, None));
        }
    } else {
        let blocks = u32::from_be_bytes([get(0), get(1), get(2), get(3)]);
        let reported = u32::try_from(capacity).unwrap_or(u32::MAX);
        if blocks != 0 && blocks != reported {
            return Err(field(off, None));
        }
        let len = u32::from_be_bytes([0, get(5), get(6), get(7)]);
        if len != lu.block_size() {
            return Err(field(off + 5, None));
        }
    }
    Ok(())
}

/// Validates `list` (the parameter list) and returns the new mode state.
pub fn parse_parameter_list(
    lu: &LogicalUnit,
    list: &[u8],
    ten: bool,
) -> Result<ModeState, ScsiError> {
    let header_len = if ten { 8 } else { 4 };
    if list.len() < header_len {
        return Err(ScsiError::ParameterListLengthError);
    }
    // MODE DATA LENGTH is reserved in MODE SELECT and ignored; MEDIUM TYPE
    // must be 0; the DEVICE-SPECIFIC PARAMETER (WP, DPOFUA) is ignored.
    let (medium_type_at, bdl, long) = if ten {
        let bdl = usize::from(u16::from_be_bytes([list[6], list[7]]));
        (2, bdl, list[4] & 0x01 != 0)
    } else {
        (1, usize::from(list[3]), false)
    };
    if list[medium_type_at] != 0 {
        return Err(field(medium_type_at, None));
    }
    let desc_len = if long { 16 } else { 8 };
    if bdl != 0 && bdl != desc_len {
        return Err(field(if ten { 6 } else { 3 }, None));
    }
    if header_len + bdl > list.len() {
        return Err(ScsiError::ParameterListLengthError);
    }
    if bdl != 0 {
        check_block_descriptor(lu, list, header_len, long)?;
    }

    let current = lu.spc.mode();
    let mut new = current;
    let mut off = header_len + bdl;
    while off < list.len() {
        let (Some(&b0), Some(&page_length)) = (list.get(off), list.get(off + 1)) else {
            return Err(ScsiError::ParameterListLengthError);
        };
        // PS (bit 7) is reserved in MODE SELECT and ignored. SPF: no
        // subpages are implemented.
        if b0 & 0x40 != 0 {
            return Err(field(off, Some(6)));
        }
        let code = b0 & 0x3F;
        let (Some(cur), Some(chg)) = (
            page(code, PageControl::Current, current),
            page(code, PageControl::Changeable, current),
        ) else {
            return Err(field(off, Some(5)));
        };
        if usize::from(page_length) + 2 != cur.len() {
            return Err(field(off + 1, None));
        }
        let Some(given) = list.get(off..off + cur.len()) else {
            return Err(ScsiError::ParameterListLengthError);
        };
        for i in 2..cur.len() {
            let diff = (given[i] ^ cur[i]) & !chg[i];
            if diff != 0 {
                let byte = u16::try_from(off + i).unwrap_or(u16::MAX);
                return Err(ScsiError::InvalidFieldInParameterList(
                    FieldPointer::top_bit(byte, diff),
                ));
            }
        }
        match code {
            CACHING => new.wce = given[2] & WCE != 0,
            CONTROL => new.d_sense = given[2] & D_SENSE != 0,
            _ => {}
        }
        off += cur.len();
    }
    Ok(new)
}

async fn mode_select(ctx: &CommandCtx<'_>, ten: bool) -> CommandResult {
    let b = |i: usize| ctx.cdb.get(i).copied().unwrap_or(0);
    let parameter_list_length = if ten {
        usize::from(u16::from_be_bytes([b(7), b(8)]))
    } else {
        usize::from(b(4))
    };
    if parameter_list_length == 0 {
        return Ok(Completion::good());
    }
    let Some(list) = ctx.data_out.get(..parameter_list_length) else {
        return Err(ScsiError::ParameterListLengthError);
    };
    let new = parse_parameter_list(ctx.lu, list, ten)?;
    if ctx.lu.spc.set_mode(new) {
        // SPC-5 6.11: the parameters are shared by all I_T nexuses; the
        // others learn of the change through a unit attention.
        ctx.lu
            .spc
            .ua
            .establish_all(&ScsiError::ModeParametersChanged, Some(ctx.nexus.id));
    }
    Ok(Completion::good())
}

pub async fn mode_select6(ctx: &CommandCtx<'_>) -> CommandResult {
    mode_select(ctx, false).await
}

pub async fn mode_select10(ctx: &CommandCtx<'_>) -> CommandResult {
    mode_select(ctx, true).await
}
