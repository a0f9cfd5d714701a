#![no_main]
//! EXTENDED COPY (LID1) parameter list: arbitrary Data-Out through the
//! parser and the planner must give a plan or a SCSI error, never a panic;
//! a parsed list respects the advertised limits and every planned byte
//! range lies inside its logical units.
use libfuzzer_sys::fuzz_target;
use scsi::backend::MemoryBackend;
use scsi::copy::params::{parse_lid1, CopyLimits, Designator};
use scsi::copy::plan::{build_plan, PlanContext};
use scsi::copy::{AclResolver, Requester, TargetAccess};
use scsi::device::{LogicalUnit, LuConfig, TargetPort};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

struct World {
    luns: Vec<Arc<LogicalUnit>>,
    target: TargetPort,
    resolver: AclResolver,
}

fn lu(naa_id: u64, block_size: u32, blocks: u64) -> Arc<LogicalUnit> {
    Arc::new(LogicalUnit::new(
        LuConfig {
            block_size,
            read_only: false,
            serial: format!("fuzz{naa_id}"),
            naa_id,
            vendor: "XTGT".into(),
            product: "fuzz".into(),
            revision: "0001".into(),
        },
        Arc::new(MemoryBackend::new(u64::from(block_size) * blocks)),
    ))
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let luns = vec![lu(1, 512, 128), lu(2, 4096, 16)];
        let mut map = BTreeMap::new();
        for (i, l) in luns.iter().enumerate() {
            map.insert(i as u64, l.clone());
        }
        let target = TargetPort {
            name: "iqn.fuzz".into(),
            relative_port_id: 1,
            port_group: 1,
            luns: map,
        };
        let resolver = AclResolver {
            targets: vec![TargetAccess {
                target: Arc::new(TargetPort {
                    name: "iqn.fuzz.other".into(),
                    relative_port_id: 2,
                    port_group: 2,
                    luns: target.luns.clone(),
                }),
                may_use: Arc::new(|_| true),
            }],
            // Short designators a fuzzer can hit: NAA bytes of the naa_id.
            designators: Arc::new(|_, lu| {
                vec![Designator {
                    code_set: 1,
                    association: 0,
                    designator_type: 3,
                    value: lu.config.naa_id.to_be_bytes().to_vec(),
                }]
            }),
        };
        World {
            luns,
            target,
            resolver,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let limits = CopyLimits::default();
    let _ = Designator::from_vpd83_page(data);
    let Ok(list) = parse_lid1(data, &limits) else {
        return;
    };
    assert!(list.cscds.len() <= usize::from(limits.max_cscd_descriptors));
    assert!(list.segments.len() <= usize::from(limits.max_segment_descriptors));
    let w = world();
    let cx = PlanContext {
        receiving_lu: &w.luns[0],
        requester: Requester {
            initiator_name: "iqn.fuzz.initiator",
            target: &w.target,
        },
        resolver: &w.resolver,
        limits: &limits,
    };
    if let Ok(plan) = build_plan(&list, &cx) {
        for s in &plan.segments {
            assert!(s.source_offset + s.length <= s.source.backend.size());
            assert!(s.destination_offset + s.length <= s.destination.backend.size());
            assert!(s.length <= u64::from(limits.max_segment_length));
        }
    }
});
