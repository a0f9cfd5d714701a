#![allow(clippy::unwrap_used, clippy::expect_used)]
//! CHECK CONDITIONs the iSCSI layer raises itself come from the scsi
//! crate's sense table, in the format the LU's D_SENSE selects.

mod common;

use bytes::Bytes;
use common::{start, Initiator};
use iscsi::pdu::{DataOut, DataSn, InitiatorPdu, Lun, PduCodec, TargetPdu};

/// A WRITE(10) whose Expected Data Transfer Length (33 MiB) is beyond what
/// the transport buffers: refused at once; returns (status, data segment).
async fn oversized_write(i: &mut Initiator) -> (u8, Vec<u8>) {
    let edtl = 33 << 20;
    let c = i.command(&[0x2a, 0, 0, 0, 0, 0, 0, 0x42, 0, 0], false, true, edtl);
    i.send(InitiatorPdu::ScsiCommand(c)).await;
    match i.recv().await {
        Some(TargetPdu::ScsiResponse(r)) => (r.status, r.data.to_vec()),
        p => panic!("{p:?}"),
    }
}

#[tokio::test]
async fn transfer_too_large_sense_follows_d_sense() {
    let (addr, token, server) = start().await;
    let mut i = Initiator::connect(addr, 1).await;
    assert!(i.login().await);
    i.ready().await;

    // D_SENSE=0 (the default): fixed format, ILLEGAL REQUEST, 24h/00h,
    // behind the 2-byte SenseLength of the data segment.
    let (status, data) = oversized_write(&mut i).await;
    assert_eq!(status, 0x02);
    let mut fixed = vec![0, 18, 0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0];
    fixed.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(data, fixed);

    // MODE SELECT(6), PF=1: the Control page with D_SENSE (byte 2 bit 2)
    // set; the rest as MODE SENSE reports it.
    let (status, sensed) = i.read(&[0x1a, 0x08, 0x0a, 0, 255, 0], 255).await;
    assert_eq!(status, 0);
    let page = &sensed[4..];
    assert_eq!(page[0] & 0x3f, 0x0a);
    let mut list = vec![0, 0, 0, 0];
    list.extend_from_slice(page);
    list[4] &= 0x3f; // PS is reserved in MODE SELECT
    list[6] |= 0x04;
    let len = u8::try_from(list.len()).unwrap();
    let (status, _) = i.write(&[0x15, 0x10, 0, 0, len, 0], &list).await;
    assert_eq!(status, 0);

    // D_SENSE=1: descriptor format, no descriptors.
    let (status, data) = oversized_write(&mut i).await;
    assert_eq!(status, 0x02);
    assert_eq!(data, vec![0, 8, 0x72, 0x05, 0x24, 0, 0, 0, 0, 0]);

    i.logout().await;
    token.cancel();
    server.await.unwrap().unwrap();
}

/// A Data-Out outside its R2T's range cannot be recovered at ERL 0: the
/// PDU gets Reject (protocol error) and the command ends with CHECK
/// CONDITION, ABORTED COMMAND, DATA PHASE ERROR (4Bh/00h) from the table.
#[tokio::test]
async fn bad_data_out_ends_the_command_with_data_phase_error() {
    let (addr, token, server) = start().await;
    let mut i = Initiator::connect(addr, 1).await;
    assert!(i.login().await);
    i.ready().await;

    let c = i.command(&[0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0], false, true, 512);
    let itt = c.itt;
    i.send(InitiatorPdu::ScsiCommand(c)).await;
    let r2t = match i.recv().await {
        Some(TargetPdu::R2t(r)) => r,
        p => panic!("{p:?}"),
    };
    let d = DataOut {
        final_bit: true,
        lun: Lun::from_index(0),
        itt,
        ttt: r2t.ttt,
        exp_statsn: i.exp_statsn,
        datasn: DataSn(0),
        buffer_offset: 4096,
        data: Bytes::from(vec![0u8; 512]),
    };
    let header = d.to_raw().encode()[..48].to_vec();
    i.send(InitiatorPdu::DataOut(d)).await;
    match i.recv().await {
        Some(TargetPdu::Reject(r)) => {
            assert_eq!(r.reason, 0x04);
            assert_eq!(&r.data[..], &header[..]);
        }
        p => panic!("{p:?}"),
    }
    match i.recv().await {
        Some(TargetPdu::ScsiResponse(r)) => {
            assert_eq!((r.itt, r.status), (itt, 0x02));
            let mut sense = vec![0, 18, 0x70, 0, 0x0b, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x4b, 0];
            sense.extend_from_slice(&[0, 0, 0, 0]);
            assert_eq!(&r.data[..], &sense[..]);
        }
        p => panic!("{p:?}"),
    }
    // The session goes on.
    assert_eq!(i.read(&[0x00, 0, 0, 0, 0, 0], 0).await.0, 0);
    i.logout().await;
    token.cancel();
    server.await.unwrap().unwrap();
}
