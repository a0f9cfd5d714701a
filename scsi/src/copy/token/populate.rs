//! POPULATE TOKEN (SBC-4 5.12): a token for the listed ranges of the
//! receiving LU. Without IMMED the token exists when the command returns;
//! with IMMED=1 the command returns GOOD once checked and the token is
//! made in the background (RRTI reports 12h meanwhile). Either way the
//! result (with the token) is held for RECEIVE ROD TOKEN INFORMATION.
//!
//! ROD type: as asked with RTV (the parser refuses a type the LU does not
//! create with INVALID FIELD IN PARAMETER LIST at the ROD TYPE field, as
//! SBC-4 5.12.2 says for an unsupported ROD TYPE); without RTV, point in
//! time where the LU's backend can snapshot, else change vulnerable.
//! Point in time: the snapshot of all ranges is taken with every writer
//! of the LU held off, so the ranges are of one instant. Change
//! vulnerable: the token is created with writers held off, so a racing
//! write either finished before the token exists or sees it and revokes it.

use super::{token_error, Odx, Source};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::copy::control::{CopyControl, CopyEntry, CopyKind, NewCopy};
use crate::copy::odx::cdb::{decode_populate_token, SA_POPULATE_TOKEN};
use crate::copy::odx::{parse_populate_token, rod_type, CopyOperationStatus, LuExtent};
use crate::copy::token::{OdxRecord, Outcome};
use crate::device::LogicalUnit;
use crate::sense::ScsiError;
use std::sync::Arc;
use tokens::{BlockRange, CreatorDescriptor, DeviceSpecific, NewToken, Owner, RodType};

/// A checked POPULATE TOKEN, ready to create its token (owned: with IMMED
/// it is created after the command returned).
struct Request {
    lu: Arc<LogicalUnit>,
    kind: RodType,
    token: NewToken<u64>,
    total_blocks: u64,
    immed: bool,
    target: Arc<str>,
    lun: u64,
    initiator: String,
}

impl Odx {
    /// 0x83/0x10 POPULATE TOKEN. With IMMED=1 the command returns GOOD
    /// once the CDB and parameter list are checked and the token is
    /// created in the background (RRTI: 12h, then the token).
    pub async fn populate_token(
        self: &Arc<Self>,
        ctx: &CommandCtx<'_>,
        control: &Arc<CopyControl>,
    ) -> CommandResult {
        metrics::counter!("xtgt_copy_commands_total", "type" => "populate_token").increment(1);
        let cdb = decode_populate_token(ctx.cdb)?;
        if cdb.parameter_list_length == 0 {
            return Ok(Completion::good());
        }
        let data = ctx.parameter_list(cdb.parameter_list_length);
        let nexus = ctx.nexus.id;
        let list_id = cdb.list_identifier;
        let immed = data.get(2).is_some_and(|f| f & 0x01 != 0);
        let registration = control.register(NewCopy {
            kind: CopyKind::PopulateToken,
            nexus,
            list_id: Some(list_id),
            tag: ctx.tag,
            lus: vec![ctx.lu.config.naa_id],
            immed,
        })?;
        let record = self.results.begin_with(
            nexus,
            list_id,
            SA_POPULATE_TOKEN,
            immed,
            ctx.lu.block_size(),
            ctx.lu.config.naa_id,
            registration.entry.progress.clone(),
        )?;
        let descriptor = ctx.lu.spc.descriptor_sense();
        let end = super::EndGuard(record.clone());
        let request = match self.check(ctx, &data) {
            Ok(r) => r,
            Err(e) => {
                failed(&record, &e, descriptor);
                return Err(e);
            }
        };
        let entry = registration.entry.clone();
        if request.immed {
            let odx = self.clone();
            tokio::spawn(async move {
                let _ = odx.create(request, &record, &entry, descriptor).await;
                drop(end);
                drop(registration);
            });
            return Ok(Completion::good());
        }
        let r = self.create(request, &record, &entry, descriptor).await;
        drop(end);
        drop(registration);
        r.map(|()| Completion::good())
    }

    /// The parameter list, the ROD type and the token to create.
    fn check(&self, ctx: &CommandCtx<'_>, data: &[u8]) -> Result<Request, ScsiError> {
        let lu = ctx.lu;
        let types = Odx::rod_types(lu);
        let extent = LuExtent {
            capacity_blocks: lu.capacity_blocks(),
            block_size: lu.block_size(),
        };
        let pt = parse_populate_token(data, &self.config.limits, &types, &extent)?;
        let can_snapshot = lu.capabilities().point_in_time;
        let kind = match pt.rod_type {
            Some(rod_type::POINT_IN_TIME_DEFAULT) => RodType::PointInTime,
            Some(rod_type::POINT_IN_TIME_CHANGE_VULNERABLE) => RodType::ChangeVulnerable,
            Some(rod_type::POINT_IN_TIME_ANY) | None if can_snapshot => RodType::PointInTime,
            Some(rod_type::POINT_IN_TIME_ANY) | None => RodType::ChangeVulnerable,
            Some(t) => return Err(token_error(tokens::TokenError::UnsupportedType(t))),
        };
        let ranges: Vec<BlockRange> = pt
            .ranges
            .iter()
            .map(|r| BlockRange {
                lba: r.lba,
                count: u64::from(r.blocks),
            })
            .collect();
        let token = NewToken {
            lu: lu.config.naa_id,
            rod_type: kind,
            ranges,
            block_size: lu.block_size(),
            inactivity_timeout_secs: pt.inactivity_timeout_secs,
            owner: Owner {
                nexus: ctx.nexus.id,
                initiator: ctx.nexus.initiator_name.as_str().into(),
            },
            creator: creator_descriptor(lu, &ctx.nexus.target)?,
            device: DeviceSpecific::from_read_capacity16(
                &crate::sbc::capacity::read_capacity16_data(lu),
            ),
            target: self.target.clone(),
        };
        Ok(Request {
            lu: lu.clone(),
            kind,
            token,
            total_blocks: pt.total_blocks,
            immed: pt.immed,
            target: Arc::from(ctx.nexus.target.name.as_str()),
            lun: ctx.lun,
            initiator: ctx.nexus.initiator_port.clone(),
        })
    }

    /// Create the token of `req` and record the outcome in `record`. A
    /// stop request is honoured before the snapshot and before the token
    /// exists (then nothing is left behind).
    async fn create(
        self: &Arc<Self>,
        req: Request,
        record: &OdxRecord,
        entry: &CopyEntry,
        descriptor: bool,
    ) -> Result<(), ScsiError> {
        match self.make(req, entry).await {
            Ok((token, blocks)) => {
                record.finish(Outcome::Done {
                    status: CopyOperationStatus::CompletedWithoutErrors,
                    completion_status: 0x00,
                    sense: bytes::Bytes::new(),
                    transfer_count: blocks,
                    token: Some(Box::new(token)),
                });
                Ok(())
            }
            Err(e @ (ScsiError::CopyCleared { .. } | ScsiError::Aborted)) => {
                record.finish(Outcome::Done {
                    status: CopyOperationStatus::Terminated,
                    completion_status: 0x40,
                    sense: bytes::Bytes::new(),
                    transfer_count: 0,
                    token: None,
                });
                Err(e)
            }
            Err(e) => {
                if e == ScsiError::InsufficientResourcesRodToken {
                    metrics::counter!("xtgt_rod_token_events_total", "event" => "refused")
                        .increment(1);
                }
                failed(record, &e, descriptor);
                Err(e)
            }
        }
    }

    async fn make(
        self: &Arc<Self>,
        req: Request,
        entry: &CopyEntry,
    ) -> Result<([u8; 512], u64), ScsiError> {
        let stopped = || {
            entry.stopped_error(ScsiError::CopyCleared {
                information: None,
                segment: None,
            })
        };
        let lu = &req.lu;
        let kind = req.kind;
        let ranges = req.token.ranges.clone();
        self.sweep();
        if kind == RodType::ChangeVulnerable {
            self.hook(lu);
        }
        if entry.progress.cancelled() {
            return Err(stopped());
        }
        let freeze = lu.freeze_writes().await;
        let snapshot = match kind {
            RodType::PointInTime => {
                let r: Vec<(u64, u64)> = ranges.iter().map(|r| (r.lba, r.count)).collect();
                Some(freeze.snapshot(&r).await?)
            }
            RodType::ChangeVulnerable => None,
        };
        if entry.progress.cancelled() {
            // The snapshot goes with `snapshot`; no token was made.
            return Err(stopped());
        }
        let created = self.store.create(req.token).map_err(token_error)?;
        let source = Source {
            lu: lu.clone(),
            snapshot,
            target: req.target.clone(),
            lun: req.lun,
        };
        source.count(1.0);
        self.sources.insert(created.info.id, source);
        drop(freeze);
        metrics::counter!("xtgt_rod_token_events_total", "event" => "created").increment(1);
        tracing::debug!(
            token = created.info.id,
            initiator = %req.initiator,
            lun = req.lun,
            rod_type = format_args!("{:#010x}", kind.code()),
            ranges = ranges.len(),
            blocks = req.total_blocks,
            immed = req.immed,
            "ROD token created"
        );
        Ok((created.token, req.total_blocks))
    }
}

/// Record a POPULATE TOKEN that failed with `e`.
fn failed(record: &OdxRecord, e: &ScsiError, descriptor: bool) {
    record.finish(Outcome::Done {
        status: CopyOperationStatus::CompletedWithErrors,
        completion_status: 0x02,
        sense: e.sense().encode(descriptor),
        transfer_count: 0,
        token: None,
    });
}

/// The CREATOR LOGICAL UNIT DESCRIPTOR: the LU's NAA designator as VPD
/// 0x83 reports it through `target` (what a WRITE USING TOKEN's
/// authorization resolves, like an EXTENDED COPY CSCD).
fn creator_descriptor(
    lu: &LogicalUnit,
    target: &crate::device::TargetPort,
) -> Result<CreatorDescriptor, ScsiError> {
    let ds = crate::copy::vpd83_designators()(target, lu);
    let d = ds
        .iter()
        .find(|d| d.designator_type == 3)
        .or_else(|| ds.first())
        .ok_or(ScsiError::InternalTargetFailure)?;
    CreatorDescriptor::from_designator(
        0,
        d.code_set,
        d.association,
        d.designator_type,
        &d.value,
        lu.block_size(),
    )
    .map_err(token_error)
}
