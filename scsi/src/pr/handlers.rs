//! The command handlers: PERSISTENT RESERVE IN (0x5E), PERSISTENT RESERVE
//! OUT (0x5F), RESERVE(6)/(10) (0x16/0x56), RELEASE(6)/(10) (0x17/0x57).

use super::{inq, out};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::copy::{CopyControl, CopyManager, StopCause};
use crate::sense::{FieldPointer, ScsiError};
use crate::spc::truncate;

/// PERSISTENT RESERVE IN (SPC-5 6.15). The opcode table has one row per
/// service action; ALLOCATION LENGTH is bytes 7-8.
pub async fn persistent_reserve_in(ctx: &CommandCtx<'_>) -> CommandResult {
    let pr = &ctx.lu.pr;
    // Under an SPC-2 reservation PERSISTENT RESERVE IN from another I_T
    // nexus conflicts (SPC-5 5.14.3).
    if pr.spc2_holder().is_some_and(|h| h != ctx.nexus.id) {
        return Err(ScsiError::ReservationConflict);
    }
    let alloc = ctx
        .cdb
        .get(7..9)
        .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let d = pr.snapshot();
    let sa = ctx.cdb.get(1).map_or(0, |b| b & 0x1F);
    let data = match sa {
        inq::SA_READ_KEYS => inq::read_keys(&d),
        inq::SA_READ_RESERVATION => inq::read_reservation(&d),
        inq::SA_REPORT_CAPABILITIES => inq::report_capabilities(
            &d,
            inq::Capabilities {
                ptpl_capable: pr.ptpl_capable(),
            },
        ),
        inq::SA_READ_FULL_STATUS => inq::read_full_status(&d),
        _ => return Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 4))),
    };
    Ok(Completion::data(truncate(data, alloc)))
}

/// PERSISTENT RESERVE OUT (SPC-5 6.16): PARAMETER LIST LENGTH is bytes
/// 5-8.
pub async fn persistent_reserve_out(m: &CopyManager, ctx: &CommandCtx<'_>) -> CommandResult {
    let pll = ctx
        .cdb
        .get(5..9)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let params = ctx.parameter_list(pll);
    let pr = &ctx.lu.pr;
    let req = out::parse(ctx.cdb, &params, pr.ptpl_capable())?;
    let effects = pr.apply_out(ctx.nexus, &req).await?;
    for (id, ua) in effects.uas {
        ctx.lu.spc.ua.establish(id, ua);
    }
    if !effects.aborted.is_empty() {
        // PREEMPT AND ABORT: the preempted nexuses' copies that touch
        // this LU stop at their next chunk boundary (background ones too:
        // a fenced node must not go on writing), before GOOD.
        let lu = ctx.lu.config.naa_id;
        let stopped = m.control.stop_where(StopCause::TaskAbort, |c| {
            effects.aborted.contains(&c.nexus) && c.lus.contains(&lu)
        });
        if !stopped.is_empty() {
            tracing::info!(
                copies = stopped.len(),
                lun = ctx.lun,
                "PREEMPT AND ABORT stopped the preempted nexuses' copies"
            );
            CopyControl::wait(&stopped, crate::copy::control::STOP_WAIT).await;
        }
    }
    tracing::debug!(
        action = ?req.action,
        initiator = %ctx.nexus.initiator_port,
        lun = ctx.lun,
        "PERSISTENT RESERVE OUT"
    );
    Ok(Completion::good())
}

/// RESERVE(6) and RESERVE(10): third-party reservations and extents are
/// not supported (their CDB bits are outside the table's usage mask).
pub async fn reserve(ctx: &CommandCtx<'_>) -> CommandResult {
    ctx.lu.pr.reserve(ctx.nexus)?;
    Ok(Completion::good())
}

/// RELEASE(6) and RELEASE(10).
pub async fn release(ctx: &CommandCtx<'_>) -> CommandResult {
    ctx.lu.pr.release(ctx.nexus)?;
    Ok(Completion::good())
}
