//! POPULATE TOKEN (SBC-4 5.12): a token for the listed ranges of the
//! receiving LU. Quick in every case (a snapshot is a reflink), so it
//! completes before the command returns, with or without IMMED, and its
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
use crate::copy::odx::cdb::{decode_populate_token, SA_POPULATE_TOKEN};
use crate::copy::odx::{parse_populate_token, rod_type, CopyOperationStatus, LuExtent};
use crate::copy::token::Outcome;
use crate::device::LogicalUnit;
use crate::sense::ScsiError;
use std::sync::Arc;
use tokens::{BlockRange, CreatorDescriptor, DeviceSpecific, NewToken, Owner, RodType};

impl Odx {
    /// 0x83/0x10 POPULATE TOKEN.
    pub async fn populate_token(self: &Arc<Self>, ctx: &CommandCtx<'_>) -> CommandResult {
        metrics::counter!("xtgt_copy_commands_total", "type" => "populate_token").increment(1);
        let cdb = decode_populate_token(ctx.cdb)?;
        if cdb.parameter_list_length == 0 {
            return Ok(Completion::good());
        }
        let data = ctx.parameter_list(cdb.parameter_list_length);
        let nexus = ctx.nexus.id;
        let list_id = cdb.list_identifier;
        let record = self.results.begin(
            nexus,
            list_id,
            SA_POPULATE_TOKEN,
            false,
            ctx.lu.block_size(),
            ctx.lu.config.naa_id,
        )?;
        let descriptor = ctx.lu.spc.descriptor_sense();
        let _end = super::EndGuard(record.clone());
        match self.populate(ctx, &data).await {
            Ok((token, blocks)) => {
                record.finish(Outcome::Done {
                    status: CopyOperationStatus::CompletedWithoutErrors,
                    completion_status: 0x00,
                    sense: bytes::Bytes::new(),
                    transfer_count: blocks,
                    token: Some(Box::new(token)),
                });
                Ok(Completion::good())
            }
            Err(e) => {
                if e == ScsiError::InsufficientResourcesRodToken {
                    metrics::counter!("xtgt_rod_token_events_total", "event" => "refused")
                        .increment(1);
                }
                record.finish(Outcome::Done {
                    status: CopyOperationStatus::CompletedWithErrors,
                    completion_status: 0x02,
                    sense: e.sense().encode(descriptor),
                    transfer_count: 0,
                    token: None,
                });
                Err(e)
            }
        }
    }

    async fn populate(
        self: &Arc<Self>,
        ctx: &CommandCtx<'_>,
        data: &[u8],
    ) -> Result<([u8; 512], u64), ScsiError> {
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
        let request = NewToken {
            lu: lu.config.naa_id,
            rod_type: kind,
            ranges: ranges.clone(),
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
        self.sweep();
        if kind == RodType::ChangeVulnerable {
            self.hook(lu);
        }
        let freeze = lu.freeze_writes().await;
        let snapshot = match kind {
            RodType::PointInTime => {
                let r: Vec<(u64, u64)> = ranges.iter().map(|r| (r.lba, r.count)).collect();
                Some(freeze.snapshot(&r).await?)
            }
            RodType::ChangeVulnerable => None,
        };
        let created = self.store.create(request).map_err(token_error)?;
        let source = Source {
            lu: lu.clone(),
            snapshot,
            target: Arc::from(ctx.nexus.target.name.as_str()),
            lun: ctx.lun,
        };
        source.count(1.0);
        self.sources.insert(created.info.id, source);
        drop(freeze);
        metrics::counter!("xtgt_rod_token_events_total", "event" => "created").increment(1);
        tracing::debug!(
            token = created.info.id,
            initiator = %ctx.nexus.initiator_port,
            lun = ctx.lun,
            rod_type = format_args!("{:#010x}", kind.code()),
            ranges = ranges.len(),
            blocks = pt.total_blocks,
            "ROD token created"
        );
        Ok((created.token, pt.total_blocks))
    }
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
