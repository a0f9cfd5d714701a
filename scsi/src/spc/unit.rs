//! TEST UNIT READY (SPC-5 6.47), START STOP UNIT (SBC-4 5.25) and PREVENT
//! ALLOW MEDIUM REMOVAL (SPC-5 6.16, SBC-4 5.13). The medium is not
//! removable and always ready.

use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};

pub async fn test_unit_ready(_ctx: &CommandCtx<'_>) -> CommandResult {
    Ok(Completion::good())
}

/// START STOP UNIT: accepted and ignored (the LU stays ready). With LOEJ=1
/// and START=0 (eject) while some I_T nexus prevents removal, MEDIUM
/// REMOVAL PREVENTED (SBC-4 5.25).
pub async fn start_stop_unit(ctx: &CommandCtx<'_>) -> CommandResult {
    let b4 = ctx.cdb.get(4).copied().unwrap_or(0);
    let power_condition = b4 >> 4;
    let loej = b4 & 0x02 != 0;
    let start = b4 & 0x01 != 0;
    if power_condition == 0 && loej && !start && ctx.lu.spc.removal_prevented() {
        return Err(ScsiError::MediumRemovalPrevented);
    }
    Ok(Completion::good())
}

/// PREVENT ALLOW MEDIUM REMOVAL: PREVENT 00b allows, 01b prevents
/// (recorded per I_T nexus); 10b and 11b are obsolete/changer-only.
pub async fn prevent_allow_medium_removal(ctx: &CommandCtx<'_>) -> CommandResult {
    let prevent = ctx.cdb.get(4).copied().unwrap_or(0) & 0x03;
    match prevent {
        0 | 1 => {
            ctx.lu.spc.set_prevent(ctx.nexus.id, prevent == 1);
            Ok(Completion::good())
        }
        _ => Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(4, 1))),
    }
}
