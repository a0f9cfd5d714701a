//! Side effects of task management functions inside the device server
//! (SAM-5 7). The transport aborts its own tasks; here we establish unit
//! attentions and clear per-LU state.

use super::{DeviceServer, LogicalUnit, Nexus, TmfFunction, TmfResponse};
use crate::copy::{CopyControl, CopyEntry, StopCause};
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

/// The function's side effects, and the copy operations it stopped:
/// the response is sent only once their work has ended (SPC-5 5.17.4.6).
pub(super) async fn task_management(
    server: &DeviceServer,
    nexus: &Nexus,
    f: TmfFunction,
    lun: u64,
) -> TmfResponse {
    let (response, stopped) = effects(server, nexus, f, lun);
    if !stopped.is_empty() {
        CopyControl::wait(&stopped, crate::copy::control::STOP_WAIT).await;
    }
    response
}

fn effects(
    server: &DeviceServer,
    nexus: &Nexus,
    f: TmfFunction,
    lun: u64,
) -> (TmfResponse, Vec<Arc<CopyEntry>>) {
    let lu: Option<&Arc<LogicalUnit>> = nexus.target.luns.get(&lun);
    let control = &server.copy.control;
    // The foreground copies of tasks a function aborts: those received
    // through this LU (the first LU of an entry), of `only` nexus or all.
    let tasks_of = |lu: &LogicalUnit, only: Option<u64>| {
        let naa = lu.config.naa_id;
        control.stop_where(StopCause::TaskAbort, |c| {
            !c.immed && c.lus.first() == Some(&naa) && only.is_none_or(|n| n == c.nexus)
        })
    };
    match f {
        // Task sets are per I_T nexus (TST=000b in the Control mode page):
        // aborting or clearing them affects no other nexus, so there is no
        // COMMANDS CLEARED BY ANOTHER INITIATOR unit attention. Background
        // copies (IMMED) are no tasks: only COPY OPERATION ABORT and
        // resets stop them.
        TmfFunction::AbortTask => (TmfResponse::Complete, Vec::new()),
        TmfFunction::AbortTaskSet => match lu {
            Some(lu) => (TmfResponse::Complete, tasks_of(lu, Some(nexus.id))),
            None => (TmfResponse::LunDoesNotExist, Vec::new()),
        },
        TmfFunction::ClearTaskSet => match lu {
            Some(lu) => (TmfResponse::Complete, tasks_of(lu, None)),
            None => (TmfResponse::LunDoesNotExist, Vec::new()),
        },
        TmfFunction::LunReset => match lu {
            Some(lu) => {
                reset_lu(lu, &ScsiError::BusDeviceResetOccurred);
                // Tokens whose source is reset are cancelled (0x23/0x08);
                // its copy operations stop (SPC-5 table 109).
                (TmfResponse::Complete, server.copy.lu_reset(lu))
            }
            None => (TmfResponse::LunDoesNotExist, Vec::new()),
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
            let mut stopped = Vec::new();
            for lu in nexus.target.luns.values() {
                reset_lu(lu, &ua);
                stopped.extend(server.copy.lu_reset(lu));
            }
            (TmfResponse::Complete, stopped)
        }
    }
}
