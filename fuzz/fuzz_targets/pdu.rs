#![no_main]
//! PDU codec and framing: nothing may panic, and whatever parses must
//! re-encode to something that parses to the same value.
use bytes::BytesMut;
use iscsi::framing::{decode_frame, encode_frame, Frame, FrameConfig};
use iscsi::pdu::{InitiatorPdu, RawPdu, TargetPdu};
use libfuzzer_sys::fuzz_target;

fn check(raw: &RawPdu) {
    if let Ok(p) = InitiatorPdu::parse(raw) {
        let again = RawPdu::decode(&p.to_raw().encode()).expect("re-encoded PDU decodes");
        assert_eq!(InitiatorPdu::parse(&again).expect("re-parse"), p);
    }
    if let Ok(p) = TargetPdu::parse(raw) {
        let again = RawPdu::decode(&p.to_raw().encode()).expect("re-encoded PDU decodes");
        assert_eq!(TargetPdu::parse(&again).expect("re-parse"), p);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if let Ok(raw) = RawPdu::decode(rest) {
        check(&raw);
    }
    let cfg = FrameConfig {
        header_digest: mode & 1 != 0,
        data_digest: mode & 2 != 0,
        max_recv_data_segment: if mode & 4 != 0 { 512 } else { 8192 },
    };
    let mut buf = BytesMut::from(rest);
    while let Ok(Some(frame)) = decode_frame(&mut buf, &cfg) {
        if let Frame::Pdu(raw) = frame {
            check(&raw);
            let enc = encode_frame(&raw, cfg.header_digest, cfg.data_digest);
            let mut b = BytesMut::from(&enc[..]);
            assert_eq!(decode_frame(&mut b, &cfg), Ok(Some(Frame::Pdu(raw))));
        }
    }
});
