//! TEST UNIT READY (SPC-5 6.47), START STOP UNIT (SBC-4 5.25) and PREVENT
//! ALLOW MEDIUM REMOVAL (SPC-5 6.16, SBC-4 5.13).
//!
//! A LU is always spun up (no power conditions are modelled). A removable
//! LU (RMB=1, [`crate::device::MediumConfig::removable`]) can have its
//! medium ejected with LOEJ=1 START=0 and loaded with LOEJ=1 START=1; while
//! it is ejected, every medium access command (TEST UNIT READY included)
//! gets NOT READY, MEDIUM NOT PRESENT (the opcode table's
//! [`crate::cdb::Flags::NO_MEDIUM_OK`] marks the exceptions). PREVENT is
//! held per I_T nexus and released by ALLOW, by the loss of the nexus and
//! by resets (SPC-5 6.16).

use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};

pub async fn test_unit_ready(_ctx: &CommandCtx<'_>) -> CommandResult {
    // Medium not present is answered by the dispatcher (table flags).
    Ok(Completion::good())
}

/// Fields of a START STOP UNIT CDB (SBC-4 5.25).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartStopUnit {
    pub immed: bool,
    pub power_condition: u8,
    pub no_flush: bool,
    pub loej: bool,
    pub start: bool,
}

impl StartStopUnit {
    pub fn parse(cdb: &[u8]) -> Self {
        let b = |i: usize| cdb.get(i).copied().unwrap_or(0);
        Self {
            immed: b(1) & 0x01 != 0,
            power_condition: b(4) >> 4,
            no_flush: b(4) & 0x04 != 0,
            loej: b(4) & 0x02 != 0,
            start: b(4) & 0x01 != 0,
        }
    }
}

/// START STOP UNIT (SBC-4 5.25).
///
/// POWER CONDITION other than 0h: START and LOEJ are ignored (SBC-4
/// 5.25); with no power conditions modelled the command completes GOOD
/// for every value (as libiscsi's StartStopUnit.PowerCondition expects).
/// LOEJ=0: the LU stays ready whatever START says. LOEJ=1 while any I_T
/// nexus prevents medium removal: ILLEGAL REQUEST, MEDIUM REMOVAL
/// PREVENTED, for an eject and (on a removable LU) for a load alike.
/// LOEJ=1 on a removable LU: START=0 ejects (after making cached data
/// durable unless NO_FLUSH), START=1 loads (with a unit attention NOT
/// READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED for the other I_T
/// nexuses). On a LU that is not removable
/// LOEJ=1 changes nothing.
pub async fn start_stop_unit(ctx: &CommandCtx<'_>) -> CommandResult {
    let ssu = StartStopUnit::parse(ctx.cdb);
    if ssu.power_condition != 0 || !ssu.loej {
        return Ok(Completion::good());
    }
    let removable = ctx.lu.medium.removable;
    if ctx.lu.spc.removal_prevented() && (removable || !ssu.start) {
        return Err(ScsiError::MediumRemovalPrevented);
    }
    if !removable {
        return Ok(Completion::good());
    }
    if ssu.start {
        // A load after an eject: the medium may have changed for every
        // other I_T nexus (NOT READY TO READY CHANGE, 28h/00h); the nexus
        // that loaded it knows.
        if ctx.lu.spc.medium_ejected() {
            ctx.lu.spc.set_medium_ejected(false);
            ctx.lu
                .spc
                .ua
                .establish_all(&ScsiError::NotReadyToReadyChange, Some(ctx.nexus.id));
        }
        return Ok(Completion::good());
    }
    if !ssu.no_flush && !ctx.lu.spc.medium_ejected() {
        ctx.lu.flush(None).await?;
    }
    ctx.lu.spc.set_medium_ejected(true);
    Ok(Completion::good())
}

/// PREVENT ALLOW MEDIUM REMOVAL: PREVENT 00b allows, 01b prevents
/// (recorded per I_T nexus); 10b and 11b are obsolete/changer-only.
/// Answered with or without a medium present.
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
