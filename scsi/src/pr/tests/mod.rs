//! Byte-exact PERSISTENT RESERVE IN data, every PERSISTENT RESERVE OUT
//! path on the I/O-free state, persistence, and the device server on the
//! wire (conflicts, unit attentions, RESERVE/RELEASE, copies).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::inq::{self, Capabilities};
use super::out::{self, OutAction, OutRequest};
use super::persist;
use super::transport_id;
use super::types::{NexusIdent, PrData, PrType};
use crate::sense::{FieldPointer, ScsiError};

const A: u64 = 0xAAAA_0000_0000_0001;
const B: u64 = 0xBBBB_0000_0000_0002;

fn ident(name: &str, isid: &str) -> NexusIdent {
    NexusIdent::new(name, &format!("{name},i,0x{isid}"), "iqn.t", 1)
}

fn ia() -> NexusIdent {
    ident("iqn.a", "000000000001")
}
fn ib() -> NexusIdent {
    ident("iqn.b", "000000000002")
}
fn ic() -> NexusIdent {
    ident("iqn.c", "000000000003")
}

/// The CDB of PERSISTENT RESERVE OUT.
fn cdb(sa: u8, ty: u8, pll: u32) -> [u8; 10] {
    let l = pll.to_be_bytes();
    [0x5F, sa, ty, 0, 0, l[0], l[1], l[2], l[3], 0]
}

/// A 24-byte basic parameter list.
fn params(key: u64, sa_key: u64, flags: u8) -> Vec<u8> {
    let mut v = vec![0u8; 24];
    v[0..8].copy_from_slice(&key.to_be_bytes());
    v[8..16].copy_from_slice(&sa_key.to_be_bytes());
    v[20] = flags;
    v
}

fn req(sa: u8, ty: u8, key: u64, sa_key: u64) -> OutRequest {
    out::parse(&cdb(sa, ty, 24), &params(key, sa_key, 0), true).unwrap()
}

fn run(d: &mut PrData, who: &NexusIdent, r: &OutRequest) -> Result<out::Outcome, ScsiError> {
    let before = d.clone();
    let res = out::apply(d, who, r);
    if res.is_err() {
        assert_eq!(*d, before, "a failed service action leaves the state alone");
    }
    res
}

fn register(d: &mut PrData, who: &NexusIdent, key: u64) {
    run(d, who, &req(0, 0, 0, key)).unwrap();
}

#[test]
fn read_keys_and_reservation_bytes() {
    let mut d = PrData::default();
    assert_eq!(inq::read_keys(&d), [0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(inq::read_reservation(&d), [0, 0, 0, 0, 0, 0, 0, 0]);
    register(&mut d, &ia(), A);
    register(&mut d, &ib(), B);
    let mut want = vec![0, 0, 0, 2, 0, 0, 0, 16];
    want.extend_from_slice(&A.to_be_bytes());
    want.extend_from_slice(&B.to_be_bytes());
    assert_eq!(inq::read_keys(&d), want);
    // RESERVE does not change PRgeneration.
    run(&mut d, &ia(), &req(1, 3, A, 0)).unwrap();
    let mut want = vec![0, 0, 0, 2, 0, 0, 0, 16];
    want.extend_from_slice(&A.to_be_bytes());
    want.extend_from_slice(&[0, 0, 0, 0, 0, 0x03, 0, 0]);
    assert_eq!(inq::read_reservation(&d), want);
    // All Registrants: the key reported is 0.
    let mut d = PrData::default();
    register(&mut d, &ia(), A);
    run(&mut d, &ia(), &req(1, 8, A, 0)).unwrap();
    assert_eq!(&inq::read_reservation(&d)[8..16], &[0; 8]);
    assert_eq!(inq::read_reservation(&d)[21], 0x08);
}

#[test]
fn report_capabilities_bytes() {
    let mut d = PrData::default();
    let caps = Capabilities { ptpl_capable: true };
    assert_eq!(
        inq::report_capabilities(&d, caps),
        [0, 8, 0x1D, 0x90, 0xEA, 0x01, 0, 0]
    );
    d.aptpl = true;
    assert_eq!(inq::report_capabilities(&d, caps)[3], 0x91);
    assert_eq!(
        inq::report_capabilities(
            &d,
            Capabilities {
                ptpl_capable: false
            }
        ),
        [0, 8, 0x1C, 0x90, 0xEA, 0x01, 0, 0]
    );
}

#[test]
fn read_full_status_bytes() {
    let mut d = PrData::default();
    register(&mut d, &ia(), A);
    run(&mut d, &ia(), &req(1, 1, A, 0)).unwrap();
    let tid = transport_id::encode("iqn.a", Some("000000000001"));
    assert_eq!(tid.len(), 28);
    let mut want = vec![0, 0, 0, 1, 0, 0, 0, 52];
    want.extend_from_slice(&A.to_be_bytes());
    want.extend_from_slice(&[0, 0, 0, 0, 0x01, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 28]);
    want.extend_from_slice(&tid);
    assert_eq!(inq::read_full_status(&d), want);
    // "iqn.a,i,0x000000000001" is 22 bytes: NUL and padding to 24.
    let mut v = vec![0x45, 0, 0, 24];
    v.extend_from_slice(b"iqn.a,i,0x000000000001");
    v.resize(28, 0);
    assert_eq!(tid, v);
}

#[test]
fn register_rules() {
    let mut d = PrData::default();
    // Unregistered with a nonzero RESERVATION KEY: conflict.
    assert_eq!(
        run(&mut d, &ia(), &req(0, 0, 5, A)),
        Err(ScsiError::ReservationConflict)
    );
    // Unregistered with SERVICE ACTION RESERVATION KEY 0: nothing.
    run(&mut d, &ia(), &req(0, 0, 0, 0)).unwrap();
    assert_eq!(d.generation, 0);
    register(&mut d, &ia(), A);
    assert_eq!(d.generation, 1);
    // Registered: the key must match to change it.
    assert_eq!(
        run(&mut d, &ia(), &req(0, 0, 0, B)),
        Err(ScsiError::ReservationConflict)
    );
    run(&mut d, &ia(), &req(0, 0, A, B)).unwrap();
    assert_eq!(d.registrations[0].key, B);
    // REGISTER AND IGNORE EXISTING KEY.
    run(&mut d, &ia(), &req(6, 0, 0x1234, A)).unwrap();
    assert_eq!(d.registrations[0].key, A);
    assert_eq!(d.generation, 3);
    // Unregister.
    run(&mut d, &ia(), &req(0, 0, A, 0)).unwrap();
    assert!(d.registrations.is_empty());
    assert_eq!(d.generation, 4);
}

#[test]
fn unregistering_the_holder_releases() {
    for (ty, uas) in [(1u8, 0usize), (5, 1), (7, 0)] {
        let mut d = PrData::default();
        register(&mut d, &ia(), A);
        register(&mut d, &ib(), B);
        run(&mut d, &ia(), &req(1, ty, A, 0)).unwrap();
        let o = run(&mut d, &ia(), &req(0, 0, A, 0)).unwrap();
        assert_eq!(o.notices.len(), uas, "type {ty}");
        // All Registrants: B still holds it.
        assert_eq!(d.reservation.is_some(), ty == 7, "type {ty}");
        if uas == 1 {
            assert_eq!(o.notices[0].ua, ScsiError::ReservationsReleased);
            assert_eq!(o.notices[0].to.key, B);
        }
    }
}

#[test]
fn reserve_and_release_rules() {
    let mut d = PrData::default();
    assert_eq!(
        run(&mut d, &ia(), &req(1, 1, 0, 0)),
        Err(ScsiError::ReservationConflict)
    );
    register(&mut d, &ia(), A);
    register(&mut d, &ib(), B);
    assert_eq!(
        run(&mut d, &ia(), &req(1, 1, B, 0)),
        Err(ScsiError::ReservationConflict)
    );
    run(&mut d, &ia(), &req(1, 1, A, 0)).unwrap();
    // Again with the same type: GOOD; another type or nexus: conflict.
    run(&mut d, &ia(), &req(1, 1, A, 0)).unwrap();
    assert_eq!(
        run(&mut d, &ia(), &req(1, 3, A, 0)),
        Err(ScsiError::ReservationConflict)
    );
    assert_eq!(
        run(&mut d, &ib(), &req(1, 1, B, 0)),
        Err(ScsiError::ReservationConflict)
    );
    // RELEASE by a non-holder: GOOD, nothing released.
    run(&mut d, &ib(), &req(2, 1, B, 0)).unwrap();
    assert!(d.reservation.is_some());
    // Wrong type from the holder.
    assert_eq!(
        run(&mut d, &ia(), &req(2, 3, A, 0)),
        Err(ScsiError::InvalidReleaseOfReservation)
    );
    let o = run(&mut d, &ia(), &req(2, 1, A, 0)).unwrap();
    assert!(d.reservation.is_none() && o.notices.is_empty());
    assert_eq!(d.generation, 2);
    // Registrants Only: RESERVATIONS RELEASED to the others.
    run(&mut d, &ia(), &req(1, 6, A, 0)).unwrap();
    let o = run(&mut d, &ia(), &req(2, 6, A, 0)).unwrap();
    assert_eq!(o.notices.len(), 1);
    assert_eq!(o.notices[0].ua, ScsiError::ReservationsReleased);
    // All Registrants: any registrant is a holder.
    run(&mut d, &ia(), &req(1, 7, A, 0)).unwrap();
    run(&mut d, &ib(), &req(1, 7, B, 0)).unwrap();
    let o = run(&mut d, &ib(), &req(2, 7, B, 0)).unwrap();
    assert!(d.reservation.is_none());
    assert_eq!(o.notices[0].to.key, A);
}

#[test]
fn clear_removes_everything() {
    let mut d = PrData::default();
    register(&mut d, &ia(), A);
    register(&mut d, &ib(), B);
    run(&mut d, &ib(), &req(1, 1, B, 0)).unwrap();
    assert_eq!(
        run(&mut d, &ic(), &req(3, 0, 0, 0)),
        Err(ScsiError::ReservationConflict)
    );
    let o = run(&mut d, &ia(), &req(3, 0, A, 0)).unwrap();
    assert!(d.registrations.is_empty() && d.reservation.is_none());
    assert_eq!(o.notices.len(), 1);
    assert_eq!(o.notices[0].ua, ScsiError::ReservationsPreempted);
    assert_eq!(d.generation, 3);
}

#[test]
fn preempt_paths() {
    // No reservation: registrations with the key go.
    let mut d = PrData::default();
    register(&mut d, &ia(), A);
    register(&mut d, &ib(), B);
    assert_eq!(
        run(&mut d, &ia(), &req(4, 1, A, 0)),
        Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
            8
        )))
    );
    assert_eq!(
        run(&mut d, &ia(), &req(4, 1, A, 0x99)),
        Err(ScsiError::ReservationConflict)
    );
    let o = run(&mut d, &ia(), &req(4, 1, A, B)).unwrap();
    assert_eq!(d.registrations.len(), 1);
    assert!(d.reservation.is_none());
    assert_eq!(o.notices[0].ua, ScsiError::RegistrationsPreempted);
    // Holder's key: the sender holds the new reservation, of the new type.
    let mut d = PrData::default();
    register(&mut d, &ia(), A);
    register(&mut d, &ib(), B);
    register(&mut d, &ic(), 0x77);
    run(&mut d, &ib(), &req(1, 1, B, 0)).unwrap();
    let o = run(&mut d, &ia(), &req(5, 3, A, B)).unwrap();
    assert_eq!(o.preempted.len(), 1);
    assert_eq!(d.reservation.unwrap().ty, PrType::ExclusiveAccess);
    assert_eq!(d.reservation_key(), A);
    // B: REGISTRATIONS PREEMPTED; C (type changed): RESERVATIONS RELEASED.
    let mut uas: Vec<_> = o.notices.iter().map(|n| (n.to.key, n.ua.clone())).collect();
    uas.sort_by_key(|u| u.0);
    assert_eq!(
        uas,
        vec![
            (0x77, ScsiError::ReservationsReleased),
            (B, ScsiError::RegistrationsPreempted)
        ]
    );
    // Another key while reserved: only registrations go.
    let o = run(&mut d, &ia(), &req(4, 3, A, 0x77)).unwrap();
    assert_eq!(d.registrations.len(), 1);
    assert_eq!(o.notices.len(), 1);
    assert_eq!(d.reservation_key(), A);
    // All Registrants with key 0: everyone else goes.
    let mut d = PrData::default();
    register(&mut d, &ia(), A);
    register(&mut d, &ib(), B);
    run(&mut d, &ib(), &req(1, 8, B, 0)).unwrap();
    run(&mut d, &ia(), &req(4, 1, A, 0)).unwrap();
    assert_eq!(d.registrations.len(), 1);
    assert_eq!(d.reservation.unwrap().ty, PrType::WriteExclusive);
    assert_eq!(d.reservation_key(), A);
}

fn rm_params(
    key: u64,
    sa_key: u64,
    unreg: bool,
    rel: u16,
    name: &str,
    isid: Option<&str>,
) -> Vec<u8> {
    let tid = transport_id::encode(name, isid);
    let mut v = vec![0u8; 24];
    v[0..8].copy_from_slice(&key.to_be_bytes());
    v[8..16].copy_from_slice(&sa_key.to_be_bytes());
    v[17] = u8::from(unreg) << 1;
    v[18..20].copy_from_slice(&rel.to_be_bytes());
    v[20..24].copy_from_slice(&u32::try_from(tid.len()).unwrap().to_be_bytes());
    v.extend_from_slice(&tid);
    v
}

#[test]
fn register_and_move() {
    let mut d = PrData::default();
    register(&mut d, &ia(), A);
    let p = rm_params(A, B, true, 1, "iqn.b", Some("000000000002"));
    let r = out::parse(&cdb(7, 0, p.len() as u32), &p, true).unwrap();
    // Not reserved yet: conflict.
    assert_eq!(run(&mut d, &ia(), &r), Err(ScsiError::ReservationConflict));
    run(&mut d, &ia(), &req(1, 1, A, 0)).unwrap();
    // To the sender itself: invalid.
    let own = rm_params(A, B, false, 1, "iqn.a", Some("000000000001"));
    let own = out::parse(&cdb(7, 0, own.len() as u32), &own, true).unwrap();
    assert_eq!(
        run(&mut d, &ia(), &own),
        Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
            24
        )))
    );
    let bad_port = rm_params(A, B, false, 9, "iqn.b", None);
    let bad_port = out::parse(&cdb(7, 0, bad_port.len() as u32), &bad_port, true).unwrap();
    assert_eq!(
        run(&mut d, &ia(), &bad_port),
        Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
            18
        )))
    );
    run(&mut d, &ia(), &r).unwrap();
    assert_eq!(d.registrations.len(), 1);
    assert_eq!(d.reservation_key(), B);
    assert!(d.is_holder(d.registration_of(&ib()).unwrap()));
    assert!(d.registration_of(&ia()).is_none());
}

#[test]
fn spec_i_pt_and_all_tg_pt() {
    let mut tids = transport_id::encode("iqn.b", Some("000000000002"));
    tids.extend_from_slice(&transport_id::encode("iqn.c", None));
    let mut p = params(0, A, 0x0C);
    p.extend_from_slice(&u32::try_from(tids.len()).unwrap().to_be_bytes());
    p.extend_from_slice(&tids);
    let r = out::parse(&cdb(0, 0, p.len() as u32), &p, true).unwrap();
    assert!(r.spec_i_pt && r.all_tg_pt);
    let mut d = PrData::default();
    run(&mut d, &ia(), &r).unwrap();
    assert_eq!(d.registrations.len(), 3);
    // Format 00b registers every initiator port of the name, and
    // ALL_TG_PT every target port.
    let other_port = NexusIdent::new("iqn.c", "iqn.c,i,0x0000000000ff", "iqn.other", 2);
    assert!(d.registration_of(&other_port).is_some());
    // Registered: SPEC_I_PT is refused.
    let mut again = p.clone();
    again[0..8].copy_from_slice(&A.to_be_bytes());
    let again = out::parse(&cdb(0, 0, p.len() as u32), &again, true).unwrap();
    assert_eq!(
        run(&mut d, &ia(), &again),
        Err(ScsiError::InvalidFieldInParameterList(FieldPointer::bit(
            20, 3
        )))
    );
    // A TransportID of a registered I_T nexus is refused.
    let mut d2 = PrData::default();
    register(&mut d2, &ib(), B);
    assert_eq!(
        run(&mut d2, &ia(), &r),
        Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
            24
        )))
    );
    // SPEC_I_PT with another service action.
    assert_eq!(
        out::parse(&cdb(6, 0, 24), &params(0, A, 0x08), true),
        Err(ScsiError::InvalidFieldInParameterList(FieldPointer::bit(
            20, 3
        )))
    );
    // TRANSPORTID PARAMETER DATA LENGTH that does not fit the list.
    let mut short = p.clone();
    short[27] += 4;
    assert_eq!(
        out::parse(&cdb(0, 0, short.len() as u32), &short, true),
        Err(ScsiError::ParameterListLengthError)
    );
}

#[test]
fn parse_errors() {
    // PARAMETER LIST LENGTH other than 24.
    for pll in [0u32, 23, 25, 32] {
        let p = vec![0u8; pll as usize];
        assert_eq!(
            out::parse(&cdb(0, 0, pll), &p, true),
            Err(ScsiError::ParameterListLengthError),
            "{pll}"
        );
    }
    // Data-Out shorter than the CDB says.
    assert_eq!(
        out::parse(&cdb(0, 0, 24), &[0u8; 20], true),
        Err(ScsiError::ParameterListLengthError)
    );
    // SCOPE and TYPE.
    assert_eq!(
        out::parse(&cdb(1, 0x11, 24), &params(A, 0, 0), true),
        Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(2, 7)))
    );
    for ty in [0u8, 2, 4, 9, 0xF] {
        assert_eq!(
            out::parse(&cdb(1, ty, 24), &params(A, 0, 0), true),
            Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(2, 3))),
            "{ty}"
        );
    }
    // REGISTER ignores TYPE.
    assert!(out::parse(&cdb(0, 0xFF, 24), &params(0, A, 0), true).is_ok());
    // APTPL without persistence.
    assert_eq!(
        out::parse(&cdb(0, 0, 24), &params(0, A, 0x01), false),
        Err(ScsiError::InvalidFieldInParameterList(FieldPointer::bit(
            20, 0
        )))
    );
    // REGISTER AND MOVE: every prefix of a valid list is a length error.
    let p = rm_params(A, B, false, 1, "iqn.b", None);
    for n in 0..p.len() {
        assert!(
            out::parse(&cdb(7, 0, p.len() as u32), &p[..n], true).is_err(),
            "{n}"
        );
    }
    assert_eq!(
        out::parse(&cdb(7, 0, 24), &p[..24], true),
        Err(ScsiError::ParameterListLengthError)
    );
    assert_eq!(
        out::OutAction::from_code(8),
        None::<OutAction>,
        "the table rejects the service action before parse"
    );
}

#[test]
fn persistence_round_trip() {
    let mut d = PrData::default();
    let mut p = params(0, A, 0x05);
    p[20] = 0x05;
    let r = out::parse(&cdb(0, 0, 24), &p, true).unwrap();
    run(&mut d, &ia(), &r).unwrap();
    register(&mut d, &ib(), B);
    d.aptpl = true;
    run(&mut d, &ib(), &req(1, 6, B, 0)).unwrap();
    let text = persist::encode(&d);
    let back = persist::decode(&text).unwrap();
    assert_eq!(back.generation, d.generation);
    assert_eq!(inq::read_full_status(&back), inq::read_full_status(&d));
    assert_eq!(inq::read_reservation(&back), inq::read_reservation(&d));
    // All Registrants.
    let mut ar = d.clone();
    ar.reservation = Some(super::Reservation {
        ty: PrType::WriteExclusiveAllRegistrants,
        holder: None,
    });
    let back = persist::decode(&persist::encode(&ar)).unwrap();
    assert_eq!(inq::read_full_status(&back), inq::read_full_status(&ar));
    // Damaged files are refused with the line.
    for bad in [
        "",
        "xtgt-pr 2\n",
        "xtgt-pr 1\ngeneration x\n",
        "xtgt-pr 1\nreg 1 0 1 t i\n",
        "xtgt-pr 1\nreg zz 0 1 t i -\n",
        "xtgt-pr 1\nreg 1 2 1 t i -\n",
        "xtgt-pr 1\nreg 1 0 1 t i 12\n",
        "xtgt-pr 1\nreservation 1 0\n",
        "xtgt-pr 1\nreg 1 0 1 t i -\nreservation 7 0\n",
        "xtgt-pr 1\nreg 1 0 1 t i -\nreservation 2 0\n",
        "xtgt-pr 1\nreg 1 0 1 t i -\nreservation 1 3\n",
        "xtgt-pr 1\nbogus\n",
    ] {
        assert!(persist::decode(bad).is_err(), "{bad:?}");
    }
    // Every prefix decodes or fails, never panics.
    for n in 0..text.len() {
        let _ = persist::decode(&text[..n]);
    }
}

#[test]
fn file_round_trip() {
    let dir = std::env::temp_dir().join(format!("xtgt-pr-test-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lun0.img.pr");
    let mut d = PrData::default();
    register(&mut d, &ia(), A);
    run(&mut d, &ia(), &req(1, 3, A, 0)).unwrap();
    d.aptpl = true;
    persist::save(&path, &persist::encode(&d)).unwrap();
    let back = persist::load(&path).unwrap().unwrap();
    assert_eq!(inq::read_full_status(&back), inq::read_full_status(&d));
    assert!(back.aptpl);
    assert!(!dir.join("lun0.img.pr.tmp").exists());
    persist::remove(&path).unwrap();
    assert!(persist::load(&path).unwrap().is_none());
    persist::remove(&path).unwrap();
    std::fs::write(&path, "garbage").unwrap();
    assert!(persist::load(&path).unwrap_err().contains("lun0.img.pr"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn conflict_table() {
    use super::conflict::persistent_conflict as c;
    let mut d = PrData::default();
    register(&mut d, &ia(), A);
    register(&mut d, &ib(), B);
    // (type, registrant B reads, B writes, C reads, C writes)
    let rows: [(u8, bool, bool, bool, bool); 6] = [
        (1, false, true, false, true),
        (3, true, true, true, true),
        (5, false, false, false, true),
        (6, false, false, true, true),
        (7, false, false, false, true),
        (8, false, false, true, true),
    ];
    for (ty, br, bw, cr, cw) in rows {
        let mut d = d.clone();
        run(&mut d, &ia(), &req(1, ty, A, 0)).unwrap();
        assert!(
            !c(&d, &ia(), true) && !c(&d, &ia(), false),
            "holder, type {ty}"
        );
        assert_eq!(
            (
                c(&d, &ib(), false),
                c(&d, &ib(), true),
                c(&d, &ic(), false),
                c(&d, &ic(), true)
            ),
            (br, bw, cr, cw),
            "type {ty}"
        );
    }
    assert!(!c(&d, &ic(), true), "no reservation, no conflict");
}

mod wire;

/// Random and mutated PERSISTENT RESERVE OUT CDBs and parameter lists
/// through the parser and every service action: an answer, never a panic,
/// and a failed service action changes nothing (the fuzz target's body).
#[test]
fn mutated_out_commands_never_panic() {
    let mut tids = transport_id::encode("iqn.b", Some("000000000002"));
    tids.extend_from_slice(&transport_id::encode("iqn.c", None));
    let mut spec = params(0, A, 0x0D);
    spec.extend_from_slice(&u32::try_from(tids.len()).unwrap().to_be_bytes());
    spec.extend_from_slice(&tids);
    let seeds: Vec<(u8, Vec<u8>)> = vec![
        (0, spec),
        (7, rm_params(A, B, true, 1, "iqn.b", Some("000000000002"))),
        (4, params(A, B, 0)),
        (1, params(A, 0, 0)),
    ];
    let mut state = PrData::default();
    register(&mut state, &ia(), A);
    register(&mut state, &ib(), B);
    run(&mut state, &ib(), &req(1, 5, B, 0)).unwrap();
    for i in 0..20_000u32 {
        let (sa, seed) = &seeds[(i as usize) % seeds.len()];
        let mut p = seed.clone();
        let flips = 1 + rand::random::<u32>() % 4;
        for _ in 0..flips {
            if p.is_empty() {
                break;
            }
            let at = rand::random::<u32>() as usize % p.len();
            p[at] = rand::random();
        }
        if rand::random::<u8>() < 32 {
            p.truncate(rand::random::<u32>() as usize % (p.len() + 1));
        }
        let ty = if rand::random::<bool>() {
            1
        } else {
            rand::random()
        };
        let c = cdb(*sa, ty, p.len() as u32);
        if let Ok(r) = out::parse(&c, &p, rand::random()) {
            let mut d = state.clone();
            for who in [ia(), ib(), ic()] {
                let _ = run(&mut d, &who, &r);
            }
            // Whatever happened, the state still encodes and decodes.
            if d.aptpl || !d.registrations.is_empty() {
                let back = persist::decode(&persist::encode(&d)).unwrap();
                assert_eq!(inq::read_full_status(&back), inq::read_full_status(&d));
            }
        }
    }
}

/// The opcode table's reservation column, row by row for the commands
/// whose class is not the default (SPC-5 5.14.1, SBC-4 4.17).
#[test]
fn opcode_table_reservation_column() {
    use crate::cdb::TABLE;
    use crate::pr::PrAccess as P;
    let of = |name: &str| {
        TABLE
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.pr)
            .unwrap_or_else(|| panic!("{name} not in the table"))
    };
    for (name, want) in [
        ("INQUIRY", P::Always),
        ("REPORT_LUNS", P::Always),
        ("REQUEST_SENSE", P::Always),
        ("RESERVE_6", P::Always),
        ("RELEASE_10", P::Always),
        ("PERSISTENT_RESERVE_IN_READ_KEYS", P::Always),
        ("PERSISTENT_RESERVE_OUT_REGISTER_AND_MOVE", P::Always),
        ("TEST_UNIT_READY", P::Allowed),
        ("READ_CAPACITY_10", P::Allowed),
        ("READ_CAPACITY_16", P::Allowed),
        ("REPORT_SUPPORTED_OPERATION_CODES", P::Allowed),
        ("EXTENDED_COPY", P::Allowed),
        ("RECEIVE_ROD_TOKEN_INFORMATION", P::Allowed),
        ("READ_10", P::Read),
        ("VERIFY_16", P::Read),
        ("MODE_SENSE_6", P::Read),
        ("GET_LBA_STATUS", P::Read),
        ("POPULATE_TOKEN", P::Read),
        ("PRE_FETCH_10", P::Read),
        ("WRITE_10", P::Write),
        ("WRITE_USING_TOKEN", P::Write),
        ("UNMAP", P::Write),
        ("COMPARE_AND_WRITE", P::Write),
        ("SYNCHRONIZE_CACHE_16", P::Write),
        ("MODE_SELECT_10", P::Write),
        ("START_STOP_UNIT", P::Write),
        ("PREVENT_ALLOW_MEDIUM_REMOVAL", P::PreventAllow),
    ] {
        assert_eq!(of(name), want, "{name}");
    }
    // Every row that writes the medium conflicts under every type.
    for e in TABLE {
        if e.flags.contains(crate::cdb::Flags::WRITES_MEDIUM) {
            assert_eq!(e.pr, P::Write, "{}", e.name);
        }
    }
}
