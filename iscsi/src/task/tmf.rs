//! Task management decisions (RFC 7143 11.5, 11.6; SAM-5 7), I/O free: which
//! action a function code asks for and how ABORT TASK answers.

use crate::pdu::consts::{function as f, response as r};
use crate::pdu::CmdSn;

/// What a Task Management Function Request asks the session to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TmfAction {
    AbortTask,
    AbortTaskSet,
    ClearTaskSet,
    LunReset,
    TargetWarmReset,
    /// Also closes every connection after the response (RFC 7143 11.5.1).
    TargetColdReset,
    /// No action: answer with this response code.
    Respond(u8),
}

/// Map the Function field (RFC 7143 11.5.1).
pub fn tmf_action(function: u8) -> TmfAction {
    match function {
        f::ABORT_TASK => TmfAction::AbortTask,
        f::ABORT_TASK_SET => TmfAction::AbortTaskSet,
        f::CLEAR_TASK_SET => TmfAction::ClearTaskSet,
        f::LOGICAL_UNIT_RESET => TmfAction::LunReset,
        f::TARGET_WARM_RESET => TmfAction::TargetWarmReset,
        f::TARGET_COLD_RESET => TmfAction::TargetColdReset,
        // ERL < 2: "Task allegiance reassignment not supported".
        f::TASK_REASSIGN => TmfAction::Respond(r::REASSIGNMENT_NOT_SUPPORTED),
        // ACA is not supported (NormACA=0 in INQUIRY).
        f::CLEAR_ACA => TmfAction::Respond(r::FUNCTION_NOT_SUPPORTED),
        _ => TmfAction::Respond(r::FUNCTION_REJECTED),
    }
}

/// The response to ABORT TASK (RFC 7143 11.5.1): FUNCTION COMPLETE when the
/// task was found (and aborted), or when it was not found but its RefCmdSN
/// lies in the command window (it has not arrived and now never runs);
/// otherwise TASK DOES NOT EXIST.
pub fn abort_task_response(
    found: bool,
    ref_cmdsn: CmdSn,
    exp_cmdsn: CmdSn,
    max_cmdsn: CmdSn,
) -> u8 {
    if found || ref_cmdsn.in_window(exp_cmdsn, max_cmdsn) {
        r::FUNCTION_COMPLETE
    } else {
        r::TASK_DOES_NOT_EXIST
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_codes() {
        assert_eq!(tmf_action(1), TmfAction::AbortTask);
        assert_eq!(tmf_action(2), TmfAction::AbortTaskSet);
        assert_eq!(tmf_action(3), TmfAction::Respond(5));
        assert_eq!(tmf_action(4), TmfAction::ClearTaskSet);
        assert_eq!(tmf_action(5), TmfAction::LunReset);
        assert_eq!(tmf_action(6), TmfAction::TargetWarmReset);
        assert_eq!(tmf_action(7), TmfAction::TargetColdReset);
        assert_eq!(tmf_action(8), TmfAction::Respond(4));
        assert_eq!(tmf_action(0), TmfAction::Respond(255));
        assert_eq!(tmf_action(0x7f), TmfAction::Respond(255));
    }

    #[test]
    fn abort_task_answers() {
        let (exp, max) = (CmdSn(10), CmdSn(73));
        assert_eq!(abort_task_response(true, CmdSn(3), exp, max), 0);
        // Already completed (before ExpCmdSN) and not found.
        assert_eq!(abort_task_response(false, CmdSn(9), exp, max), 1);
        // Not yet arrived.
        assert_eq!(abort_task_response(false, CmdSn(12), exp, max), 0);
        // Beyond the window.
        assert_eq!(abort_task_response(false, CmdSn(74), exp, max), 1);
    }
}
