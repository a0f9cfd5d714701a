//! Per-nexus copy operation records and the RECEIVE COPY RESULTS payloads
//! (SPC-4 6.18; SPC-5 6.20 COPY STATUS, 6.22 OPERATING PARAMETERS, 6.19
//! FAILURE DETAILS).
//!
//! A record exists for each EXTENDED COPY with a list identifier (LIST ID
//! USAGE 00b or 10b) while it runs: that is what makes a list identifier
//! "in use" (0x00/0x16). With 00b it is held after completion until a new
//! EXTENDED COPY with the same list identifier supersedes it, the retention
//! time passes, or the I_T nexus goes away. Reading does not discard it, so
//! a lost RECEIVE COPY RESULTS response can be asked for again. Memory is
//! bounded: `max_records` caps the total.
//!
//! Records are keyed by (I_T nexus, 32-bit list identifier): the LID1
//! commands' one-byte identifiers are widened, the LID4 token commands
//! (POPULATE TOKEN, WRITE USING TOKEN) use the full width. List
//! identifiers are one space per I_T nexus whatever the command, so a
//! running copy makes its identifier "in use" for every copy command; each
//! record carries the [`CopyCommand`] that made it, and the LID1 RECEIVE
//! COPY RESULTS service actions report only EXTENDED COPY (LID1) records.

use super::engine::CopyProgress;
use super::params::{CopyLimits, ListIdUsage, IMPLEMENTED_DESCRIPTOR_TYPES};
use crate::sense::{FieldPointer, ScsiError};
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// COPY MANAGER STATUS values of COPY STATUS (LID1).
const STATUS_IN_PROGRESS: u8 = 0x00;
const STATUS_COMPLETED_OK: u8 = 0x01;
const STATUS_COMPLETED_ERROR: u8 = 0x02;

/// How a copy ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyState {
    Running,
    Completed,
    /// Ended with CHECK CONDITION: the copy's sense in descriptor format,
    /// what RECEIVE COPY FAILURE DETAILS returns.
    Failed {
        sense: Bytes,
    },
    /// Stopped by COPY OPERATION ABORT, a reset, shutdown or an aborted
    /// task: COPY STATUS (LID1) says "completed with errors", RECEIVE
    /// COPY STATUS (LID4) 60h; `sense` as for [`CopyState::Failed`].
    Terminated {
        sense: Bytes,
    },
}

/// The third-party copy command a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CopyCommand {
    /// EXTENDED COPY (LID1), 0x83/0x00: read by RECEIVE COPY STATUS and
    /// RECEIVE COPY FAILURE DETAILS (LID1).
    ExtendedCopyLid1,
    /// POPULATE TOKEN, 0x83/0x10: read by RECEIVE ROD TOKEN INFORMATION.
    PopulateToken,
    /// WRITE USING TOKEN, 0x83/0x11: read by RECEIVE ROD TOKEN INFORMATION.
    WriteUsingToken,
}

/// A held record as the status commands see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView {
    pub command: CopyCommand,
    pub state: CopyState,
    pub segments_processed: u32,
    pub bytes_transferred: u64,
}

/// (I_T nexus id, list identifier).
type Key = (u64, u32);

#[derive(Debug)]
struct Record {
    command: CopyCommand,
    usage: ListIdUsage,
    progress: Arc<CopyProgress>,
    state: CopyState,
    finished: Option<Instant>,
}

/// A ticket for a running copy; hand it back to [`CopyResults::finish`].
#[derive(Debug)]
pub struct CopyTicket {
    key: Option<Key>,
    pub progress: Arc<CopyProgress>,
}

/// All copy records of one copy manager, keyed by (I_T nexus id, list id).
#[derive(Debug)]
pub struct CopyResults {
    records: Mutex<HashMap<Key, Record>>,
    retention: Duration,
    max_records: usize,
}

impl Default for CopyResults {
    fn default() -> Self {
        Self::new(Duration::from_secs(300), 16384)
    }
}

impl CopyResults {
    pub fn new(retention: Duration, max_records: usize) -> Self {
        Self {
            records: Mutex::new(HashMap::new()),
            retention,
            max_records: max_records.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Record>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn purge(&self, map: &mut HashMap<Key, Record>, now: Instant) {
        map.retain(|_, r| match r.finished {
            Some(t) => now.saturating_duration_since(t) < self.retention,
            None => true,
        });
    }

    /// Register a starting EXTENDED COPY (LID1); see [`Self::begin_command`].
    pub fn begin(
        &self,
        nexus: u64,
        list_id: u32,
        usage: ListIdUsage,
    ) -> Result<CopyTicket, ScsiError> {
        self.begin_command(nexus, list_id, usage, CopyCommand::ExtendedCopyLid1)
    }

    /// Register a starting copy of `command`. A running copy with the same
    /// (nexus, list id), of any command, gives OPERATION IN PROGRESS; a
    /// finished one is superseded.
    pub fn begin_command(
        &self,
        nexus: u64,
        list_id: u32,
        usage: ListIdUsage,
        command: CopyCommand,
    ) -> Result<CopyTicket, ScsiError> {
        self.begin_shared(nexus, list_id, usage, command, Arc::default())
    }

    /// As [`Self::begin`], reading progress from `progress` (the copy
    /// control registry's entry of this copy).
    pub fn begin_tracked(
        &self,
        nexus: u64,
        list_id: u32,
        usage: ListIdUsage,
        progress: Arc<CopyProgress>,
    ) -> Result<CopyTicket, ScsiError> {
        self.begin_shared(
            nexus,
            list_id,
            usage,
            CopyCommand::ExtendedCopyLid1,
            progress,
        )
    }

    fn begin_shared(
        &self,
        nexus: u64,
        list_id: u32,
        usage: ListIdUsage,
        command: CopyCommand,
        progress: Arc<CopyProgress>,
    ) -> Result<CopyTicket, ScsiError> {
        if usage == ListIdUsage::NoListId {
            return Ok(CopyTicket {
                key: None,
                progress,
            });
        }
        let now = Instant::now();
        let mut map = self.lock();
        self.purge(&mut map, now);
        if let Some(r) = map.get(&(nexus, list_id)) {
            if r.state == CopyState::Running {
                return Err(ScsiError::OperationInProgress);
            }
        }
        if !map.contains_key(&(nexus, list_id)) && map.len() >= self.max_records {
            let oldest = map
                .iter()
                .filter_map(|(k, r)| r.finished.map(|t| (t, *k)))
                .min()
                .map(|(_, k)| k);
            match oldest {
                Some(k) => {
                    map.remove(&k);
                }
                None => return Err(ScsiError::OperationInProgress),
            }
        }
        map.insert(
            (nexus, list_id),
            Record {
                command,
                usage,
                progress: progress.clone(),
                state: CopyState::Running,
                finished: None,
            },
        );
        Ok(CopyTicket {
            key: Some((nexus, list_id)),
            progress,
        })
    }

    /// Record how the copy ended; without hold (10b) the record goes.
    pub fn finish(&self, ticket: CopyTicket, outcome: &Result<(), ScsiError>) {
        let Some(key) = ticket.key else { return };
        let mut map = self.lock();
        let Some(r) = map.get_mut(&key) else { return };
        if r.usage != ListIdUsage::HoldResults {
            map.remove(&key);
            return;
        }
        r.state = match outcome {
            Ok(()) => CopyState::Completed,
            // FAILURE DETAILS' SENSE DATA is the full record of the failure
            // (SPC-5 6.19.2 allows either format): descriptor format is the
            // only one with a place for the copy source's or destination's
            // own sense (forwarded sense data descriptor, 4.4.2.10), so the
            // medium error behind a COPY ABORTED stays readable even when
            // the LU's D_SENSE made the CHECK CONDITION fixed format.
            Err(e @ (ScsiError::CopyCleared { .. } | ScsiError::Aborted)) => {
                CopyState::Terminated {
                    sense: e.sense().encode_descriptor(),
                }
            }
            Err(e) => CopyState::Failed {
                sense: e.sense().encode_descriptor(),
            },
        };
        r.finished = Some(Instant::now());
    }

    /// Hold the result of an EXTENDED COPY (LIST ID USAGE 00b) that failed
    /// before it started, unless a copy with that list id is running.
    pub fn record_failure(&self, nexus: u64, list_id: u32, error: &ScsiError) {
        self.record_command_failure(nexus, list_id, CopyCommand::ExtendedCopyLid1, error);
    }

    /// Hold the result of a `command` that failed before it started.
    pub fn record_command_failure(
        &self,
        nexus: u64,
        list_id: u32,
        command: CopyCommand,
        error: &ScsiError,
    ) {
        if let Ok(t) = self.begin_command(nexus, list_id, ListIdUsage::HoldResults, command) {
            self.finish(t, &Err(error.clone()));
        }
    }

    /// The I_T nexus is gone (logout, connection loss): its records go,
    /// also those of copies still stopping (SPC-5 5.17.4.5: held data is
    /// discarded on I_T nexus loss; nobody can ask for them again).
    pub fn nexus_lost(&self, nexus: u64) {
        self.lock().retain(|(n, _), _| *n != nexus);
    }

    /// Number of records held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The held record of (nexus, list id), whatever its command.
    pub fn view(&self, nexus: u64, list_id: u32) -> Option<RecordView> {
        let mut map = self.lock();
        self.purge(&mut map, Instant::now());
        map.get(&(nexus, list_id)).map(|r| RecordView {
            command: r.command,
            state: r.state.clone(),
            segments_processed: r.progress.segments_processed(),
            bytes_transferred: r.progress.bytes_transferred(),
        })
    }

    /// `f` on the record of an EXTENDED COPY (LID1) with that list id.
    fn with_record<T>(
        &self,
        nexus: u64,
        list_id: u32,
        f: impl FnOnce(&Record) -> Result<T, ScsiError>,
    ) -> Result<T, ScsiError> {
        let mut map = self.lock();
        self.purge(&mut map, Instant::now());
        match map.get(&(nexus, list_id)) {
            Some(r) if r.command == CopyCommand::ExtendedCopyLid1 => f(r),
            _ => Err(no_such_list()),
        }
    }

    /// RECEIVE COPY STATUS (LID1) parameter data (SPC-5 6.20.2), 12 bytes.
    pub fn copy_status(&self, nexus: u64, list_id: u32) -> Result<Bytes, ScsiError> {
        self.with_record(nexus, list_id, |r| {
            let status = match r.state {
                CopyState::Running => STATUS_IN_PROGRESS,
                CopyState::Completed => STATUS_COMPLETED_OK,
                CopyState::Failed { .. } | CopyState::Terminated { .. } => STATUS_COMPLETED_ERROR,
            };
            Ok(copy_status_payload(
                status,
                r.progress.segments_processed(),
                r.progress.bytes_transferred(),
            ))
        })
    }

    /// RECEIVE COPY FAILURE DETAILS parameter data (SPC-5 6.19.2). Only
    /// for finished copies; a running one is not failed (yet).
    pub fn failure_details(&self, nexus: u64, list_id: u32) -> Result<Bytes, ScsiError> {
        self.with_record(nexus, list_id, |r| match &r.state {
            CopyState::Running => Err(no_such_list()),
            CopyState::Completed => Ok(failure_details_payload(None)),
            CopyState::Failed { sense } | CopyState::Terminated { sense } => {
                Ok(failure_details_payload(Some(sense)))
            }
        })
    }
}

/// No (held) copy with that list identifier: INVALID FIELD IN CDB at the
/// LIST IDENTIFIER (byte 2), as libiscsi ReceiveCopyResults.CopyStatus expects.
fn no_such_list() -> ScsiError {
    ScsiError::InvalidFieldInCdb(FieldPointer::byte(2))
}

/// The TRANSFER COUNT UNITS (SPC-5 table 143) and TRANSFER COUNT for
/// `bytes`, in the smallest unit in which it fits 32 bits.
pub fn transfer_count(bytes: u64) -> (u8, u32) {
    let mut units = 0u8;
    let mut v = bytes;
    while v > u64::from(u32::MAX) && units < 6 {
        v >>= 10;
        units += 1;
    }
    (units, u32::try_from(v).unwrap_or(u32::MAX))
}

/// COPY STATUS (LID1): AVAILABLE DATA 8, COPY MANAGER STATUS, SEGMENTS
/// PROCESSED, TRANSFER COUNT UNITS, TRANSFER COUNT.
pub fn copy_status_payload(status: u8, segments: u32, bytes: u64) -> Bytes {
    let mut b = BytesMut::with_capacity(12);
    b.put_u32(8);
    b.put_u8(status & 0x7F); // HDD (held data discarded) = 0
    b.put_u16(u16::try_from(segments).unwrap_or(u16::MAX));
    let (units, count) = transfer_count(bytes);
    b.put_u8(units);
    b.put_u32(count);
    b.freeze()
}

/// FAILURE DETAILS: 60-byte header, COPY COMMAND STATUS at 56, SENSE DATA
/// LENGTH at 58, sense from 60. A copy that did not fail reports no data.
pub fn failure_details_payload(sense: Option<&Bytes>) -> Bytes {
    let mut b = BytesMut::zeroed(60);
    if let Some(s) = sense {
        let len = s.len().min(usize::from(u16::MAX) - 60);
        b[0..4].copy_from_slice(&u32::try_from(56 + len).unwrap_or(u32::MAX).to_be_bytes());
        b[56] = 0x02; // CHECK CONDITION
        b[58..60].copy_from_slice(&u16::try_from(len).unwrap_or(0).to_be_bytes());
        b.put_slice(s.get(..len).unwrap_or_default());
    }
    b.freeze()
}

/// RECEIVE COPY OPERATING PARAMETERS (SPC-5 6.22.2) from the one
/// [`CopyLimits`]; the implemented descriptor type codes are the ones the
/// parser accepts.
pub fn operating_parameters_payload(limits: &CopyLimits) -> Bytes {
    let codes = &IMPLEMENTED_DESCRIPTOR_TYPES;
    let mut b = BytesMut::with_capacity(44 + codes.len());
    b.put_u32(u32::try_from(40 + codes.len()).unwrap_or(0)); // AVAILABLE DATA
    b.put_u8(0x01); // SNLID: LIST ID USAGE 11b supported
    b.put_bytes(0, 3);
    b.put_u16(limits.max_cscd_descriptors);
    b.put_u16(limits.max_segment_descriptors);
    b.put_u32(limits.max_descriptor_list_length);
    b.put_u32(limits.max_segment_length);
    b.put_u32(limits.max_inline_data_length);
    b.put_u32(limits.held_data_limit);
    b.put_u32(limits.max_stream_device_transfer_size);
    b.put_u16(0);
    b.put_u16(limits.total_concurrent_copies);
    b.put_u8(limits.max_concurrent_copies);
    b.put_u8(limits.data_segment_granularity_log2);
    b.put_u8(limits.inline_data_granularity_log2);
    b.put_u8(limits.held_data_granularity_log2);
    b.put_bytes(0, 3);
    b.put_u8(u8::try_from(codes.len()).unwrap_or(0));
    b.put_slice(codes);
    b.freeze()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn operating_parameters_bytes() {
        let p = operating_parameters_payload(&CopyLimits::default());
        #[rustfmt::skip]
        let want: [u8; 47] = [
            0, 0, 0, 43,        // available data
            0x01, 0, 0, 0,      // SNLID
            0, 64, 0, 64,       // max CSCDs, max segments
            0, 0, 0x20, 0,      // max descriptor list length 8192
            0x10, 0, 0, 0,      // max segment length 256 MiB
            0, 0, 0, 0,         // max inline data
            0, 0, 0, 0,         // held data limit
            0, 0, 0, 0,         // max stream device transfer size
            0, 0, 0, 16,        // total concurrent copies
            16, 9, 0, 0,        // max concurrent, granularities
            0, 0, 0, 3,         // implemented descriptor list length
            0x02, 0x0A, 0xE4,
        ];
        assert_eq!(&p[..], &want[..]);
    }

    #[test]
    fn copy_status_bytes_and_units() {
        assert_eq!(
            &copy_status_payload(1, 2, 1 << 20)[..],
            &[0, 0, 0, 8, 1, 0, 2, 0, 0, 0x10, 0, 0]
        );
        assert_eq!(transfer_count(u64::from(u32::MAX)), (0, u32::MAX));
        assert_eq!(transfer_count(1 << 40), (1, 1 << 30));
        assert_eq!(transfer_count(u64::MAX), (4, (1 << 24) - 1));
    }

    #[test]
    fn records_lifecycle_in_use_supersede_and_nexus_loss() {
        let r = CopyResults::default();
        // No copy: INVALID FIELD IN CDB, field pointer byte 2.
        let e = r.copy_status(7, 1).unwrap_err();
        assert_eq!(e.sense().encode_fixed()[12..18], [0x24, 0, 0, 0xC0, 0, 2]);
        let t = r.begin(7, 1, ListIdUsage::HoldResults).unwrap();
        assert_eq!(
            r.begin(7, 1, ListIdUsage::NoHoldResults).unwrap_err(),
            ScsiError::OperationInProgress
        );
        assert_eq!(ScsiError::OperationInProgress.code().1, 0x00);
        // Another nexus may use the same list id.
        let other = r.begin(8, 1, ListIdUsage::NoHoldResults).unwrap();
        assert_eq!(&r.copy_status(7, 1).unwrap()[4..5], &[0]);
        assert_eq!(r.failure_details(7, 1).unwrap_err(), no_such_list());
        r.finish(t, &Ok(()));
        r.finish(other, &Ok(()));
        assert!(r.copy_status(8, 1).is_err(), "10b is not held");
        assert_eq!(&r.copy_status(7, 1).unwrap()[4..5], &[1]);
        assert_eq!(
            &r.copy_status(7, 1).unwrap()[4..5],
            &[1],
            "reading does not discard"
        );
        assert_eq!(&r.failure_details(7, 1).unwrap()[..4], &[0, 0, 0, 0]);
        // Superseded by a new copy with the same id, which fails.
        let t = r.begin(7, 1, ListIdUsage::HoldResults).unwrap();
        let err = ScsiError::CopyAborted {
            asc: 0x0D,
            ascq: 0x01,
            segment: 3,
            cause: None,
            segment_pointer: Some(48),
        };
        r.finish(t, &Err(err.clone()));
        assert_eq!(&r.copy_status(7, 1).unwrap()[4..5], &[2]);
        let fd = r.failure_details(7, 1).unwrap();
        let sense = err.sense().encode_descriptor();
        assert_eq!(sense[0], 0x72);
        assert_eq!(fd.len(), 60 + sense.len());
        assert_eq!(&fd[..4], &((56 + sense.len()) as u32).to_be_bytes());
        assert_eq!((fd[56], fd[59] as usize), (0x02, sense.len()));
        assert_eq!(&fd[60..], &sense[..]);
        // No list id: never recorded.
        let t = r.begin(7, 0, ListIdUsage::NoListId).unwrap();
        r.finish(t, &Ok(()));
        assert!(r.copy_status(7, 0).is_err());
        r.nexus_lost(7);
        assert!(r.is_empty());
    }

    #[test]
    fn retention_and_cap() {
        let r = CopyResults::new(Duration::from_millis(0), 2);
        let t = r.begin(1, 1, ListIdUsage::HoldResults).unwrap();
        r.finish(t, &Ok(()));
        assert!(r.copy_status(1, 1).is_err(), "expired");
        let r = CopyResults::new(Duration::from_secs(60), 2);
        let a = r.begin(1, 1, ListIdUsage::HoldResults).unwrap();
        let b = r.begin(1, 2, ListIdUsage::HoldResults).unwrap();
        assert_eq!(
            r.begin(1, 3, ListIdUsage::HoldResults).unwrap_err(),
            ScsiError::OperationInProgress
        );
        r.finish(a, &Ok(()));
        let c = r.begin(1, 3, ListIdUsage::HoldResults).unwrap();
        assert!(
            r.copy_status(1, 1).is_err(),
            "oldest finished record evicted"
        );
        r.finish(b, &Ok(()));
        r.finish(c, &Ok(()));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn list_ids_are_32_bits_and_records_know_their_command() {
        let r = CopyResults::default();
        // 0x1_0001 and 1 are different list identifiers.
        let wide = r
            .begin_command(
                7,
                0x1_0001,
                ListIdUsage::HoldResults,
                CopyCommand::PopulateToken,
            )
            .unwrap();
        let lid1 = r.begin(7, 1, ListIdUsage::HoldResults).unwrap();
        // One list identifier space per nexus: in use for every command.
        assert_eq!(
            r.begin(7, 0x1_0001, ListIdUsage::HoldResults).unwrap_err(),
            ScsiError::OperationInProgress
        );
        r.finish(wide, &Ok(()));
        r.finish(lid1, &Ok(()));
        let v = r.view(7, 0x1_0001).unwrap();
        assert_eq!(
            (
                v.command,
                v.state,
                v.segments_processed,
                v.bytes_transferred
            ),
            (CopyCommand::PopulateToken, CopyState::Completed, 0, 0)
        );
        assert_eq!(r.view(7, 1).unwrap().command, CopyCommand::ExtendedCopyLid1);
        assert!(r.view(8, 1).is_none());
        // The LID1 status commands see only EXTENDED COPY (LID1) records.
        assert_eq!(&r.copy_status(7, 1).unwrap()[4..5], &[1]);
        assert_eq!(r.copy_status(7, 0x1_0001).unwrap_err(), no_such_list());
        assert_eq!(r.failure_details(7, 0x1_0001).unwrap_err(), no_such_list());
        r.record_command_failure(
            7,
            u32::MAX,
            CopyCommand::WriteUsingToken,
            &ScsiError::InvalidCopyOperation,
        );
        let v = r.view(7, u32::MAX).unwrap();
        assert_eq!(v.command, CopyCommand::WriteUsingToken);
        assert!(matches!(v.state, CopyState::Failed { .. }));
    }
}
