#![allow(clippy::unwrap_used, clippy::expect_used)]
//! TARGET COLD RESET and TARGET WARM RESET reach the target they are
//! addressed to and no other target of the process (SAM-5 7.9, RFC 7143
//! 11.5.1).

mod common;

use common::{start_targets, Initiator};
use iscsi::pdu::consts::function::{TARGET_COLD_RESET, TARGET_WARM_RESET};
use iscsi::pdu::{DataSn, InitiatorPdu, Lun, TargetPdu, TaskMgmtRequest};
use std::time::Duration;

const A: &str = "iqn.2026-11.org.xtgt:reset-a";
const B: &str = "iqn.2026-11.org.xtgt:reset-b";

async fn session(addr: std::net::SocketAddr, target: &str, isid_low: u8) -> Initiator {
    let mut i = Initiator::connect(addr, isid_low).await;
    i.target = target.into();
    assert!(i.login().await, "login to {target}");
    i.ready().await;
    i
}

/// Send a target reset and return the TMF response code.
async fn target_reset(i: &mut Initiator, function: u8) -> u8 {
    let itt = i.next_itt();
    i.send(InitiatorPdu::TaskMgmt(TaskMgmtRequest {
        immediate: true,
        function,
        lun: Lun::default(),
        itt,
        ref_itt: iscsi::pdu::Itt::RESERVED,
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
        ref_cmdsn: i.cmdsn,
        exp_datasn: DataSn(0),
    }))
    .await;
    match i.recv().await {
        Some(TargetPdu::TaskMgmt(r)) => {
            assert_eq!(r.itt, itt);
            r.response
        }
        p => panic!("{p:?}"),
    }
}

/// READ(10) of block 0: the session still carries commands.
async fn read_block0(i: &mut Initiator) -> (u8, usize) {
    let (status, data) = i.read(&[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], 512).await;
    (status, data.len())
}

#[tokio::test]
async fn cold_reset_of_target_a_leaves_target_b_sessions_working() {
    let (addr, token, server) =
        start_targets(&[A, B], Duration::from_secs(30), Duration::from_secs(10)).await;
    let mut a1 = session(addr, A, 1).await;
    let mut a2 = session(addr, A, 2).await;
    let mut b = session(addr, B, 3).await;

    assert_eq!(target_reset(&mut a1, TARGET_COLD_RESET).await, 0);
    // RFC 7143 11.5.1: after the response the target drops the
    // connections of the target reset: the issuer's and a2's.
    assert!(a1.recv().await.is_none(), "issuer's connection closed");
    assert!(a2.recv().await.is_none(), "other session of A closed");

    // B's session is untouched: no reset unit attention, commands run.
    assert_eq!(b.read(&[0x00, 0, 0, 0, 0, 0], 0).await.0, 0);
    assert_eq!(read_block0(&mut b).await, (0, 512));
    b.logout().await;

    // Target A takes new logins after its reset.
    let mut again = session(addr, A, 4).await;
    assert_eq!(read_block0(&mut again).await, (0, 512));
    again.logout().await;
    token.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn warm_reset_of_target_a_reaches_only_target_a() {
    let (addr, token, server) =
        start_targets(&[A, B], Duration::from_secs(30), Duration::from_secs(10)).await;
    let mut a1 = session(addr, A, 1).await;
    let mut a2 = session(addr, A, 2).await;
    let mut b = session(addr, B, 3).await;

    assert_eq!(target_reset(&mut a1, TARGET_WARM_RESET).await, 0);
    // A warm reset keeps the connections; the other nexus of A gets the
    // reset unit attention (CHECK CONDITION), B's does not.
    assert_eq!(a2.read(&[0x00, 0, 0, 0, 0, 0], 0).await.0, 0x02);
    assert_eq!(b.read(&[0x00, 0, 0, 0, 0, 0], 0).await.0, 0);
    assert_eq!(read_block0(&mut a1).await.0, 0x02); // its own UA
    assert_eq!(read_block0(&mut a1).await, (0, 512));
    assert_eq!(read_block0(&mut b).await, (0, 512));
    for mut i in [a1, a2, b] {
        i.logout().await;
    }
    token.cancel();
    server.await.unwrap().unwrap();
}
