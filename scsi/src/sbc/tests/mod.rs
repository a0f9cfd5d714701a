//! Byte-exact tests of the block command handlers on a memory backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod garbage;
mod io;
mod medium;
mod provisioning;

use crate::backend::{Backend, MemoryBackend};
use crate::device::{DeviceServer, LogicalUnit, LuConfig, Nexus, TargetPort};
use crate::sense::ScsiError;
use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) struct Harness {
    pub nexus: Arc<Nexus>,
    pub lu: Arc<LogicalUnit>,
}

pub(crate) fn config(block_size: u32, read_only: bool) -> LuConfig {
    LuConfig {
        block_size,
        read_only,
        serial: "sbc-test".into(),
        naa_id: 0x1234,
        vendor: "XTGT".into(),
        product: "SBC TEST".into(),
        revision: "0001".into(),
    }
}

impl Harness {
    pub fn with(backend: Arc<dyn Backend>, block_size: u32, read_only: bool) -> Self {
        let lu = Arc::new(LogicalUnit::new(config(block_size, read_only), backend));
        let mut luns = BTreeMap::new();
        luns.insert(0, lu.clone());
        let port = Arc::new(TargetPort {
            name: "iqn.2026-01.test:sbc".into(),
            relative_port_id: 1,
            port_group: 1,
            luns,
        });
        let server = DeviceServer::new(vec![port.clone()]);
        let nexus = server.register_nexus("iqn.init", "iqn.init,i,0x1", port);
        Self { nexus, lu }
    }

    /// A 1 MiB memory LU of 512-byte blocks (2048 blocks).
    pub fn memory() -> Self {
        Self::with(Arc::new(MemoryBackend::new(1 << 20)), 512, false)
    }
}

/// Run handler `$f` with CDB `$cdb` and Data-Out `$data` on harness `$h`.
macro_rules! exec {
    ($h:expr, $f:path, $cdb:expr) => {
        exec!($h, $f, $cdb, Vec::<u8>::new())
    };
    ($h:expr, $f:path, $cdb:expr, $data:expr) => {{
        let h = &$h;
        let cdb: Vec<u8> = $cdb.to_vec();
        let ctx = $crate::command::CommandCtx {
            row: $crate::sbc::tests::row_of(&cdb),
            nexus: &h.nexus,
            lun: 0,
            lu: &h.lu,
            cdb: &cdb,
            data_out: bytes::Bytes::from($data),
            expected_in: 0,
            tag: 0,
        };
        $f(&ctx).await
    }};
}
pub(crate) use exec;

/// The table row of a test CDB (handlers are called directly, so a CDB
/// the table does not know gets the TEST UNIT READY row).
pub(crate) fn row_of(cdb: &[u8]) -> &'static crate::cdb::OpcodeEntry {
    crate::cdb::lookup(cdb)
        .row()
        .unwrap_or(&crate::cdb::TABLE[0])
}

/// 10-byte CDB: opcode, byte 1, LBA (32 bits), length (16 bits).
pub(crate) fn cdb10(op: u8, flags: u8, lba: u32, len: u16) -> [u8; 10] {
    let mut c = [0u8; 10];
    c[0] = op;
    c[1] = flags;
    c[2..6].copy_from_slice(&lba.to_be_bytes());
    c[7..9].copy_from_slice(&len.to_be_bytes());
    c
}

/// 12-byte CDB: opcode, byte 1, LBA (32 bits), length (32 bits).
pub(crate) fn cdb12(op: u8, flags: u8, lba: u32, len: u32) -> [u8; 12] {
    let mut c = [0u8; 12];
    c[0] = op;
    c[1] = flags;
    c[2..6].copy_from_slice(&lba.to_be_bytes());
    c[6..10].copy_from_slice(&len.to_be_bytes());
    c
}

/// 16-byte CDB: opcode, byte 1, LBA (64 bits), length (32 bits).
pub(crate) fn cdb16(op: u8, flags: u8, lba: u64, len: u32) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = op;
    c[1] = flags;
    c[2..10].copy_from_slice(&lba.to_be_bytes());
    c[10..14].copy_from_slice(&len.to_be_bytes());
    c
}

/// The fixed sense bytes of an error (what the initiator will see).
pub(crate) fn sense(e: &ScsiError) -> Vec<u8> {
    e.sense().encode_fixed().to_vec()
}

/// `n` bytes of a recognisable pattern starting from `seed`.
pub(crate) fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
