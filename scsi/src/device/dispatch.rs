//! Command dispatch (SAM-5, SPC-5 5.14): LUN lookup, unit attention,
//! opcode table lookup and reserved-bit check, reservations, write
//! protection, handler,
//! and the one place where a [`ScsiError`] becomes CHECK CONDITION.

use super::{DeviceServer, Nexus, Request, Response};
use crate::cdb::{self, Flags, Handler, HandlerFuture, Lookup};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::ScsiError;
use bytes::Bytes;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// Metrics label for a CDB that matches no table entry.
const UNKNOWN: &str = "UNKNOWN";

pub(super) async fn execute(server: &DeviceServer, nexus: &Nexus, req: Request<'_>) -> Response {
    let start = Instant::now();
    // The one table lookup of this command.
    let lookup = cdb::lookup(req.cdb);
    let row = lookup.row();
    let name = row.map_or(UNKNOWN, |e| e.name);
    let lu = nexus.target.luns.get(&req.lun);
    let block_size = lu.map_or(0, |lu| lu.block_size());
    let data_out_wanted = row.map_or(0, |e| e.data_out_wanted(req.cdb, block_size));

    let result = run(server, nexus, &req, lookup).await;

    let response = match result {
        Ok(Completion { status, data }) => Response {
            status,
            sense: None,
            data_in: data,
            data_out_wanted,
        },
        // SAM-5 5.3.1: RESERVATION CONFLICT is a status without sense.
        Err(ScsiError::ReservationConflict) => {
            metrics::counter!("xtgt_reservation_conflicts_total", "opcode" => name).increment(1);
            tracing::debug!(
                tag = req.tag,
                lun = req.lun,
                opcode = name,
                "RESERVATION CONFLICT"
            );
            Response {
                status: super::Status::ReservationConflict,
                sense: None,
                data_in: Bytes::new(),
                data_out_wanted,
            }
        }
        Err(err) => {
            let key = err.sense_key();
            metrics::counter!("xtgt_scsi_errors_total", "sense_key" => key.name()).increment(1);
            tracing::debug!(
                tag = req.tag,
                lun = req.lun,
                opcode = name,
                error = %err,
                "CHECK CONDITION"
            );
            // SPC-5 7.5.8: the LU's D_SENSE picks the sense format; a LUN
            // without a logical unit has no Control page: fixed format.
            let descriptor = lu.is_some_and(|lu| lu.spc.descriptor_sense());
            Response::check_condition_in(&err, data_out_wanted, descriptor)
        }
    };
    metrics::counter!("xtgt_commands_total", "opcode" => name).increment(1);
    metrics::histogram!("xtgt_command_duration_seconds", "opcode" => name)
        .record(start.elapsed().as_secs_f64());
    response
}

async fn run(
    server: &DeviceServer,
    nexus: &Nexus,
    req: &Request<'_>,
    lookup: Lookup,
) -> CommandResult {
    let flags = lookup.row().map_or(Flags(0), |e| e.flags);
    let Some(lu) = nexus.target.luns.get(&req.lun) else {
        // SPC-5 6.7.2, 6.33, 6.39: an inaccessible logical unit answers INQUIRY with
        // peripheral qualifier 011b, REPORT LUNS and REQUEST SENSE (the rows
        // with an unmapped handler), and terminates every other command
        // with LOGICAL UNIT NOT SUPPORTED.
        return match lookup.row().and_then(|e| Some((e, e.unmapped?))) {
            Some((row, unmapped)) => unmapped(nexus, row.check(req.cdb)?),
            None => Err(ScsiError::LunNotSupported),
        };
    };

    // SPC-5 5.14 / SAM-5 5.14: a pending unit attention terminates every
    // command except INQUIRY, REPORT LUNS and REQUEST SENSE.
    if !flags.contains(Flags::UA_ALLOWED) {
        if let Some(ua) = lu.spc.ua.take(nexus.id) {
            return Err(ua);
        }
    }

    let row = lookup.found()?;
    // SET TARGET PORT GROUPS exists only for a target with explicit ALUA.
    if row.flags.contains(Flags::EXPLICIT_ALUA) && !nexus.port.alua.explicit {
        return Err(ScsiError::InvalidOpcode);
    }
    let cdb = row.check(req.cdb)?;

    // SPC-5 5.16.2.4: a port in the standby or unavailable state serves
    // only the commands that state allows.
    nexus.port.state().check(row)?;
    // SPC-5 5.14.1, SBC-4 4.17: a command that conflicts with a
    // reservation of another I_T nexus ends with RESERVATION CONFLICT
    // before the handler runs (the row says how it is affected).
    lu.pr.check(nexus, row.pr, cdb)?;

    // SBC-4 5.25: with the removable medium ejected, medium access gets
    // NOT READY, MEDIUM NOT PRESENT (TEST UNIT READY included).
    if lu.medium_absent() && !row.flags.contains(Flags::NO_MEDIUM_OK) {
        return Err(ScsiError::MediumNotPresent);
    }

    // Before any CDB field is looked at; the block-I/O facade enforces the
    // same rule on every write.
    if row.flags.contains(Flags::WRITES_MEDIUM) {
        lu.check_writable()?;
    }

    let ctx = CommandCtx {
        row,
        nexus,
        lun: req.lun,
        lu,
        cdb,
        // Only a command with Data-Out sees it.
        data_out: if row.has_data_out() {
            req.data_out.clone()
        } else {
            Bytes::new()
        },
        expected_in: req.expected_in,
        tag: req.tag,
    };
    let fut = match row.handler {
        Handler::Lu(f) => f(&ctx),
        Handler::Copy(f) => f(&server.copy, &ctx),
    };
    match (CatchUnwind(fut)).await {
        Ok(result) => result,
        Err(_) => {
            // A handler bug must not take the session down: the command
            // fails with HARDWARE ERROR and the process keeps serving.
            tracing::error!(opcode = row.name, "command handler panicked");
            Err(ScsiError::InternalTargetFailure)
        }
    }
}

/// Polls a handler future, turning a panic into `Err`.
struct CatchUnwind<'a>(HandlerFuture<'a>);

impl Future for CatchUnwind<'_> {
    type Output = std::thread::Result<CommandResult>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = &mut self.get_mut().0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(r)) => Poll::Ready(Ok(r)),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_is_caught() {
        let fut: HandlerFuture<'static> = Box::pin(async {
            if std::hint::black_box(true) {
                panic!("handler bug");
            }
            Ok(Completion::good())
        });
        assert!(CatchUnwind(fut).await.is_err());
        let fut: HandlerFuture<'static> = Box::pin(async { Ok(Completion::good()) });
        assert!(matches!(CatchUnwind(fut).await, Ok(Ok(_))));
    }
}
