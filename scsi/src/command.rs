//! The context every command handler receives and what it returns.
//! Handlers are `async fn(&CommandCtx<'_>) -> CommandResult`; copy
//! commands also get the copy manager (`cdb::Handler::Copy`). The context
//! is narrow on purpose: the LU, the nexus, the command and its row.

use crate::blockio::Account;
use crate::cdb::OpcodeEntry;
use crate::device::{LogicalUnit, Nexus, Status};
use crate::sense::ScsiError;
use bytes::Bytes;
use std::sync::Arc;

/// Everything a handler may look at. The CDB has passed the opcode table's
/// length and reserved-bit checks before a handler sees it.
pub struct CommandCtx<'a> {
    /// The opcode table row the CDB matched.
    pub row: &'static OpcodeEntry,
    pub nexus: &'a Nexus,
    pub lun: u64,
    pub lu: &'a Arc<LogicalUnit>,
    pub cdb: &'a [u8],
    /// Data-Out as received (may be shorter than the CDB asks: check);
    /// empty for a command whose row has no Data-Out.
    pub data_out: Bytes,
    /// The transport's expected Data-In length.
    pub expected_in: u32,
    /// The transport's task tag (iSCSI ITT): what ABORT TASK names.
    pub tag: u32,
}

impl CommandCtx<'_> {
    /// This command's I/O, for the initiator byte counters.
    pub fn account(&self) -> Account<'_> {
        Account::Initiator {
            target: &self.nexus.target.name,
            lun: self.lun,
        }
    }

    /// The parameter list: the Data-Out received, cut to the CDB's
    /// PARAMETER LIST LENGTH (the parsers check what is missing).
    pub fn parameter_list(&self, parameter_list_length: u32) -> Bytes {
        let take = self
            .data_out
            .len()
            .min(usize::try_from(parameter_list_length).unwrap_or(usize::MAX));
        self.data_out.slice(..take)
    }
}

/// A successful completion: status GOOD or CONDITION MET plus Data-In.
#[derive(Debug, Clone)]
pub struct Completion {
    pub status: Status,
    pub data: Bytes,
}

impl Completion {
    pub fn good() -> Self {
        Self {
            status: Status::Good,
            data: Bytes::new(),
        }
    }
    pub fn data(data: impl Into<Bytes>) -> Self {
        Self {
            status: Status::Good,
            data: data.into(),
        }
    }
    pub fn condition_met() -> Self {
        Self {
            status: Status::ConditionMet,
            data: Bytes::new(),
        }
    }
}

pub type CommandResult = Result<Completion, ScsiError>;
