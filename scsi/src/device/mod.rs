//! The device server: LUN maps per target port, I_T nexus registry, unit
//! attentions, dispatch. This is the whole interface the transport uses.

mod dispatch;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;
mod tmf;
pub mod ua;

use crate::backend::Backend;
use crate::sense::ScsiError;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// SCSI status codes (SAM-5 5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    Good = 0x00,
    CheckCondition = 0x02,
    ConditionMet = 0x04,
    Busy = 0x08,
    ReservationConflict = 0x18,
    TaskSetFull = 0x28,
    TaskAborted = 0x40,
}

/// Task attribute from the transport (SAM-5 8.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskAttr {
    Untagged,
    #[default]
    Simple,
    Ordered,
    HeadOfQueue,
    Aca,
}

/// Static properties of a logical unit, from configuration.
#[derive(Debug, Clone)]
pub struct LuConfig {
    /// Logical block length in bytes: 512 or 4096.
    pub block_size: u32,
    pub read_only: bool,
    /// Stable unit serial number (VPD 0x80), derived from config identity.
    pub serial: String,
    /// Stable 64-bit NAA IEEE Registered identifier for VPD 0x83 (NAA 6 low bits
    /// are filled from this value); unique per LU, stable across restarts.
    pub naa_id: u64,
    pub vendor: String,
    pub product: String,
    pub revision: String,
}

/// Properties of the medium of a logical unit beyond [`LuConfig`] (kept
/// apart so that existing `LuConfig` literals stay valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediumConfig {
    /// Physical block length in bytes: a power of two multiple of the
    /// logical block length (READ CAPACITY(16) LOGICAL BLOCKS PER PHYSICAL
    /// BLOCK EXPONENT, SBC-4 5.20.2; granularities of VPD 0xB0).
    pub physical_block_size: u32,
    /// RMB (SPC-5 6.7.2): the medium can be ejected with START STOP UNIT
    /// LOEJ=1 and loaded again (SBC-4 5.25).
    pub removable: bool,
}

impl MediumConfig {
    /// The default for a LU of `block_size`-byte logical blocks: 4096-byte
    /// physical blocks (the granularity of file systems and pages backing
    /// the LU) or one logical block if larger; not removable.
    pub fn default_for(block_size: u32) -> Self {
        Self {
            physical_block_size: block_size.max(DEFAULT_PHYSICAL_BLOCK_SIZE),
            removable: false,
        }
    }
}

/// Default physical block length (see [`MediumConfig::default_for`]).
pub const DEFAULT_PHYSICAL_BLOCK_SIZE: u32 = 4096;

/// A logical unit: a backend plus its SCSI-visible identity and state.
pub struct LogicalUnit {
    pub config: LuConfig,
    /// Physical block length and removability.
    pub medium: MediumConfig,
    pub backend: Arc<dyn Backend>,
    /// The block-I/O facade's state: write lock and write hook
    /// (owned by `blockio`).
    pub(crate) io: crate::blockio::BlockIoState,
    /// State of the primary command set: unit attentions per I_T nexus,
    /// mode pages, PREVENT ALLOW MEDIUM REMOVAL (owned by `spc`).
    pub spc: crate::spc::SpcState,
    /// Persistent and SPC-2 reservations (owned by `pr`).
    pub pr: crate::pr::PrState,
}

impl LogicalUnit {
    pub fn new(config: LuConfig, backend: Arc<dyn Backend>) -> Self {
        let medium = MediumConfig::default_for(config.block_size);
        Self::with_medium(config, medium, backend)
    }

    /// A LU with explicit medium properties. A physical block length that is
    /// not a power of two multiple of the logical one (at most 2^15 logical
    /// blocks) is replaced by the logical block length.
    pub fn with_medium(config: LuConfig, medium: MediumConfig, backend: Arc<dyn Backend>) -> Self {
        let mut medium = medium;
        if !physical_block_size_valid(config.block_size, medium.physical_block_size) {
            medium.physical_block_size = config.block_size;
        }
        Self {
            config,
            medium,
            backend,
            io: Default::default(),
            spc: Default::default(),
            pr: Default::default(),
        }
    }

    /// WCE of the Caching mode page (SBC-4 6.5.5). When false, every write
    /// must be made durable before completion (treated as FUA).
    pub fn write_cache_enabled(&self) -> bool {
        self.spc.write_cache_enabled()
    }

    /// True when the medium is removable and currently ejected (START STOP
    /// UNIT LOEJ=1 START=0): medium access gets NOT READY, MEDIUM NOT PRESENT.
    pub fn medium_absent(&self) -> bool {
        self.medium.removable && self.spc.medium_ejected()
    }
}

/// `physical` is a power of two multiple of `logical` with at most 2^15
/// logical blocks per physical block (the 4-bit exponent, SBC-4 5.20.2).
pub fn physical_block_size_valid(logical: u32, physical: u32) -> bool {
    logical != 0
        && physical.is_multiple_of(logical)
        && (physical / logical).is_power_of_two()
        && (physical / logical).trailing_zeros() <= 15
}

/// A SCSI target port: one iSCSI target (name + portal group) and its LUN map.
pub struct TargetPort {
    /// SCSI name of the target (the IQN).
    pub name: String,
    /// RELATIVE TARGET PORT IDENTIFIER (VPD 0x83), unique per port, >= 1.
    pub relative_port_id: u16,
    /// TARGET PORT GROUP (VPD 0x83).
    pub port_group: u16,
    pub luns: BTreeMap<u64, Arc<LogicalUnit>>,
}

/// Source of unique I_T nexus ids (never 0).
static NEXT_NEXUS_ID: AtomicU64 = AtomicU64::new(1);

/// One I_T nexus (an iSCSI session): initiator port name + target port.
pub struct Nexus {
    /// Unique id of this nexus for per-nexus state (unit attentions, copy results).
    pub id: u64,
    /// Initiator name (IQN) without the ISID.
    pub initiator_name: String,
    /// SCSI initiator port name: "<iqn>,i,0x<isid hex>" (RFC 7143 13.?).
    pub initiator_port: String,
    pub target: Arc<TargetPort>,
    /// The target port the nexus came in through: its RELATIVE TARGET PORT
    /// IDENTIFIER, TARGET PORT GROUP, iSCSI TPGT and the target's port
    /// groups (ALUA, SPC-5 5.16).
    pub port: crate::alua::NexusPort,
}

/// One SCSI command as delivered by the transport.
pub struct Request<'a> {
    /// LUN from the transport, already decoded from the 8-byte SAM LUN field.
    pub lun: u64,
    /// The CDB (16 bytes from the BHS, or longer with an extended CDB AHS).
    pub cdb: &'a [u8],
    pub attr: TaskAttr,
    /// Transport tag (ITT) for logs.
    pub tag: u32,
    /// Data-Out, gathered by the transport (at most the expected transfer length).
    pub data_out: Bytes,
    /// The transport's expected data transfer length for Data-In, in bytes.
    pub expected_in: u32,
}

/// The completion of one command.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: Status,
    /// Fixed-format sense data, present with CHECK CONDITION.
    pub sense: Option<Bytes>,
    /// Data-In (may be longer than `expected_in`: the transport truncates and
    /// reports residual overflow).
    pub data_in: Bytes,
    /// The number of Data-Out bytes the CDB asked for, so the transport can
    /// compute residuals for writes.
    pub data_out_wanted: u32,
}

/// Task management functions (SAM-5 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TmfFunction {
    AbortTask,
    AbortTaskSet,
    ClearTaskSet,
    LunReset,
    TargetWarmReset,
    TargetColdReset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TmfResponse {
    Complete,
    LunDoesNotExist,
    NotSupported,
    Rejected,
}

/// The device server for all targets of one xtgt process.
pub struct DeviceServer {
    pub targets: Vec<Arc<TargetPort>>,
    /// EXTENDED COPY / RECEIVE COPY RESULTS for every LU (SPC-5 6.5).
    pub copy: crate::copy::CopyManager,
    /// Target port groups by target name ([`DeviceServer::set_alua`]); a
    /// target without an entry has one group holding its one port.
    alua: BTreeMap<String, Arc<crate::alua::TargetAlua>>,
}

impl Response {
    /// The completion of a command that failed with `err`: CHECK CONDITION
    /// with fixed-format sense.
    pub fn check_condition(err: &ScsiError, data_out_wanted: u32) -> Self {
        Self::check_condition_in(err, data_out_wanted, false)
    }

    /// CHECK CONDITION with sense in descriptor format when `descriptor`
    /// (the logical unit's D_SENSE, SPC-5 7.5.8), fixed format otherwise.
    pub fn check_condition_in(err: &ScsiError, data_out_wanted: u32, descriptor: bool) -> Self {
        Self {
            status: Status::CheckCondition,
            sense: Some(err.sense().encode(descriptor)),
            data_in: Bytes::new(),
            data_out_wanted,
        }
    }

    /// CHECK CONDITION for an error the transport detected itself, with
    /// sense in the format `lu`'s D_SENSE selects (SPC-5 7.5.8); fixed
    /// format when the command addresses no logical unit.
    pub fn check_condition_for(
        err: &ScsiError,
        data_out_wanted: u32,
        lu: Option<&LogicalUnit>,
    ) -> Self {
        let descriptor = lu.is_some_and(|lu| lu.spc.descriptor_sense());
        Self::check_condition_in(err, data_out_wanted, descriptor)
    }
}

impl DeviceServer {
    /// All target ports of this process (the copy manager resolves CSCDs
    /// across them, subject to the initiator's access).
    /// Until the transport installs its access rule
    /// ([`crate::copy::CopyManager::set_resolver`]), a CSCD resolves only to
    /// LUs of the target port the EXTENDED COPY came through.
    pub fn new(targets: Vec<Arc<TargetPort>>) -> Self {
        let copy = crate::copy::CopyManager::new(
            crate::copy::CopyLimits::default(),
            Arc::new(crate::copy::OwnTargetResolver::with_vpd83_designators()),
        );
        Self {
            targets,
            copy,
            alua: BTreeMap::new(),
        }
    }

    /// The target port groups of the target named `target` (before the
    /// server is shared).
    pub fn set_alua(&mut self, target: &str, alua: crate::alua::TargetAlua) {
        self.alua.insert(target.to_string(), Arc::new(alua));
    }

    /// The target port groups of `target`: as configured, or one
    /// active/optimized group (`port_group`) holding its one port.
    pub fn alua(&self, target: &TargetPort) -> Arc<crate::alua::TargetAlua> {
        self.alua.get(&target.name).cloned().unwrap_or_else(|| {
            Arc::new(crate::alua::TargetAlua::single(
                target.port_group,
                target.relative_port_id,
            ))
        })
    }

    /// Called by the transport when an I_T nexus is established (login of a
    /// normal session) through the target's default port (its
    /// `relative_port_id`, with that as the TPGT too). See
    /// [`DeviceServer::register_nexus_via`].
    pub fn register_nexus(
        &self,
        initiator_name: &str,
        initiator_port: &str,
        target: Arc<TargetPort>,
    ) -> Arc<Nexus> {
        let id = target.relative_port_id;
        self.register_nexus_via(initiator_name, initiator_port, target, id, id)
    }

    /// An I_T nexus through the target port `relative_port_id` (iSCSI
    /// target portal group `tpgt`). Establishes the POWER ON, RESET OR BUS
    /// DEVICE RESET unit attention for that nexus on every LU.
    pub fn register_nexus_via(
        &self,
        initiator_name: &str,
        initiator_port: &str,
        target: Arc<TargetPort>,
        relative_port_id: u16,
        tpgt: u16,
    ) -> Arc<Nexus> {
        let id = NEXT_NEXUS_ID.fetch_add(1, Ordering::Relaxed);
        let ident = crate::pr::NexusIdent::new(
            initiator_name,
            initiator_port,
            &target.name,
            target.relative_port_id,
        );
        for lu in target.luns.values() {
            lu.spc.register_nexus(id);
            lu.pr.nexus_registered(id, ident.clone());
        }
        let port = crate::alua::NexusPort::new(self.alua(&target), relative_port_id, tpgt);
        tracing::debug!(
            nexus = id,
            initiator_port,
            target = %target.name,
            relative_port_id,
            port_group = port.port_group,
            "I_T nexus registered"
        );
        Arc::new(Nexus {
            id,
            initiator_name: initiator_name.to_string(),
            initiator_port: initiator_port.to_string(),
            target,
            port,
        })
    }

    /// Called when the nexus ends (logout, connection loss, reinstatement).
    /// Forgets its unit attentions and releases its PREVENT (SPC-5 6.16:
    /// I_T nexus loss clears the prevention).
    pub fn unregister_nexus(&self, nexus: &Nexus) {
        for lu in nexus.target.luns.values() {
            lu.spc.unregister_nexus(nexus.id);
            // Its SPC-2 reservation goes; persistent ones stay (SPC-5).
            lu.pr.nexus_lost(nexus.id);
        }
        // SPC-5 6.20: held copy results belong to the I_T nexus.
        self.copy.nexus_lost(nexus.id);
        tracing::debug!(nexus = nexus.id, "I_T nexus unregistered");
    }

    /// Execute one command. Never panics on any CDB or data.
    pub async fn execute(&self, nexus: &Nexus, req: Request<'_>) -> Response {
        dispatch::execute(self, nexus, req).await
    }

    /// Task management side effects inside the device server (unit
    /// attentions after resets, clearing state). The transport aborts its
    /// own in-flight tasks itself.
    pub async fn task_management(&self, nexus: &Nexus, f: TmfFunction, lun: u64) -> TmfResponse {
        tmf::task_management(self, nexus, f, lun).await
    }

    /// ABORT TASK of the command with task tag `tag` on `nexus`, before the
    /// transport drops it: a copy operation it runs stops at its next chunk
    /// boundary and this resolves once the copy's work has ended (SPC-5
    /// 5.17.4.6), so the TMF response follows the copy's end. True if such
    /// a copy ran.
    pub async fn abort_task(&self, nexus: &Nexus, tag: u32) -> bool {
        let stopped = self.copy.control.stop_task(nexus.id, tag);
        if stopped.is_empty() {
            return false;
        }
        crate::copy::CopyControl::wait(&stopped, crate::copy::control::STOP_WAIT).await;
        true
    }

    /// The I_T nexus is going (connection loss, logout): its foreground
    /// copies stop at their next chunk boundary, and this resolves once
    /// their work has ended, before the transport drops its tasks.
    /// Background (IMMED) copies go on (SPC-5 table 109).
    pub async fn abort_nexus_tasks(&self, nexus: &Nexus) {
        let id = nexus.id;
        let stopped = self
            .copy
            .control
            .stop_where(crate::copy::StopCause::TaskAbort, |c| {
                c.nexus == id && !c.immed
            });
        if !stopped.is_empty() {
            crate::copy::CopyControl::wait(&stopped, crate::copy::control::STOP_WAIT).await;
        }
    }

    /// Shutdown: every copy operation stops at its next chunk boundary
    /// (whole chunks finish; a waiting command gets COPY ABORTED, COMMAND
    /// CLEARED BY DEVICE SERVER). Returns without waiting.
    pub fn stop_copies(&self) {
        self.copy.stop_all();
    }

    /// Wait until no copy operation runs (background ones included), at
    /// most `limit`; false if some still do.
    pub async fn copies_idle(&self, limit: std::time::Duration) -> bool {
        self.copy.control.wait_idle(limit).await
    }

    /// Flush every backend of every target port once (shutdown).
    pub async fn flush_all(&self) {
        let mut seen: Vec<*const LogicalUnit> = Vec::new();
        for lu in self.targets.iter().flat_map(|t| t.luns.values()) {
            let p = Arc::as_ptr(lu);
            if seen.contains(&p) {
                continue;
            }
            seen.push(p);
            // A failure is logged by the facade; shutdown goes on.
            let _ = lu.flush(None).await;
        }
    }

    /// CAPACITY DATA HAS CHANGED for every I_T nexus of `lu` (SBC-4:
    /// after the medium was resized).
    pub fn notify_capacity_changed(&self, lu: &LogicalUnit) {
        lu.spc
            .ua
            .establish_all(&ScsiError::CapacityDataChanged, None);
    }

    /// REPORTED LUNS DATA HAS CHANGED for every I_T nexus of every LU of
    /// `target` (SPC-5 6.33, after the LUN inventory changed).
    pub fn notify_luns_changed(&self, target: &TargetPort) {
        for lu in target.luns.values() {
            lu.spc
                .ua
                .establish_all(&ScsiError::ReportedLunsDataChanged, None);
        }
    }
}
