//! Test fixtures shared by the copy manager's tests: LUs on memory or
//! given backends, targets, and a resolver with two access rules.

use super::params::Designator;
use super::resolve::{AclResolver, Requester, TargetAccess};
use crate::backend::{Backend, MemoryBackend};
use crate::device::{LogicalUnit, LuConfig, TargetPort};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn lu(naa: u64, block_size: u32, blocks: u64, read_only: bool) -> Arc<LogicalUnit> {
    lu_on(
        naa,
        block_size,
        read_only,
        Arc::new(MemoryBackend::new(blocks * u64::from(block_size))),
    )
}

pub fn lu_on(
    naa: u64,
    block_size: u32,
    read_only: bool,
    backend: Arc<dyn Backend>,
) -> Arc<LogicalUnit> {
    Arc::new(LogicalUnit::new(
        LuConfig {
            block_size,
            read_only,
            serial: format!("lu{naa}"),
            naa_id: naa,
            vendor: "XTGT".into(),
            product: "test".into(),
            revision: "0001".into(),
        },
        backend,
    ))
}

/// The NAA designator the tests pretend VPD 0x83 reports.
pub fn naa_of(lu: &LogicalUnit) -> [u8; 8] {
    (0x6000_0000_0000_0000u64 | lu.config.naa_id).to_be_bytes()
}

pub fn designators(_t: &TargetPort, lu: &LogicalUnit) -> Vec<Designator> {
    vec![
        Designator {
            code_set: 1,
            association: 0,
            designator_type: 3,
            value: naa_of(lu).to_vec(),
        },
        Designator {
            code_set: 2,
            association: 0,
            designator_type: 8,
            value: format!("naa.{:016x}", lu.config.naa_id).into_bytes(),
        },
    ]
}

pub fn target(name: &str, luns: &[&Arc<LogicalUnit>]) -> Arc<TargetPort> {
    let mut map = BTreeMap::new();
    for (i, l) in luns.iter().enumerate() {
        map.insert(i as u64, (*l).clone());
    }
    Arc::new(TargetPort {
        name: name.into(),
        relative_port_id: 1,
        port_group: 1,
        luns: map,
    })
}

/// A target port the requester came through that maps none of the
/// test LUs (so only the resolver's access rules grant anything).
pub fn outside() -> TargetPort {
    TargetPort {
        name: "outside".into(),
        relative_port_id: 9,
        port_group: 9,
        luns: BTreeMap::new(),
    }
}

pub fn req<'a>(initiator_name: &'a str, target: &'a TargetPort) -> Requester<'a> {
    Requester {
        initiator_name,
        target,
    }
}

/// Target "a" open to everybody, target "b" only to "iqn.b".
pub fn resolver(a: &[&Arc<LogicalUnit>], b: &[&Arc<LogicalUnit>]) -> AclResolver {
    AclResolver {
        targets: vec![
            TargetAccess {
                target: target("a", a),
                may_use: Arc::new(|_| true),
            },
            TargetAccess {
                target: target("b", b),
                may_use: Arc::new(|r: &Requester<'_>| r.initiator_name == "iqn.b"),
            },
        ],
        designators: Arc::new(designators),
    }
}

/// An admitted copy operation on a scheduler of its own (default rules).
pub fn test_op() -> super::sched::CopyOp {
    let s = Arc::new(super::sched::CopyScheduler::default());
    match s.enqueue_for(0, "test", "iqn.test", 0) {
        Ok(op) => op,
        Err(e) => panic!("a fresh scheduler admits: {e}"),
    }
}
