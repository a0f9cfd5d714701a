//! Byte-exact tests of the primary commands through the dispatcher.
#![allow(clippy::unwrap_used)]

use crate::cdb::TABLE;
use crate::device::testutil::*;
use crate::device::Status;
use crate::sbc::BlockLimits;

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

#[tokio::test]
async fn standard_inquiry() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    let r = exec(&s, &n, 0, &[0x12, 0, 0, 1, 0, 0], &[]).await;
    let mut want = concat(&[
        &[0x00, 0x00, 0x06, 0x12, 0x5B, 0x18, 0x00, 0x02], // TPGS=01b 3PC=1
        b"XTGT    ",
        b"disk            ",
        b"0.1 ",
        &[0; 22],
        &[
            0x00, 0xA0, 0x09, 0x60, 0x05, 0xC0, 0x06, 0x00, 0x04, 0x60, 0x04, 0xC0,
        ],
    ]);
    want.resize(96, 0);
    assert_eq!(&r.data_in[..], &want[..]);
    // ALLOCATION LENGTH truncates, never over-runs.
    for alloc in [0u8, 5, 36, 95] {
        let r = exec(&s, &n, 0, &[0x12, 0, 0, 0, alloc, 0], &[]).await;
        assert_eq!(&r.data_in[..], &want[..usize::from(alloc)]);
    }
}

#[tokio::test]
async fn inquiry_errors() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    // PAGE CODE without EVPD.
    let r = exec(&s, &n, 0, &[0x12, 0, 0x80, 0, 255, 0], &[]).await;
    assert_eq!(sense_of(&r), Some((0x5, 0x24, 0)));
    assert_eq!(sks_of(&r), Some([0xC0, 0, 2]));
    // Unsupported VPD page.
    let r = exec(&s, &n, 0, &[0x12, 1, 0x99, 0, 255, 0], &[]).await;
    assert_eq!(sks_of(&r), Some([0xC0, 0, 2]));
}

async fn vpd(lun: u64, page: u8) -> Vec<u8> {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    let r = exec(&s, &n, lun, &[0x12, 1, page, 1, 0, 0], &[]).await;
    assert_eq!(r.status, Status::Good, "page {page:#x}: {:?}", r.sense);
    r.data_in.to_vec()
}

#[tokio::test]
async fn vpd_supported_pages() {
    assert_eq!(
        vpd(0, 0x00).await,
        [0, 0, 0, 7, 0x00, 0x80, 0x83, 0x8F, 0xB0, 0xB1, 0xB2]
    );
}

/// The Supported VPD Pages list and the page dispatcher are two tables:
/// every page listed is served, and every page served is listed.
#[tokio::test]
async fn vpd_supported_pages_list_matches_what_is_served() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    let listed = vpd(0, 0x00).await[4..].to_vec();
    for page in 0..=255u8 {
        let r = exec(&s, &n, 0, &[0x12, 1, page, 1, 0, 0], &[]).await;
        let served = r.status == Status::Good;
        assert_eq!(served, listed.contains(&page), "page {page:#04x}");
        if served {
            assert_eq!(r.data_in[1], page);
        } else {
            assert_eq!(sense_of(&r), Some((0x5, 0x24, 0)), "page {page:#04x}");
        }
    }
}

#[tokio::test]
async fn vpd_unit_serial_number() {
    assert_eq!(vpd(0, 0x80).await, concat(&[&[0, 0x80, 0, 7], b"SER0001"]));
}

#[tokio::test]
async fn vpd_device_identification() {
    let want = concat(&[
        &[0, 0x83, 0, 111],
        // NAA 6, LU.
        &[0x01, 0x03, 0, 16, 0x60, 0xA5, 0x85, 0x40, 0, 0, 0, 0],
        &[1, 2, 3, 4, 5, 6, 7, 8],
        // T10 vendor ID, LU.
        &[0x02, 0x01, 0, 15],
        b"XTGT    SER0001",
        // Relative target port, target port group.
        &[0x51, 0x94, 0, 4, 0, 0, 0, 1],
        &[0x51, 0x95, 0, 4, 0, 0, 0, 1],
        // SCSI name strings: target port and target device.
        &[0x53, 0x98, 0, 28],
        b"iqn.2026-01.test:t,t,0x0001\0",
        &[0x53, 0xA8, 0, 20],
        b"iqn.2026-01.test:t\0\0",
    ]);
    assert_eq!(vpd(0, 0x83).await, want);
}

#[tokio::test]
async fn vpd_block_limits() {
    let (_, p) = server();
    for lun in [0u64, 1] {
        let l = BlockLimits::for_lu(&p.luns[&lun]);
        let mut want = vec![
            0,
            0xB0,
            0,
            0x3C,
            u8::from(l.wsnz),
            l.max_compare_and_write_length,
        ];
        want.extend_from_slice(&l.optimal_transfer_length_granularity.to_be_bytes());
        want.extend_from_slice(&l.max_transfer_length.to_be_bytes());
        want.extend_from_slice(&l.optimal_transfer_length.to_be_bytes());
        want.extend_from_slice(&l.max_transfer_length.to_be_bytes());
        want.extend_from_slice(&l.max_unmap_lba_count.to_be_bytes());
        want.extend_from_slice(&l.max_unmap_descriptors.to_be_bytes());
        if lun == 0 {
            want.extend_from_slice(&l.optimal_unmap_granularity.to_be_bytes());
            want.extend_from_slice(&(0x8000_0000 | l.unmap_granularity_alignment).to_be_bytes());
        } else {
            assert_eq!((l.max_unmap_lba_count, l.max_unmap_descriptors), (0, 0));
            want.extend_from_slice(&[0; 8]);
        }
        want.extend_from_slice(&l.max_write_same_length.to_be_bytes());
        want.resize(64, 0);
        assert_eq!(vpd(lun, 0xB0).await, want, "lun {lun}");
    }
}

#[tokio::test]
async fn vpd_block_device_characteristics() {
    let mut want = vec![0, 0xB1, 0, 0x3C, 0, 1];
    want.resize(64, 0);
    assert_eq!(vpd(0, 0xB1).await, want);
}

#[tokio::test]
async fn vpd_logical_block_provisioning() {
    // Thin: LBPU, LBPWS, LBPWS10, LBPRZ=001b, provisioning type 2.
    assert_eq!(vpd(0, 0xB2).await, [0, 0xB2, 0, 4, 0, 0xE4, 0x02, 0]);
    // Fully provisioned, read-only.
    assert_eq!(vpd(1, 0xB2).await, [0, 0xB2, 0, 4, 0, 0, 0, 0]);
}

#[tokio::test]
async fn report_luns() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    let cdb = |sel: u8, alloc: u8| [0xA0, 0, sel, 0, 0, 0, 0, 0, 0, alloc, 0, 0];
    let all = concat(&[
        &[0, 0, 0, 16, 0, 0, 0, 0],
        &[0; 8],
        &[0, 1, 0, 0, 0, 0, 0, 0],
    ]);
    for sel in [0, 2] {
        assert_eq!(
            &exec(&s, &n, 0, &cdb(sel, 255), &[]).await.data_in[..],
            &all[..]
        );
    }
    assert_eq!(
        &exec(&s, &n, 0, &cdb(0, 16), &[]).await.data_in[..],
        &all[..16]
    );
    assert_eq!(
        &exec(&s, &n, 0, &cdb(1, 255), &[]).await.data_in[..],
        &[0; 8]
    );
    let r = exec(&s, &n, 0, &cdb(0, 15), &[]).await;
    assert_eq!(sks_of(&r), Some([0xC0, 0, 6]));
    let r = exec(&s, &n, 0, &cdb(3, 255), &[]).await;
    assert_eq!(sks_of(&r), Some([0xC0, 0, 2]));
    assert_eq!(crate::lun::encode(300), [0x41, 0x2C, 0, 0, 0, 0, 0, 0]);
}

const RWER: [u8; 12] = [0x01, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const CONTROL: [u8; 12] = [0x0A, 0x0A, 0, 0x10, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0];
const IEC: [u8; 12] = [0x1C, 0x0A, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0];

fn caching(wce: bool) -> Vec<u8> {
    let mut c = vec![0u8; 20];
    c[0] = 0x08;
    c[1] = 0x12;
    c[2] = if wce { 0x04 } else { 0 };
    c
}

#[tokio::test]
async fn mode_sense6_all_pages() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    let r = exec(&s, &n, 0, &[0x1A, 0, 0x3F, 0, 255, 0], &[]).await;
    let want = concat(&[
        &[67, 0, 0x10, 8],
        &[0, 0, 0x08, 0, 0, 0, 0x02, 0],
        &RWER,
        &caching(true),
        &CONTROL,
        &IEC,
    ]);
    assert_eq!(&r.data_in[..], &want[..]);
    // Read-only LU: WP; DBD: no block descriptor; subpage FFh accepted.
    let r = exec(&s, &n, 1, &[0x1A, 0x08, 0x3F, 0xFF, 4, 0], &[]).await;
    assert_eq!(&r.data_in[..], &[59, 0, 0x90, 0]);
}

#[tokio::test]
async fn mode_sense10_long_lba_and_page_controls() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    let r = exec(&s, &n, 0, &[0x5A, 0x10, 0x08, 0, 0, 0, 0, 0, 255, 0], &[]).await;
    let want = concat(&[
        &[0, 42, 0, 0x10, 1, 0, 0, 16],
        &[0, 0, 0, 0, 0, 0, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x02, 0],
        &caching(true),
    ]);
    assert_eq!(&r.data_in[..], &want[..]);
    // Changeable values: only WCE.
    let r = exec(&s, &n, 0, &[0x5A, 0x08, 0x48, 0, 0, 0, 0, 0, 255, 0], &[]).await;
    assert_eq!(
        &r.data_in[..],
        &concat(&[&[0, 26, 0, 0x10, 0, 0, 0, 0], &caching(true)])[..]
    );
    // Control page: only D_SENSE (byte 2 bit 2) is changeable.
    let r = exec(&s, &n, 0, &[0x5A, 0x08, 0x4A, 0, 0, 0, 0, 0, 255, 0], &[]).await;
    assert_eq!(
        &r.data_in[8..],
        &[0x0A, 0x0A, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    // Saved values: SAVING PARAMETERS NOT SUPPORTED.
    let r = exec(&s, &n, 0, &[0x5A, 0, 0xC8, 0, 0, 0, 0, 0, 255, 0], &[]).await;
    assert_eq!(sense_of(&r), Some((0x5, 0x39, 0)));
    // Unknown page, unknown subpage.
    let r = exec(&s, &n, 0, &[0x1A, 0, 0x19, 0, 255, 0], &[]).await;
    assert_eq!(sks_of(&r), Some([0xCD, 0, 2]));
    let r = exec(&s, &n, 0, &[0x1A, 0, 0x08, 1, 255, 0], &[]).await;
    assert_eq!(sks_of(&r), Some([0xC0, 0, 3]));
}

/// D_SENSE (SPC-5 7.5.8) set by MODE SELECT on one LU: its current and
/// default values are honest, the other nexus gets MODE PARAMETERS CHANGED
/// (in descriptor format, the LU's format now), CHECK CONDITION sense on
/// that LU is descriptor format while the other LU and an unmapped LUN stay
/// fixed, and REQUEST SENSE still follows its DESC bit.
#[tokio::test]
async fn d_sense_selects_descriptor_format_per_lu() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    let other = s.register_nexus("iqn.2026-01.test:j", "iqn.2026-01.test:j,i,0x2", p.clone());
    exec(&s, &other, 0, &[0x03, 0, 0, 0, 252, 0], &[]).await;
    let mut control = CONTROL;
    control[2] = 0x04;
    let list = concat(&[&[0, 0, 0, 0], &control]);
    let r = exec(&s, &n, 0, &[0x15, 0x10, 0, 0, 16, 0], &list).await;
    assert_eq!(r.status, Status::Good, "{:?}", r.sense);
    assert!(p.luns[&0].spc.descriptor_sense());
    // Current: D_SENSE=1; default: 0.
    let r = exec(&s, &n, 0, &[0x1A, 0x08, 0x0A, 0, 255, 0], &[]).await;
    assert_eq!(&r.data_in[4..], &control[..]);
    let r = exec(&s, &n, 0, &[0x1A, 0x08, 0x8A, 0, 255, 0], &[]).await;
    assert_eq!(&r.data_in[4..], &CONTROL[..]);
    // The other nexus: unit attention, descriptor format.
    let r = exec(&s, &other, 0, &[0x00, 0, 0, 0, 0, 0], &[]).await;
    assert_eq!(r.status, Status::CheckCondition);
    assert_eq!(
        r.sense.as_deref(),
        Some(&[0x72, 0x06, 0x2A, 0x01, 0, 0, 0, 0][..])
    );
    // Invalid opcode: descriptor format on LU 0 ...
    let r = exec(&s, &n, 0, &[0xFF, 0, 0, 0, 0, 0], &[]).await;
    assert_eq!(
        r.sense.as_deref(),
        Some(&[0x72, 0x05, 0x20, 0x00, 0, 0, 0, 0][..])
    );
    // ... fixed on LU 1 and on a LUN without a logical unit.
    for lun in [1, 9] {
        let r = exec(&s, &n, lun, &[0xFF, 0, 0, 0, 0, 0], &[]).await;
        assert_eq!(r.sense.as_ref().map(|s| (s[0], s.len())), Some((0x70, 18)));
    }
    // REQUEST SENSE follows DESC, not D_SENSE.
    let r = exec(&s, &n, 0, &[0x03, 0, 0, 0, 252, 0], &[]).await;
    assert_eq!(r.data_in[0], 0x70);
    let r = exec(&s, &n, 0, &[0x03, 1, 0, 0, 252, 0], &[]).await;
    assert_eq!(&r.data_in[..], &[0x72, 0, 0, 0, 0, 0, 0, 0]);
    // Back to D_SENSE=0: fixed again.
    let list = concat(&[&[0, 0, 0, 0], &CONTROL]);
    let r = exec(&s, &n, 0, &[0x15, 0x10, 0, 0, 16, 0], &list).await;
    assert_eq!(r.status, Status::Good);
    let r = exec(&s, &n, 0, &[0xFF, 0, 0, 0, 0, 0], &[]).await;
    assert_eq!(sense_of(&r), Some((0x05, 0x20, 0x00)));
}

#[tokio::test]
async fn mode_select_validation() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    let sel6 = |len: u8| [0x15, 0x10, 0, 0, len, 0];
    // Changing QUEUE ALGORITHM MODIFIER (not changeable): byte 7 bit 4.
    let mut control = CONTROL;
    control[3] = 0;
    let list = concat(&[&[0, 0, 0, 0], &control]);
    let r = exec(&s, &n, 0, &sel6(16), &list).await;
    assert_eq!(sense_of(&r), Some((0x5, 0x26, 0)));
    assert_eq!(sks_of(&r), Some([0x8C, 0, 7]));
    // Wrong PAGE LENGTH.
    let mut c = caching(false);
    c[1] = 0x10;
    let r = exec(&s, &n, 0, &sel6(24), &concat(&[&[0, 0, 0, 0], &c])).await;
    assert_eq!(sks_of(&r), Some([0x80, 0, 5]));
    // Block descriptor with another block length.
    let list = concat(&[&[0, 0, 0, 8], &[0, 0, 0, 0, 0, 0, 0x10, 0]]);
    let r = exec(&s, &n, 0, &sel6(12), &list).await;
    assert_eq!(sks_of(&r), Some([0x80, 0, 9]));
    // Truncated page; list longer than the data.
    let r = exec(
        &s,
        &n,
        0,
        &sel6(10),
        &concat(&[&[0, 0, 0, 0], &caching(false)]),
    )
    .await;
    assert_eq!(sense_of(&r), Some((0x5, 0x1A, 0)));
    let r = exec(
        &s,
        &n,
        0,
        &sel6(30),
        &concat(&[&[0, 0, 0, 0], &caching(false)]),
    )
    .await;
    assert_eq!(sense_of(&r), Some((0x5, 0x1A, 0)));
    // SP=1: saving is not supported (byte 1 bit 0).
    let r = exec(&s, &n, 0, &[0x15, 0x11, 0, 0, 0, 0], &[]).await;
    assert_eq!(sks_of(&r), Some([0xC8, 0, 1]));
    assert!(p.luns[&0].write_cache_enabled());
    // A valid MODE SELECT(10) with a matching block descriptor clears WCE.
    let list = concat(&[
        &[0, 0, 0, 0, 0, 0, 0, 8],
        &[0, 0, 0x08, 0, 0, 0, 0x02, 0],
        &RWER,
        &caching(false),
    ]);
    let r = exec(&s, &n, 0, &[0x55, 0x10, 0, 0, 0, 0, 0, 0, 48, 0], &list).await;
    assert_eq!(r.status, Status::Good, "{:?}", r.sense);
    assert!(!p.luns[&0].write_cache_enabled());
    let r = exec(&s, &n, 0, &[0x1A, 0x08, 0x08, 0, 255, 0], &[]).await;
    assert_eq!(&r.data_in[4..], &caching(false)[..]);
}

#[tokio::test]
async fn rsoc_all_commands() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    let r = exec(
        &s,
        &n,
        0,
        &[0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0],
        &[],
    )
    .await;
    let d = &r.data_in[..];
    // Without explicit ALUA, SET TARGET PORT GROUPS is not supported.
    let rows = TABLE
        .iter()
        .filter(|e| e.name != "SET_TARGET_PORT_GROUPS")
        .count();
    assert_eq!(rows, TABLE.len() - 1);
    assert_eq!(d.len(), 4 + 8 * rows);
    assert_eq!(&d[..4], &u32::try_from(8 * rows).unwrap().to_be_bytes());
    assert!(!d[4..].chunks(8).any(|c| c[0] == 0xA4));
    assert_eq!(&d[4..12], &[0x00, 0, 0, 0, 0, 0, 0, 6]);
    let rc16 = d[4..]
        .chunks(8)
        .find(|c| c[0] == 0x9E && c[3] == 0x10)
        .unwrap();
    assert_eq!(rc16, &[0x9E, 0, 0, 0x10, 0, 1, 0, 16]);
    // With RCTD: every descriptor has CTDP and a timeouts descriptor.
    let r = exec(
        &s,
        &n,
        0,
        &[0xA3, 0x0C, 0x80, 0, 0, 0, 0, 0, 0x40, 0, 0, 0],
        &[],
    )
    .await;
    let d = &r.data_in[..];
    assert_eq!(d.len(), 4 + 20 * rows);
    assert_eq!(
        &d[4..24],
        &[0x00, 0, 0, 0, 0, 0x02, 0, 6, 0, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 30]
    );
    // Allocation length truncates.
    let r = exec(&s, &n, 0, &[0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0], &[]).await;
    assert_eq!(r.data_in.len(), 10);
}

#[tokio::test]
async fn rsoc_one_command() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    let one = |opt: u8, op: u8, sa: u8| [0xA3, 0x0C, opt, op, 0, sa, 0, 0, 1, 0, 0, 0];
    let r = exec(&s, &n, 0, &one(1, 0x28, 0), &[]).await;
    assert_eq!(
        &r.data_in[..],
        &[0, 3, 0, 10, 0x28, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0]
    );
    let r = exec(&s, &n, 0, &one(0x81, 0x00, 0), &[]).await;
    assert_eq!(
        &r.data_in[..],
        &[0, 0x83, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 30]
    );
    assert_eq!(
        &exec(&s, &n, 0, &one(1, 0xFF, 0), &[]).await.data_in[..],
        &[0, 1, 0, 0]
    );
    // Opcode with service actions asked without one, and the reverse.
    let r = exec(&s, &n, 0, &one(1, 0x9E, 0x10), &[]).await;
    assert_eq!(sense_of(&r), Some((0x5, 0x24, 0)));
    let r = exec(&s, &n, 0, &one(2, 0x28, 0), &[]).await;
    assert_eq!(sense_of(&r), Some((0x5, 0x24, 0)));
    let r = exec(&s, &n, 0, &one(2, 0x9E, 0x10), &[]).await;
    assert_eq!(&r.data_in[..4], &[0, 3, 0, 16]);
    assert_eq!(
        &exec(&s, &n, 0, &one(2, 0x9E, 0x11), &[]).await.data_in[..],
        &[0, 1, 0, 0]
    );
    assert_eq!(
        &exec(&s, &n, 0, &one(3, 0x28, 0x05), &[]).await.data_in[..2],
        &[0, 3]
    );
    assert_eq!(
        &exec(&s, &n, 0, &one(3, 0xA3, 0x0C), &[]).await.data_in[..2],
        &[0, 3]
    );
    let r = exec(&s, &n, 0, &one(4, 0x28, 0), &[]).await;
    assert_eq!(sks_of(&r), Some([0xCA, 0, 2]));
    // Every table entry reports its own usage data (SET TARGET PORT
    // GROUPS only with explicit ALUA: alua::tests).
    for e in TABLE.iter().filter(|e| e.name != "SET_TARGET_PORT_GROUPS") {
        let opt = if e.service_action.is_some() { 2 } else { 1 };
        let sa = e.service_action.unwrap_or(0) as u8;
        let r = exec(&s, &n, 0, &one(opt, e.opcode, sa), &[]).await;
        assert_eq!(&r.data_in[4..], e.usage, "{}", e.name);
    }
}

#[tokio::test]
async fn start_stop_and_prevent_allow() {
    let (s, p) = server();
    let n = nexus(&s, &p).await;
    let ssu = |b4: u8| [0x1B, 0, 0, 0, b4, 0];
    for b4 in [0x00, 0x01, 0x03, 0x11] {
        assert_eq!(exec(&s, &n, 0, &ssu(b4), &[]).await.status, Status::Good);
    }
    assert_eq!(
        exec(&s, &n, 0, &[0x1E, 0, 0, 0, 1, 0], &[]).await.status,
        Status::Good
    );
    assert_eq!(
        sense_of(&exec(&s, &n, 0, &ssu(0x02), &[]).await),
        Some((0x5, 0x53, 0x02))
    );
    assert_eq!(
        exec(&s, &n, 0, &[0, 0, 0, 0, 0, 0], &[]).await.status,
        Status::Good
    );
    assert_eq!(
        exec(&s, &n, 0, &[0x1E, 0, 0, 0, 0, 0], &[]).await.status,
        Status::Good
    );
    assert_eq!(exec(&s, &n, 0, &ssu(0x02), &[]).await.status, Status::Good);
    let r = exec(&s, &n, 0, &[0x1E, 0, 0, 0, 2, 0], &[]).await;
    assert_eq!(sks_of(&r), Some([0xC9, 0, 4]));
}
