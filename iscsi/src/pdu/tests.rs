//! Codec tests: round trip of every PDU type, truncation at every prefix,
//! byte-exact headers for a few reference PDUs.

use super::*;
use bytes::Bytes;

fn lun(n: u64) -> Lun {
    Lun::from_index(n)
}

fn initiator_samples() -> Vec<InitiatorPdu> {
    vec![
        InitiatorPdu::NopOut(NopOut {
            immediate: true,
            lun: lun(1),
            itt: Itt(7),
            ttt: Ttt::RESERVED,
            cmdsn: CmdSn(9),
            exp_statsn: StatSn(3),
            data: Bytes::from_static(b"ping!"),
        }),
        InitiatorPdu::ScsiCommand(ScsiCommand {
            immediate: false,
            final_bit: true,
            read: true,
            write: false,
            attr: 1,
            lun: lun(0),
            itt: Itt(0x1234),
            edtl: 512,
            cmdsn: CmdSn(0xffff_ffff),
            exp_statsn: StatSn(2),
            cdb: Bytes::from_static(&[0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
            bidi_read_length: None,
            data: Bytes::new(),
        }),
        InitiatorPdu::ScsiCommand(ScsiCommand {
            immediate: false,
            final_bit: true,
            read: true,
            write: true,
            attr: 2,
            lun: lun(300),
            itt: Itt(1),
            edtl: 4096,
            cmdsn: CmdSn(5),
            exp_statsn: StatSn(2),
            cdb: Bytes::from((0u8..32).collect::<Vec<_>>()),
            bidi_read_length: Some(8192),
            data: Bytes::from(vec![0xab; 4096]),
        }),
        InitiatorPdu::TaskMgmt(TaskMgmtRequest {
            immediate: true,
            function: consts::function::ABORT_TASK,
            lun: lun(0),
            itt: Itt(10),
            ref_itt: Itt(4),
            cmdsn: CmdSn(11),
            exp_statsn: StatSn(12),
            ref_cmdsn: CmdSn(8),
            exp_datasn: DataSn(0),
        }),
        InitiatorPdu::Login(LoginRequest {
            transit: true,
            cont: false,
            csg: 1,
            nsg: 3,
            version_max: 0,
            version_min: 0,
            isid: [0x80, 1, 2, 3, 4, 5],
            tsih: 0,
            itt: Itt(0),
            cid: 1,
            cmdsn: CmdSn(1),
            exp_statsn: StatSn(0),
            data: Bytes::from_static(b"InitiatorName=iqn.x\0"),
        }),
        InitiatorPdu::Text(TextRequest {
            immediate: true,
            final_bit: true,
            cont: false,
            lun: lun(0),
            itt: Itt(2),
            ttt: Ttt::RESERVED,
            cmdsn: CmdSn(3),
            exp_statsn: StatSn(4),
            data: Bytes::from_static(b"SendTargets=All\0"),
        }),
        InitiatorPdu::DataOut(DataOut {
            final_bit: true,
            lun: lun(0),
            itt: Itt(3),
            ttt: Ttt(17),
            exp_statsn: StatSn(5),
            datasn: DataSn(2),
            buffer_offset: 16384,
            data: Bytes::from(vec![1u8; 13]),
        }),
        InitiatorPdu::Logout(LogoutRequest {
            immediate: true,
            reason: consts::REASON_CLOSE_SESSION,
            itt: Itt(9),
            cid: 1,
            cmdsn: CmdSn(20),
            exp_statsn: StatSn(21),
        }),
        InitiatorPdu::Snack(SnackRequest {
            snack_type: 1,
            lun: lun(0),
            itt: Itt(5),
            ttt: Ttt(6),
            exp_statsn: StatSn(7),
            beg_run: 8,
            run_length: 9,
        }),
    ]
}

fn target_samples() -> Vec<TargetPdu> {
    vec![
        TargetPdu::NopIn(NopIn {
            lun: lun(0),
            itt: Itt::RESERVED,
            ttt: Ttt(1),
            statsn: StatSn(2),
            exp_cmdsn: CmdSn(3),
            max_cmdsn: CmdSn(66),
            data: Bytes::new(),
        }),
        TargetPdu::ScsiResponse(ScsiResponse {
            underflow: true,
            status: 2,
            itt: Itt(4),
            statsn: StatSn(5),
            exp_cmdsn: CmdSn(6),
            max_cmdsn: CmdSn(7),
            exp_datasn: DataSn(1),
            residual: 100,
            data: ScsiResponse::sense_segment(&[0x70, 0, 5, 0, 0, 0, 0, 10]),
            ..Default::default()
        }),
        TargetPdu::TaskMgmt(TaskMgmtResponse {
            response: consts::response::TASK_DOES_NOT_EXIST,
            itt: Itt(1),
            statsn: StatSn(2),
            exp_cmdsn: CmdSn(3),
            max_cmdsn: CmdSn(4),
        }),
        TargetPdu::Login(LoginResponse {
            transit: true,
            csg: 1,
            nsg: 3,
            isid: [0x80, 1, 2, 3, 4, 5],
            tsih: 9,
            itt: Itt(0),
            statsn: StatSn(0),
            exp_cmdsn: CmdSn(1),
            max_cmdsn: CmdSn(64),
            status_class: 0,
            data: Bytes::from_static(b"TargetPortalGroupTag=1\0"),
            ..Default::default()
        }),
        TargetPdu::Text(TextResponse {
            final_bit: true,
            itt: Itt(2),
            ttt: Ttt::RESERVED,
            data: Bytes::from_static(b"TargetName=iqn.t\0"),
            ..Default::default()
        }),
        TargetPdu::DataIn(DataIn {
            final_bit: true,
            status: Some(0),
            underflow: true,
            itt: Itt(3),
            ttt: Ttt::RESERVED,
            datasn: DataSn(4),
            buffer_offset: 8192,
            residual: 3,
            data: Bytes::from(vec![7u8; 37]),
            ..Default::default()
        }),
        TargetPdu::Logout(LogoutResponse {
            response: 0,
            itt: Itt(6),
            time2wait: 2,
            time2retain: 20,
            ..Default::default()
        }),
        TargetPdu::R2t(R2t {
            itt: Itt(8),
            ttt: Ttt(9),
            r2tsn: R2tSn(1),
            buffer_offset: 65536,
            desired_length: 262144,
            ..Default::default()
        }),
        TargetPdu::Async(AsyncMessage {
            event: consts::EVENT_LOGOUT_REQUEST,
            parameter3: 2,
            ..Default::default()
        }),
        TargetPdu::Reject(Reject::new(RejectReason::ProtocolError, &[0x1b; 48])),
    ]
}

#[test]
fn initiator_round_trip_and_truncation() {
    for p in initiator_samples() {
        let bytes = p.to_raw().encode();
        assert_eq!(bytes.len() % 4, 0);
        let raw = RawPdu::decode(&bytes).unwrap();
        assert_eq!(InitiatorPdu::parse(&raw).unwrap(), p);
        for cut in 0..bytes.len() {
            assert_eq!(
                RawPdu::decode(&bytes[..cut]),
                Err(PduError::Truncated),
                "{p:?} cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 4]);
        assert_eq!(RawPdu::decode(&longer), Err(PduError::TrailingBytes));
    }
}

#[test]
fn target_round_trip_and_truncation() {
    for p in target_samples() {
        let bytes = p.to_raw().encode();
        let raw = RawPdu::decode(&bytes).unwrap();
        assert_eq!(TargetPdu::parse(&raw).unwrap(), p);
        for cut in 0..bytes.len() {
            assert_eq!(RawPdu::decode(&bytes[..cut]), Err(PduError::Truncated));
        }
    }
}

#[test]
fn scsi_command_header_bytes() {
    let InitiatorPdu::ScsiCommand(c) = &initiator_samples()[1] else {
        unreachable!()
    };
    let e = c.to_raw().encode();
    assert_eq!(
        &e[..32],
        &[
            0x01, 0xc1, 0, 0, 0, 0, 0, 0, // opcode, F|R|simple, AHS, DSL
            0, 0, 0, 0, 0, 0, 0, 0, // LUN 0
            0, 0, 0x12, 0x34, 0, 0, 2, 0, // ITT, EDTL 512
            0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, // CmdSN, ExpStatSN
        ]
    );
    assert_eq!(e[32], 0x28);
}

#[test]
fn extended_cdb_ahs_layout() {
    let InitiatorPdu::ScsiCommand(c) = &initiator_samples()[2] else {
        unreachable!()
    };
    let e = c.to_raw().encode();
    // Extended CDB AHS: 17 (16 CDB bytes + reserved) -> 20 bytes padded;
    // bidi AHS: 8 bytes.
    assert_eq!(e[4], 7);
    assert_eq!(&e[48..52], &[0, 17, 1, 0]);
    assert_eq!(e[52], 16);
    assert_eq!(&e[68..76], &[0, 5, 2, 0, 0, 0, 0x20, 0]);
    assert_eq!(&e[0..2], &[0x01, 0xe2]);
    assert_eq!(&e[8..10], &[0x41, 0x2c]);
}

#[test]
fn data_in_with_status_header_bytes() {
    let TargetPdu::DataIn(d) = &target_samples()[5] else {
        unreachable!()
    };
    let e = d.to_raw().encode();
    assert_eq!(&e[0..8], &[0x25, 0x83, 0, 0, 0, 0, 0, 37]);
    assert_eq!(e.len(), 48 + 40);
    assert_eq!(&e[85..88], &[0, 0, 0]);
}

/// Pins the shared BHS offsets (TTT 20, StatSN 24, ExpCmdSN 28, MaxCmdSN 32,
/// ISID 8..14): a round trip alone would not notice both directions moving.
#[test]
fn target_pdu_sequence_and_isid_header_bytes() {
    let TargetPdu::NopIn(n) = &target_samples()[0] else {
        unreachable!()
    };
    let e = n.to_raw().encode();
    assert_eq!(
        &e[16..36],
        &[
            0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, // ITT, TTT
            0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 66, // StatSN, ExpCmdSN, MaxCmdSN
        ]
    );
    let TargetPdu::Login(l) = &target_samples()[3] else {
        unreachable!()
    };
    let e = l.to_raw().encode();
    assert_eq!(&e[8..16], &[0x80, 1, 2, 3, 4, 5, 0, 9]); // ISID, TSIH
    assert_eq!(&e[24..36], &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 64]);
}

#[test]
fn bad_ahs_is_invalid_field() {
    let mut raw = initiator_samples()[1].clone().to_raw();
    raw.ahs = Bytes::from_static(&[0, 40, 1, 0]);
    assert_eq!(
        ScsiCommand::parse(&raw),
        Err(PduError::InvalidField("AHSLength"))
    );
    raw.ahs = Bytes::from_static(&[0, 1, 9, 0]);
    assert_eq!(
        ScsiCommand::parse(&raw),
        Err(PduError::InvalidField("AHS type"))
    );
}

#[test]
fn unknown_opcode_is_command_not_supported() {
    let mut b = [0u8; 48];
    b[0] = 0x1c;
    let raw = RawPdu::decode(&b).unwrap();
    let e = InitiatorPdu::parse(&raw).unwrap_err();
    assert_eq!(e, PduError::UnknownOpcode(0x1c));
    assert_eq!(e.reject_reason(), RejectReason::CommandNotSupported);
}

#[test]
fn statsn_rules() {
    let t = target_samples();
    assert!(!t[0].advances_statsn()); // unsolicited NOP-In
    assert!(t[1].advances_statsn()); // SCSI Response
    assert!(t[5].advances_statsn()); // Data-In with S
    assert!(!t[7].advances_statsn()); // R2T
}

/// Deterministic mutation sweep (the fuzz target's property, in-tree):
/// every single-byte corruption of every sample either fails to parse or
/// re-encodes to an equal value.
#[test]
fn mutated_samples_never_panic_and_round_trip() {
    let encoded: Vec<Vec<u8>> = initiator_samples()
        .iter()
        .map(|p| p.to_raw().encode())
        .chain(target_samples().iter().map(|p| p.to_raw().encode()))
        .collect();
    for bytes in encoded {
        for i in 0..bytes.len().min(96) {
            for v in [0u8, 1, 0x3f, 0x80, 0xff] {
                let mut m = bytes.clone();
                m[i] = v;
                let Ok(raw) = RawPdu::decode(&m) else {
                    continue;
                };
                if let Ok(p) = InitiatorPdu::parse(&raw) {
                    let again = RawPdu::decode(&p.to_raw().encode()).unwrap();
                    assert_eq!(InitiatorPdu::parse(&again).unwrap(), p);
                }
                if let Ok(p) = TargetPdu::parse(&raw) {
                    let again = RawPdu::decode(&p.to_raw().encode()).unwrap();
                    assert_eq!(TargetPdu::parse(&again).unwrap(), p);
                }
            }
        }
    }
}

/// The sample of `opcode` from [`initiator_samples`], as a raw PDU.
fn sample(opcode: u8) -> RawPdu {
    initiator_samples()
        .into_iter()
        .map(|p| p.to_raw())
        .find(|r| r.bhs.opcode() == opcode)
        .unwrap()
}

/// `raw` does not parse, and the Reject answering it is byte for byte
/// RFC 7143 11.17: opcode 0x3f, F=1, the reason in byte 2, ITT 0xffffffff,
/// DataSegmentLength 48 and the complete rejected header as data.
fn assert_rejected(raw: &RawPdu, reason: u8) {
    let err = InitiatorPdu::parse(raw).unwrap_err();
    assert_eq!(err.reject_reason() as u8, reason, "{err}");
    let wire = err.reject(&raw.bhs).to_raw().encode();
    let mut want = vec![0u8; 48];
    want[0] = 0x3f;
    want[1] = 0x80;
    want[2] = reason;
    want[7] = 48;
    want[16..20].copy_from_slice(&[0xff; 4]);
    want.extend_from_slice(&raw.bhs.0);
    assert_eq!(wire, want);
}

/// A copy of `raw` with an AHS (an extended-CDB-shaped one: the type does
/// not matter where no AHS is defined).
fn with_ahs(raw: &RawPdu) -> RawPdu {
    RawPdu::new(
        raw.bhs,
        Bytes::from_static(&[0, 2, 1, 0, 0xaa, 0, 0, 0]),
        raw.data.clone(),
    )
}

fn with_data(raw: &RawPdu) -> RawPdu {
    RawPdu::new(raw.bhs, raw.ahs.clone(), Bytes::from_static(b"data"))
}

#[test]
fn ahs_on_a_pdu_that_defines_none_is_an_invalid_pdu_field() {
    for op in [0x00, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10] {
        let raw = with_ahs(&sample(op));
        assert_eq!(raw.bhs.total_ahs_len(), 8);
        assert_rejected(&raw, 0x09);
    }
    // The SCSI Command defines AHS: its samples (one with AHS) parse.
    assert!(InitiatorPdu::parse(&initiator_samples()[2].to_raw()).is_ok());
}

#[test]
fn data_segment_on_tmf_logout_and_snack_is_an_invalid_pdu_field() {
    for op in [0x02, 0x06, 0x10] {
        let raw = with_data(&sample(op));
        assert_eq!(raw.bhs.data_segment_len(), 4);
        assert_rejected(&raw, 0x09);
    }
    // The PDUs that carry data still may.
    for op in [0x00, 0x01, 0x03, 0x04, 0x05] {
        assert!(InitiatorPdu::parse(&with_data(&sample(op))).is_ok());
    }
}

#[test]
fn text_request_with_final_and_continue_is_a_protocol_error() {
    let mut raw = sample(0x04);
    raw.bhs.set_flags(0xc0);
    assert_rejected(&raw, 0x04);
    raw.bhs.set_flags(0x40); // C alone: a continued request
    assert!(InitiatorPdu::parse(&raw).is_ok());
}

#[test]
fn reserved_code_values_are_protocol_errors() {
    // Logout reason codes 3..=127 (RFC 7143 11.14.1).
    let mut raw = sample(0x06);
    raw.bhs.set_flags(0x80 | 3);
    assert_rejected(&raw, 0x04);
    raw.bhs.set_flags(0x80 | 2);
    assert!(InitiatorPdu::parse(&raw).is_ok());
    // SNACK types 4..=15 (11.16.1).
    let mut raw = sample(0x10);
    raw.bhs.set_flags(0x80 | 4);
    assert_rejected(&raw, 0x04);
    // Task attributes 5..=7 (11.3.1).
    let mut raw = sample(0x01);
    raw.bhs.set_flags(0x80 | 0x40 | 5);
    assert_rejected(&raw, 0x04);
    raw.bhs.set_flags(0x80 | 0x40 | 4);
    assert!(InitiatorPdu::parse(&raw).is_ok());
}

#[test]
fn nop_out_with_reserved_itt_must_be_immediate() {
    let mut raw = sample(0x00);
    raw.bhs.set_itt(Itt::RESERVED);
    raw.bhs.0[0] = 0x00; // I=0
    assert_rejected(&raw, 0x04);
    raw.bhs.0[0] = 0x40;
    assert!(InitiatorPdu::parse(&raw).is_ok());
}

/// RFC 7143 11.2: a receiver MUST ignore reserved fields, so set
/// reserved bits and bytes do not make a PDU invalid.
#[test]
fn reserved_fields_are_ignored() {
    let mut raw = sample(0x02); // TMF: bytes 2-3 and 40-47 reserved
    raw.bhs.0[2] = 0xff;
    raw.bhs.0[44] = 0x5a;
    let p = InitiatorPdu::parse(&raw).unwrap();
    assert_eq!(p, initiator_samples()[3]);
    let mut raw = sample(0x06); // Logout: bytes 22-23 reserved
    raw.bhs.0[22] = 1;
    assert!(InitiatorPdu::parse(&raw).is_ok());
}
