#![no_main]
//! Arbitrary CDB + Data-Out through `DeviceServer::execute` on a memory
//! LU (LUN 0), a read-only LU (LUN 1) and unmapped LUNs (2, 3).
//!
//! Input: byte 0 = LUN (bits 7..6) and CDB length (bits 5..0, capped at
//! the input); then the CDB; the rest is Data-Out.

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use scsi::backend::memory::MemoryBackend;
use scsi::{DeviceServer, LogicalUnit, LuConfig, Nexus, Request, TargetPort, TaskAttr};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

struct Env {
    rt: tokio::runtime::Runtime,
    server: DeviceServer,
    nexus: Arc<Nexus>,
}

fn lu(read_only: bool) -> Arc<LogicalUnit> {
    let config = LuConfig {
        block_size: 512,
        read_only,
        serial: "FUZZ".into(),
        naa_id: 1,
        vendor: "XTGT".into(),
        product: "fuzz".into(),
        revision: "0".into(),
    };
    Arc::new(LogicalUnit::new(
        config,
        Arc::new(MemoryBackend::new(1 << 20)),
    ))
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut luns = BTreeMap::new();
        luns.insert(0, lu(false));
        luns.insert(1, lu(true));
        let port = Arc::new(TargetPort {
            name: "iqn.2026-01.fuzz:t".into(),
            relative_port_id: 1,
            port_group: 1,
            luns,
        });
        let server = DeviceServer::new(vec![port.clone()]);
        let nexus = server.register_nexus("iqn.2026-01.fuzz:i", "iqn.2026-01.fuzz:i,i,0x1", port);
        let rt = match tokio::runtime::Builder::new_current_thread().build() {
            Ok(rt) => rt,
            Err(e) => panic!("runtime: {e}"),
        };
        Env { rt, server, nexus }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let env = env();
    let lun = u64::from(head >> 6);
    let cdb_len = usize::from(head & 0x3F).min(rest.len());
    let (cdb, data_out) = rest.split_at(cdb_len);
    let req = Request {
        lun,
        cdb,
        attr: TaskAttr::Simple,
        tag: 0,
        data_out: Bytes::copy_from_slice(data_out),
        expected_in: 1 << 16,
    };
    let r = env.rt.block_on(env.server.execute(&env.nexus, req));
    if r.status == scsi::Status::CheckCondition {
        assert!(r.sense.is_some_and(|s| s.len() >= 18));
    }
});
