//! Physical block length (READ CAPACITY(16), VPD 0xB0), ORWRITE(16), and a
//! removable medium (INQUIRY RMB, START STOP UNIT, PREVENT ALLOW MEDIUM
//! REMOVAL, MEDIUM NOT PRESENT), through the device server's dispatch.

use super::config;
use crate::backend::MemoryBackend;
use crate::cdb;
use crate::device::testutil::{exec, nexus, port};
use crate::device::{DeviceServer, LogicalUnit, MediumConfig, Status, TmfFunction};
use crate::sbc::BlockLimits;
use crate::sense::ScsiError;
use std::sync::Arc;

const TUR: [u8; 6] = [0x00, 0, 0, 0, 0, 0];
const EJECT: [u8; 6] = [0x1B, 0, 0, 0, 0x02, 0];
const LOAD: [u8; 6] = [0x1B, 0, 0, 0, 0x03, 0];
const PREVENT: [u8; 6] = [0x1E, 0, 0, 0, 0x01, 0];
const ALLOW: [u8; 6] = [0x1E, 0, 0, 0, 0x00, 0];

fn lu(block_size: u32, medium: MediumConfig, read_only: bool) -> Arc<LogicalUnit> {
    Arc::new(LogicalUnit::with_medium(
        config(block_size, read_only),
        medium,
        Arc::new(MemoryBackend::new(1 << 20)),
    ))
}

fn medium(physical_block_size: u32, removable: bool) -> MediumConfig {
    MediumConfig {
        physical_block_size,
        removable,
    }
}

fn sense(e: ScsiError) -> Option<bytes::Bytes> {
    Some(e.sense().encode_fixed())
}

fn rc16() -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = 0x9E;
    c[1] = 0x10;
    c[13] = 32;
    c
}

#[tokio::test]
async fn read_capacity16_reports_the_physical_block_exponent() {
    for (bs, pbs, exp) in [
        (512, None, 3u8),
        (512, Some(512), 0),
        (512, Some(65536), 7),
        (4096, None, 0),
        (4096, Some(8192), 1),
        // Not a power of two multiple: falls back to one logical block.
        (4096, Some(6144), 0),
        (512, Some(256), 0),
    ] {
        let m = pbs.map_or(MediumConfig::default_for(bs), |p| medium(p, false));
        let p = port(vec![(0, lu(bs, m, false))]);
        let s = DeviceServer::new(vec![p.clone()]);
        let n = nexus(&s, &p).await;
        let r = exec(&s, &n, 0, &rc16(), &[]).await;
        assert_eq!(r.status, Status::Good);
        let blocks = (1u64 << 20) / u64::from(bs);
        let mut want = [0u8; 32];
        want[..8].copy_from_slice(&(blocks - 1).to_be_bytes());
        want[8..12].copy_from_slice(&bs.to_be_bytes());
        want[13] = exp;
        want[14] = 0xC0; // LBPME, LBPRZ (the memory backend deallocates)
        assert_eq!(&r.data_in[..], &want[..], "bs {bs} pbs {pbs:?}");
        let l = BlockLimits::for_lu(&p.luns[&0]);
        assert_eq!(l.optimal_transfer_length_granularity, 1 << exp);
        assert_eq!(
            l.optimal_unmap_granularity,
            (4096 / bs).max(1 << exp),
            "bs {bs} pbs {pbs:?}"
        );
        // VPD 0xB0: OPTIMAL TRANSFER LENGTH GRANULARITY (bytes 6..8) and
        // OPTIMAL UNMAP GRANULARITY (bytes 28..32).
        let r = exec(&s, &n, 0, &[0x12, 0x01, 0xB0, 0, 64, 0], &[]).await;
        assert_eq!(&r.data_in[6..8], &(1u16 << exp).to_be_bytes());
        assert_eq!(&r.data_in[28..32], &(4096 / bs).max(1 << exp).to_be_bytes());
    }
}

fn orwrite(lba: u64, blocks: u32, byte1: u8) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = 0x8B;
    c[1] = byte1;
    c[2..10].copy_from_slice(&lba.to_be_bytes());
    c[10..14].copy_from_slice(&blocks.to_be_bytes());
    c
}

#[tokio::test]
async fn orwrite_ors_the_data_out_into_the_medium() {
    let l = lu(512, MediumConfig::default_for(512), false);
    let p = port(vec![(0, l.clone())]);
    let s = DeviceServer::new(vec![p.clone()]);
    let n = nexus(&s, &p).await;
    let mut old = vec![0u8; 1024];
    for (i, b) in old.iter_mut().enumerate() {
        *b = if i % 2 == 0 { 0x0F } else { 0x30 };
    }
    l.backend
        .write(2 * 512, bytes::Bytes::from(old), false)
        .await
        .unwrap();
    let data = vec![0xA0u8; 1024];
    let r = exec(&s, &n, 0, &orwrite(2, 2, 0x08), &data).await;
    assert_eq!((r.status, r.sense), (Status::Good, None));
    let now = l.backend.read(2 * 512, 1024).await.unwrap();
    for (i, b) in now.iter().enumerate() {
        assert_eq!(*b, if i % 2 == 0 { 0xAF } else { 0xB0 }, "byte {i}");
    }
    // Neighbours untouched.
    assert!(l
        .backend
        .read(512, 512)
        .await
        .unwrap()
        .iter()
        .all(|&b| b == 0));
    assert!(l
        .backend
        .read(4 * 512, 512)
        .await
        .unwrap()
        .iter()
        .all(|&b| b == 0));
    // Zero blocks: GOOD, nothing moves; at the end of the medium too.
    let r = exec(&s, &n, 0, &orwrite(2048, 0, 0), &[]).await;
    assert_eq!(r.status, Status::Good);
    // Beyond the end, at LBA 2^63 and 2^64-1, with zero blocks too.
    for (lba, blocks) in [(2047, 2), (2049, 0), (1 << 63, 1), (u64::MAX, 1)] {
        let data = vec![0u8; blocks as usize * 512];
        let r = exec(&s, &n, 0, &orwrite(lba, blocks, 0), &data).await;
        assert_eq!(r.sense, sense(ScsiError::LbaOutOfRange), "lba {lba}");
    }
    // ORPROTECT other than 0: a reserved-bit violation of the usage mask.
    for orprotect in 1..8u8 {
        let r = exec(&s, &n, 0, &orwrite(0, 1, orprotect << 5), &[0; 512]).await;
        assert_eq!(r.status, Status::CheckCondition);
        let sk = r.sense.as_ref().map(|s| (s[2], s[12], s[13]));
        assert_eq!(sk, Some((0x05, 0x24, 0x00)), "orprotect {orprotect}");
    }
    // Listed in the one opcode table (REPORT SUPPORTED OPERATION CODES)
    // with DPO and FUA in its usage data.
    let e = cdb::by_name("ORWRITE_16").expect("ORWRITE_16 row");
    assert_eq!((e.opcode, e.usage.get(1).copied()), (0x8B, Some(0x18)));
}

#[tokio::test]
async fn orwrite_on_a_read_only_lu_is_write_protected() {
    let p = port(vec![(0, lu(4096, MediumConfig::default_for(4096), true))]);
    let s = DeviceServer::new(vec![p.clone()]);
    let n = nexus(&s, &p).await;
    let r = exec(&s, &n, 0, &orwrite(0, 1, 0), &[0xFF; 4096]).await;
    assert_eq!(r.sense, sense(ScsiError::WriteProtected));
}

#[tokio::test]
async fn inquiry_reports_rmb_for_a_removable_lu_only() {
    let p = port(vec![
        (0, lu(512, medium(4096, true), false)),
        (1, lu(512, medium(4096, false), false)),
    ]);
    let s = DeviceServer::new(vec![p.clone()]);
    let n = nexus(&s, &p).await;
    let r = exec(&s, &n, 0, &[0x12, 0, 0, 0, 8, 0], &[]).await;
    assert_eq!(&r.data_in[..2], &[0x00, 0x80]);
    let r = exec(&s, &n, 1, &[0x12, 0, 0, 0, 8, 0], &[]).await;
    assert_eq!(&r.data_in[..2], &[0x00, 0x00]);
}

#[tokio::test]
async fn eject_and_load_a_removable_medium() {
    let p = port(vec![(0, lu(512, medium(4096, true), false))]);
    let s = DeviceServer::new(vec![p.clone()]);
    let n = nexus(&s, &p).await;
    let no_medium = sense(ScsiError::MediumNotPresent);
    // LOEJ=0 (any START, IMMED, NO_FLUSH) and POWER CONDITION != 0 do not eject.
    for b4 in [0x00, 0x01, 0x04, 0x05, 0x12, 0x22, 0xF2, 0x72] {
        for immed in [0, 1] {
            let r = exec(&s, &n, 0, &[0x1B, immed, 0, 0, b4, 0], &[]).await;
            assert_eq!((r.status, r.sense), (Status::Good, None), "b4 {b4:#x}");
            let r = exec(&s, &n, 0, &TUR, &[]).await;
            assert_eq!(r.status, Status::Good, "b4 {b4:#x}");
        }
    }
    let r = exec(&s, &n, 0, &EJECT, &[]).await;
    assert_eq!(r.status, Status::Good);
    // NOT READY, MEDIUM NOT PRESENT: 70 00 02 .. 0A .. 3A 00.
    let r = exec(&s, &n, 0, &TUR, &[]).await;
    assert_eq!(r.sense, no_medium);
    assert_eq!(
        r.sense.as_deref().map(|s| (s[2], s[12], s[13])),
        Some((0x02, 0x3A, 0x00))
    );
    let read10 = [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0];
    assert_eq!(exec(&s, &n, 0, &read10, &[]).await.sense, no_medium);
    assert_eq!(exec(&s, &n, 0, &rc16(), &[]).await.sense, no_medium);
    // What describes the LU is still answered; a second eject is GOOD.
    for c in [
        &[0x12u8, 0, 0, 0, 36, 0][..],
        &[0x1A, 0, 0x3F, 0, 255, 0],
        &EJECT,
    ] {
        assert_eq!(exec(&s, &n, 0, c, &[]).await.status, Status::Good);
    }
    // PREVENT is accepted without a medium, and then refuses the load.
    assert_eq!(exec(&s, &n, 0, &PREVENT, &[]).await.status, Status::Good);
    let prevented = sense(ScsiError::MediumRemovalPrevented);
    assert_eq!(exec(&s, &n, 0, &LOAD, &[]).await.sense, prevented);
    assert_eq!(exec(&s, &n, 0, &ALLOW, &[]).await.status, Status::Good);
    assert_eq!(exec(&s, &n, 0, &LOAD, &[]).await.status, Status::Good);
    let r = exec(&s, &n, 0, &TUR, &[]).await;
    assert_eq!((r.status, r.sense), (Status::Good, None));
    assert_eq!(exec(&s, &n, 0, &read10, &[]).await.status, Status::Good);
}

#[tokio::test]
async fn prevent_is_per_nexus_and_cleared_by_nexus_loss_and_resets() {
    let p = port(vec![(0, lu(4096, medium(8192, true), false))]);
    let s = DeviceServer::new(vec![p.clone()]);
    let a = nexus(&s, &p).await;
    let b = nexus(&s, &p).await;
    let prevented = sense(ScsiError::MediumRemovalPrevented);
    // Prevented by A: refused on A and on B; TUR still GOOD.
    assert_eq!(exec(&s, &a, 0, &PREVENT, &[]).await.status, Status::Good);
    assert_eq!(exec(&s, &a, 0, &EJECT, &[]).await.sense, prevented);
    assert_eq!(exec(&s, &b, 0, &EJECT, &[]).await.sense, prevented);
    assert_eq!(exec(&s, &a, 0, &TUR, &[]).await.status, Status::Good);
    // B's ALLOW does not release A's PREVENT.
    assert_eq!(exec(&s, &b, 0, &ALLOW, &[]).await.status, Status::Good);
    assert_eq!(exec(&s, &b, 0, &EJECT, &[]).await.sense, prevented);
    // Loss of A (logout, connection loss) releases it.
    s.unregister_nexus(&a);
    let c = nexus(&s, &p).await;
    assert_eq!(exec(&s, &b, 0, &EJECT, &[]).await.status, Status::Good);
    assert_eq!(
        exec(&s, &b, 0, &TUR, &[]).await.sense,
        sense(ScsiError::MediumNotPresent)
    );
    assert_eq!(exec(&s, &b, 0, &LOAD, &[]).await.status, Status::Good);
    // The load is a unit attention for the other nexus (28h/00h), once.
    let r = exec(&s, &c, 0, &TUR, &[]).await;
    assert_eq!(r.sense, sense(ScsiError::NotReadyToReadyChange));
    assert_eq!(
        r.sense.as_deref().map(|s| (s[2], s[12], s[13])),
        Some((0x06, 0x28, 0x00))
    );
    assert_eq!(exec(&s, &c, 0, &TUR, &[]).await.status, Status::Good);
    // Loading a loaded medium changes nothing: no unit attention.
    assert_eq!(exec(&s, &b, 0, &LOAD, &[]).await.status, Status::Good);
    assert_eq!(exec(&s, &c, 0, &TUR, &[]).await.status, Status::Good);
    // A LUN reset and target resets release it too.
    for f in [
        TmfFunction::LunReset,
        TmfFunction::TargetWarmReset,
        TmfFunction::TargetColdReset,
    ] {
        assert_eq!(exec(&s, &b, 0, &PREVENT, &[]).await.status, Status::Good);
        s.task_management(&b, f, 0).await;
        // The reset's unit attention first, then the eject is allowed.
        assert_eq!(
            exec(&s, &b, 0, &TUR, &[]).await.status,
            Status::CheckCondition
        );
        assert_eq!(
            exec(&s, &b, 0, &EJECT, &[]).await.status,
            Status::Good,
            "{f:?}"
        );
        assert_eq!(exec(&s, &b, 0, &LOAD, &[]).await.status, Status::Good);
    }
}

#[tokio::test]
async fn a_fixed_lu_ignores_loej_but_honours_prevent_on_eject() {
    let p = port(vec![(0, lu(512, MediumConfig::default_for(512), false))]);
    let s = DeviceServer::new(vec![p.clone()]);
    let n = nexus(&s, &p).await;
    assert_eq!(exec(&s, &n, 0, &EJECT, &[]).await.status, Status::Good);
    assert_eq!(exec(&s, &n, 0, &TUR, &[]).await.status, Status::Good);
    assert_eq!(exec(&s, &n, 0, &PREVENT, &[]).await.status, Status::Good);
    assert_eq!(
        exec(&s, &n, 0, &EJECT, &[]).await.sense,
        sense(ScsiError::MediumRemovalPrevented)
    );
    assert_eq!(exec(&s, &n, 0, &LOAD, &[]).await.status, Status::Good);
}

#[tokio::test]
async fn unaligned_write_same_unmap_inside_a_physical_block() {
    // 512-byte logical, 4096-byte physical blocks (LBPPB 8): deallocating
    // LBAs 1..7 leaves LBA 0 and the next physical block untouched, and
    // LBAs 1..7 read back as zeroes (LBPRZ=1).
    let l = lu(512, MediumConfig::default_for(512), false);
    let p = port(vec![(0, l.clone())]);
    let s = DeviceServer::new(vec![p.clone()]);
    let n = nexus(&s, &p).await;
    let data = super::pattern(16 * 512, 7);
    let mut w10 = [0x2A, 0, 0, 0, 0, 0, 0, 0, 16, 0];
    let r = exec(&s, &n, 0, &w10, &data).await;
    assert_eq!(r.status, Status::Good);
    for first in 1..8u8 {
        let ws10 = [0x41, 0x08, 0, 0, 0, first, 0, 0, 8 - first, 0];
        let r = exec(&s, &n, 0, &ws10, &[0u8; 512]).await;
        assert_eq!((r.status, r.sense), (Status::Good, None), "lba {first}");
        let now = l.backend.read(0, 16 * 512).await.unwrap();
        let cut = usize::from(first) * 512;
        assert_eq!(&now[..cut], &data[..cut], "lba {first}");
        assert!(now[cut..8 * 512].iter().all(|&b| b == 0), "lba {first}");
        assert_eq!(&now[8 * 512..], &data[8 * 512..], "lba {first}");
        w10[8] = 16;
        exec(&s, &n, 0, &w10, &data).await;
    }
    // Data-Out of half a block or of two blocks: refused, nothing changes.
    for len in [256usize, 1024] {
        let ws10 = [0x41, 0x08, 0, 0, 0, 0, 0, 0, 1, 0];
        let r = exec(&s, &n, 0, &ws10, &vec![0xA6u8; len]).await;
        assert_eq!(r.sense, sense(ScsiError::InvalidFieldInCommandIu), "{len}");
    }
    assert_eq!(&l.backend.read(0, 16 * 512).await.unwrap()[..], &data[..]);
}

#[tokio::test]
async fn read_defect_data_reports_empty_lists_in_the_requested_format() {
    let p = port(vec![(0, lu(512, MediumConfig::default_for(512), false))]);
    let s = DeviceServer::new(vec![p.clone()]);
    let n = nexus(&s, &p).await;
    // (10): REQ_PLIST, REQ_GLIST, long block format (011b); 32 bytes.
    let r = exec(&s, &n, 0, &[0x37, 0, 0x1B, 0, 0, 0, 0, 0, 32, 0], &[]).await;
    assert_eq!(r.status, Status::Good);
    assert_eq!(&r.data_in[..], &[0, 0x1B, 0, 0]);
    // What libiscsi's ReadDefectData10.Simple sends: no lists, format 0.
    let r = exec(&s, &n, 0, &[0x37, 0, 0, 0, 0, 0, 0, 0, 32, 0], &[]).await;
    assert_eq!(&r.data_in[..], &[0, 0, 0, 0]);
    // Allocation length 2 truncates the header.
    let r = exec(&s, &n, 0, &[0x37, 0, 0x10, 0, 0, 0, 0, 0, 2, 0], &[]).await;
    assert_eq!(&r.data_in[..], &[0, 0x10]);
    // (12): GLIST only, physical sector format (101b), index 7.
    let r = exec(&s, &n, 0, &[0xB7, 0x0D, 0, 0, 0, 7, 0, 0, 1, 0, 0, 0], &[]).await;
    assert_eq!(r.status, Status::Good);
    assert_eq!(&r.data_in[..], &[0, 0x0D, 0, 0, 0, 0, 0, 0]);
    // The reserved format 111b: INVALID FIELD IN CDB, byte 2 bit 2 / byte 1 bit 2.
    for (cdb, byte) in [
        (vec![0x37, 0, 0x07, 0, 0, 0, 0, 0, 32, 0], 2u16),
        (vec![0xB7, 0x07, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0], 1),
    ] {
        let r = exec(&s, &n, 0, &cdb, &[]).await;
        assert_eq!(r.status, Status::CheckCondition);
        assert_eq!(
            r.sense,
            sense(ScsiError::InvalidFieldInCdb(
                crate::sense::FieldPointer::bit(byte, 2)
            ))
        );
    }
    // A reserved bit (byte 1 of the (10) CDB) is rejected by the table.
    let r = exec(&s, &n, 0, &[0x37, 0x01, 0, 0, 0, 0, 0, 0, 32, 0], &[]).await;
    assert_eq!(r.status, Status::CheckCondition);
}
