#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End to end over a real socket: a minimal initiator built from the
//! crate's own codec logs in to a `Server` on 127.0.0.1:0 backed by a memory
//! LUN, runs INQUIRY, WRITE(10) through R2T, READ(10), NOP, TMF, a bad PDU,
//! session reinstatement and logout.

mod common;

use bytes::Bytes;
use common::{keys, start, start_with, Initiator, IQN};
use iscsi::framing::encode_frame;
use iscsi::pdu::{
    CmdSn, DataOut, DataSn, InitiatorPdu, Itt, Lun, NopOut, RawPdu, TargetPdu, TaskMgmtRequest,
    TextRequest, Ttt,
};
use std::time::Duration;

#[tokio::test]
async fn login_inquiry_write_read_tmf_logout() {
    let (addr, token, server) = start().await;
    let mut i = Initiator::connect(addr, 1).await;
    assert!(i.login().await);

    // INQUIRY, allocation length 96: standard data fits, status on Data-In.
    let (status, data) = i.read(&[0x12, 0, 0, 0, 96, 0], 96).await;
    assert_eq!(status, 0);
    assert!(data.len() >= 36);
    assert_eq!(&data[8..12], b"XTGT");
    i.ready().await;

    // WRITE(10) of 40 blocks at LBA 8: 20480 bytes, all solicited by R2T
    // (InitialR2T=Yes, ImmediateData=No) in MaxBurstLength=8192 chunks.
    let payload: Vec<u8> = (0..20480u32).map(|x| (x * 7 % 253) as u8).collect();
    let (status, r2ts) = i.write(&[0x2a, 0, 0, 0, 0, 8, 0, 0, 40, 0], &payload).await;
    assert_eq!(status, 0);
    assert_eq!(r2ts, 3);

    // READ(10) back: segmented by our MaxRecvDataSegmentLength of 4096.
    let (status, data) = i.read(&[0x28, 0, 0, 0, 0, 8, 0, 0, 40, 0], 20480).await;
    assert_eq!(status, 0);
    assert_eq!(data, payload);

    // NOP-Out ping with data is echoed.
    let itt = i.next_itt();
    let nop = NopOut {
        immediate: true,
        lun: Lun::default(),
        itt,
        ttt: Ttt::RESERVED,
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
        data: Bytes::from_static(b"echo me"),
    };
    i.send(InitiatorPdu::NopOut(nop)).await;
    match i.recv().await {
        Some(TargetPdu::NopIn(n)) => {
            assert_eq!(n.itt, itt);
            assert_eq!(&n.data[..], b"echo me");
        }
        p => panic!("{p:?}"),
    }

    // An unknown opcode is rejected (COMMAND NOT SUPPORTED), connection stays.
    let mut bogus = RawPdu::default();
    bogus.bhs.0[0] = 0x1c;
    i.send_raw(&bogus.encode()).await;
    match i.recv().await {
        Some(TargetPdu::Reject(r)) => {
            assert_eq!(r.reason, 0x05);
            assert_eq!(r.data.len(), 48);
            assert_eq!(r.data[0], 0x1c);
        }
        p => panic!("{p:?}"),
    }

    // ABORT TASK for a task that does not exist.
    let itt = i.next_itt();
    let tmf = TaskMgmtRequest {
        immediate: true,
        function: 1,
        lun: Lun::default(),
        itt,
        ref_itt: Itt(999),
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
        ref_cmdsn: CmdSn(1),
        exp_datasn: DataSn(0),
    };
    i.send(InitiatorPdu::TaskMgmt(tmf.clone())).await;
    match i.recv().await {
        Some(TargetPdu::TaskMgmt(r)) => assert_eq!((r.itt, r.response), (itt, 1)),
        p => panic!("{p:?}"),
    }

    // Commands outside the CmdSN window are dropped silently: the next
    // in-window command is still answered.
    let mut far = i.command(&[0x00, 0, 0, 0, 0, 0], false, false, 0);
    far.cmdsn = i.cmdsn.plus(1000);
    i.send(InitiatorPdu::ScsiCommand(far)).await;
    i.cmdsn = i.cmdsn.minus(1);
    let (status, _) = i.read(&[0x00, 0, 0, 0, 0, 0], 0).await; // TEST UNIT READY
    assert_eq!(status, 0);

    i.logout().await;

    token.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn reinstatement_closes_the_old_session() {
    let (addr, token, server) = start().await;
    let mut a = Initiator::connect(addr, 7).await;
    assert!(a.login().await);
    let old_tsih = a.tsih;
    let mut b = Initiator::connect(addr, 7).await;
    assert!(b.login().await);
    assert_ne!(b.tsih, old_tsih);
    assert!(a.recv().await.is_none(), "old connection dropped");
    let (status, _) = b.read(&[0x12, 0, 0, 0, 36, 0], 36).await;
    assert_eq!(status, 0);
    token.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn garbage_closes_only_that_connection() {
    let (addr, token, server) = start().await;
    // A session already open before the garbage arrives must keep working
    // (a connection opened afterwards would not show "only").
    let mut good = Initiator::connect(addr, 10).await;
    assert!(good.login().await);
    good.ready().await;
    let mut bad = Initiator::connect(addr, 9).await;
    bad.send_raw(&[0xff; 200]).await;
    assert!(bad.recv().await.is_none());
    let (status, _) = good.read(&[0x12, 0, 0, 0, 36, 0], 36).await;
    assert_eq!(status, 0);
    let mut later = Initiator::connect(addr, 11).await;
    assert!(later.login().await);
    token.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn nop_in_ping_answered_keeps_unanswered_drops() {
    let (addr, token, server) =
        start_with(Duration::from_millis(150), Duration::from_millis(300)).await;
    let mut i = Initiator::connect(addr, 11).await;
    assert!(i.login().await);
    // Idle: the target pings with a TTT and ITT 0xffffffff.
    let ping = match i.recv().await {
        Some(TargetPdu::NopIn(n)) => n,
        p => panic!("{p:?}"),
    };
    assert_eq!(ping.itt, Itt::RESERVED);
    assert_ne!(ping.ttt, Ttt::RESERVED);
    let answer = NopOut {
        immediate: true,
        lun: ping.lun,
        itt: Itt::RESERVED,
        ttt: ping.ttt,
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
        data: Bytes::new(),
    };
    i.send(InitiatorPdu::NopOut(answer)).await;
    // Still alive: the next thing is another ping, not a close.
    let ping2 = match i.recv().await {
        Some(TargetPdu::NopIn(n)) => n,
        p => panic!("{p:?}"),
    };
    assert_ne!(ping2.ttt, ping.ttt);
    // Not answered: the connection is dropped after nop_timeout.
    let started = tokio::time::Instant::now();
    assert!(i.recv().await.is_none());
    assert!(started.elapsed() < Duration::from_secs(2));
    token.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn oversized_data_segment_is_rejected_then_closed() {
    let (addr, token, server) = start().await;
    let mut i = Initiator::connect(addr, 12).await;
    assert!(i.login().await);
    // Our declared MaxRecvDataSegmentLength is 8192: send a NOP-Out
    // claiming 8196 bytes.
    let nop = NopOut {
        immediate: true,
        lun: Lun::default(),
        itt: Itt(77),
        ttt: Ttt::RESERVED,
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
        data: Bytes::from(vec![0u8; 8196]),
    };
    i.send(InitiatorPdu::NopOut(nop)).await;
    match i.recv().await {
        Some(TargetPdu::Reject(r)) => assert_eq!(r.reason, 0x04),
        p => panic!("{p:?}"),
    }
    assert!(i.recv().await.is_none());
    token.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn send_targets_and_discovery_session_rules() {
    let (addr, token, server) = start().await;
    let mut d = Initiator::connect(addr, 13).await;
    assert!(d.login_as(true).await);
    let itt = d.next_itt();
    let text = TextRequest {
        immediate: true,
        final_bit: true,
        cont: false,
        lun: Lun::default(),
        itt,
        ttt: Ttt::RESERVED,
        cmdsn: d.cmdsn,
        exp_statsn: d.exp_statsn,
        data: keys(&[("SendTargets", "All")]),
    };
    d.send(InitiatorPdu::Text(text)).await;
    match d.recv().await {
        Some(TargetPdu::Text(t)) => {
            assert!(t.final_bit);
            assert_eq!(t.itt, itt);
            let body = String::from_utf8_lossy(&t.data).to_string();
            assert!(body.contains(&format!("TargetName={IQN}")), "{body}");
            assert!(body.contains(&format!("TargetAddress={addr},1")), "{body}");
        }
        p => panic!("{p:?}"),
    }
    // No SCSI commands in a discovery session: Reject (protocol error).
    let c = d.command(&[0x12, 0, 0, 0, 36, 0], true, false, 36);
    d.send(InitiatorPdu::ScsiCommand(c)).await;
    match d.recv().await {
        Some(TargetPdu::Reject(r)) => assert_eq!(r.reason, 0x04),
        p => panic!("{p:?}"),
    }
    token.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn abort_task_waiting_for_data_and_lun_reset() {
    let (addr, token, server) = start().await;
    let mut i = Initiator::connect(addr, 14).await;
    assert!(i.login().await);
    i.ready().await;
    // A write that waits for Data-Out after its R2T.
    let w = i.command(&[0x2a, 0, 0, 0, 0, 0, 0, 0, 8, 0], false, true, 4096);
    let (w_itt, w_cmdsn) = (w.itt, w.cmdsn);
    i.send(InitiatorPdu::ScsiCommand(w)).await;
    match i.recv().await {
        Some(TargetPdu::R2t(r)) => assert_eq!(r.itt, w_itt),
        p => panic!("{p:?}"),
    }
    let itt = i.next_itt();
    let abort = TaskMgmtRequest {
        immediate: true,
        function: 1,
        lun: Lun::default(),
        itt,
        ref_itt: w_itt,
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
        ref_cmdsn: w_cmdsn,
        exp_datasn: DataSn(0),
    };
    i.send(InitiatorPdu::TaskMgmt(abort)).await;
    match i.recv().await {
        Some(TargetPdu::TaskMgmt(r)) => assert_eq!((r.itt, r.response), (itt, 0)),
        p => panic!("{p:?}"),
    }
    // Late Data-Out for the aborted task is dropped without an answer; the
    // next command's response is the next PDU.
    let late = DataOut {
        final_bit: true,
        lun: Lun::default(),
        itt: w_itt,
        ttt: Ttt(1),
        exp_statsn: i.exp_statsn,
        datasn: DataSn(0),
        buffer_offset: 0,
        data: Bytes::from(vec![0u8; 4096]),
    };
    i.send(InitiatorPdu::DataOut(late)).await;
    let (status, _) = i.read(&[0x00, 0, 0, 0, 0, 0], 0).await;
    assert_eq!(status, 0);
    // LOGICAL UNIT RESET completes.
    let itt = i.next_itt();
    let reset = TaskMgmtRequest {
        immediate: true,
        function: 5,
        lun: Lun::default(),
        itt,
        ref_itt: Itt::RESERVED,
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
        ref_cmdsn: CmdSn(0),
        exp_datasn: DataSn(0),
    };
    i.send(InitiatorPdu::TaskMgmt(reset)).await;
    match i.recv().await {
        Some(TargetPdu::TaskMgmt(r)) => assert_eq!((r.itt, r.response), (itt, 0)),
        p => panic!("{p:?}"),
    }
    token.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn crc32c_digests_and_data_digest_error() {
    let (addr, token, server) = start().await;
    let mut i = Initiator::connect(addr, 15).await;
    i.want_digests = true;
    assert!(i.login().await);
    assert!(i.digests);
    let (status, data) = i.read(&[0x12, 0, 0, 0, 96, 0], 96).await;
    assert_eq!(status, 0);
    assert_eq!(&data[8..12], b"XTGT");
    // A NOP-Out whose data digest is wrong: Reject (Data digest error),
    // and the connection stays usable.
    let itt = i.next_itt();
    let nop = NopOut {
        immediate: true,
        lun: Lun::default(),
        itt,
        ttt: Ttt::RESERVED,
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
        data: Bytes::from_static(b"abcd"),
    };
    let mut f = encode_frame(&InitiatorPdu::NopOut(nop).to_raw(), true, true).to_vec();
    let last = f.len() - 1;
    f[last] ^= 0x55;
    i.send_raw(&f).await;
    match i.recv().await {
        Some(TargetPdu::Reject(r)) => assert_eq!(r.reason, 0x02),
        p => panic!("{p:?}"),
    }
    i.ready().await;
    // A header digest error cannot be resynchronised: the connection closes.
    let mut f = encode_frame(
        &InitiatorPdu::NopOut(NopOut {
            immediate: true,
            lun: Lun::default(),
            itt: Itt(500),
            ttt: Ttt::RESERVED,
            cmdsn: i.cmdsn,
            exp_statsn: i.exp_statsn,
            data: Bytes::new(),
        })
        .to_raw(),
        true,
        true,
    )
    .to_vec();
    f[49] ^= 1;
    i.send_raw(&f).await;
    assert!(i.recv().await.is_none());
    token.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_asks_for_logout_and_returns() {
    let (addr, token, server) = start().await;
    let mut i = Initiator::connect(addr, 16).await;
    assert!(i.login().await);
    i.ready().await;
    let started = tokio::time::Instant::now();
    token.cancel();
    match i.recv().await {
        Some(TargetPdu::Async(a)) => assert_eq!(a.event, 1),
        p => panic!("{p:?}"),
    }
    i.logout().await;
    server.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn abort_task_of_a_command_not_yet_arrived_consumes_its_cmdsn() {
    let (addr, token, server) = start().await;
    let mut i = Initiator::connect(addr, 16).await;
    assert!(i.login().await);
    i.ready().await;
    // CmdSN n is skipped (never sent): TEST UNIT READY with n+1 is queued
    // behind the hole.
    let hole = i.cmdsn;
    i.cmdsn = i.cmdsn.next();
    let tur = i.command(&[0x00, 0, 0, 0, 0, 0], false, false, 0);
    let tur_itt = tur.itt;
    i.send(InitiatorPdu::ScsiCommand(tur)).await;
    // Immediate ABORT TASK (CmdSN n+2) for the task with RefCmdSN n: not
    // found, in the window, before the TMF: Function complete (RFC 7143
    // 11.6.1 b), and n counts as received, so the queued command runs.
    let itt = i.next_itt();
    let abort = TaskMgmtRequest {
        immediate: true,
        function: 1,
        lun: Lun::default(),
        itt,
        ref_itt: Itt(4242),
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
        ref_cmdsn: hole,
        exp_datasn: DataSn(0),
    };
    i.send(InitiatorPdu::TaskMgmt(abort.clone())).await;
    match i.recv().await {
        Some(TargetPdu::TaskMgmt(r)) => assert_eq!((r.itt, r.response), (itt, 0)),
        p => panic!("{p:?}"),
    }
    match i.recv().await {
        Some(TargetPdu::ScsiResponse(r)) => {
            assert_eq!((r.itt, r.status), (tur_itt, 0));
            assert_eq!(r.exp_cmdsn, i.cmdsn);
        }
        p => panic!("{p:?}"),
    }
    // The aborted command arrives late: dropped as a duplicate; the next
    // in-window command is the next answer.
    let saved = i.cmdsn;
    i.cmdsn = hole;
    let late = i.command(&[0x12, 0, 0, 0, 36, 0], true, false, 36);
    i.send(InitiatorPdu::ScsiCommand(late)).await;
    i.cmdsn = saved;
    let (status, _) = i.read(&[0x00, 0, 0, 0, 0, 0], 0).await;
    assert_eq!(status, 0);
    // The same ABORT TASK again: RefCmdSN is now below ExpCmdSN (outside
    // the window): Task does not exist (11.6.1 c).
    let itt = i.next_itt();
    let again = TaskMgmtRequest {
        itt,
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
        ..abort
    };
    i.send(InitiatorPdu::TaskMgmt(again)).await;
    match i.recv().await {
        Some(TargetPdu::TaskMgmt(r)) => assert_eq!((r.itt, r.response), (itt, 1)),
        p => panic!("{p:?}"),
    }
    token.cancel();
    server.await.unwrap().unwrap();
}
