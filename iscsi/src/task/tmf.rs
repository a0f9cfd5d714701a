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

/// The response to ABORT TASK (RFC 7143 11.6.1, ABORT TASK items a-c; the
/// RefCmdSN field, 11.5.5):
/// - a) the Referenced Task Tag names a task, which was aborted: "Function
///   complete";
/// - b) no such task, but RefCmdSN is within the valid CmdSN window
///   `[ExpCmdSN, MaxCmdSN]` *and* less than the CmdSN of the TMF request
///   itself (`tmf_cmdsn`): the command has not arrived; the target considers
///   that CmdSN received (the caller consumes it in the CmdSN window) and
///   answers "Function complete";
/// - c) otherwise (RefCmdSN outside the window: the command completed, or
///   was never sent; or not before the TMF request): "Task does not exist".
///
/// All comparisons use serial number arithmetic (RFC 1982, RFC 7143 4.2.2.1);
/// a RefCmdSN at distance 2^31 from `tmf_cmdsn` is not "less than" it.
pub fn abort_task_response(
    found: bool,
    ref_cmdsn: CmdSn,
    tmf_cmdsn: CmdSn,
    exp_cmdsn: CmdSn,
    max_cmdsn: CmdSn,
) -> u8 {
    let before_tmf = ref_cmdsn < tmf_cmdsn;
    if found || (ref_cmdsn.in_window(exp_cmdsn, max_cmdsn) && before_tmf) {
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
        let tmf = CmdSn(20);
        // a) Found: complete whatever the numbers say.
        assert_eq!(abort_task_response(true, CmdSn(3), tmf, exp, max), 0);
        assert_eq!(abort_task_response(true, CmdSn(99), tmf, exp, max), 0);
        // c) Not found, before ExpCmdSN (completed): does not exist.
        assert_eq!(abort_task_response(false, CmdSn(9), tmf, exp, max), 1);
        // b) Not found, in the window and before the TMF: complete.
        assert_eq!(abort_task_response(false, CmdSn(10), tmf, exp, max), 0);
        assert_eq!(abort_task_response(false, CmdSn(19), tmf, exp, max), 0);
        // In the window but not less than the TMF's CmdSN: does not exist.
        assert_eq!(abort_task_response(false, CmdSn(20), tmf, exp, max), 1);
        assert_eq!(abort_task_response(false, CmdSn(21), tmf, exp, max), 1);
        assert_eq!(abort_task_response(false, CmdSn(73), tmf, exp, max), 1);
        // c) Beyond MaxCmdSN: does not exist.
        assert_eq!(abort_task_response(false, CmdSn(74), tmf, exp, max), 1);
    }

    #[test]
    fn abort_task_answers_across_wrap() {
        // Window [2^32-5, 58] wraps through zero; the TMF has CmdSN 3.
        let (exp, max, tmf) = (CmdSn(u32::MAX - 4), CmdSn(58), CmdSn(3));
        // Before the wrap, in the window, serially before the TMF.
        assert_eq!(
            abort_task_response(false, CmdSn(u32::MAX - 4), tmf, exp, max),
            0
        );
        assert_eq!(
            abort_task_response(false, CmdSn(u32::MAX), tmf, exp, max),
            0
        );
        assert_eq!(abort_task_response(false, CmdSn(0), tmf, exp, max), 0);
        assert_eq!(abort_task_response(false, CmdSn(2), tmf, exp, max), 0);
        // Numerically larger than the TMF but serially after ExpCmdSN - 1:
        // completed, outside the window.
        assert_eq!(
            abort_task_response(false, CmdSn(u32::MAX - 5), tmf, exp, max),
            1
        );
        // Not before the TMF.
        assert_eq!(abort_task_response(false, CmdSn(3), tmf, exp, max), 1);
        assert_eq!(abort_task_response(false, CmdSn(58), tmf, exp, max), 1);
        assert_eq!(abort_task_response(false, CmdSn(59), tmf, exp, max), 1);
        // Distance 2^31 from the TMF's CmdSN: undefined order, not "less".
        let far = CmdSn(3u32.wrapping_add(0x8000_0000));
        assert_eq!(abort_task_response(false, far, tmf, far, far.plus(10)), 1);
    }
}
