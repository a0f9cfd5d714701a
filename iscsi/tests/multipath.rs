#![allow(clippy::unwrap_used, clippy::expect_used)]
//! One target on two portals over real sockets: SendTargets lists both
//! with their own TPGT, a session on each portal is a nexus through its
//! own SCSI target port (VPD 0x83 relative port and port name), both see
//! the same LU designators, both sessions live with one ISID, and I/O
//! written on one path reads back on the other.

mod common;

use common::{keys, start_on_portals, Initiator, IQN};
use iscsi::pdu::{InitiatorPdu, Lun, TargetPdu, TextRequest, Ttt};
use std::time::Duration;

/// (association, designator type, designator) of every VPD 0x83 descriptor.
fn designators(page: &[u8]) -> Vec<(u8, u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 4;
    while at + 4 <= page.len() {
        let len = usize::from(page[at + 3]);
        let id = page[at + 4..at + 4 + len].to_vec();
        out.push(((page[at + 1] >> 4) & 3, page[at + 1] & 0x0F, id));
        at += 4 + len;
    }
    out
}

#[tokio::test]
async fn two_portals_two_target_ports_one_lu() {
    let (addrs, token, server) =
        start_on_portals(&[IQN], 2, Duration::from_secs(30), Duration::from_secs(10)).await;

    let mut d = Initiator::connect(addrs[1], 1).await;
    assert!(d.login_as(true).await);
    let itt = d.next_itt();
    d.send(InitiatorPdu::Text(TextRequest {
        immediate: true,
        final_bit: true,
        cont: false,
        lun: Lun::default(),
        itt,
        ttt: Ttt::RESERVED,
        cmdsn: d.cmdsn,
        exp_statsn: d.exp_statsn,
        data: keys(&[("SendTargets", "All")]),
    }))
    .await;
    match d.recv().await {
        Some(TargetPdu::Text(t)) => {
            let body = String::from_utf8_lossy(&t.data).replace('\0', "|");
            assert_eq!(
                body,
                format!(
                    "TargetName={IQN}|TargetAddress={},1|TargetAddress={},2|",
                    addrs[0], addrs[1]
                )
            );
        }
        p => panic!("{p:?}"),
    }

    let mut paths = Vec::new();
    for (k, addr) in addrs.iter().enumerate() {
        // The same ISID on both portals: two sessions (the SSID is ISID
        // and TPGT), not a reinstatement of the first by the second.
        let mut i = Initiator::connect(*addr, 2).await;
        assert!(i.login().await);
        let (status, page) = i.read(&[0x12, 1, 0x83, 1, 0, 0], 256).await;
        assert_eq!(status, 0);
        i.ready().await;
        let ids = designators(&page);
        let rel = ids.iter().find(|(a, t, _)| (*a, *t) == (1, 4)).unwrap();
        assert_eq!(rel.2, [0, 0, 0, k as u8 + 1]);
        let name = ids.iter().find(|(a, t, _)| (*a, *t) == (1, 8)).unwrap();
        let name = String::from_utf8_lossy(&name.2)
            .trim_end_matches('\0')
            .to_string();
        assert_eq!(name, format!("{IQN},t,0x{:04x}", k + 1));
        let lu: Vec<_> = ids.into_iter().filter(|(a, _, _)| *a == 0).collect();
        paths.push((i, lu));
    }
    assert_eq!(paths[0].1, paths[1].1);
    assert_eq!(paths[0].1.len(), 2);

    // Write through the first path, log out of it, read on the second.
    let payload = vec![0x5Au8; 512];
    let (status, _) = paths[0]
        .0
        .write(&[0x2a, 0, 0, 0, 0, 3, 0, 0, 1, 0], &payload)
        .await;
    assert_eq!(status, 0);
    paths[0].0.logout().await;
    let (status, data) = paths[1]
        .0
        .read(&[0x28, 0, 0, 0, 0, 3, 0, 0, 1, 0], 512)
        .await;
    assert_eq!(status, 0);
    assert_eq!(data, payload);
    token.cancel();
    server.await.unwrap().unwrap();
}
