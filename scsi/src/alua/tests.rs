//! ALUA through the dispatcher: INQUIRY TPGS, VPD 0x83 port designators,
//! REPORT TARGET PORT GROUPS (both formats), SET TARGET PORT GROUPS, and
//! what a standby or unavailable port answers. Byte-exact.
#![allow(clippy::unwrap_used)]

use super::stpg::parse;
use super::*;
use crate::device::testutil::*;
use crate::device::{DeviceServer, Nexus, Response, Status, TargetPort};

const T: &str = "iqn.2026-01.test:t";

/// Target `T` with LUN 0 on two ports: port 1 (TPGT 1) in group 1
/// active/optimized, port 2 (TPGT 2) in group 2 standby.
fn two_groups(explicit: bool) -> (DeviceServer, Arc<TargetPort>) {
    let p = port(vec![(0, lu(false, thin()))]);
    let mut s = DeviceServer::new(vec![p.clone()]);
    s.set_alua(
        T,
        TargetAlua::new(
            explicit,
            vec![
                PortGroup::new(2, AccessState::Standby, vec![2]),
                PortGroup::new(1, AccessState::ActiveOptimized, vec![1]),
            ],
        ),
    );
    (s, p)
}

/// A nexus through port `rel` whose power-on unit attention is consumed.
async fn via(s: &DeviceServer, p: &Arc<TargetPort>, rel: u16, isid: u8) -> Arc<Nexus> {
    let n = s.register_nexus_via(
        "iqn.2026-01.test:i",
        &format!("iqn.2026-01.test:i,i,0x{isid:02x}"),
        p.clone(),
        rel,
        rel,
    );
    exec(s, &n, 0, &[0x03, 0, 0, 0, 252, 0], &[]).await;
    n
}

fn rtpg_cdb(format: u8, alloc: u32) -> [u8; 12] {
    let mut c = [0u8; 12];
    c[0] = 0xA3;
    c[1] = (format << 5) | 0x0A;
    c[6..10].copy_from_slice(&alloc.to_be_bytes());
    c
}

fn stpg_cdb(len: u32) -> [u8; 12] {
    let mut c = [0u8; 12];
    c[0] = 0xA4;
    c[1] = 0x0A;
    c[6..10].copy_from_slice(&len.to_be_bytes());
    c
}

fn good(r: &Response) -> &[u8] {
    assert_eq!(r.status, Status::Good, "sense {:?}", sense_of(r));
    &r.data_in[..]
}

#[tokio::test]
async fn rtpg_length_only_and_extended_are_byte_exact() {
    let (s, p) = two_groups(false);
    let n = via(&s, &p, 1, 1).await;
    let descriptors = [
        // Group 1: active/optimized, U/S/AN/AO supported, no status, port 1.
        0x00, 0x0F, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, //
        // Group 2: standby, port 2.
        0x02, 0x0F, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2,
    ];
    let mut want = vec![0, 0, 0, 24];
    want.extend_from_slice(&descriptors);
    assert_eq!(
        good(&exec(&s, &n, 0, &rtpg_cdb(0, 255), &[]).await),
        &want[..]
    );
    let mut ext = vec![0, 0, 0, 28, 0x10, IMPLICIT, 0, 0];
    ext.extend_from_slice(&descriptors);
    assert_eq!(
        good(&exec(&s, &n, 0, &rtpg_cdb(1, 255), &[]).await),
        &ext[..]
    );
    // ALLOCATION LENGTH truncates; RETURN DATA LENGTH stays.
    for alloc in [0u32, 3, 4, 13] {
        let r = exec(&s, &n, 0, &rtpg_cdb(0, alloc), &[]).await;
        assert_eq!(good(&r), &want[..alloc as usize]);
    }
    // A reserved PARAMETER DATA FORMAT: INVALID FIELD IN CDB, byte 1 bit 7.
    let r = exec(&s, &n, 0, &rtpg_cdb(2, 255), &[]).await;
    assert_eq!(sense_of(&r), Some((0x5, 0x24, 0)));
    assert_eq!(sks_of(&r), Some([0xCF, 0, 1]));
}
const IMPLICIT: u8 = rtpg::IMPLICIT_TRANSITION_TIME_SECS;

#[tokio::test]
async fn inquiry_tpgs_follows_explicit_alua() {
    for (explicit, byte5) in [(false, 0x18), (true, 0x38)] {
        let (s, p) = two_groups(explicit);
        let n = via(&s, &p, 1, 1).await;
        let r = exec(&s, &n, 0, &[0x12, 0, 0, 0, 96, 0], &[]).await;
        assert_eq!(good(&r)[5], byte5);
    }
}

#[tokio::test]
async fn standby_port_allows_only_what_spc5_lists() {
    let (s, p) = two_groups(true);
    let n = via(&s, &p, 2, 2).await;
    let standby = Some((0x2, 0x04, 0x0B));
    // TEST UNIT READY, READ(10), READ CAPACITY(10), WRITE(10): not ready.
    for cdb in [
        &[0x00u8, 0, 0, 0, 0, 0][..],
        &[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0],
        &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ] {
        assert_eq!(sense_of(&exec(&s, &n, 0, cdb, &[]).await), standby);
    }
    let w = exec(&s, &n, 0, &[0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0], &[0; 512]).await;
    assert_eq!(sense_of(&w), standby);
    // INQUIRY, REPORT LUNS, REQUEST SENSE, MODE SENSE, RTPG: served.
    for cdb in [
        &[0x12u8, 0, 0, 0, 96, 0][..],
        &[0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0],
        &[0x03, 0, 0, 0, 18, 0],
        &[0x1A, 0, 0x3F, 0, 255, 0],
        &rtpg_cdb(0, 64),
    ] {
        good(&exec(&s, &n, 0, cdb, &[]).await);
    }
    // The other port's group is active/optimized: READ works there.
    let a = via(&s, &p, 1, 1).await;
    good(&exec(&s, &a, 0, &[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], &[]).await);
}

#[tokio::test]
async fn unavailable_port_serves_even_less() {
    let p = port(vec![(0, lu(false, thin()))]);
    let mut s = DeviceServer::new(vec![p.clone()]);
    s.set_alua(
        T,
        TargetAlua::new(
            false,
            vec![PortGroup::new(7, AccessState::Unavailable, vec![3])],
        ),
    );
    let n = via(&s, &p, 3, 1).await;
    assert_eq!(n.port.port_group, 7);
    let unavailable = Some((0x2, 0x04, 0x0C));
    for cdb in [
        &[0x00u8, 0, 0, 0, 0, 0][..],
        &[0x1A, 0, 0x3F, 0, 255, 0],
        &[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0],
    ] {
        assert_eq!(sense_of(&exec(&s, &n, 0, cdb, &[]).await), unavailable);
    }
    for cdb in [
        &[0x12u8, 0, 0, 0, 96, 0][..],
        &[0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0],
        &rtpg_cdb(1, 64),
    ] {
        good(&exec(&s, &n, 0, cdb, &[]).await);
    }
}

#[tokio::test]
async fn stpg_is_unsupported_without_explicit_alua() {
    let (s, p) = two_groups(false);
    let n = via(&s, &p, 1, 1).await;
    let r = exec(&s, &n, 0, &stpg_cdb(8), &[0, 0, 0, 0, 0, 0, 0, 2]).await;
    assert_eq!(sense_of(&r), Some((0x5, 0x20, 0)));
    // REPORT SUPPORTED OPERATION CODES agrees: not supported (001b).
    let one = [0xA3, 0x0C, 0x01, 0xA4, 0, 0, 0, 0, 0, 16, 0, 0];
    assert_eq!(good(&exec(&s, &n, 0, &one, &[]).await), &[0, 1, 0, 0]);
    let one = [0xA3, 0x0C, 0x02, 0xA4, 0, 0x0A, 0, 0, 0, 16, 0, 0];
    assert_eq!(good(&exec(&s, &n, 0, &one, &[]).await), &[0, 1, 0, 0]);
    // RTPG is listed, with its usage data.
    let one = [0xA3, 0x0C, 0x02, 0xA3, 0, 0x0A, 0, 0, 0, 32, 0, 0];
    assert_eq!(
        good(&exec(&s, &n, 0, &one, &[]).await),
        &[0, 3, 0, 12, 0xA3, 0xEA, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0]
    );
}

#[tokio::test]
async fn stpg_changes_states_and_tells_the_other_nexuses() {
    let (s, p) = two_groups(true);
    let a = via(&s, &p, 1, 1).await;
    let b = via(&s, &p, 2, 2).await;
    let one = [0xA3, 0x0C, 0x02, 0xA4, 0, 0x0A, 0, 0, 0, 32, 0, 0];
    assert_eq!(
        good(&exec(&s, &a, 0, &one, &[]).await),
        &[0, 3, 0, 12, 0xA4, 0x0A, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0]
    );
    // Through the standby port: group 2 active/optimized, group 1 standby.
    let list = [0, 0, 0, 0, 0x00, 0, 0, 2, 0x02, 0, 0, 1];
    good(&exec(&s, &b, 0, &stpg_cdb(12), &list).await);
    good(&exec(&s, &b, 0, &[0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], &[]).await);
    // The other nexus: ASYMMETRIC ACCESS STATE CHANGED first, then standby.
    let read = [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0];
    assert_eq!(
        sense_of(&exec(&s, &a, 0, &read, &[]).await),
        Some((0x6, 0x2A, 0x06))
    );
    assert_eq!(
        sense_of(&exec(&s, &a, 0, &read, &[]).await),
        Some((0x2, 0x04, 0x0B))
    );
    // RTPG shows the new states with STATUS CODE 01h (altered by STPG).
    let d = good(&exec(&s, &a, 0, &rtpg_cdb(0, 255), &[]).await).to_vec();
    assert_eq!(
        d,
        [
            &[0, 0, 0, 24][..],
            &[0x02, 0x0F, 0, 1, 0, 0x01, 0, 1, 0, 0, 0, 1],
            &[0x00, 0x0F, 0, 2, 0, 0x01, 0, 1, 0, 0, 0, 2],
        ]
        .concat()
    );
    // A zero PARAMETER LIST LENGTH changes nothing, nor does setting the
    // state a group already has: no unit attention for the other nexus.
    good(&exec(&s, &a, 0, &stpg_cdb(0), &[]).await);
    good(&exec(&s, &a, 0, &stpg_cdb(8), &[0, 0, 0, 0, 0x02, 0, 0, 1]).await);
    assert!(s.targets[0].luns[&0].spc.ua.take(b.id).is_none());
    // Unchanged group untouched: a list naming only group 1 (same state)
    // leaves group 2's status as it was.
    let fresh = two_groups(true);
    let n = via(&fresh.0, &fresh.1, 1, 1).await;
    good(&exec(&fresh.0, &n, 0, &stpg_cdb(8), &[0, 0, 0, 0, 0x00, 0, 0, 1]).await);
    assert_eq!(fresh.0.alua(&fresh.1).group(1).unwrap().status(), 0);
}

#[tokio::test]
async fn stpg_parameter_list_errors() {
    let (s, p) = two_groups(true);
    let n = via(&s, &p, 1, 1).await;
    let check = |list: Vec<u8>, len: u32, want: (u8, u8, u8), sks: Option<[u8; 3]>| {
        let (s, n) = (&s, &n);
        async move {
            let r = exec(s, n, 0, &stpg_cdb(len), &list).await;
            assert_eq!(sense_of(&r), Some(want), "list {list:02x?} len {len}");
            if let Some(k) = sks {
                assert_eq!(sks_of(&r), Some(k), "list {list:02x?}");
            }
        }
    };
    let len_err = (0x5, 0x1A, 0);
    let field = (0x5, 0x26, 0);
    // Shorter than the header, a partial descriptor, less data than declared.
    check(vec![0, 0], 2, len_err, None).await;
    check(vec![0; 6], 6, len_err, None).await;
    check(vec![0; 4], 8, len_err, None).await;
    // Offline (0Eh) and transitioning (0Fh) cannot be set: byte 4 bit 3.
    check(
        vec![0, 0, 0, 0, 0x0E, 0, 0, 1],
        8,
        field,
        Some([0x8B, 0, 4]),
    )
    .await;
    check(
        vec![0, 0, 0, 0, 0x04, 0, 0, 1],
        8,
        field,
        Some([0x8B, 0, 4]),
    )
    .await;
    // Unknown group, and a group named twice: byte 6 (TARGET PORT GROUP).
    check(vec![0, 0, 0, 0, 0, 0, 0, 9], 8, field, Some([0x80, 0, 6])).await;
    let twice = vec![0, 0, 0, 0, 0, 0, 0, 1, 0x02, 0, 0, 1];
    check(twice, 12, field, Some([0x80, 0, 10])).await;
    // Reserved bits of a descriptor.
    check(
        vec![0, 0, 0, 0, 0x10, 0, 0, 1],
        8,
        field,
        Some([0x8C, 0, 4]),
    )
    .await;
    check(
        vec![0, 0, 0, 0, 0, 0x01, 0, 1],
        8,
        field,
        Some([0x88, 0, 5]),
    )
    .await;
    // Nothing changed by any failed list.
    let alua = s.alua(&p);
    assert_eq!(alua.group(1).unwrap().state(), AccessState::ActiveOptimized);
    assert_eq!(alua.group(2).unwrap().state(), AccessState::Standby);
    assert_eq!(alua.group(1).unwrap().status(), 0);
}

#[test]
fn stpg_parser_survives_every_prefix() {
    let alua = TargetAlua::new(
        true,
        vec![
            PortGroup::new(1, AccessState::ActiveOptimized, vec![1]),
            PortGroup::new(2, AccessState::Standby, vec![2]),
        ],
    );
    let list = [0, 0, 0, 0, 0x01, 0, 0, 1, 0x03, 0, 0, 2];
    assert_eq!(
        parse(&alua, &list, 12).unwrap(),
        vec![
            (1, AccessState::ActiveNonOptimized),
            (2, AccessState::Unavailable)
        ]
    );
    for cut in 0..list.len() {
        for declared in [0u32, 4, 8, 12, 13, u32::MAX] {
            let _ = parse(&alua, &list[..cut], declared);
        }
        // A list cut short of what it declares is a length error.
        assert!(matches!(
            parse(&alua, &list[..cut], 12),
            Err(ScsiError::ParameterListLengthError)
        ));
    }
}

/// Decode VPD 0x83 and RTPG from the wire, as an initiator does
/// (scsi_dh_alua, sg_rtpg): the port's relative id and group in VPD 0x83
/// are a port of that group in RTPG, and the LU designators are the same
/// through both ports.
#[tokio::test]
async fn vpd83_and_rtpg_agree_through_each_port() {
    let (s, p) = two_groups(false);
    let mut lu_designators = Vec::new();
    for rel in [1u16, 2] {
        let n = via(&s, &p, rel, 1).await;
        let vpd = good(&exec(&s, &n, 0, &[0x12, 1, 0x83, 1, 0, 0], &[]).await).to_vec();
        let (mut rel_id, mut group, mut port_name, mut lu_ids) = (None, None, None, Vec::new());
        let len = usize::from(u16::from_be_bytes([vpd[2], vpd[3]]));
        assert_eq!(vpd.len(), 4 + len);
        let mut at = 4;
        while at + 4 <= vpd.len() {
            let (assoc, kind) = ((vpd[at + 1] >> 4) & 3, vpd[at + 1] & 0x0F);
            let id = &vpd[at + 4..at + 4 + usize::from(vpd[at + 3])];
            match (assoc, kind) {
                (0, _) => lu_ids.push(vpd[at..at + 4 + id.len()].to_vec()),
                (1, 4) => rel_id = Some(u16::from_be_bytes([id[2], id[3]])),
                (1, 5) => group = Some(u16::from_be_bytes([id[2], id[3]])),
                (1, 8) => port_name = Some(String::from_utf8_lossy(id).to_string()),
                _ => {}
            }
            at += 4 + id.len();
        }
        assert_eq!(at, vpd.len());
        assert_eq!(rel_id, Some(rel));
        assert_eq!(
            port_name.unwrap().trim_end_matches('\0'),
            format!("{T},t,0x{rel:04x}")
        );
        lu_designators.push(lu_ids);
        let rtpg = good(&exec(&s, &n, 0, &rtpg_cdb(1, 1024), &[]).await).to_vec();
        let total = 4 + u32::from_be_bytes([rtpg[0], rtpg[1], rtpg[2], rtpg[3]]) as usize;
        assert_eq!(total, rtpg.len());
        let mut at = 8;
        let mut found = None;
        while at + 8 <= rtpg.len() {
            let g = u16::from_be_bytes([rtpg[at + 2], rtpg[at + 3]]);
            let count = usize::from(rtpg[at + 7]);
            for k in 0..count {
                let q = at + 8 + 4 * k;
                if u16::from_be_bytes([rtpg[q + 2], rtpg[q + 3]]) == rel {
                    found = Some((g, rtpg[at] & 0x0F));
                }
            }
            at += 8 + 4 * count;
        }
        assert_eq!(at, rtpg.len());
        let (g, state) = found.unwrap();
        assert_eq!(Some(g), group);
        assert_eq!(state, if rel == 1 { 0 } else { 2 });
    }
    assert_eq!(lu_designators[0], lu_designators[1]);
    assert_eq!(lu_designators[0].len(), 2);
}

#[test]
fn state_names_round_trip() {
    for st in [
        AccessState::ActiveOptimized,
        AccessState::ActiveNonOptimized,
        AccessState::Standby,
        AccessState::Unavailable,
    ] {
        assert_eq!(AccessState::parse(st.name()), Some(st));
        assert_eq!(AccessState::from_code(st as u8), Some(st));
    }
    assert_eq!(AccessState::parse("offline"), None);
    assert_eq!(AccessState::from_code(0x0E), None);
}
