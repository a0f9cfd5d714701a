//! Full login sequences as byte-level text, as real initiators send them.

use super::*;
use md5::{Digest, Md5};
use scsi::access::{AccessPolicy, ChapCredential};
use std::collections::BTreeMap;

const OPEN: &str = "iqn.2026-01.test:open";
const ACL: &str = "iqn.2026-01.test:acl";
const CHAP: &str = "iqn.2026-01.test:chap";
const INI: &str = "iqn.1994-05.com.redhat:ini";
const ALLOWED: &str = "iqn.1994-05.com.redhat:allowed";

fn target(iqn: &str) -> TargetConfig {
    TargetConfig {
        iqn: iqn.into(),
        alias: None,
        access: AccessPolicy::default(),
        port: Arc::new(scsi::TargetPort {
            name: iqn.into(),
            relative_port_id: 1,
            port_group: 1,
            luns: BTreeMap::new(),
        }),
        portals: Vec::new(),
    }
}

fn ctx() -> LoginContext {
    let mut open = target(OPEN);
    open.alias = Some("disk0".into());
    let mut acl = target(ACL);
    acl.access.allowed_initiators = vec![ALLOWED.into()];
    let mut chap = target(CHAP);
    chap.access.chap = Some(ChapCredential {
        user: "user".into(),
        secret: "secretsecret".into(),
    });
    chap.access.mutual_chap = Some(ChapCredential {
        user: "tgt".into(),
        secret: "mutualsecret".into(),
    });
    LoginContext {
        targets: Arc::new(vec![open, acl, chap]),
        portal_group_tag: 1,
        portals: vec![
            "192.0.2.1:3260".parse().unwrap_or_else(|_| unreachable!()),
            "[2001:db8::1]:3260"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        ],
        portal: 0,
        max_recv_data_segment: 262_144,
    }
}

fn req(csg: u8, nsg: u8, transit: bool, data: &[u8]) -> LoginInput<'_> {
    LoginInput {
        transit,
        cont: false,
        csg,
        nsg,
        version_max: 0,
        version_min: 0,
        isid: [0x80, 0, 0, 0x23, 0, 1],
        tsih: 0,
        itt: 1,
        cid: 0,
        cmdsn: 1,
        exp_statsn: 0,
        data,
    }
}

fn text(s: &str) -> Vec<u8> {
    s.replace('|', "\0").into_bytes()
}

fn status(o: &LoginOutput) -> u16 {
    o.status.code()
}

fn show(o: &LoginOutput) -> String {
    String::from_utf8_lossy(&o.data).replace('\0', "|")
}

/// libiscsi's operational keys (lib/login.c), in its order.
const LIBISCSI_OP: &str =
    "HeaderDigest=None,CRC32C|DataDigest=None|InitialR2T=No|ImmediateData=Yes|\
MaxBurstLength=262144|FirstBurstLength=262144|DefaultTime2Wait=2|DefaultTime2Retain=0|\
MaxOutstandingR2T=1|ErrorRecoveryLevel=0|IFMarker=No|OFMarker=No|MaxConnections=1|\
MaxRecvDataSegmentLength=262144|DataPDUInOrder=Yes|DataSequenceInOrder=Yes|";

const LIBISCSI_OP_ANSWER: &str =
    "HeaderDigest=None|DataDigest=None|InitialR2T=No|ImmediateData=Yes|\
MaxBurstLength=262144|DefaultTime2Wait=2|DefaultTime2Retain=0|MaxOutstandingR2T=1|\
ErrorRecoveryLevel=0|IFMarker=No|OFMarker=No|MaxConnections=1|DataPDUInOrder=Yes|\
DataSequenceInOrder=Yes|FirstBurstLength=262144|";

fn complete(ev: LoginEvent) -> LoginResult {
    match ev {
        LoginEvent::Complete(r) => r,
        other => panic!("expected Complete, got {other:?}"),
    }
}

fn fail_code(m: &mut LoginMachine, input: &LoginInput<'_>) -> u16 {
    let (o, ev) = m.step(input);
    assert!(
        matches!(ev, LoginEvent::Fail),
        "expected Fail: {}",
        show(&o)
    );
    assert!(o.data.is_empty());
    status(&o)
}

#[test]
fn libiscsi_none_single_pdu_operational() {
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!(
        "InitiatorName={INI}|InitiatorAlias=host|TargetName={OPEN}|SessionType=Normal|{LIBISCSI_OP}"
    ));
    let (o, ev) = m.step(&req(1, 3, true, &d));
    assert_eq!(status(&o), 0);
    assert!(o.transit);
    assert_eq!((o.csg, o.nsg), (1, 3));
    assert_eq!(
        show(&o),
        format!(
            "{LIBISCSI_OP_ANSWER}TargetPortalGroupTag=1|TargetAlias=disk0|MaxRecvDataSegmentLength=262144|"
        )
    );
    let r = complete(ev);
    assert_eq!(r.kind, SessionKind::Normal { target: 0 });
    assert_eq!(r.initiator_name, INI);
    assert_eq!(r.initiator_alias.as_deref(), Some("host"));
    assert_eq!(r.isid, [0x80, 0, 0, 0x23, 0, 1]);
    let p = r.params;
    assert!(!p.header_digest && !p.data_digest);
    assert!(!p.initial_r2t && p.immediate_data);
    assert_eq!(p.max_send_data_segment, 262_144);
    assert_eq!(p.max_recv_data_segment, 262_144);
    assert_eq!(
        (p.max_burst_length, p.first_burst_length),
        (262_144, 262_144)
    );
    assert_eq!((p.default_time2wait, p.default_time2retain), (2, 0));
    assert_eq!(p.error_recovery_level, 0);
    // Anything after completion is an error.
    assert_eq!(fail_code(&mut m, &req(3, 3, true, b"")), 0x0200);
}

#[test]
fn open_iscsi_none_two_stages() {
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!(
        "InitiatorName={INI}|InitiatorAlias=host|TargetName={OPEN}|SessionType=Normal|AuthMethod=None|"
    ));
    let (o, ev) = m.step(&req(0, 1, true, &d));
    assert!(matches!(ev, LoginEvent::Continue));
    assert_eq!((o.transit, o.csg, o.nsg, status(&o)), (true, 0, 1, 0));
    assert_eq!(
        show(&o),
        "AuthMethod=None|TargetPortalGroupTag=1|TargetAlias=disk0|"
    );
    let d = text(
        "HeaderDigest=CRC32C,None|DataDigest=CRC32C,None|DefaultTime2Wait=2|DefaultTime2Retain=0|\
IFMarker=No|OFMarker=No|ErrorRecoveryLevel=0|InitialR2T=No|ImmediateData=Yes|MaxBurstLength=16776192|\
FirstBurstLength=262144|MaxOutstandingR2T=1|MaxConnections=1|DataPDUInOrder=Yes|\
DataSequenceInOrder=Yes|MaxRecvDataSegmentLength=262144|",
    );
    let (o, ev) = m.step(&req(1, 3, true, &d));
    assert_eq!(
        show(&o),
        "HeaderDigest=CRC32C|DataDigest=CRC32C|DefaultTime2Wait=2|DefaultTime2Retain=0|IFMarker=No|\
OFMarker=No|ErrorRecoveryLevel=0|InitialR2T=No|ImmediateData=Yes|MaxBurstLength=1048576|\
MaxOutstandingR2T=1|MaxConnections=1|DataPDUInOrder=Yes|DataSequenceInOrder=Yes|\
FirstBurstLength=262144|MaxRecvDataSegmentLength=262144|"
    );
    assert_eq!((o.transit, o.csg, o.nsg), (true, 1, 3));
    let p = complete(ev).params;
    assert!(p.header_digest && p.data_digest);
    assert_eq!(p.max_burst_length, 1_048_576);
}

#[test]
fn security_stage_straight_to_full_feature() {
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!(
        "InitiatorName={INI}|TargetName={OPEN}|AuthMethod=None|"
    ));
    let (o, ev) = m.step(&req(0, 3, true, &d));
    assert_eq!((o.transit, o.csg, o.nsg), (true, 0, 3));
    let r = complete(ev);
    // MaxRecvDataSegmentLength never declared: the default 8192 applies.
    assert_eq!(r.params.max_recv_data_segment, 8192);
    assert_eq!(r.params.max_send_data_segment, 8192);
}

#[test]
fn security_stage_without_authmethod_when_leaving() {
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!("InitiatorName={INI}|TargetName={OPEN}|"));
    let (o, ev) = m.step(&req(0, 1, true, &d));
    assert!(matches!(ev, LoginEvent::Continue));
    assert_eq!((o.transit, o.nsg), (true, 1));
}

#[test]
fn target_does_not_transit_until_asked() {
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!(
        "InitiatorName={INI}|TargetName={OPEN}|HeaderDigest=None|"
    ));
    let (o, ev) = m.step(&req(1, 0, false, &d));
    assert!(matches!(ev, LoginEvent::Continue));
    assert!(!o.transit);
    assert_eq!((o.csg, o.nsg), (1, 0));
    // The next request must stay in stage 1.
    assert_eq!(fail_code(&mut m, &req(0, 1, true, b"")), 0x0200);
}

fn chap_start(m: &mut LoginMachine, target: &str) -> (u8, Vec<u8>) {
    let d = text(&format!(
        "InitiatorName={INI}|TargetName={target}|SessionType=Normal|AuthMethod=CHAP,None|"
    ));
    let (o, ev) = m.step(&req(0, 1, true, &d));
    assert!(matches!(ev, LoginEvent::Continue));
    assert_eq!((o.transit, o.csg, o.nsg, status(&o)), (false, 0, 0, 0));
    assert_eq!(show(&o), "AuthMethod=CHAP|TargetPortalGroupTag=1|");
    let (o, ev) = m.step(&req(0, 1, false, &text("CHAP_A=5|")));
    assert!(matches!(ev, LoginEvent::Continue));
    assert!(!o.transit);
    let keys = crate::text::parse(&o.data).unwrap_or_default();
    assert_eq!(keys.len(), 3);
    assert_eq!(
        (keys[0].key.as_str(), keys[0].value.as_str()),
        ("CHAP_A", "5")
    );
    assert_eq!(keys[1].key, "CHAP_I");
    assert_eq!(keys[2].key, "CHAP_C");
    let id: u8 = keys[1].value.parse().unwrap_or_else(|_| panic!("CHAP_I"));
    let c = keys[2]
        .value
        .strip_prefix("0x")
        .unwrap_or_else(|| panic!("0x"));
    let c = hex::decode(c).unwrap_or_default();
    assert!(c.len() >= 16);
    (id, c)
}

fn md5_response(id: u8, secret: &[u8], challenge: &[u8]) -> String {
    let mut h = Md5::new();
    h.update([id]);
    h.update(secret);
    h.update(challenge);
    format!("0x{}", hex::encode(h.finalize()))
}

#[test]
fn chap_one_way_right_secret() {
    let mut m = LoginMachine::new(ctx());
    let (id, c) = chap_start(&mut m, CHAP);
    let r = md5_response(id, b"secretsecret", &c);
    let (o, ev) = m.step(&req(0, 1, true, &text(&format!("CHAP_N=user|CHAP_R={r}|"))));
    assert!(matches!(ev, LoginEvent::Continue));
    assert_eq!((o.transit, o.csg, o.nsg, status(&o)), (true, 0, 1, 0));
    assert_eq!(show(&o), "");
    // libiscsi repeats its declarations in the operational stage.
    let d = text(&format!(
        "InitiatorName={INI}|TargetName={CHAP}|SessionType=Normal|{LIBISCSI_OP}"
    ));
    let (o, ev) = m.step(&req(1, 3, true, &d));
    assert_eq!(
        show(&o),
        format!("{LIBISCSI_OP_ANSWER}MaxRecvDataSegmentLength=262144|")
    );
    assert_eq!(complete(ev).kind, SessionKind::Normal { target: 2 });
}

#[test]
fn chap_base64_response() {
    let mut m = LoginMachine::new(ctx());
    let (id, c) = chap_start(&mut m, CHAP);
    let mut h = Md5::new();
    h.update([id]);
    h.update(b"secretsecret");
    h.update(&c);
    let raw = h.finalize();
    // Hand-rolled base64 of the 16 bytes, checked by chap's decoder tests.
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in raw.chunks(3) {
        let n = chunk.iter().fold(0u32, |a, &b| (a << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            b64.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        for _ in chunk.len()..3 {
            b64.push('=');
        }
    }
    let (o, _) = m.step(&req(
        0,
        1,
        true,
        &text(&format!("CHAP_N=user|CHAP_R=0b{b64}|")),
    ));
    assert_eq!(status(&o), 0);
    assert!(o.transit);
}

#[test]
fn chap_wrong_secret_and_wrong_user() {
    let mut m = LoginMachine::new(ctx());
    let (id, c) = chap_start(&mut m, CHAP);
    let r = md5_response(id, b"wrongsecret!", &c);
    let d = text(&format!("CHAP_N=user|CHAP_R={r}|"));
    assert_eq!(fail_code(&mut m, &req(0, 1, true, &d)), 0x0201);

    let mut m = LoginMachine::new(ctx());
    let (id, c) = chap_start(&mut m, CHAP);
    let r = md5_response(id, b"secretsecret", &c);
    let d = text(&format!("CHAP_N=other|CHAP_R={r}|"));
    assert_eq!(fail_code(&mut m, &req(0, 1, true, &d)), 0x0201);

    let mut m = LoginMachine::new(ctx());
    let _ = chap_start(&mut m, CHAP);
    assert_eq!(fail_code(&mut m, &req(0, 1, true, b"")), 0x0201);
}

#[test]
fn chap_mutual_known_challenge() {
    let mut m = LoginMachine::new(ctx());
    let (id, c) = chap_start(&mut m, CHAP);
    let r = md5_response(id, b"secretsecret", &c);
    let d = text(&format!(
        "CHAP_N=user|CHAP_R={r}|CHAP_I=1|CHAP_C=0x000102030405060708090a0b0c0d0e0f|"
    ));
    let (o, _) = m.step(&req(0, 1, true, &d));
    assert_eq!(status(&o), 0);
    assert!(o.transit);
    // python3: hashlib.md5(bytes([1]) + b"mutualsecret" + bytes(range(16)))
    assert_eq!(
        show(&o),
        "CHAP_N=tgt|CHAP_R=0xfc6f4c0be4239420c9b67edb8d5d2f18|"
    );
}

#[test]
fn chap_reflected_challenge_rejected() {
    let mut m = LoginMachine::new(ctx());
    let (id, c) = chap_start(&mut m, CHAP);
    let r = md5_response(id, b"secretsecret", &c);
    let d = text(&format!(
        "CHAP_N=user|CHAP_R={r}|CHAP_I={id}|CHAP_C=0x{}|",
        hex::encode(&c)
    ));
    assert_eq!(fail_code(&mut m, &req(0, 1, true, &d)), 0x0201);
}

#[test]
fn chap_required_failures() {
    // Initiator offers only None.
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!(
        "InitiatorName={INI}|TargetName={CHAP}|AuthMethod=None|"
    ));
    assert_eq!(fail_code(&mut m, &req(0, 1, true, &d)), 0x0201);
    // Initiator skips the security stage.
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!(
        "InitiatorName={INI}|TargetName={CHAP}|{LIBISCSI_OP}"
    ));
    assert_eq!(fail_code(&mut m, &req(1, 3, true, &d)), 0x0201);
    // Unsupported algorithm.
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!(
        "InitiatorName={INI}|TargetName={CHAP}|AuthMethod=CHAP|"
    ));
    let (o, _) = m.step(&req(0, 1, false, &d));
    assert_eq!(status(&o), 0);
    assert_eq!(
        fail_code(&mut m, &req(0, 1, false, &text("CHAP_A=6,7|"))),
        0x0201
    );
    // CHAP offered to a target without a secret, no None.
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!(
        "InitiatorName={INI}|TargetName={OPEN}|AuthMethod=CHAP|"
    ));
    assert_eq!(fail_code(&mut m, &req(0, 1, true, &d)), 0x0201);
    // CHAP,None to a target without a secret: None.
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!(
        "InitiatorName={INI}|TargetName={OPEN}|AuthMethod=CHAP,None|"
    ));
    let (o, _) = m.step(&req(0, 1, true, &d));
    assert!(show(&o).starts_with("AuthMethod=None|"));
    // Security keys in the operational stage.
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!("InitiatorName={INI}|TargetName={OPEN}|CHAP_A=5|"));
    assert_eq!(fail_code(&mut m, &req(1, 3, true, &d)), 0x0200);
}

#[test]
fn leading_request_errors() {
    let c = |d: String, csg: u8| {
        let mut m = LoginMachine::new(ctx());
        let (o, ev) = m.step(&req(csg, 3, true, &text(&d)));
        assert_eq!(matches!(ev, LoginEvent::Fail), status(&o) != 0);
        status(&o)
    };
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!("InitiatorName={ALLOWED}|TargetName={ACL}|"));
    complete(m.step(&req(1, 3, true, &d)).1);
    assert_eq!(
        c(format!("InitiatorName={INI}|TargetName={ACL}|"), 1),
        0x0202
    );
    assert_eq!(
        c(
            format!("InitiatorName={INI}|TargetName=iqn.2026-01.test:nope|"),
            1
        ),
        0x0203
    );
    assert_eq!(
        c(format!("TargetName={OPEN}|SessionType=Normal|"), 1),
        0x0207
    );
    assert_eq!(
        c(format!("InitiatorName={INI}|SessionType=Normal|"), 1),
        0x0207
    );
    assert_eq!(
        c(format!("InitiatorName={INI}|SessionType=Bogus|"), 1),
        0x0209
    );
    assert_eq!(
        c(format!("InitiatorName={INI}|TargetName={OPEN}|A=1|A=1|"), 1),
        0x0200
    );
    assert_eq!(
        c(
            format!("InitiatorName={INI}|TargetName={OPEN}|TargetAlias=x|"),
            1
        ),
        0x0200
    );
    assert_eq!(
        c(
            format!("InitiatorName={INI}|TargetName={OPEN}|MaxRecvDataSegmentLength=1|"),
            1
        ),
        0x0200
    );
}

#[test]
fn header_errors() {
    let d = text(&format!("InitiatorName={INI}|TargetName={OPEN}|"));
    let mut m = LoginMachine::new(ctx());
    let mut r = req(1, 3, true, &d);
    r.version_min = 1;
    r.version_max = 2;
    assert_eq!(fail_code(&mut m, &r), 0x0205);
    for (csg, nsg, t, cont) in [
        (2, 3, true, false),
        (1, 1, true, false),
        (1, 2, true, false),
        (1, 3, true, true),
    ] {
        let mut m = LoginMachine::new(ctx());
        let mut r = req(csg, nsg, t, &d);
        r.cont = cont;
        assert_eq!(fail_code(&mut m, &r), 0x0200, "{csg} {nsg} {t} {cont}");
    }
    // ISID must not change within the login.
    let mut m = LoginMachine::new(ctx());
    let (o, _) = m.step(&req(0, 1, false, &d));
    assert_eq!(status(&o), 0);
    let mut r = req(0, 1, true, b"");
    r.isid = [0; 6];
    assert_eq!(fail_code(&mut m, &r), 0x0200);
}

#[test]
fn renegotiation_fails_repeat_is_fine() {
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!(
        "InitiatorName={INI}|TargetName={OPEN}|MaxBurstLength=8192|"
    ));
    let (o, _) = m.step(&req(1, 3, false, &d));
    assert_eq!(show(&o), "MaxBurstLength=8192|TargetPortalGroupTag=1|TargetAlias=disk0|MaxRecvDataSegmentLength=262144|");
    let (o, _) = m.step(&req(1, 3, false, &text("MaxBurstLength=8192|")));
    assert_eq!(show(&o), "MaxBurstLength=8192|");
    assert_eq!(
        fail_code(&mut m, &req(1, 3, true, &text("MaxBurstLength=4096|"))),
        0x0200
    );
    let mut m = LoginMachine::new(ctx());
    let (_, _) = m.step(&req(1, 3, false, &d));
    let d2 = text(&format!("InitiatorName={INI}|TargetName={ACL}|"));
    assert_eq!(fail_code(&mut m, &req(1, 3, true, &d2)), 0x0200);
}

#[test]
fn continuation_pdus_accumulate() {
    let full = text(&format!(
        "InitiatorName={INI}|TargetName={OPEN}|SessionType=Normal|{LIBISCSI_OP}"
    ));
    let mut single = LoginMachine::new(ctx());
    let (expect, _) = single.step(&req(1, 3, true, &full));
    let mut m = LoginMachine::new(ctx());
    let cuts = [0, 7, 100, full.len()];
    for w in cuts.windows(2) {
        let last = w[1] == full.len();
        let mut r = req(1, 3, last, &full[w[0]..w[1]]);
        r.cont = !last;
        let (o, ev) = m.step(&r);
        if last {
            assert_eq!(o.data, expect.data);
            complete(ev);
        } else {
            assert!(matches!(ev, LoginEvent::Continue));
            assert!(o.data.is_empty());
            assert_eq!((o.transit, o.cont, status(&o)), (false, false, 0));
        }
    }
}

#[test]
fn continuation_is_bounded() {
    let mut m = LoginMachine::new(ctx());
    let chunk = vec![b'a'; 8192];
    let mut code = 0;
    for _ in 0..10 {
        let mut r = req(1, 3, false, &chunk);
        r.cont = true;
        let (o, ev) = m.step(&r);
        if matches!(ev, LoginEvent::Fail) {
            code = status(&o);
            break;
        }
    }
    assert_eq!(code, 0x0302);
}

#[test]
fn every_prefix_of_login_data() {
    let full = text(&format!(
        "InitiatorName={INI}|TargetName={OPEN}|SessionType=Normal|{LIBISCSI_OP}"
    ));
    for n in 0..=full.len() {
        let mut m = LoginMachine::new(ctx());
        let (o, ev) = m.step(&req(1, 3, true, &full[..n]));
        let at_boundary = n == 0 || full[n - 1] == 0;
        if !at_boundary {
            assert_eq!(status(&o), 0x0200, "prefix {n}");
            assert!(matches!(ev, LoginEvent::Fail));
        } else if n < "InitiatorName=".len() + INI.len() + 1 + "TargetName=".len() + OPEN.len() + 1
        {
            assert_eq!(status(&o), 0x0207, "prefix {n}");
        } else {
            assert_eq!(status(&o), 0, "prefix {n}");
            complete(ev);
        }
    }
}

fn discovery_login(initiator: &str) -> LoginResult {
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!(
        "InitiatorName={initiator}|SessionType=Discovery|{LIBISCSI_OP}"
    ));
    let (o, ev) = m.step(&req(1, 3, true, &d));
    assert_eq!(
        show(&o),
        "HeaderDigest=None|DataDigest=None|InitialR2T=Irrelevant|ImmediateData=Irrelevant|\
MaxBurstLength=Irrelevant|DefaultTime2Wait=2|DefaultTime2Retain=0|MaxOutstandingR2T=Irrelevant|\
ErrorRecoveryLevel=0|IFMarker=No|OFMarker=No|MaxConnections=Irrelevant|DataPDUInOrder=Irrelevant|\
DataSequenceInOrder=Irrelevant|FirstBurstLength=Irrelevant|MaxRecvDataSegmentLength=262144|"
    );
    let r = complete(ev);
    assert_eq!(r.kind, SessionKind::Discovery);
    r
}

/// The reply data of a Text Request; malformed text fails the test rather
/// than reading as an empty reply.
fn text_request(c: &LoginContext, s: &LoginResult, data: &[u8]) -> Vec<u8> {
    text_exchange(c, s, data, None)
        .unwrap_or_else(|e| panic!("text request refused: {e}"))
        .data
}

#[test]
fn discovery_send_targets_all_filtered_by_acl() {
    let c = ctx();
    let s = discovery_login(INI);
    let out = text_request(&c, &s, &text("SendTargets=All|"));
    assert_eq!(
        String::from_utf8_lossy(&out).replace('\0', "|"),
        "TargetName=iqn.2026-01.test:open|TargetAddress=192.0.2.1:3260,1|\
TargetAddress=[2001:db8::1]:3260,2|TargetName=iqn.2026-01.test:chap|\
TargetAddress=192.0.2.1:3260,1|TargetAddress=[2001:db8::1]:3260,2|"
    );
    let s = discovery_login(ALLOWED);
    let out = text_request(&c, &s, &text("SendTargets=All|"));
    let shown = String::from_utf8_lossy(&out).replace('\0', "|");
    assert!(
        shown.contains("TargetName=iqn.2026-01.test:acl|"),
        "{shown}"
    );
    // One named target; a hidden one is not revealed.
    let s = discovery_login(INI);
    let out = text_request(&c, &s, &text(&format!("SendTargets={CHAP}|")));
    assert_eq!(
        String::from_utf8_lossy(&out).replace('\0', "|"),
        "TargetName=iqn.2026-01.test:chap|TargetAddress=192.0.2.1:3260,1|TargetAddress=[2001:db8::1]:3260,2|"
    );
    assert!(text_request(&c, &s, &text(&format!("SendTargets={ACL}|"))).is_empty());
    assert_eq!(
        text_request(&c, &s, &text("SendTargets=|")),
        text("SendTargets=Reject|")
    );
    // Other keys in a Text request.
    assert_eq!(
        text_request(&c, &s, &text("X-com.example=1|HeaderDigest=None|")),
        text("X-com.example=NotUnderstood|HeaderDigest=Reject|")
    );
    let r = text_exchange(&c, &s, &text("MaxRecvDataSegmentLength=32768|"), None);
    assert_eq!(
        r,
        Ok(TextReply {
            data: vec![],
            max_send_data_segment: Some(32768)
        })
    );
    assert!(text_exchange(&c, &s, b"SendTargets=All", None).is_err());
}

#[test]
fn normal_session_send_targets_current_target() {
    let mut c = ctx();
    c.portals = vec!["0.0.0.0:3260".parse().unwrap_or_else(|_| unreachable!())];
    let mut m = LoginMachine::new(c.clone());
    let d = text(&format!(
        "InitiatorName={INI}|TargetName={CHAP}|AuthMethod=CHAP|"
    ));
    let _ = m.step(&req(0, 1, false, &d));
    let mut m = LoginMachine::new(c.clone());
    let d = text(&format!("InitiatorName={INI}|TargetName={OPEN}|"));
    let s = complete(m.step(&req(1, 3, true, &d)).1);
    let local = "10.0.0.5:3260".parse().ok();
    for v in ["", "All", OPEN] {
        let r = text_exchange(&c, &s, &text(&format!("SendTargets={v}|")), local);
        assert_eq!(
            r.map(|r| r.data),
            Ok(text(
                "TargetName=iqn.2026-01.test:open|TargetAddress=10.0.0.5:3260,1|"
            )),
            "{v}"
        );
    }
    assert!(text_request(&c, &s, &text(&format!("SendTargets={CHAP}|"))).is_empty());
}

#[test]
fn non_leading_connection_leaves_session_keys_irrelevant() {
    let mut m = LoginMachine::new(ctx());
    let d = text(&format!(
        "InitiatorName={INI}|TargetName={OPEN}|MaxBurstLength=8192|HeaderDigest=CRC32C|"
    ));
    let mut r = req(1, 3, true, &d);
    r.tsih = 7;
    let (o, ev) = m.step(&r);
    assert_eq!(
        show(&o),
        "MaxBurstLength=Irrelevant|HeaderDigest=CRC32C|TargetPortalGroupTag=1|TargetAlias=disk0|\
MaxRecvDataSegmentLength=262144|"
    );
    let res = complete(ev);
    assert_eq!(res.tsih, 7);
    assert!(res.params.header_digest);
}

/// Each portal is its own target portal group (a SCSI target port): the
/// login response's TargetPortalGroupTag is the TPGT of the portal the
/// connection came in on, SendTargets lists every portal of a target with
/// its own TPGT, and a target is not found on a portal it is not on.
#[test]
fn portals_are_target_ports_with_their_own_tpgt() {
    let mut c = ctx();
    c.portal_group_tag = 5;
    c.portal = 1;
    let mut t = (*c.targets).clone();
    t[0].portals = vec![1];
    t[2].portals = vec![0];
    c.targets = Arc::new(t);
    let mut m = LoginMachine::new(c.clone());
    let d = text(&format!(
        "InitiatorName={INI}|TargetName={OPEN}|AuthMethod=None|"
    ));
    let (o, _) = m.step(&req(0, 1, true, &d));
    assert_eq!(
        show(&o),
        "AuthMethod=None|TargetPortalGroupTag=6|TargetAlias=disk0|"
    );
    // CHAP's target is only on portal 0.
    let mut m = LoginMachine::new(c.clone());
    let d = text(&format!(
        "InitiatorName={INI}|TargetName={CHAP}|AuthMethod=CHAP|"
    ));
    assert_eq!(fail_code(&mut m, &req(0, 1, false, &d)), 0x0203);
    let mut c0 = c.clone();
    c0.portal = 0;
    let mut m = LoginMachine::new(c0);
    let (o, _) = m.step(&req(0, 1, false, &d));
    assert_eq!(show(&o), "AuthMethod=CHAP|TargetPortalGroupTag=5|");
    // SendTargets: each target with its portals and their TPGTs.
    let s = discovery_login(INI);
    assert_eq!(
        String::from_utf8_lossy(&text_request(&c, &s, &text("SendTargets=All|")))
            .replace('\0', "|"),
        "TargetName=iqn.2026-01.test:open|TargetAddress=[2001:db8::1]:3260,6|\
TargetName=iqn.2026-01.test:chap|TargetAddress=192.0.2.1:3260,5|"
    );
}
