//! Through [`DeviceServer::execute`], as the transport drives it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::backend::MemoryBackend;
use crate::copy::params::build::{cscd, list, seg_b2b};
use crate::device::testutil::{exec, sense_of};
use crate::device::{
    DeviceServer, LogicalUnit, LuConfig, Nexus, Response, Status, TargetPort, TmfFunction,
};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Arc;

const KA: u64 = 0x1111;
const KB: u64 = 0x2222;

fn lu(naa_id: u64) -> Arc<LogicalUnit> {
    Arc::new(LogicalUnit::new(
        LuConfig {
            block_size: 512,
            read_only: false,
            serial: format!("{naa_id:016X}"),
            naa_id,
            vendor: "XTGT".into(),
            product: "disk".into(),
            revision: "0.1".into(),
        },
        Arc::new(MemoryBackend::new(1 << 20)),
    ))
}

fn setup() -> (DeviceServer, Arc<TargetPort>) {
    let p = Arc::new(TargetPort {
        name: "iqn.2026-01.test:t".into(),
        relative_port_id: 1,
        port_group: 1,
        luns: [(0, lu(1)), (1, lu(2))]
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
    });
    (DeviceServer::new(vec![p.clone()]), p)
}

async fn login(s: &DeviceServer, p: &Arc<TargetPort>, name: &str, isid: &str) -> Arc<Nexus> {
    let n = s.register_nexus(name, &format!("{name},i,0x{isid}"), p.clone());
    for &lun in p.luns.keys() {
        exec(s, &n, lun, &[0x03, 0, 0, 0, 252, 0], &[]).await;
    }
    n
}

async fn prout(s: &DeviceServer, n: &Nexus, sa: u8, ty: u8, key: u64, sa_key: u64) -> Response {
    let mut p = vec![0u8; 24];
    p[0..8].copy_from_slice(&key.to_be_bytes());
    p[8..16].copy_from_slice(&sa_key.to_be_bytes());
    exec(s, n, 0, &[0x5F, sa, ty, 0, 0, 0, 0, 0, 24, 0], &p).await
}

async fn prin(s: &DeviceServer, n: &Nexus, sa: u8, alloc: u16) -> Response {
    let [h, l] = alloc.to_be_bytes();
    exec(s, n, 0, &[0x5E, sa, 0, 0, 0, 0, 0, h, l, 0], &[]).await
}

fn conflict(r: &Response) -> bool {
    r.status == Status::ReservationConflict && r.sense.is_none() && r.data_in.is_empty()
}

const READ10: [u8; 10] = [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0];
const WRITE10: [u8; 10] = [0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0];
const TUR: [u8; 6] = [0, 0, 0, 0, 0, 0];
const INQUIRY: [u8; 6] = [0x12, 0, 0, 0, 36, 0];

#[tokio::test]
async fn persistent_reservation_on_the_wire() {
    let (s, p) = setup();
    let a = login(&s, &p, "iqn.a", "000000000001").await;
    let b = login(&s, &p, "iqn.b", "000000000002").await;
    let block = vec![0x5Au8; 512];
    assert_eq!(prout(&s, &a, 0, 0, 0, KA).await.status, Status::Good);
    assert_eq!(prout(&s, &b, 0, 0, 0, KB).await.status, Status::Good);
    // Write Exclusive by A: B reads but does not write.
    assert_eq!(prout(&s, &a, 1, 1, KA, 0).await.status, Status::Good);
    assert!(conflict(&exec(&s, &b, 0, &WRITE10, &block).await));
    assert_eq!(exec(&s, &b, 0, &READ10, &[]).await.status, Status::Good);
    assert_eq!(exec(&s, &a, 0, &WRITE10, &block).await.status, Status::Good);
    // The other LU is not reserved.
    assert_eq!(exec(&s, &b, 1, &WRITE10, &block).await.status, Status::Good);
    // READ RESERVATION, byte for byte, truncated to the allocation length.
    let r = prin(&s, &b, 1, 0x100).await;
    let mut want = vec![0, 0, 0, 2, 0, 0, 0, 16];
    want.extend_from_slice(&KA.to_be_bytes());
    want.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(r.data_in.as_ref(), want.as_slice());
    assert_eq!(
        prin(&s, &b, 0, 8).await.data_in.as_ref(),
        &[0, 0, 0, 2, 0, 0, 0, 16]
    );
    // An unknown PERSISTENT RESERVE IN service action.
    let r = prin(&s, &b, 4, 8).await;
    assert_eq!(sense_of(&r), Some((0x05, 0x24, 0x00)));
    // Key mismatch: RESERVATION CONFLICT, no sense.
    assert!(conflict(&prout(&s, &b, 1, 1, KA, 0).await));
    // PREEMPT of B's key: B loses its registration (the reservation,
    // held with A's key, stays); then A preempts its own reservation
    // into Exclusive Access.
    assert_eq!(prout(&s, &a, 4, 3, KA, KB).await.status, Status::Good);
    let r = exec(&s, &b, 0, &TUR, &[]).await;
    assert_eq!(sense_of(&r), Some((0x06, 0x2A, 0x05)));
    assert_eq!(exec(&s, &b, 0, &READ10, &[]).await.status, Status::Good);
    assert_eq!(prout(&s, &a, 4, 3, KA, KA).await.status, Status::Good);
    assert_eq!(prin(&s, &a, 1, 0x100).await.data_in[21], 0x03);
    let r = exec(&s, &b, 0, &READ10, &[]).await;
    assert!(conflict(&r), "{r:?}");
    assert_eq!(exec(&s, &b, 0, &TUR, &[]).await.status, Status::Good);
    assert_eq!(exec(&s, &b, 0, &INQUIRY, &[]).await.status, Status::Good);
    // RESERVE(6) while registrations exist: conflict, but GOOD (without
    // effect) from the persistent reservation holder.
    assert!(conflict(
        &exec(&s, &b, 0, &[0x16, 0, 0, 0, 0, 0], &[]).await
    ));
    assert_eq!(
        exec(&s, &a, 0, &[0x16, 0, 0, 0, 0, 0], &[]).await.status,
        Status::Good
    );
    assert_eq!(
        s.task_management(&b, TmfFunction::LunReset, 0).await,
        crate::TmfResponse::Complete
    );
    // LUN reset and I_T nexus loss keep the persistent reservation.
    let _ = exec(&s, &b, 0, &TUR, &[]).await;
    let _ = exec(&s, &a, 0, &TUR, &[]).await;
    s.unregister_nexus(&a);
    assert!(conflict(&exec(&s, &b, 0, &READ10, &[]).await));
    let a = login(&s, &p, "iqn.a", "000000000001").await;
    assert_eq!(exec(&s, &a, 0, &READ10, &[]).await.status, Status::Good);
    // CLEAR by A; B (unregistered) gets nothing.
    assert_eq!(prout(&s, &a, 3, 0, KA, 0).await.status, Status::Good);
    assert_eq!(exec(&s, &b, 0, &WRITE10, &block).await.status, Status::Good);
    assert_eq!(
        prin(&s, &b, 0, 8).await.data_in.as_ref(),
        &[0, 0, 0, 5, 0, 0, 0, 0]
    );
    // A memory LU cannot persist: APTPL=1 is refused, PTPL_C=0.
    let mut pl = vec![0u8; 24];
    pl[15] = 1;
    pl[20] = 1;
    let r = exec(&s, &a, 0, &[0x5F, 0, 0, 0, 0, 0, 0, 0, 24, 0], &pl).await;
    assert_eq!(sense_of(&r), Some((0x05, 0x26, 0x00)));
    assert_eq!(prin(&s, &a, 2, 8).await.data_in[2] & 1, 0);
    // PARAMETER LIST LENGTH other than 24.
    let r = exec(&s, &a, 0, &[0x5F, 0, 0, 0, 0, 0, 0, 0, 20, 0], &[0; 20]).await;
    assert_eq!(sense_of(&r), Some((0x05, 0x1A, 0x00)));
}

#[tokio::test]
async fn reserve6_and_release6() {
    let (s, p) = setup();
    let a = login(&s, &p, "iqn.a", "000000000001").await;
    let b = login(&s, &p, "iqn.b", "000000000002").await;
    const RESERVE6: [u8; 6] = [0x16, 0, 0, 0, 0, 0];
    const RELEASE6: [u8; 6] = [0x17, 0, 0, 0, 0, 0];
    const RESERVE10: [u8; 10] = [0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(exec(&s, &a, 0, &RESERVE6, &[]).await.status, Status::Good);
    assert_eq!(exec(&s, &a, 0, &RESERVE6, &[]).await.status, Status::Good);
    for cdb in [&RESERVE6[..], &RESERVE10[..], &READ10[..], &TUR[..]] {
        assert!(conflict(&exec(&s, &b, 0, cdb, &[]).await), "{cdb:02x?}");
    }
    assert_eq!(exec(&s, &b, 0, &INQUIRY, &[]).await.status, Status::Good);
    // Not reserved: the other LU.
    assert_eq!(exec(&s, &b, 1, &READ10, &[]).await.status, Status::Good);
    // PERSISTENT RESERVE OUT and IN under an SPC-2 reservation.
    assert!(conflict(&prout(&s, &b, 0, 0, 0, KB).await));
    assert!(conflict(&prout(&s, &a, 0, 0, 0, KA).await));
    assert!(conflict(&prin(&s, &b, 0, 8).await));
    assert_eq!(prin(&s, &a, 0, 8).await.status, Status::Good);
    // RELEASE from another I_T nexus: GOOD, nothing released.
    assert_eq!(exec(&s, &b, 0, &RELEASE6, &[]).await.status, Status::Good);
    assert!(conflict(&exec(&s, &b, 0, &READ10, &[]).await));
    // RESERVE(6) with third-party bits: INVALID FIELD IN CDB.
    let r = exec(&s, &a, 0, &[0x16, 0x10, 0, 0, 0, 0], &[]).await;
    assert_eq!(sense_of(&r), Some((0x05, 0x24, 0x00)));
    // Released by LUN reset.
    s.task_management(&a, TmfFunction::LunReset, 0).await;
    let _ = exec(&s, &b, 0, &TUR, &[]).await;
    assert_eq!(exec(&s, &b, 0, &READ10, &[]).await.status, Status::Good);
    // RESERVE(10) by B; released by B's nexus loss.
    assert_eq!(exec(&s, &b, 0, &RESERVE10, &[]).await.status, Status::Good);
    let _ = exec(&s, &a, 0, &TUR, &[]).await;
    assert!(conflict(&exec(&s, &a, 0, &READ10, &[]).await));
    s.unregister_nexus(&b);
    assert_eq!(exec(&s, &a, 0, &READ10, &[]).await.status, Status::Good);
    // RELEASE by the holder.
    assert_eq!(exec(&s, &a, 0, &RESERVE6, &[]).await.status, Status::Good);
    assert_eq!(exec(&s, &a, 0, &RELEASE6, &[]).await.status, Status::Good);
    let b = login(&s, &p, "iqn.b", "000000000002").await;
    assert_eq!(exec(&s, &b, 0, &RESERVE6, &[]).await.status, Status::Good);
}

/// A copy touching a LU another I_T nexus reserved is refused with
/// RESERVATION CONFLICT and writes nothing.
#[tokio::test]
async fn extended_copy_obeys_the_other_lus_reservation() {
    let (s, p) = setup();
    let a = login(&s, &p, "iqn.a", "000000000001").await;
    let b = login(&s, &p, "iqn.b", "000000000002").await;
    let src = p.luns[&0].clone();
    let dst = p.luns[&1].clone();
    src.backend
        .write(0, Bytes::from(vec![0x77; 4096]), false)
        .await
        .unwrap();
    let naa = |lu: &LogicalUnit| crate::spc::vpd::naa6(lu.config.naa_id);
    let l = list(
        0,
        0b11,
        &[
            cscd(0x01, 0x03, &naa(&src), 512),
            cscd(0x01, 0x03, &naa(&dst), 512),
        ],
        &[seg_b2b(false, 0, 1, 8, 0, 0)],
    );
    let xcopy = |n: &Arc<Nexus>, lun: u64| {
        let mut c = [0u8; 16];
        c[0] = 0x83;
        c[10..14].copy_from_slice(&(l.len() as u32).to_be_bytes());
        let n = n.clone();
        let l = l.clone();
        let s = &s;
        async move { exec(s, &n, lun, &c, &l).await }
    };
    // B reserves the destination (LU 1) Write Exclusive.
    let mut pl = vec![0u8; 24];
    pl[8..16].copy_from_slice(&KB.to_be_bytes());
    assert_eq!(
        exec(&s, &b, 1, &[0x5F, 0, 0, 0, 0, 0, 0, 0, 24, 0], &pl)
            .await
            .status,
        Status::Good
    );
    let mut pl = vec![0u8; 24];
    pl[0..8].copy_from_slice(&KB.to_be_bytes());
    assert_eq!(
        exec(&s, &b, 1, &[0x5F, 1, 1, 0, 0, 0, 0, 0, 24, 0], &pl)
            .await
            .status,
        Status::Good
    );
    // A's copy, sent to LU 0, writes LU 1: refused, nothing written.
    let r = xcopy(&a, 0).await;
    assert!(conflict(&r), "{r:?}");
    assert_eq!(dst.backend.read(0, 4096).await.unwrap(), vec![0u8; 4096]);
    // The holder copies.
    assert_eq!(xcopy(&b, 0).await.status, Status::Good);
    assert_eq!(dst.backend.read(0, 4096).await.unwrap(), vec![0x77u8; 4096]);
    // Write Exclusive lets A read the source LU 1 in a copy to LU 0 ...
    let back = list(
        0,
        0b11,
        &[
            cscd(0x01, 0x03, &naa(&dst), 512),
            cscd(0x01, 0x03, &naa(&src), 512),
        ],
        &[seg_b2b(false, 0, 1, 8, 0, 16)],
    );
    let mut c = [0u8; 16];
    c[0] = 0x83;
    c[10..14].copy_from_slice(&(back.len() as u32).to_be_bytes());
    assert_eq!(exec(&s, &a, 0, &c, &back).await.status, Status::Good);
    // ... Exclusive Access does not.
    let mut pl = vec![0u8; 24];
    pl[0..8].copy_from_slice(&KB.to_be_bytes());
    pl[8..16].copy_from_slice(&KB.to_be_bytes());
    assert_eq!(
        exec(&s, &b, 1, &[0x5F, 4, 3, 0, 0, 0, 0, 0, 24, 0], &pl)
            .await
            .status,
        Status::Good
    );
    assert!(conflict(&exec(&s, &a, 0, &c, &back).await));
}

/// RESERVATIONS RELEASED and RESERVATIONS PREEMPTED reach every I_T
/// nexus of the registrants, not the sender.
#[tokio::test]
async fn unit_attentions_of_release_and_clear() {
    let (s, p) = setup();
    let a = login(&s, &p, "iqn.a", "000000000001").await;
    let b = login(&s, &p, "iqn.b", "000000000002").await;
    // A second session of initiator B (another ISID), not registered.
    let b2 = login(&s, &p, "iqn.b", "000000000003").await;
    assert_eq!(prout(&s, &a, 0, 0, 0, KA).await.status, Status::Good);
    assert_eq!(prout(&s, &b, 0, 0, 0, KB).await.status, Status::Good);
    assert_eq!(prout(&s, &a, 1, 5, KA, 0).await.status, Status::Good);
    // Registrants Only: B writes, B2 (not registered) does not.
    let block = vec![1u8; 512];
    assert_eq!(exec(&s, &b, 0, &WRITE10, &block).await.status, Status::Good);
    assert!(conflict(&exec(&s, &b2, 0, &WRITE10, &block).await));
    assert_eq!(prout(&s, &a, 2, 5, KA, 0).await.status, Status::Good);
    assert_eq!(
        sense_of(&exec(&s, &b, 0, &TUR, &[]).await),
        Some((0x06, 0x2A, 0x04))
    );
    assert_eq!(exec(&s, &a, 0, &TUR, &[]).await.status, Status::Good);
    assert_eq!(exec(&s, &b2, 0, &TUR, &[]).await.status, Status::Good);
    // CLEAR by B: A gets RESERVATIONS PREEMPTED.
    assert_eq!(prout(&s, &b, 3, 0, KB, 0).await.status, Status::Good);
    assert_eq!(
        sense_of(&exec(&s, &a, 0, &TUR, &[]).await),
        Some((0x06, 0x2A, 0x03))
    );
    assert_eq!(exec(&s, &b, 0, &TUR, &[]).await.status, Status::Good);
    // READ FULL STATUS after SPEC_I_PT-free re-registration of both.
    assert_eq!(prout(&s, &a, 0, 0, 0, KA).await.status, Status::Good);
    let r = prin(&s, &b, 3, 0x1000).await;
    let mut want = vec![0, 0, 0, 4, 0, 0, 0, 52];
    want.extend_from_slice(&KA.to_be_bytes());
    want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 28]);
    want.extend_from_slice(&crate::pr::transport_id::encode(
        "iqn.a",
        Some("000000000001"),
    ));
    assert_eq!(r.data_in.as_ref(), want.as_slice());
}

/// WRITE USING TOKEN reads the token's live source LU: an Exclusive
/// Access reservation of another I_T nexus there refuses it with
/// RESERVATION CONFLICT and nothing is written; POPULATE TOKEN on a LU
/// reserved Exclusive Access by another nexus conflicts too.
#[tokio::test]
async fn write_using_token_obeys_the_source_lus_reservation() {
    use crate::copy::odx::params::build::{pt, wut};
    let (s, p) = setup();
    let a = login(&s, &p, "iqn.a", "000000000001").await;
    let b = login(&s, &p, "iqn.b", "000000000002").await;
    let src = p.luns[&0].clone();
    let dst = p.luns[&1].clone();
    src.backend
        .write(0, Bytes::from(vec![0x33; 8 * 512]), false)
        .await
        .unwrap();
    let out_cdb = |sa: u8, len: usize| {
        let mut c = [0u8; 16];
        c[0] = 0x83;
        c[1] = sa;
        c[6..10].copy_from_slice(&7u32.to_be_bytes());
        c[10..14].copy_from_slice(&(len as u32).to_be_bytes());
        c
    };
    let ptl = pt(0, 0, 0, &[(0, 8)]);
    let r = exec(&s, &a, 0, &out_cdb(0x10, ptl.len()), &ptl).await;
    assert_eq!(r.status, Status::Good, "{:?}", sense_of(&r));
    let mut rrti = [0u8; 16];
    rrti[0] = 0x84;
    rrti[1] = 0x07;
    rrti[2..6].copy_from_slice(&7u32.to_be_bytes());
    rrti[10..14].copy_from_slice(&4096u32.to_be_bytes());
    let r = exec(&s, &a, 0, &rrti, &[]).await;
    assert_eq!(r.status, Status::Good);
    let token: [u8; 512] = r.data_in[38..550].try_into().unwrap();
    // B registers on LU 0 and reserves it Exclusive Access.
    let mut pl = vec![0u8; 24];
    pl[8..16].copy_from_slice(&KB.to_be_bytes());
    assert_eq!(
        exec(&s, &b, 0, &[0x5F, 0, 0, 0, 0, 0, 0, 0, 24, 0], &pl)
            .await
            .status,
        Status::Good
    );
    let mut pl = vec![0u8; 24];
    pl[0..8].copy_from_slice(&KB.to_be_bytes());
    assert_eq!(
        exec(&s, &b, 0, &[0x5F, 1, 3, 0, 0, 0, 0, 0, 24, 0], &pl)
            .await
            .status,
        Status::Good
    );
    let w = wut(0, 0, &token, &[(0, 8)]);
    let r = exec(&s, &a, 1, &out_cdb(0x11, w.len()), &w).await;
    assert!(conflict(&r), "{r:?}");
    assert_eq!(
        dst.backend.read(0, 8 * 512).await.unwrap(),
        vec![0u8; 8 * 512]
    );
    let r = exec(&s, &a, 0, &out_cdb(0x10, ptl.len()), &ptl).await;
    assert!(conflict(&r), "POPULATE TOKEN reads the reserved LU");
    // B (the holder) may use A's token: the data moves.
    let r = exec(&s, &b, 1, &out_cdb(0x11, w.len()), &w).await;
    assert_eq!(r.status, Status::Good, "{:?}", sense_of(&r));
    assert_eq!(
        dst.backend.read(0, 8 * 512).await.unwrap(),
        vec![0x33u8; 8 * 512]
    );
}
