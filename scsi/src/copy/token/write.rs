//! WRITE USING TOKEN (SBC-4 5.59): the token's bytes, from OFFSET INTO
//! ROD on, into the destination ranges of the receiving LU.
//!
//! Order of checks: CDB, parameter list and destination ranges (against
//! the receiving LU); the token (length, type and MAC before any lookup:
//! 0x23/0x0A, 0x23/0x01, 0x23/0x05; then unknown 04, revoked 06, expired
//! 07, cancelled 08, deleted 09); authorization (the requester must be
//! allowed to use the token's source LU, by the EXTENDED COPY rule, unless
//! `allow_any_token_holder`: 0x26/0x15, nothing written); OFFSET INTO ROD
//! (0x26/0x00 at byte 8 past the end of the ROD).
//!
//! The copy holds a pin on the token and runs in bounded steps
//! (`copy::pieces`). Without IMMED it does at most `max_wut_duration` (and
//! `max_wut_bytes`) of work; whenever fewer blocks than asked were written
//! (budget spent, a ROD shorter than the destination ranges) the command
//! ends with CHECK CONDITION, COPY ABORTED, COPY TARGET DEVICE DATA
//! UNDERRUN (0Dh/04h), VALID=1 and INFORMATION = the contiguous blocks
//! written, never GOOD; RRTI then reports 04h (completed with residual)
//! with the same count. Stopped by COPY OPERATION ABORT, a reset or
//! shutdown, it ends with COPY ABORTED, COMMAND CLEARED BY DEVICE SERVER
//! (2Fh/02h), INFORMATION as for an underrun, and RRTI reports 60h. A
//! change-vulnerable token revoked (or cancelled) while the copy runs ends
//! it with that token error (0x23/0x06, 0x23/0x08): the blocks written may
//! mix old and new data, so the initiator must not use them (SBC-4 lets
//! the copy manager invalidate a token whose data changed; answering the
//! error rather than a residual keeps Windows from continuing with the
//! changed data). With IMMED the command returns GOOD once checked and the
//! copy runs in the background with no budget; RRTI reports 12h and the
//! blocks written so far, COPY OPERATION ABORT stops it between steps.
//! DEL_TKN deletes the token after a complete, successful copy.

use super::results::{OdxRecord, Outcome};
use super::{token_error, token_id_of, Odx, SharedClock};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::copy::control::{CopyControl, CopyKind, NewCopy, Registration, StopCause};
use crate::copy::odx::cdb::{decode_write_using_token, SA_WRITE_USING_TOKEN};
use crate::copy::odx::{offset_into_rod, parse_write_using_token, CopyOperationStatus, LuExtent};
use crate::copy::params::Designator;
use crate::copy::pieces::{copy_pieces, map_pieces, Control, Piece, PieceSource, Stop};
use crate::copy::resolve::{CscdResolver, Requester, Resolution};
use crate::copy::sched::{CopyOp, CopyScheduler};
use crate::device::LogicalUnit;
use crate::sense::ScsiError;
use std::sync::Arc;
use std::time::Instant;
use tokens::{Lookup, PinGuard, TokenError};

/// A checked WRITE USING TOKEN, ready to copy.
struct Job {
    odx: Arc<Odx>,
    source: PieceSource,
    destination: Arc<LogicalUnit>,
    pieces: Vec<Piece>,
    /// Bytes the destination ranges ask for.
    requested: u64,
    pin: Option<PinGuard<u64, SharedClock>>,
    del_tkn: bool,
    immed: bool,
    descriptor_sense: bool,
    chunk: u64,
    initiator: String,
    lun: u64,
    /// Its entry in the copy control registry (stop flag, progress),
    /// dropped when the copy's work has ended.
    registration: Option<Registration>,
    /// Admission and chunk grants (copy scheduler).
    op: CopyOp,
}

impl Odx {
    /// 0x83/0x11 WRITE USING TOKEN; `chunk` is the copy manager's step for
    /// reading and writing, `sched` admits the copy and its chunks (a copy
    /// beyond its queue is refused with INSUFFICIENT RESOURCES).
    pub async fn write_using_token(
        self: &Arc<Self>,
        ctx: &CommandCtx<'_>,
        resolver: &dyn CscdResolver,
        chunk: u64,
        control: &Arc<CopyControl>,
        sched: &Arc<CopyScheduler>,
    ) -> CommandResult {
        metrics::counter!("xtgt_copy_commands_total", "type" => "write_using_token").increment(1);
        let cdb = decode_write_using_token(ctx.cdb)?;
        if cdb.parameter_list_length == 0 {
            return Ok(Completion::good());
        }
        let data = ctx.parameter_list(cdb.parameter_list_length);
        let (nexus, list_id) = (ctx.nexus.id, cdb.list_identifier);
        let descriptor = ctx.lu.spc.descriptor_sense();
        let immed = data.get(2).is_some_and(|f| f & 0x01 != 0);
        let registration = control.register(NewCopy {
            kind: CopyKind::WriteUsingToken,
            nexus,
            list_id: Some(list_id),
            tag: ctx.tag,
            lus: vec![ctx.lu.config.naa_id],
            immed,
        })?;
        let record = self.results.begin_with(
            nexus,
            list_id,
            SA_WRITE_USING_TOKEN,
            immed,
            ctx.lu.block_size(),
            ctx.lu.config.naa_id,
            registration.entry.progress.clone(),
        )?;
        let job = match self.prepare(ctx, &data, resolver, chunk, sched) {
            Ok(mut j) => {
                j.registration = Some(registration);
                j
            }
            Err(e) => {
                record.finish(Outcome::Done {
                    status: CopyOperationStatus::CompletedWithErrors,
                    completion_status: 0x02,
                    sense: e.sense().encode(descriptor),
                    transfer_count: 0,
                    token: None,
                });
                return Err(e);
            }
        };
        if job.immed {
            tokio::spawn(async move {
                let _ = job.run(record).await;
            });
            return Ok(Completion::good());
        }
        job.run(record).await.map(|()| Completion::good())
    }

    fn prepare(
        self: &Arc<Self>,
        ctx: &CommandCtx<'_>,
        data: &[u8],
        resolver: &dyn CscdResolver,
        chunk: u64,
        sched: &Arc<CopyScheduler>,
    ) -> Result<Job, ScsiError> {
        let lu = ctx.lu;
        let bs = u64::from(lu.block_size());
        let extent = LuExtent {
            capacity_blocks: lu.capacity_blocks(),
            block_size: lu.block_size(),
        };
        let wut = parse_write_using_token(data, &self.config.limits, &extent)?;
        let dest: Vec<(u64, u64)> = wut
            .ranges
            .iter()
            .map(|r| (r.lba * bs, u64::from(r.blocks) * bs))
            .collect();
        let requested = wut.total_blocks * bs;
        self.sweep();
        let looked = self.store.lookup(wut.rod_token);
        let (source, pieces, pin) = match looked {
            Ok(Lookup::Zero) => {
                let pieces = dest
                    .iter()
                    .map(|&(dst, len)| Piece { src: 0, dst, len })
                    .collect();
                (PieceSource::Zero, pieces, None)
            }
            Ok(Lookup::Token(info)) => {
                let src = self.source(info.id).ok_or(ScsiError::TokenUnknown)?;
                if !self.config.allow_any_token_holder {
                    authorize(ctx, resolver, wut.rod_token, &src.lu)?;
                }
                // The live source is read now: its reservations apply
                // (a point-in-time copy was read at POPULATE TOKEN).
                if src.snapshot.is_none() {
                    src.lu.pr.check_copy(ctx.nexus, false)?;
                }
                let pin = self.store.pin(info.id).map_err(|e| self.dead(info.id, e))?;
                metrics::counter!("xtgt_rod_token_events_total", "event" => "used").increment(1);
                let rod_off =
                    offset_into_rod(wut.offset_into_rod, lu.block_size(), info.bytes_represented)?;
                let rod_off =
                    u64::try_from(rod_off).map_err(|_| ScsiError::InternalTargetFailure)?;
                let sbs = u64::from(info.block_size);
                let (source, list) = match &src.snapshot {
                    Some(s) => (PieceSource::Snapshot(s.clone()), vec![(0, s.len())]),
                    None => (
                        PieceSource::Lu(src.lu.clone()),
                        info.ranges
                            .iter()
                            .map(|r| (r.lba * sbs, r.count * sbs))
                            .collect(),
                    ),
                };
                (source, map_pieces(&list, rod_off, &dest), Some(pin))
            }
            Err(e) => {
                return Err(match token_id_of(wut.rod_token) {
                    Some(id) => self.dead(id, e),
                    None => token_error(e),
                })
            }
        };
        let priority = sched.config().odx_priority;
        let op = sched.enqueue(lu, &ctx.nexus.initiator_name, priority)?;
        Ok(Job {
            op,
            odx: self.clone(),
            source,
            destination: lu.clone(),
            pieces,
            requested,
            pin,
            del_tkn: wut.del_tkn,
            immed: wut.immed,
            descriptor_sense: lu.spc.descriptor_sense(),
            chunk,
            initiator: ctx.nexus.initiator_port.clone(),
            lun: ctx.lun,
            registration: None,
        })
    }

    /// A token found dead: forget its source (its snapshot goes).
    fn dead(&self, id: tokens::TokenId, e: TokenError) -> ScsiError {
        if matches!(
            e,
            TokenError::Expired | TokenError::Revoked | TokenError::Cancelled | TokenError::Deleted
        ) {
            self.forget(id);
        }
        token_error(e)
    }
}

/// The requester may use the token's source LU: its CREATOR LOGICAL UNIT
/// DESCRIPTOR (MAC-verified) resolves, for this initiator and target, to
/// the LU the token was made of (the EXTENDED COPY CSCD rule).
fn authorize(
    ctx: &CommandCtx<'_>,
    resolver: &dyn CscdResolver,
    token: &[u8; 512],
    source: &Arc<LogicalUnit>,
) -> Result<(), ScsiError> {
    let c = &token[16..48];
    let len = usize::from(c[7]).min(20);
    let designator = Designator {
        code_set: c[4] & 0x0F,
        association: (c[5] >> 4) & 0x03,
        designator_type: c[5] & 0x0F,
        value: c[8..8 + len].to_vec(),
    };
    let requester = Requester {
        initiator_name: &ctx.nexus.initiator_name,
        target: &ctx.nexus.target,
    };
    match resolver.resolve(&requester, &designator) {
        Resolution::Found(r) if Arc::ptr_eq(&r.lu, source) => Ok(()),
        _ => {
            tracing::warn!(
                initiator = %ctx.nexus.initiator_name,
                source = %source.config.serial,
                "WRITE USING TOKEN refused: the initiator may not use the token's source"
            );
            Err(ScsiError::CopyNotAuthorized)
        }
    }
}

impl Job {
    async fn run(self, record: Arc<OdxRecord>) -> Result<(), ScsiError> {
        let _end = super::EndGuard(record.clone());
        let entry = self
            .registration
            .as_ref()
            .map(|r| r.entry.clone())
            .ok_or(ScsiError::InternalTargetFailure)?;
        let started = Instant::now();
        let cfg = &self.odx.config;
        let bs = u64::from(self.destination.block_size());
        let (deadline, max_bytes) = if self.immed {
            (None, None)
        } else {
            (
                Some(started + cfg.max_wut_duration),
                cfg.max_wut_bytes.map(|b| (b / bs).max(1) * bs),
            )
        };
        let pin = self.pin.as_ref();
        let still_valid = move || match pin {
            Some(p) => p.still_valid().map_err(token_error),
            None => Ok(()),
        };
        // Waiting for a turn counts against the budget; the first step
        // still always runs. A stop request ends the wait too (the pieces
        // then see the stop flag before their first step).
        tokio::select! {
            () = self.op.admitted() => {}
            _ = entry.stop_requested() => {}
        };
        let ctl = Control {
            op: &self.op,
            deadline,
            max_bytes,
            chunk: self.chunk,
            abort: entry.progress.cancel_flag(),
            progress: entry.progress.bytes_counter(),
            still_valid: &still_valid,
        };
        let out = copy_pieces(&self.source, &self.destination, &self.pieces, &ctl).await;
        let blocks = out.bytes / bs;
        let valid = still_valid();
        let (result, status) = match (out.stop.clone(), valid) {
            (Stop::Failed(e), _) | (Stop::Done | Stop::Budget, Err(e)) => {
                (Err(e), CopyOperationStatus::CompletedWithErrors)
            }
            (Stop::Done, Ok(())) if out.bytes == self.requested => {
                (Ok(()), CopyOperationStatus::CompletedWithoutErrors)
            }
            (Stop::Done | Stop::Budget, Ok(())) => (
                Err(ScsiError::CopyDataUnderrun {
                    blocks_written: blocks,
                }),
                CopyOperationStatus::CompletedWithResidual,
            ),
            // Stopped between steps: the blocks reported are exactly those
            // written. COPY OPERATION ABORT, a reset or shutdown answer a
            // waiting command COPY ABORTED, COMMAND CLEARED BY DEVICE
            // SERVER with that count (SPC-5 5.17.4.7); an aborted task
            // gets no status.
            (Stop::Aborted, _) => (
                Err(match entry.cause() {
                    Some(StopCause::TaskAbort) => ScsiError::Aborted,
                    _ => ScsiError::CopyCleared {
                        information: Some(blocks),
                        segment: None,
                    },
                }),
                CopyOperationStatus::Terminated,
            ),
        };
        let token = self.pin.as_ref().map(|p| p.id());
        let pin = self.pin;
        if result.is_ok() && self.del_tkn {
            if let Some(p) = pin {
                let id = p.id();
                if p.delete().is_ok() {
                    self.odx.reaped(&[id], "deleted");
                }
            }
        } else {
            drop(pin);
        }
        let sense = match &result {
            Ok(()) => bytes::Bytes::new(),
            Err(e) => e.sense().encode(self.descriptor_sense),
        };
        record.finish(Outcome::Done {
            status,
            completion_status: if result.is_ok() { 0x00 } else { 0x02 },
            sense,
            transfer_count: blocks,
            token: None,
        });
        let outcome = match &result {
            Ok(()) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        tracing::info!(
            initiator = %self.initiator,
            lun = self.lun,
            token = ?token,
            destination = %self.destination.config.serial,
            bytes = out.bytes,
            requested = self.requested,
            method = out.tally.method(),
            immed = self.immed,
            stopped_by = ?entry.cause(),
            duration_ms = started.elapsed().as_millis() as u64,
            outcome = %outcome,
            "WRITE USING TOKEN finished"
        );
        result
    }
}
