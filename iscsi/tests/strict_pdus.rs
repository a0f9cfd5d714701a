#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Over the wire: PDUs RFC 7143 forbids get the Reject the codec decides,
//! with their header echoed, and the session carries on.

mod common;

use bytes::Bytes;
use common::{start, Initiator};
use iscsi::framing::encode_frame;
use iscsi::pdu::{
    CmdSn, DataSn, InitiatorPdu, Itt, Lun, RawPdu, TargetPdu, TaskMgmtRequest, TextRequest, Ttt,
};

/// Send `raw` as is and expect a Reject with `reason` echoing its header;
/// then a TEST UNIT READY still gets GOOD.
async fn rejected(i: &mut Initiator, raw: RawPdu, reason: u8) {
    let header = raw.encode()[..48].to_vec();
    i.send_raw(&encode_frame(&raw, false, false)).await;
    match i.recv().await {
        Some(TargetPdu::Reject(r)) => {
            assert_eq!(r.reason, reason);
            assert_eq!(&r.data[..], &header[..]);
        }
        p => panic!("{p:?}"),
    }
    assert_eq!(i.read(&[0x00, 0, 0, 0, 0, 0], 0).await.0, 0);
}

#[tokio::test]
async fn forbidden_pdus_are_rejected_with_the_rfc_reason() {
    let (addr, token, server) = start().await;
    let mut i = Initiator::connect(addr, 1).await;
    assert!(i.login().await);
    i.ready().await;

    // Text Request with F=1 and C=1 (RFC 7143 11.10.2): protocol error.
    let itt = i.next_itt();
    let mut text = InitiatorPdu::Text(TextRequest {
        immediate: true,
        final_bit: true,
        cont: false,
        lun: Lun::default(),
        itt,
        ttt: Ttt::RESERVED,
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
        data: Bytes::from_static(b"SendTargets=All\0"),
    })
    .to_raw();
    text.bhs.set_flags(0xc0);
    rejected(&mut i, text, 0x04).await;

    // A TMF with a data segment (DataSegmentLength MUST be 0, 11.5):
    // invalid PDU field; the function is not performed.
    let itt = i.next_itt();
    let tmf = InitiatorPdu::TaskMgmt(TaskMgmtRequest {
        immediate: true,
        function: 5, // LOGICAL UNIT RESET
        lun: Lun::from_index(0),
        itt,
        ref_itt: Itt::RESERVED,
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
        ref_cmdsn: CmdSn(0),
        exp_datasn: DataSn(0),
    })
    .to_raw();
    let tmf = RawPdu::new(tmf.bhs, Bytes::new(), Bytes::from_static(b"data"));
    rejected(&mut i, tmf, 0x09).await;
    // No reset happened: no unit attention on the next command either.
    assert_eq!(i.read(&[0x00, 0, 0, 0, 0, 0], 0).await.0, 0);

    i.logout().await;
    token.cancel();
    server.await.unwrap().unwrap();
}
