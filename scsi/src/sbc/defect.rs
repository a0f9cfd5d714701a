//! READ DEFECT DATA (10) and (12), SBC-4 5.17 and 5.18.
//!
//! A file or memory LU has no media defects the initiator could work
//! around: both lists are empty. The device server answers in the format
//! the initiator asked for (every address descriptor format is trivially
//! available for an empty list), marks the requested lists valid (PLISTV /
//! GLISTV = REQ_PLIST / REQ_GLIST) and reports a DEFECT LIST LENGTH of 0.
//! The reserved format 111b is INVALID FIELD IN CDB.

use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};
use crate::wire::be_uint;

/// REQ_PLIST, REQ_GLIST and DEFECT LIST FORMAT in one CDB byte; PLISTV,
/// GLISTV and the format in the same bit positions of the header.
const LISTS_AND_FORMAT: u8 = 0x1F;
/// DEFECT LIST FORMAT 111b is reserved (SBC-4 table "Defect list format").
const RESERVED_FORMAT: u8 = 0x07;

/// The parameter data header for the byte `lists` (REQ_PLIST, REQ_GLIST,
/// DEFECT LIST FORMAT) of the CDB at `at`.
fn header(ctx: &CommandCtx<'_>, at: usize, len: usize) -> Result<Vec<u8>, ScsiError> {
    let lists = ctx.cdb.get(at).copied().unwrap_or(0) & LISTS_AND_FORMAT;
    if lists & 0x07 == RESERVED_FORMAT {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(
            at as u16, 2,
        )));
    }
    let mut h = vec![0u8; len];
    if let Some(b) = h.get_mut(1) {
        *b = lists;
    }
    // (12): GENERATION CODE (bytes 2..3) stays 0: the lists never change.
    Ok(h)
}

fn truncated(mut data: Vec<u8>, allocation_length: u64) -> CommandResult {
    data.truncate(usize::try_from(allocation_length).unwrap_or(usize::MAX));
    Ok(Completion::data(data))
}

/// READ DEFECT DATA (10): byte 2 lists and format, bytes 7..8 ALLOCATION
/// LENGTH; a 4-byte header (byte 1 PLISTV GLISTV format, bytes 2..3 DEFECT
/// LIST LENGTH).
pub async fn read_defect_data10(ctx: &CommandCtx<'_>) -> CommandResult {
    let h = header(ctx, 2, 4)?;
    truncated(h, be_uint(ctx.cdb, 7, 2).unwrap_or(0))
}

/// READ DEFECT DATA (12): byte 1 lists and format, bytes 2..5 ADDRESS
/// DESCRIPTOR INDEX (nothing to skip in an empty list), bytes 6..9
/// ALLOCATION LENGTH; an 8-byte header (byte 1 PLISTV GLISTV format, bytes
/// 2..3 GENERATION CODE, bytes 4..7 DEFECT LIST LENGTH).
pub async fn read_defect_data12(ctx: &CommandCtx<'_>) -> CommandResult {
    let h = header(ctx, 1, 8)?;
    truncated(h, be_uint(ctx.cdb, 6, 4).unwrap_or(0))
}
