//! RECEIVE ROD TOKEN INFORMATION (SPC-5 6.26), RECEIVE COPY STATUS (LID4)
//! (SPC-5 6.24) and REPORT ALL ROD TOKENS (SPC-5 6.31) over the held
//! results and the store (COPY OPERATION ABORT is the copy manager's, for
//! every kind of copy: `copy::control`).
//!
//! After POPULATE TOKEN: status 01h, transfer count units F1h (blocks),
//! the blocks the token represents, segments processed 0, then ROD TOKEN
//! DESCRIPTORS LENGTH 514, a zero 2-byte id and the token (what Windows
//! insists on). After WRITE USING TOKEN: its status, the blocks written and
//! the sense it ended with. A running operation reports 11h (foreground)
//! or 12h (IMMED) and the blocks written so far. REPORT ALL ROD TOKENS
//! lists the live tokens created on the I_T nexus it comes on.

use super::results::Outcome;
use super::Odx;
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::copy::odx::cdb::{
    decode_receive_copy_status_lid4, decode_receive_rod_token_information,
    decode_report_all_rod_tokens,
};
use crate::copy::odx::{
    receive_copy_status_lid4, receive_rod_token_information, report_all_rod_tokens,
    CopyOperationStatus, CopyStatusReport, TransferCountUnits,
};
use crate::sense::{FieldPointer, ScsiError};
use tokens::ListFilter;

/// Estimated status update delay of a running operation (ms).
const RUNNING_UPDATE_DELAY_MS: u32 = 100;

/// No operation with that list id on this nexus: INVALID FIELD IN CDB at
/// the LIST IDENTIFIER.
fn no_such_list() -> ScsiError {
    ScsiError::InvalidFieldInCdb(FieldPointer::byte(2))
}

impl Odx {
    /// The status of (nexus, list id) and the token it created.
    fn report(
        &self,
        nexus: u64,
        list_id: u32,
        with: impl FnOnce(&CopyStatusReport<'_>, Option<&[u8; 512]>) -> Vec<u8>,
    ) -> Result<Vec<u8>, ScsiError> {
        let r = self.results.get(nexus, list_id).ok_or_else(no_such_list)?;
        let outcome = r.outcome();
        let (status, completion, sense, count, token) = match &outcome {
            Outcome::Running => {
                let s = if r.immed {
                    CopyOperationStatus::InProgressBackground
                } else {
                    CopyOperationStatus::InProgressForeground
                };
                (s, 0, &[][..], r.blocks_done(), None)
            }
            Outcome::Done {
                status,
                completion_status,
                sense,
                transfer_count,
                token,
            } => (
                *status,
                *completion_status,
                &sense[..],
                *transfer_count,
                token.as_deref(),
            ),
        };
        let report = CopyStatusReport {
            service_action: r.service_action,
            status,
            operation_counter: 0,
            estimated_status_update_delay_ms: RUNNING_UPDATE_DELAY_MS,
            completion_status: completion,
            sense,
            transfer_count_units: TransferCountUnits::LogicalBlocks,
            transfer_count: count,
            segments_processed: 0,
        };
        Ok(with(&report, token))
    }

    /// 0x84/0x07 RECEIVE ROD TOKEN INFORMATION.
    pub async fn receive_rod_token_information(&self, ctx: &CommandCtx<'_>) -> CommandResult {
        metrics::counter!("xtgt_copy_commands_total", "type" => "receive_rod_token_information")
            .increment(1);
        let c = decode_receive_rod_token_information(ctx.cdb)?;
        self.sweep();
        let d = self.report(ctx.nexus.id, c.list_identifier, |r, t| {
            receive_rod_token_information(r, t, c.allocation_length)
        })?;
        Ok(Completion::data(d))
    }

    /// 0x84/0x05 RECEIVE COPY STATUS (LID4).
    pub async fn receive_copy_status_lid4(&self, ctx: &CommandCtx<'_>) -> CommandResult {
        metrics::counter!("xtgt_copy_commands_total", "type" => "receive_copy_status_lid4")
            .increment(1);
        let c = decode_receive_copy_status_lid4(ctx.cdb)?;
        let d = self.report(ctx.nexus.id, c.list_identifier, |r, _| {
            receive_copy_status_lid4(r, c.allocation_length)
        })?;
        Ok(Completion::data(d))
    }

    /// 0x84/0x08 REPORT ALL ROD TOKENS: the live tokens of this I_T nexus.
    pub async fn report_all_rod_tokens(&self, ctx: &CommandCtx<'_>) -> CommandResult {
        metrics::counter!("xtgt_copy_commands_total", "type" => "report_all_rod_tokens")
            .increment(1);
        let c = decode_report_all_rod_tokens(ctx.cdb)?;
        self.sweep();
        let tokens: Vec<[u8; 512]> = self
            .store
            .list(ListFilter::Nexus(ctx.nexus.id))
            .iter()
            .filter_map(|i| self.store.encoded(i.id).ok())
            .collect();
        Ok(Completion::data(report_all_rod_tokens(
            tokens.iter(),
            c.allocation_length,
        )))
    }
}
