#![no_main]
//! Feed arbitrary sequences of Login Requests into a LoginMachine (and, once
//! logged in, the rest into text_exchange): nothing may panic, every
//! response is well formed, and the machine ends after Complete or Fail.
use iscsi::login::{text_exchange, LoginContext, LoginEvent, LoginInput, LoginMachine};
use iscsi::TargetConfig;
use scsi::access::{AccessPolicy, ChapCredential};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use std::sync::Arc;

fn target(iqn: &str, chap: bool) -> TargetConfig {
    TargetConfig {
        iqn: iqn.into(),
        alias: Some("alias".into()),
        access: AccessPolicy {
            allowed_initiators: if chap { vec!["iqn.i:a".into()] } else { vec![] },
            chap: chap.then(|| ChapCredential {
                user: "u".into(),
                secret: "secretsecret".into(),
            }),
            mutual_chap: chap.then(|| ChapCredential {
                user: "t".into(),
                secret: "mutualsecret".into(),
            }),
        },
        port: Arc::new(scsi::TargetPort {
            name: iqn.into(),
            relative_port_id: 1,
            port_group: 1,
            luns: BTreeMap::new(),
        }),
        portals: Vec::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let ctx = LoginContext {
        targets: Arc::new(vec![target("iqn.t:a", false), target("iqn.t:b", true)]),
        portal_group_tag: 1,
        portals: vec![std::net::SocketAddr::from(([127, 0, 0, 1], 3260))],
        portal: 0,
        max_recv_data_segment: 8192,
    };
    let mut m = LoginMachine::new(ctx.clone());
    let mut rest = data;
    // Each request: flags byte, version_min, tsih byte, length byte, data.
    while let [flags, vmin, tsih, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (body, next) = tail.split_at(n);
        rest = next;
        let input = LoginInput {
            transit: flags & 0x80 != 0,
            cont: flags & 0x40 != 0,
            csg: (flags >> 2) & 3,
            nsg: flags & 3,
            version_max: 0,
            version_min: *vmin & 1,
            isid: [0x80, 0, 0, 0, 0, 1],
            tsih: u16::from(*tsih & 1),
            itt: 1,
            cid: 0,
            cmdsn: 0,
            exp_statsn: 0,
            data: body,
        };
        let (out, event) = m.step(&input);
        assert!(out.csg <= 3 && out.nsg <= 3);
        match event {
            LoginEvent::Continue => assert!(out.status.is_success()),
            LoginEvent::Fail => {
                assert!(!out.status.is_success());
                return;
            }
            LoginEvent::Complete(result) => {
                let _ = text_exchange(&ctx, &result, rest, None);
                return;
            }
        }
    }
});
