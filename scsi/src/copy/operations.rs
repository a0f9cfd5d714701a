//! Copy manager commands that address a copy operation of any kind by
//! its list identifier (one 32-bit space per I_T nexus, SPC-5 5.17.4.2):
//! COPY OPERATION ABORT (0x83/0x1C) and RECEIVE COPY STATUS (LID4)
//! (0x84/0x05), over the copy control registry and the held results.

use super::control::{self, CopyControl, StopCause};
use super::results::{self, CopyCommand};
use super::{odx, CopyManager};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};

impl CopyManager {
    /// COPY OPERATION ABORT (0x83/0x1C, SPC-5 6.3): a running copy of any
    /// kind with that list id on this nexus stops at its next chunk
    /// boundary; the command completes once its work has stopped (SPC-5
    /// 5.17.4.7). A finished one is left as it is; no operation at all
    /// with that list id is INVALID FIELD IN CDB.
    pub async fn copy_operation_abort(&self, ctx: &CommandCtx<'_>) -> CommandResult {
        metrics::counter!("xtgt_copy_commands_total", "type" => "copy_operation_abort")
            .increment(1);
        let c = odx::cdb::decode_copy_operation_abort(ctx.cdb)?;
        let (nexus, list_id) = (ctx.nexus.id, c.list_identifier);
        if let Some(e) = self.control.find(nexus, list_id) {
            e.stop(StopCause::CopyOperationAbort);
            CopyControl::wait(&[e], control::STOP_WAIT).await;
            tracing::info!(
                initiator = %ctx.nexus.initiator_port,
                list_id,
                "COPY OPERATION ABORT: copy operation stopped"
            );
            return Ok(Completion::good());
        }
        let held_odx = self
            .odx
            .as_ref()
            .is_some_and(|o| o.results.get(nexus, list_id).is_some());
        if held_odx || self.results.view(nexus, list_id).is_some() {
            return Ok(Completion::good());
        }
        Err(ScsiError::InvalidFieldInCdb(FieldPointer::byte(2)))
    }

    /// RECEIVE COPY STATUS (LID4), 0x84/0x05 (SPC-5 6.24): for the ODX
    /// operations their held results; for an EXTENDED COPY (LID1) with
    /// that list id (one 32-bit list id space, SPC-5 5.17.4.2) its record:
    /// 11h while it runs, 01h / 02h when done, 60h when it was stopped
    /// (COPY OPERATION ABORT, reset, shutdown), with the segments
    /// processed and the bytes transferred.
    pub async fn receive_copy_status_lid4(&self, ctx: &CommandCtx<'_>) -> CommandResult {
        let c = odx::cdb::decode_receive_copy_status_lid4(ctx.cdb)?;
        let (nexus, list_id) = (ctx.nexus.id, c.list_identifier);
        let odx_held = self
            .odx
            .as_ref()
            .is_some_and(|o| o.results.get(nexus, list_id).is_some());
        let lid1 = self
            .results
            .view(nexus, list_id)
            .filter(|v| v.command == CopyCommand::ExtendedCopyLid1);
        let Some(v) = lid1.filter(|_| !odx_held) else {
            return self.odx()?.receive_copy_status_lid4(ctx).await;
        };
        metrics::counter!("xtgt_copy_commands_total", "type" => "receive_copy_status_lid4")
            .increment(1);
        use odx::CopyOperationStatus as S;
        let (status, completion, sense) = match &v.state {
            results::CopyState::Running => (S::InProgressForeground, 0x00, &[][..]),
            results::CopyState::Completed => (S::CompletedWithoutErrors, 0x00, &[][..]),
            results::CopyState::Failed { sense } => (S::CompletedWithErrors, 0x02, &sense[..]),
            results::CopyState::Terminated { .. } => (S::Terminated, 0x40, &[][..]),
        };
        let report = odx::CopyStatusReport {
            service_action: 0x00,
            status,
            operation_counter: 0,
            estimated_status_update_delay_ms: 100,
            completion_status: completion,
            sense,
            transfer_count_units: odx::TransferCountUnits::Bytes,
            transfer_count: v.bytes_transferred,
            segments_processed: u16::try_from(v.segments_processed).unwrap_or(u16::MAX),
        };
        Ok(Completion::data(odx::receive_copy_status_lid4(
            &report,
            c.allocation_length,
        )))
    }
}
