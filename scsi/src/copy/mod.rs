//! The copy manager: EXTENDED COPY (LID1) and RECEIVE COPY RESULTS
//! (SPC-5 6.5, 6.19, 6.20, 6.22; SPC-4 6.3, 6.4, 6.18).
//!
//! parse (`params`) -> resolve and validate (`plan`) -> run in chunks
//! (`engine`, `native`) -> record (`results`). Nothing is read or written
//! before the whole parameter list is parsed and every CSCD a segment names
//! is resolved, authorized and range-checked. One [`CopyLimits`] feeds the
//! checks, RECEIVE COPY OPERATING PARAMETERS and VPD 0x8F (`vpd`).
//!
//! Every running copy operation of any kind (EXTENDED COPY, POPULATE
//! TOKEN, WRITE USING TOKEN) is registered in `control` (busy list ids,
//! COPY OPERATION ABORT and RECEIVE COPY STATUS (LID4) in `operations`,
//! task management, shutdown); its work stops only between chunks.
//!
//! The device server holds one [`CopyManager`]; the opcode table's copy
//! rows hand it to [`extended_copy`] (0x83/0x00), [`receive_copy_status`]
//! (0x84/0x00), [`receive_copy_operating_parameters`] (0x84/0x03) and
//! [`receive_copy_failure_details`] (0x84/0x04).

pub mod control;
pub mod engine;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod lifecycle_tests;
pub mod native;
pub mod odx;
mod operations;
pub mod params;
pub mod pieces;
pub mod plan;
pub mod resolve;
pub mod results;
pub mod sched;
#[cfg(test)]
pub(crate) mod testutil;
pub mod threads;
pub mod token;
pub mod vpd;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod wired_tests;

pub use control::{CopyControl, CopyEntry, CopyKind, NewCopy, Registration, StopCause};
pub use engine::{CopyProgress, CopyTally};
pub use params::{CopyLimits, Designator, ListIdUsage};
pub use plan::{CopyPlan, PlannedSegment};
pub use resolve::{
    vpd83_designators, AclResolver, ChapIdentity, CscdResolver, DesignatorSource, InitiatorFilter,
    OwnTargetResolver, PortAccess, Requester, Resolution, ResolvedLu, TargetAccess,
};
pub use results::{CopyCommand, CopyResults, RecordView};

use crate::cdb::opcodes::{THIRD_PARTY_COPY_IN, THIRD_PARTY_COPY_OUT};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};
use crate::wire::be_uint;
use std::sync::Arc;
use std::time::Instant;

/// One copy manager for all LUs of the device server.
pub struct CopyManager {
    pub limits: CopyLimits,
    pub results: CopyResults,
    resolver: std::sync::RwLock<Arc<dyn CscdResolver>>,
    /// Every running copy operation, of every kind (busy list ids, COPY
    /// OPERATION ABORT, task management, shutdown).
    pub control: Arc<CopyControl>,
    /// Admission of copies and of their chunks (foreground first, quotas).
    sched: Arc<sched::CopyScheduler>,
    /// ROD tokens (POPULATE TOKEN, WRITE USING TOKEN); `None` only when
    /// the OS random generator could not give a MAC key (the token
    /// commands then answer HARDWARE ERROR).
    odx: Option<Arc<token::Odx>>,
}

impl CopyManager {
    /// A copy manager with the default ODX configuration.
    pub fn new(limits: CopyLimits, resolver: Arc<dyn CscdResolver>) -> Self {
        Self::with_odx(limits, resolver, odx::OdxConfig::default())
    }

    /// A copy manager with the ODX configuration `odx`, on the system clock.
    pub fn with_odx(
        limits: CopyLimits,
        resolver: Arc<dyn CscdResolver>,
        odx: odx::OdxConfig,
    ) -> Self {
        Self::with_odx_clock(limits, resolver, odx, Arc::new(tokens::SystemClock::new()))
    }

    /// As [`CopyManager::with_odx`], with token time from `clock` (tests
    /// move a [`tokens::ManualClock`]).
    pub fn with_odx_clock(
        limits: CopyLimits,
        resolver: Arc<dyn CscdResolver>,
        odx: odx::OdxConfig,
        clock: Arc<dyn tokens::Clock>,
    ) -> Self {
        let sched = Arc::new(sched::CopyScheduler::new(sched::SchedConfig {
            max_copies: usize::from(limits.total_concurrent_copies.max(1)),
            chunk_idle: u64::from(limits.chunk_size.max(4096)),
            ..sched::SchedConfig::default()
        }));
        let odx = match token::Odx::new(odx, clock) {
            Ok(o) => Some(Arc::new(o)),
            Err(e) => {
                tracing::error!(error = %e, "no ROD token MAC key: ODX token commands disabled");
                None
            }
        };
        Self {
            limits,
            results: CopyResults::default(),
            resolver: std::sync::RwLock::new(resolver),
            control: Arc::new(CopyControl::default()),
            sched,
            odx,
        }
    }

    /// The same copy manager with the copy scheduler's rules `cfg` (the
    /// `[copy]` section).
    pub fn with_scheduler(mut self, cfg: sched::SchedConfig) -> Self {
        self.sched = Arc::new(sched::CopyScheduler::new(cfg));
        self
    }

    /// The copy scheduler.
    pub fn scheduler(&self) -> &Arc<sched::CopyScheduler> {
        &self.sched
    }

    /// The ROD token state (HARDWARE ERROR when there is none).
    pub fn odx(&self) -> Result<&Arc<token::Odx>, ScsiError> {
        self.odx.as_ref().ok_or(ScsiError::InternalTargetFailure)
    }

    /// VPD 0x8F descriptors for `lu`: Block Device ROD Token Limits first,
    /// the EXTENDED COPY descriptors, ROD Token Features, Supported ROD
    /// Types (per LU), General Copy Operations (SPC-5 ascending order).
    pub fn third_party_copy_descriptors(&self, lu: &crate::device::LogicalUnit) -> Vec<u8> {
        let bs = lu.block_size();
        let odx_limits = match &self.odx {
            Some(o) => o.config.limits.clone(),
            None => odx::OdxLimits::default(),
        };
        vpd::third_party_copy_descriptors(
            &self.limits,
            &table_commands(),
            &odx::vpd::block_device_rod_token_limits(&odx_limits, bs),
            &[
                odx::vpd::rod_token_features(&odx_limits, bs),
                odx::vpd::supported_rod_types(&token::Odx::rod_types(lu)),
            ]
            .concat(),
        )
    }

    /// A copy of any kind with this list id runs on the nexus: the list id
    /// space is shared by every copy command (SPC-5 5.17.4.2).
    fn list_id_busy(&self, nexus: u64, list_id: u32) -> Result<(), ScsiError> {
        if self.control.busy(nexus, list_id) {
            return Err(ScsiError::OperationInProgress);
        }
        Ok(())
    }

    /// Install the authorization rule (e.g. an [`AclResolver`] built from
    /// the iSCSI targets' ACLs and CHAP once they are known).
    pub fn set_resolver(&self, resolver: Arc<dyn CscdResolver>) {
        *self.resolver.write().unwrap_or_else(|p| p.into_inner()) = resolver;
    }

    fn resolver(&self) -> Arc<dyn CscdResolver> {
        self.resolver
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// EXTENDED COPY (LID1), CDB 0x83/0x00: PARAMETER LIST LENGTH at 10-13;
    /// zero means nothing to do (GOOD).
    pub async fn extended_copy(&self, ctx: &CommandCtx<'_>) -> CommandResult {
        metrics::counter!("xtgt_copy_commands_total", "type" => "extended_copy_lid1").increment(1);
        let len = cdb_u32(ctx.cdb, 10)?;
        if len == 0 {
            return Ok(Completion::good());
        }
        let data = ctx.parameter_list(len);
        let nexus = ctx.nexus.id;
        let list = match params::parse_lid1(&data, &self.limits) {
            Ok(l) => l,
            Err(e) => {
                self.hold_early_failure(nexus, &data, &e);
                return Err(e);
            }
        };
        let resolver = self.resolver();
        let cx = plan::PlanContext {
            receiving_lu: ctx.lu,
            requester: resolve::Requester {
                initiator_name: &ctx.nexus.initiator_name,
                target: &ctx.nexus.target,
            },
            resolver: &*resolver,
            limits: &self.limits,
        };
        let plan = match plan::build_plan(&list, &cx)
            .and_then(|p| plan::check_reservations(&p, ctx.nexus).map(|()| p))
        {
            Ok(p) => p,
            Err(e) => {
                self.hold_early_failure(nexus, &data, &e);
                return Err(e);
            }
        };
        let list_id = u32::from(plan.list_identifier);
        let mut lus = vec![ctx.lu.config.naa_id];
        for s in &plan.segments {
            for id in [s.source.config.naa_id, s.destination.config.naa_id] {
                if !lus.contains(&id) {
                    lus.push(id);
                }
            }
        }
        // Declared before the record's guard: dropped after it, so the
        // list id stays busy until the result is recorded.
        let registration = self.control.register(NewCopy {
            kind: CopyKind::ExtendedCopy,
            nexus,
            list_id: (plan.list_id_usage != ListIdUsage::NoListId).then_some(list_id),
            tag: ctx.tag,
            lus,
            immed: false,
        })?;
        let entry = registration.entry.clone();
        let progress = entry.progress.clone();
        let op = match self
            .sched
            .enqueue(ctx.lu, &ctx.nexus.initiator_name, plan.priority)
        {
            Ok(op) => op,
            Err(e) => {
                self.hold_early_failure(nexus, &data, &e);
                return Err(e);
            }
        };
        let ticket =
            self.results
                .begin_tracked(nexus, list_id, plan.list_id_usage, progress.clone())?;
        // If the command is aborted (task management, connection loss) the
        // future is dropped: the guard still ends the record.
        let mut running = Running {
            results: &self.results,
            ticket: Some(ticket),
        };
        let started = Instant::now();
        let mut tally = CopyTally::default();
        let outcome = async {
            // A stop request also ends the wait for the scheduler's admission.
            tokio::select! {
                () = op.admitted() => {}
                _ = entry.stop_requested() => {
                    return Err(plan.segments.first().map_or(
                        ScsiError::CopyCleared { information: None, segment: None },
                        engine::stopped,
                    ));
                }
            };
            engine::run_plan(&plan, &self.limits, &progress, &mut tally, &op).await
        }
        .await
        .map_err(|e| match e {
            ScsiError::CopyCleared { .. } => entry.stopped_error(e),
            e => e,
        });
        drop(op);
        running.finish(&outcome);
        drop(registration);
        log_copy(ctx, &plan, &progress, &tally, started, &outcome);
        outcome.map(|()| Completion::good())
    }

    /// LIST ID USAGE 00b: a copy refused before it started still leaves a
    /// result (COPY STATUS "completed with error", FAILURE DETAILS).
    fn hold_early_failure(&self, nexus: u64, data: &[u8], e: &ScsiError) {
        if let Ok(h) = params::parse_lid1_header(data) {
            if h.list_id_usage == ListIdUsage::HoldResults && *e != ScsiError::OperationInProgress {
                self.results
                    .record_failure(nexus, u32::from(h.list_identifier), e);
            }
        }
    }

    /// RECEIVE COPY STATUS (LID1), 0x84/0x00 (SPC-5 6.20).
    pub async fn receive_copy_status(&self, ctx: &CommandCtx<'_>) -> CommandResult {
        let list_id = lid1_list_id(ctx.cdb)?;
        let data = self.results.copy_status(ctx.nexus.id, list_id);
        in_data(ctx, "receive_copy_status_lid1", data)
    }

    /// RECEIVE COPY OPERATING PARAMETERS, 0x84/0x03 (SPC-5 6.22).
    pub async fn receive_copy_operating_parameters(&self, ctx: &CommandCtx<'_>) -> CommandResult {
        let data = results::operating_parameters_payload(&self.limits);
        in_data(ctx, "receive_copy_operating_parameters", Ok(data))
    }

    /// RECEIVE COPY FAILURE DETAILS (LID1), 0x84/0x04 (SPC-5 6.19).
    pub async fn receive_copy_failure_details(&self, ctx: &CommandCtx<'_>) -> CommandResult {
        let list_id = lid1_list_id(ctx.cdb)?;
        let data = self.results.failure_details(ctx.nexus.id, list_id);
        in_data(ctx, "receive_copy_failure_details", data)
    }

    /// The I_T nexus ended: forget its held results (ROD tokens live on;
    /// background copies go on, SPC-5 table 109, their results unheld).
    pub fn nexus_lost(&self, nexus_id: u64) {
        self.results.nexus_lost(nexus_id);
        if let Some(o) = &self.odx {
            o.nexus_lost(nexus_id);
        }
    }

    /// The LU was reset or removed: its tokens are cancelled (0x23/0x08)
    /// and every copy operation that reads or writes it stops as if by
    /// COPY OPERATION ABORT (SPC-5 table 109). Returns those copies (to
    /// wait for).
    pub fn lu_reset(&self, lu: &crate::device::LogicalUnit) -> Vec<Arc<CopyEntry>> {
        if let Some(o) = &self.odx {
            o.cancel_lu(lu);
        }
        self.control.stop_lu(lu.config.naa_id, StopCause::Reset)
    }

    /// Stop every copy operation at its next chunk boundary (shutdown).
    pub fn stop_all(&self) -> Vec<Arc<CopyEntry>> {
        self.control.stop_all(StopCause::Shutdown)
    }

    /// Expire idle ROD tokens and release their snapshots (for a periodic
    /// task; the token commands sweep on their own).
    pub fn sweep_tokens(&self) {
        if let Some(o) = &self.odx {
            o.sweep_expired();
        }
    }

    /// POPULATE TOKEN, 0x83/0x10.
    pub async fn populate_token(&self, ctx: &CommandCtx<'_>) -> CommandResult {
        self.list_id_busy(ctx.nexus.id, token_list_id(ctx.cdb))?;
        self.odx()?.populate_token(ctx, &self.control).await
    }

    /// WRITE USING TOKEN, 0x83/0x11.
    pub async fn write_using_token(&self, ctx: &CommandCtx<'_>) -> CommandResult {
        self.list_id_busy(ctx.nexus.id, token_list_id(ctx.cdb))?;
        let resolver = self.resolver();
        let chunk = u64::from(self.limits.chunk_size);
        self.odx()?
            .write_using_token(ctx, &*resolver, chunk, &self.control, &self.sched)
            .await
    }
}

/// LIST IDENTIFIER (bytes 6-9) of a POPULATE TOKEN / WRITE USING TOKEN CDB
/// (the table guarantees 16 bytes; 0 otherwise).
fn token_list_id(cdb: &[u8]) -> u32 {
    be_uint(cdb, 6, 4).map_or(0, |v| v as u32)
}

/// Opcode-table handler: POPULATE TOKEN, 0x83/0x10.
pub async fn populate_token(m: &CopyManager, ctx: &CommandCtx<'_>) -> CommandResult {
    m.populate_token(ctx).await
}

/// Opcode-table handler: WRITE USING TOKEN, 0x83/0x11.
pub async fn write_using_token(m: &CopyManager, ctx: &CommandCtx<'_>) -> CommandResult {
    m.write_using_token(ctx).await
}

/// Opcode-table handler: COPY OPERATION ABORT, 0x83/0x1C.
pub async fn copy_operation_abort(m: &CopyManager, ctx: &CommandCtx<'_>) -> CommandResult {
    m.copy_operation_abort(ctx).await
}

/// Opcode-table handler: RECEIVE COPY STATUS (LID4), 0x84/0x05.
pub async fn receive_copy_status_lid4(m: &CopyManager, ctx: &CommandCtx<'_>) -> CommandResult {
    m.receive_copy_status_lid4(ctx).await
}

/// Opcode-table handler: RECEIVE ROD TOKEN INFORMATION, 0x84/0x07.
pub async fn receive_rod_token_information(m: &CopyManager, ctx: &CommandCtx<'_>) -> CommandResult {
    m.odx()?.receive_rod_token_information(ctx).await
}

/// Opcode-table handler: REPORT ALL ROD TOKENS, 0x84/0x08.
pub async fn report_all_rod_tokens(m: &CopyManager, ctx: &CommandCtx<'_>) -> CommandResult {
    m.odx()?.report_all_rod_tokens(ctx).await
}

/// Ends a copy's record exactly once, also when the command's future is
/// dropped mid-copy (then as ABORTED COMMAND).
struct Running<'a> {
    results: &'a CopyResults,
    ticket: Option<results::CopyTicket>,
}

impl Running<'_> {
    fn finish(&mut self, outcome: &Result<(), ScsiError>) {
        if let Some(t) = self.ticket.take() {
            self.results.finish(t, outcome);
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if self.ticket.is_some() {
            tracing::info!("EXTENDED COPY aborted before completion");
        }
        self.finish(&Err(ScsiError::Aborted));
    }
}

/// Opcode-table handler: EXTENDED COPY (LID1), 0x83/0x00.
pub async fn extended_copy(m: &CopyManager, ctx: &CommandCtx<'_>) -> CommandResult {
    m.extended_copy(ctx).await
}

/// Opcode-table handler: RECEIVE COPY STATUS (LID1), 0x84/0x00.
pub async fn receive_copy_status(m: &CopyManager, ctx: &CommandCtx<'_>) -> CommandResult {
    m.receive_copy_status(ctx).await
}

/// Opcode-table handler: RECEIVE COPY OPERATING PARAMETERS, 0x84/0x03.
pub async fn receive_copy_operating_parameters(
    m: &CopyManager,
    ctx: &CommandCtx<'_>,
) -> CommandResult {
    m.receive_copy_operating_parameters(ctx).await
}

/// Opcode-table handler: RECEIVE COPY FAILURE DETAILS (LID1), 0x84/0x04.
pub async fn receive_copy_failure_details(m: &CopyManager, ctx: &CommandCtx<'_>) -> CommandResult {
    m.receive_copy_failure_details(ctx).await
}

/// The LIST IDENTIFIER (byte 2) of a LID1 THIRD PARTY COPY IN CDB.
fn lid1_list_id(cdb: &[u8]) -> Result<u32, ScsiError> {
    be_uint(cdb, 2, 1)
        .map(|v| v as u32)
        .ok_or(ScsiError::InvalidFieldInCdb(FieldPointer::byte(2)))
}

/// Parameter data of a THIRD PARTY COPY IN command cut to its ALLOCATION
/// LENGTH (bytes 10-13), counted by `kind`.
fn in_data(
    ctx: &CommandCtx<'_>,
    kind: &'static str,
    data: Result<bytes::Bytes, ScsiError>,
) -> CommandResult {
    let allocation_length = cdb_u32(ctx.cdb, 10)?;
    metrics::counter!("xtgt_copy_commands_total", "type" => kind).increment(1);
    let mut data = data?;
    data.truncate(usize::try_from(allocation_length).unwrap_or(usize::MAX));
    Ok(Completion::data(data))
}

/// The (opcode, service action) pairs of the opcode table's THIRD PARTY
/// COPY rows (0x83, 0x84): what VPD 0x8F lists as supported commands, and
/// what REPORT SUPPORTED OPERATION CODES reports from the same table.
pub fn table_commands() -> Vec<(u8, u8)> {
    crate::cdb::TABLE
        .iter()
        .filter(|e| e.opcode == THIRD_PARTY_COPY_OUT || e.opcode == THIRD_PARTY_COPY_IN)
        .filter_map(|e| Some((e.opcode, u8::try_from(e.service_action?).ok()?)))
        .collect()
}

/// A 4-byte CDB field (PARAMETER LIST LENGTH, ALLOCATION LENGTH).
fn cdb_u32(cdb: &[u8], at: usize) -> Result<u32, ScsiError> {
    be_uint(cdb, at, 4)
        .map(|v| v as u32)
        .ok_or(ScsiError::InvalidFieldInCdb(FieldPointer::byte(0)))
}

/// One line per finished copy: source, destination, bytes, method,
/// duration, outcome.
fn log_copy(
    ctx: &CommandCtx<'_>,
    plan: &CopyPlan,
    progress: &CopyProgress,
    tally: &CopyTally,
    started: Instant,
    outcome: &Result<(), ScsiError>,
) {
    let mut sources: Vec<&str> = plan
        .segments
        .iter()
        .map(|s| s.source.config.serial.as_str())
        .collect();
    sources.dedup();
    let mut destinations: Vec<&str> = plan
        .segments
        .iter()
        .map(|s| s.destination.config.serial.as_str())
        .collect();
    destinations.dedup();
    let outcome_text = match outcome {
        Ok(()) => "ok".to_string(),
        Err(e) => e.to_string(),
    };
    tracing::info!(
        initiator = %ctx.nexus.initiator_port,
        lun = ctx.lun,
        list_id = plan.list_identifier,
        source = %sources.join(","),
        destination = %destinations.join(","),
        segments = plan.segments.len(),
        segments_done = progress.segments_processed(),
        bytes = progress.bytes_transferred(),
        method = tally.method(),
        duration_ms = started.elapsed().as_millis() as u64,
        outcome = %outcome_text,
        "EXTENDED COPY finished"
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::params::build::*;
    use super::testutil::{lu, naa_of, resolver};
    use super::*;
    use crate::device::{LogicalUnit, Nexus};
    use bytes::Bytes;

    fn xcopy_cdb(len: u32) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[0] = 0x83;
        c[10..14].copy_from_slice(&len.to_be_bytes());
        c
    }

    fn rcr_cdb(sa: u8, list_id: u8, alloc: u32) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[0] = 0x84;
        c[1] = sa;
        c[2] = list_id;
        c[10..14].copy_from_slice(&alloc.to_be_bytes());
        c
    }

    struct Env {
        nexus: Nexus,
        a: Arc<LogicalUnit>,
        mgr: CopyManager,
    }

    fn env() -> Env {
        let a = lu(1, 512, 8192, false);
        let r = resolver(&[&a], &[]);
        let target = r.targets[0].target.clone();
        Env {
            nexus: Nexus {
                id: 42,
                initiator_name: "iqn.test".into(),
                initiator_port: "iqn.test,i,0x1".into(),
                target,
                port: Default::default(),
            },
            a,
            mgr: CopyManager::new(CopyLimits::default(), Arc::new(r)),
        }
    }

    async fn run(e: &Env, cdb: &[u8], data: Vec<u8>) -> CommandResult {
        // Through the opcode table, as dispatch would: the row's own
        // handler gets the copy manager.
        let (row, cdb) = crate::cdb::parse(cdb)?;
        let ctx = CommandCtx {
            row,
            nexus: &e.nexus,
            lun: 0,
            lu: &e.a,
            cdb,
            data_out: Bytes::from(data),
            expected_in: 1024,
            tag: 0,
        };
        match row.handler {
            crate::cdb::Handler::Copy(f) => f(&e.mgr, &ctx).await,
            crate::cdb::Handler::Lu(_) => panic!("{} is not a copy command", row.name),
        }
    }

    /// libiscsi ReceiveCopyResults.CopyStatus and ExtendedCopy.Simple on
    /// one LU: no copy -> INVALID FIELD IN CDB; copy with list id 1 and
    /// usage 00b -> GOOD, data moved, COPY STATUS "completed", 1 segment,
    /// 1 MiB.
    #[tokio::test]
    async fn libiscsi_copy_status_flow() {
        let e = env();
        let err = run(&e, &rcr_cdb(0, 1, 1024), vec![]).await.unwrap_err();
        assert_eq!(err, ScsiError::InvalidFieldInCdb(FieldPointer::byte(2)));
        let pattern = Bytes::from(vec![b'A'; 2048 * 512]);
        e.a.backend.write(0, pattern.clone(), false).await.unwrap();
        let p = list(
            1,
            0,
            &[cscd_naa(naa_of(&e.a), 512)],
            &[seg_b2b(false, 0, 0, 2048, 0, 8192 - 2048)],
        );
        run(&e, &xcopy_cdb(p.len() as u32), p).await.unwrap();
        assert_eq!(
            e.a.backend
                .read((8192 - 2048) * 512, 2048 * 512)
                .await
                .unwrap(),
            pattern
        );
        let st = run(&e, &rcr_cdb(0, 1, 1024), vec![]).await.unwrap();
        assert_eq!(&st.data[..], &[0, 0, 0, 8, 1, 0, 1, 0, 0, 0x10, 0, 0]);
        // ALLOCATION LENGTH truncates.
        let st = run(&e, &rcr_cdb(0, 1, 5), vec![]).await.unwrap();
        assert_eq!(st.data.len(), 5);
        e.mgr.nexus_lost(42);
        assert!(run(&e, &rcr_cdb(0, 1, 1024), vec![]).await.is_err());
    }

    #[tokio::test]
    async fn zero_length_is_good_and_errors_are_held_for_00b() {
        let e = env();
        assert!(run(&e, &xcopy_cdb(0), vec![]).await.is_ok());
        let p = list(
            3,
            0,
            &[cscd_naa(naa_of(&e.a), 512)],
            &[seg_b2b(false, 0, 1, 1, 0, 0)],
        );
        let err = run(&e, &xcopy_cdb(p.len() as u32), p).await.unwrap_err();
        assert_eq!(
            err.code(),
            (crate::sense::SenseKey::CopyAborted, 0x08, 0x04)
        );
        let st = run(&e, &rcr_cdb(0, 3, 1024), vec![]).await.unwrap();
        assert_eq!(st.data[4], 2);
        let fd = run(&e, &rcr_cdb(4, 3, 1024), vec![]).await.unwrap();
        assert_eq!(fd.data[56], 0x02);
        // Descriptor format: response code, key, ASC, ASCQ.
        assert_eq!(&fd.data[60..64], &[0x72, 0x0A, 0x08, 0x04]);
        // Parameter data cut short by the transport: PARAMETER LIST LENGTH ERROR.
        let p = list(
            4,
            0b10,
            &[cscd_naa(naa_of(&e.a), 512)],
            &[seg_b2b(false, 0, 0, 1, 0, 1)],
        );
        let n = p.len() as u32;
        let err = run(&e, &xcopy_cdb(n), p[..40].to_vec()).await.unwrap_err();
        assert_eq!(err, ScsiError::ParameterListLengthError);
    }

    /// Every libiscsi SCSI.ExtendedCopy expectation, through the manager,
    /// with the exact (sense key, ASC, ASCQ) xtgt answers (each one of
    /// the values libiscsi accepts).
    #[tokio::test]
    async fn libiscsi_extended_copy_expectations() {
        use crate::sense::SenseKey::{CopyAborted, IllegalRequest};
        let e = env();
        let blocks = 8192u64;
        let c = cscd_naa(naa_of(&e.a), 512);
        let seg = seg_b2b(false, 0, 0, 2048, 0, blocks - 2048);
        let code = |r: CommandResult| r.unwrap_err().code();
        // DescrType: FC N_Port_Name CSCD, stream-to-stream segment.
        let mut fc = c.clone();
        fc[0] = 0xE0;
        let p = list(1, 0, &[fc], std::slice::from_ref(&seg));
        assert_eq!(
            code(run(&e, &xcopy_cdb(p.len() as u32), p).await),
            (IllegalRequest, 0x26, 0x07)
        );
        let mut s2s = vec![0u8; 20];
        s2s[0] = 0x03;
        s2s[3] = 0x10;
        let p = list(1, 0, std::slice::from_ref(&c), &[s2s]);
        assert_eq!(
            code(run(&e, &xcopy_cdb(p.len() as u32), p).await),
            (IllegalRequest, 0x26, 0x09)
        );
        // ValidTgtDescr: reserved LU ID TYPE is ignored (SPC-4 and later).
        let mut luid3 = c.clone();
        luid3[1] = 0xC0;
        let p = list(1, 0, &[luid3], std::slice::from_ref(&seg));
        assert!(run(&e, &xcopy_cdb(p.len() as u32), p).await.is_ok());
        // ValidSegDescr: unknown destination CSCD index; beyond the end.
        let p = list(
            1,
            0,
            std::slice::from_ref(&c),
            &[seg_b2b(false, 0, 1, 2048, 0, blocks - 2048)],
        );
        // SPC-4: a segment naming a CSCD the list does not hold names an
        // unreachable copy target.
        assert_eq!(
            code(run(&e, &xcopy_cdb(p.len() as u32), p).await),
            (CopyAborted, 0x08, 0x04)
        );
        let p = list(
            1,
            0,
            std::slice::from_ref(&c),
            &[seg_b2b(false, 0, 0, 2048, 0, blocks - 1)],
        );
        // Beyond the end: COPY ABORTED, NO ADDITIONAL SENSE INFORMATION
        // (plan::RANGE_ABORT) with the destination's own LOGICAL BLOCK
        // ADDRESS OUT OF RANGE forwarded.
        let err = run(&e, &xcopy_cdb(p.len() as u32), p).await.unwrap_err();
        assert_eq!(err.code(), (CopyAborted, 0x00, 0x00));
        let fwd = err.sense().forwarded.unwrap();
        assert_eq!(
            (fwd.source, fwd.sense.key, fwd.sense.asc, fwd.sense.ascq),
            (
                crate::sense::CopyEnd::Destination,
                IllegalRequest,
                0x21,
                0x00
            )
        );
        // DescrLimits: 65 CSCDs, 65 segments, list longer than advertised.
        let p = list(1, 0, &vec![c.clone(); 65], std::slice::from_ref(&seg));
        assert_eq!(
            code(run(&e, &xcopy_cdb(p.len() as u32), p).await),
            (IllegalRequest, 0x26, 0x06)
        );
        let p = list(2, 0, std::slice::from_ref(&c), &vec![seg.clone(); 65]);
        assert_eq!(
            code(run(&e, &xcopy_cdb(p.len() as u32), p).await),
            (IllegalRequest, 0x26, 0x08)
        );
        let p = list(3, 0, &vec![c.clone(); 65], &vec![seg.clone(); 219]);
        assert_eq!(
            code(run(&e, &xcopy_cdb(p.len() as u32), p).await),
            (IllegalRequest, 0x1A, 0x00)
        );
    }

    /// A copy whose command is dropped mid-way (abort, connection loss)
    /// does not leave its list identifier "in use" forever.
    #[tokio::test]
    async fn dropped_copy_ends_its_record() {
        use crate::backend::{FaultBackend, MemoryBackend};
        let fault = Arc::new(FaultBackend::new(Arc::new(MemoryBackend::new(512 * 64))));
        let a = super::testutil::lu_on(1, 512, false, fault.clone());
        let mut e = env();
        let r = resolver(&[&a], &[]);
        e.mgr = CopyManager::new(CopyLimits::default(), Arc::new(r));
        e.a = a;
        fault.hold();
        let p = list(
            5,
            0,
            &[cscd_naa(naa_of(&e.a), 512)],
            &[seg_b2b(false, 0, 0, 8, 0, 16)],
        );
        let cdb = xcopy_cdb(p.len() as u32);
        let t = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            run(&e, &cdb, p.clone()),
        );
        assert!(t.await.is_err(), "held backend: the copy cannot finish");
        fault.release();
        let st = run(&e, &rcr_cdb(0, 5, 1024), vec![]).await.unwrap();
        assert_eq!(st.data[4], 2, "ended with error");
        // The list identifier is free again.
        assert!(run(&e, &cdb, p).await.is_ok());
        let st = run(&e, &rcr_cdb(0, 5, 1024), vec![]).await.unwrap();
        assert_eq!(st.data[4], 1);
    }

    #[tokio::test]
    async fn operating_parameters_and_unknown_service_action() {
        let e = env();
        let op = run(&e, &rcr_cdb(3, 0, 1024), vec![]).await.unwrap();
        assert_eq!(
            op.data,
            results::operating_parameters_payload(&CopyLimits::default())
        );
        let err = run(&e, &rcr_cdb(0x06, 0, 1024), vec![]).await.unwrap_err();
        assert_eq!(err, ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 4)));
    }
}
