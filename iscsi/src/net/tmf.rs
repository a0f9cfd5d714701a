//! Task Management Function Requests (RFC 7143 11.5, 11.6; SAM-5 7).

use super::io::ConnError;
use super::session::{Flow, Session, TaskState};
use crate::pdu::consts::response as r;
use crate::pdu::{Bhs, InitiatorPdu, RejectReason, TargetPdu, TaskMgmtRequest, TaskMgmtResponse};
use crate::session::TaskAbort;
use crate::task::{abort_task_response, tmf_action, TmfAction};
use scsi::{TmfFunction, TmfResponse};

fn device_response(t: TmfResponse) -> u8 {
    match t {
        TmfResponse::Complete => r::FUNCTION_COMPLETE,
        TmfResponse::LunDoesNotExist => r::LUN_DOES_NOT_EXIST,
        TmfResponse::NotSupported => r::FUNCTION_NOT_SUPPORTED,
        TmfResponse::Rejected => r::FUNCTION_REJECTED,
    }
}

impl Session {
    fn broadcast_abort(&self, lun: Option<u64>) {
        let target = &self.est.handle.key.target;
        self.server
            .sessions
            .abort_tasks(target, self.est.handle.tsih, TaskAbort { lun });
    }

    pub(super) async fn on_tmf(
        &mut self,
        t: TaskMgmtRequest,
        bhs: &Bhs,
    ) -> Result<Flow, ConnError> {
        let Some(nexus) = self.nexus.clone() else {
            self.reject(RejectReason::ProtocolError, bhs).await?;
            return Ok(Flow::Continue);
        };
        let lun = t.lun.to_index();
        let mut close = false;
        let response = match tmf_action(t.function) {
            TmfAction::AbortTask => {
                let ref_itt = t.ref_itt;
                // A copy operation the task runs stops at its next chunk
                // boundary before the task goes and the response is sent
                // (SPC-5 5.17.4.6); other commands are simply dropped.
                let running = self
                    .tasks
                    .get(&ref_itt)
                    .is_some_and(|task| matches!(task.state, TaskState::Running { .. }));
                if running {
                    self.server.device.abort_task(&nexus, ref_itt.0).await;
                }
                let queued = self.window.cancel_pending(
                    |p| matches!(p, InitiatorPdu::ScsiCommand(c) if c.itt == ref_itt),
                );
                let found = self.abort_task(ref_itt) || queued > 0;
                let response = abort_task_response(
                    found,
                    t.ref_cmdsn,
                    t.cmdsn,
                    self.exp_cmdsn(),
                    self.window.max_cmdsn(),
                );
                if !found && response == r::FUNCTION_COMPLETE {
                    // RFC 7143 11.6.1 b: the command has not arrived; its
                    // CmdSN counts as received, so it never runs. Commands
                    // queued behind it run after this response.
                    let released = self.window.consume(t.ref_cmdsn);
                    self.unblocked.extend(released);
                }
                response
            }
            action @ (TmfAction::AbortTaskSet | TmfAction::ClearTaskSet | TmfAction::LunReset) => {
                let func = match action {
                    TmfAction::AbortTaskSet => TmfFunction::AbortTaskSet,
                    TmfAction::ClearTaskSet => TmfFunction::ClearTaskSet,
                    _ => TmfFunction::LunReset,
                };
                let resp = self.server.device.task_management(&nexus, func, lun).await;
                if resp == TmfResponse::Complete {
                    self.abort_where(|task| task.lun == lun);
                    self.window.cancel_pending(
                        |p| matches!(p, InitiatorPdu::ScsiCommand(c) if c.lun.to_index() == lun),
                    );
                    if func != TmfFunction::AbortTaskSet {
                        // CLEAR TASK SET and LOGICAL UNIT RESET reach the
                        // tasks of every I_T nexus (SAM-5 7.5, 7.6).
                        self.broadcast_abort(Some(lun));
                    }
                }
                device_response(resp)
            }
            action @ (TmfAction::TargetWarmReset | TmfAction::TargetColdReset) => {
                let cold = action == TmfAction::TargetColdReset;
                let func = if cold {
                    TmfFunction::TargetColdReset
                } else {
                    TmfFunction::TargetWarmReset
                };
                let resp = self.server.device.task_management(&nexus, func, lun).await;
                self.abort_all();
                self.window
                    .cancel_pending(|p| matches!(p, InitiatorPdu::ScsiCommand(_)));
                self.broadcast_abort(None);
                // RFC 7143 11.5.1: after a cold reset's response, the target
                // drops all of its connections: those of the target
                // addressed, not of the other targets of this process.
                close = cold;
                device_response(resp)
            }
            TmfAction::Respond(code) => code,
        };
        tracing::info!(
            tsih = self.est.handle.tsih,
            function = t.function,
            lun,
            ref_itt = t.ref_itt.0,
            response,
            "task management"
        );
        self.send(TargetPdu::TaskMgmt(TaskMgmtResponse {
            response,
            itt: t.itt,
            ..Default::default()
        }))
        .await?;
        if close {
            let target = &self.est.handle.key.target;
            for h in self.server.sessions.of_target(target) {
                if h.tsih != self.est.handle.tsih {
                    h.stop.cancel();
                }
            }
            return Ok(Flow::Close);
        }
        Ok(Flow::Continue)
    }
}
