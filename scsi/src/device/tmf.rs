//! Side effects of task management functions inside the device server
//! (SAM-5 7). The transport aborts its own tasks; here we establish unit
//! attentions and clear per-LU state.

use super::{DeviceServer, LogicalUnit, Nexus, TmfFunction, TmfResponse};
use crate::sense::ScsiError;
use std::sync::Arc;

/// SAM-5 6.3.3 logical unit reset: unit attention BUS DEVICE RESET FUNCTION
/// OCCURRED (29h/03h) for every I_T nexus, PREVENT ALLOW MEDIUM REMOVAL
/// state cleared, mode parameters back to their saved/default values.
/// An SPC-2 reservation is released; persistent reservations are not
/// affected (SPC-5 5.14.11.1).
fn reset_lu(lu: &LogicalUnit, ua: &ScsiError) {
    lu.spc.reset(ua);
    lu.pr.reset();
}

pub(super) fn task_management(
    server: &DeviceServer,
    nexus: &Nexus,
    f: TmfFunction,
    lun: u64,
) -> TmfResponse {
    let lu: Option<&Arc<LogicalUnit>> = nexus.target.luns.get(&lun);
    match f {
        // Task sets are per I_T nexus (TST=000b in the Control mode page):
        // aborting or clearing them affects no other nexus, so there is no
        // COMMANDS CLEARED BY ANOTHER INITIATOR unit attention.
        TmfFunction::AbortTask => TmfResponse::Complete,
        TmfFunction::AbortTaskSet | TmfFunction::ClearTaskSet => match lu {
            Some(_) => TmfResponse::Complete,
            None => TmfResponse::LunDoesNotExist,
        },
        TmfFunction::LunReset => match lu {
            Some(lu) => {
                reset_lu(lu, &ScsiError::BusDeviceResetOccurred);
                // Tokens whose source is reset are cancelled (0x23/0x08).
                server.copy.lu_reset(lu);
                TmfResponse::Complete
            }
            None => TmfResponse::LunDoesNotExist,
        },
        // A target reset is a logical unit reset of every LU of the target
        // (SAM-5 6.3.2): BUS DEVICE RESET FUNCTION OCCURRED. A cold reset is a
        // power on condition: POWER ON OCCURRED (29h/01h).
        TmfFunction::TargetWarmReset | TmfFunction::TargetColdReset => {
            let ua = if f == TmfFunction::TargetColdReset {
                ScsiError::PowerOnOccurred
            } else {
                ScsiError::BusDeviceResetOccurred
            };
            for lu in nexus.target.luns.values() {
                reset_lu(lu, &ua);
                server.copy.lu_reset(lu);
            }
            TmfResponse::Complete
        }
    }
}
