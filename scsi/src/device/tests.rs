//! Dispatch tests: unit attentions, unmapped LUNs, reserved bits, write
//! protection, resets, and a no-panic sweep over truncated CDBs.

use super::testutil::*;
use super::{DeviceServer, Status, TmfFunction, TmfResponse};
use crate::backend::memory::MemoryBackend;
use crate::cdb::TABLE;
use crate::device::{LogicalUnit, Nexus};
use std::sync::Arc;

const TUR: [u8; 6] = [0; 6];
const INQUIRY: [u8; 6] = [0x12, 0, 0, 0, 96, 0];
const REQUEST_SENSE: [u8; 6] = [0x03, 0, 0, 0, 252, 0];

#[tokio::test]
async fn nexus_ids_are_unique_and_nonzero() {
    let (s, p) = server();
    let a = s.register_nexus("i", "i,i,0x1", p.clone());
    let b = s.register_nexus("i", "i,i,0x2", p.clone());
    assert_ne!(a.id, 0);
    assert_ne!(a.id, b.id);
}

#[tokio::test]
async fn power_on_ua_is_reported_once_and_spares_inquiry() {
    let (s, p) = server();
    let n = s.register_nexus("i", "i,i,0x1", p.clone());
    // INQUIRY and REPORT LUNS do not report the UA.
    let r = exec(&s, &n, 0, &INQUIRY, &[]).await;
    assert_eq!(r.status, Status::Good);
    let r = exec(&s, &n, 0, &[0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], &[]).await;
    assert_eq!(r.status, Status::Good);
    // The first other command does, once.
    let r = exec(&s, &n, 0, &TUR, &[]).await;
    assert_eq!(r.status, Status::CheckCondition);
    assert_eq!(sense_of(&r), Some((0x6, 0x29, 0x00)));
    assert_eq!(exec(&s, &n, 0, &TUR, &[]).await.status, Status::Good);
    // UAs are per LU: LUN 1 still has its own.
    assert_eq!(
        sense_of(&exec(&s, &n, 1, &TUR, &[]).await),
        Some((0x6, 0x29, 0x00))
    );
}

#[tokio::test]
async fn ua_precedes_invalid_opcode() {
    let (s, p) = server();
    let n = s.register_nexus("i", "i,i,0x1", p.clone());
    let r = exec(&s, &n, 0, &[0xFF, 0, 0, 0, 0, 0], &[]).await;
    assert_eq!(sense_of(&r), Some((0x6, 0x29, 0x00)));
    let r = exec(&s, &n, 0, &[0xFF, 0, 0, 0, 0, 0], &[]).await;
    assert_eq!(sense_of(&r), Some((0x5, 0x20, 0x00)));
}

#[tokio::test]
async fn request_sense_returns_and_clears_ua() {
    let (s, p) = server();
    let n = s.register_nexus("i", "i,i,0x1", p.clone());
    let r = exec(&s, &n, 0, &REQUEST_SENSE, &[]).await;
    assert_eq!(r.status, Status::Good);
    assert_eq!(
        &r.data_in[..],
        &[0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x29, 0, 0, 0, 0, 0]
    );
    let r = exec(&s, &n, 0, &REQUEST_SENSE, &[]).await;
    assert_eq!(
        &r.data_in[..],
        &[0x70, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    // Descriptor format.
    let r = exec(&s, &n, 0, &[0x03, 1, 0, 0, 252, 0], &[]).await;
    assert_eq!(&r.data_in[..], &[0x72, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(exec(&s, &n, 0, &TUR, &[]).await.status, Status::Good);
}

#[tokio::test]
async fn report_luns_clears_reported_luns_data_changed() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    s.notify_luns_changed(&p);
    let r = exec(&s, &n, 0, &[0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], &[]).await;
    assert_eq!(r.status, Status::Good);
    assert_eq!(exec(&s, &n, 0, &TUR, &[]).await.status, Status::Good);
    // LUN 1 was not addressed: its UA stays.
    assert_eq!(
        sense_of(&exec(&s, &n, 1, &TUR, &[]).await),
        Some((0x6, 0x3F, 0x0E))
    );
}

#[tokio::test]
async fn capacity_changed_ua() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    s.notify_capacity_changed(&p.luns[&0]);
    assert_eq!(
        sense_of(&exec(&s, &n, 0, &TUR, &[]).await),
        Some((0x6, 0x2A, 0x09))
    );
}

#[tokio::test]
async fn unmapped_lun() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    let r = exec(&s, &n, 7, &INQUIRY, &[]).await;
    assert_eq!(r.status, Status::Good);
    assert_eq!(r.data_in.len(), 96);
    assert_eq!(r.data_in[0], 0x7F);
    let r = exec(&s, &n, 7, &[0x12, 1, 0, 0, 255, 0], &[]).await;
    assert_eq!(&r.data_in[..], &[0x7F, 0, 0, 1, 0]);
    let r = exec(&s, &n, 7, &[0x12, 1, 0x80, 0, 255, 0], &[]).await;
    assert_eq!(sense_of(&r), Some((0x5, 0x24, 0x00)));
    let r = exec(&s, &n, 7, &TUR, &[]).await;
    assert_eq!(sense_of(&r), Some((0x5, 0x25, 0x00)));
    // Even an unknown opcode: LOGICAL UNIT NOT SUPPORTED.
    let r = exec(&s, &n, 7, &[0xFF; 16], &[]).await;
    assert_eq!(sense_of(&r), Some((0x5, 0x25, 0x00)));
    let r = exec(&s, &n, 7, &[0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], &[]).await;
    assert_eq!(
        &r.data_in[..],
        &[0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    );
    let r = exec(&s, &n, 7, &REQUEST_SENSE, &[]).await;
    assert_eq!(r.status, Status::Good);
    assert_eq!(
        (r.data_in[2], r.data_in[12], r.data_in[13]),
        (0x05, 0x25, 0x00)
    );
}

#[tokio::test]
async fn reserved_bits_give_field_pointer() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    // TEST UNIT READY with bit 0 of byte 1 set.
    let r = exec(&s, &n, 0, &[0, 0x01, 0, 0, 0, 0], &[]).await;
    assert_eq!(sense_of(&r), Some((0x5, 0x24, 0x00)));
    assert_eq!(sks_of(&r), Some([0xC8, 0, 1]));
    // INQUIRY with CMDDT (byte 1 bit 1).
    let r = exec(&s, &n, 0, &[0x12, 0x02, 0, 0, 96, 0], &[]).await;
    assert_eq!(sks_of(&r), Some([0xC9, 0, 1]));
    // NACA in the CONTROL byte of REPORT LUNS.
    let r = exec(&s, &n, 0, &[0xA0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x04], &[]).await;
    assert_eq!(sks_of(&r), Some([0xCA, 0, 11]));
    // READ(10) with RDPROTECT=001b.
    let r = exec(&s, &n, 0, &[0x28, 0x20, 0, 0, 0, 0, 0, 0, 1, 0], &[]).await;
    assert_eq!(sks_of(&r), Some([0xCD, 0, 1]));
    // Unsupported service action of MAINTENANCE IN.
    let r = exec(&s, &n, 0, &[0xA3, 0x05, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0], &[]).await;
    assert_eq!(sense_of(&r), Some((0x5, 0x24, 0x00)));
    assert_eq!(sks_of(&r), Some([0xCC, 0, 1]));
}

#[tokio::test]
async fn write_protect_and_data_out_wanted() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    let write10 = [0x2A, 0, 0, 0, 0, 0, 0, 0, 8, 0];
    let r = exec(&s, &n, 1, &write10, &[]).await;
    assert_eq!(sense_of(&r), Some((0x7, 0x27, 0x00)));
    assert_eq!(r.data_out_wanted, 4096);
    // WRITE(6) with TRANSFER LENGTH 0 means 256 blocks.
    let r = exec(&s, &n, 1, &[0x0A, 0, 0, 0, 0, 0], &[]).await;
    assert_eq!(r.data_out_wanted, 256 * 512);
    // MODE SELECT(10) parameter list length; a read: none.
    let r = exec(&s, &n, 0, &[0x55, 0x10, 0, 0, 0, 0, 0, 0x01, 0x02, 0], &[]).await;
    assert_eq!(r.data_out_wanted, 0x102);
    let r = exec(&s, &n, 0, &[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], &[]).await;
    assert_eq!(r.data_out_wanted, 0);
    assert_eq!(r.status, Status::Good);
    // COMPARE AND WRITE: twice the blocks.
    let caw = [0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0];
    assert_eq!(exec(&s, &n, 1, &caw, &[]).await.data_out_wanted, 2048);
}

#[tokio::test]
async fn lun_reset_establishes_ua_for_every_nexus_and_clears_prevent() {
    let (s, p) = server();
    let a = nexus(&s, &p).await;
    let b = nexus(&s, &p).await;
    let prevent = [0x1E, 0, 0, 0, 1, 0];
    assert_eq!(exec(&s, &a, 0, &prevent, &[]).await.status, Status::Good);
    assert!(p.luns[&0].spc.removal_prevented());
    assert_eq!(
        s.task_management(&a, TmfFunction::LunReset, 0).await,
        TmfResponse::Complete
    );
    assert!(!p.luns[&0].spc.removal_prevented());
    for n in [&a, &b] {
        assert_eq!(
            sense_of(&exec(&s, n, 0, &TUR, &[]).await),
            Some((0x6, 0x29, 0x03))
        );
        assert_eq!(exec(&s, n, 0, &TUR, &[]).await.status, Status::Good);
    }
    // Other LUs are untouched.
    assert_eq!(exec(&s, &a, 1, &TUR, &[]).await.status, Status::Good);
    assert_eq!(
        s.task_management(&a, TmfFunction::LunReset, 9).await,
        TmfResponse::LunDoesNotExist
    );
}

#[tokio::test]
async fn target_resets() {
    let (s, p) = server();
    let a = nexus(&s, &p).await;
    s.task_management(&a, TmfFunction::TargetWarmReset, 0).await;
    assert_eq!(
        sense_of(&exec(&s, &a, 1, &TUR, &[]).await),
        Some((0x6, 0x29, 0x03))
    );
    s.task_management(&a, TmfFunction::TargetColdReset, 0).await;
    assert_eq!(
        sense_of(&exec(&s, &a, 0, &TUR, &[]).await),
        Some((0x6, 0x29, 0x01))
    );
    assert_eq!(
        sense_of(&exec(&s, &a, 1, &TUR, &[]).await),
        Some((0x6, 0x29, 0x01))
    );
}

#[tokio::test]
async fn unregister_forgets_nexus() {
    let (s, p) = server();
    let a = nexus(&s, &p).await;
    exec(&s, &a, 0, &[0x1E, 0, 0, 0, 1, 0], &[]).await;
    s.unregister_nexus(&a);
    assert!(!p.luns[&0].spc.removal_prevented());
    assert!(!p.luns[&0].spc.ua.nexuses().contains(&a.id));
}

#[tokio::test]
async fn mode_select_wce_notifies_other_nexuses() {
    let (s, p) = server();
    let a = nexus(&s, &p).await;
    let b = nexus(&s, &p).await;
    assert!(p.luns[&0].write_cache_enabled());
    let mut list = vec![0u8, 0, 0, 0];
    let mut caching = vec![0u8; 20];
    caching[0] = 0x08;
    caching[1] = 0x12;
    list.extend_from_slice(&caching);
    let r = exec(&s, &a, 0, &[0x15, 0x10, 0, 0, 24, 0], &list).await;
    assert_eq!(r.status, Status::Good, "{:?}", r.sense);
    assert!(!p.luns[&0].write_cache_enabled());
    assert_eq!(exec(&s, &a, 0, &TUR, &[]).await.status, Status::Good);
    assert_eq!(
        sense_of(&exec(&s, &b, 0, &TUR, &[]).await),
        Some((0x6, 0x2A, 0x01))
    );
    // Selecting the same values again changes nothing: no UA.
    exec(&s, &a, 0, &[0x15, 0x10, 0, 0, 24, 0], &list).await;
    assert_eq!(exec(&s, &b, 0, &TUR, &[]).await.status, Status::Good);
}

async fn sweep(s: &DeviceServer, n: &Nexus, lun: u64, fill: u8) {
    for e in TABLE {
        let mut cdb = [fill; 40];
        cdb[0] = e.opcode;
        if let Some(sa) = e.service_action {
            cdb[1] = (fill & 0xE0) | sa as u8;
        }
        for len in 0..=cdb.len() {
            for data in [&[][..], &[0xA5u8; 700][..]] {
                let r = exec(s, n, lun, &cdb[..len], data).await;
                if r.status == Status::CheckCondition {
                    assert!(r.sense.as_ref().is_some_and(|s| s.len() >= 18));
                }
            }
        }
    }
}

/// Every prefix of every table command's CDB, with zero, all-ones and
/// mixed fill, on a memory-backed LU, a read-only LU and an unmapped LUN.
#[tokio::test]
async fn every_prefix_of_every_cdb_completes() {
    let mem = Arc::new(LogicalUnit::new(
        config(false),
        Arc::new(MemoryBackend::new(1 << 20)),
    ));
    let p = port(vec![(0, mem), (1, lu(true, thin()))]);
    let s = DeviceServer::new(vec![p.clone()]);
    let n = nexus(&s, &p).await;
    for fill in [0x00, 0xFF, 0x5A, 0x01] {
        for lun in [0, 1, 5] {
            sweep(&s, &n, lun, fill).await;
        }
    }
    for op in 0..=255u8 {
        exec(&s, &n, 0, &[op], &[]).await;
        exec(&s, &n, 0, &[op; 300], &[1; 3]).await;
    }
}
