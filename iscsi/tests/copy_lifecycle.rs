#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Copy operations over the wire while they run: ABORT TASK of a running
//! EXTENDED COPY is answered only after the copy stopped (SPC-5 5.17.4.6)
//! and the aborted command gets no response; the loss of the connection
//! (an initiator killed mid-copy) stops the nexus' copy, so no copy is in
//! flight afterwards.

mod common;

use async_trait::async_trait;
use bytes::Bytes;
use common::{serve_device, Initiator, IQN};
use iscsi::pdu::consts::function::ABORT_TASK;
use iscsi::pdu::{DataOut, DataSn, InitiatorPdu, Itt, Lun, TargetPdu, TaskMgmtRequest};
use scsi::backend::{Backend, Capabilities, MemoryBackend};
use scsi::copy::{CopyLimits, CopyManager, OwnTargetResolver};
use scsi::{DeviceServer, LogicalUnit, LuConfig, TargetPort};
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Memory whose every write takes 20 ms after its data landed: a copy of
/// many chunks runs long, and a chunk dropped mid-way (instead of stopped
/// at its boundary) would leave data the copy never reported.
struct Slow(MemoryBackend);

#[async_trait]
impl Backend for Slow {
    fn describe(&self) -> String {
        "slow".into()
    }
    fn size(&self) -> u64 {
        self.0.size()
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    async fn read(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        self.0.read(offset, len).await
    }
    async fn write(&self, offset: u64, data: Bytes, fua: bool) -> io::Result<()> {
        self.0.write(offset, data, fua).await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(())
    }
    async fn flush(&self) -> io::Result<()> {
        self.0.flush().await
    }
}

/// One target (the common IQN) with a slow 4 MiB LUN 0; copies in 64 KiB
/// chunks.
async fn start() -> (Arc<DeviceServer>, common::Running) {
    let lu = Arc::new(LogicalUnit::new(
        LuConfig {
            block_size: 512,
            read_only: false,
            serial: "copy1".into(),
            naa_id: 0x4321,
            vendor: "XTGT".into(),
            product: "e2e".into(),
            revision: "0.1".into(),
        },
        Arc::new(Slow(MemoryBackend::new(4 << 20))),
    ));
    let port = Arc::new(TargetPort {
        name: IQN.into(),
        relative_port_id: 1,
        port_group: 1,
        luns: BTreeMap::from([(0u64, lu)]),
    });
    let mut device = DeviceServer::new(vec![port.clone()]);
    device.copy = CopyManager::new(
        CopyLimits {
            chunk_size: 64 * 1024,
            chunks_in_flight: 2,
            ..CopyLimits::default()
        },
        Arc::new(OwnTargetResolver::with_vpd83_designators()),
    );
    let device = Arc::new(device);
    // The source range (LBA 0..4096) gets a pattern; the destination
    // (LBA 4096..8192) stays zero.
    let pattern: Vec<u8> = (0..2u32 << 20).map(|i| (i % 251) as u8 | 1).collect();
    device.targets[0].luns[&0]
        .backend
        .write(0, Bytes::from(pattern), false)
        .await
        .unwrap();
    let running = serve_device(
        device.clone(),
        vec![port],
        Duration::from_secs(30),
        Duration::from_secs(10),
    )
    .await;
    (device, running)
}

/// EXTENDED COPY (LID1) parameter list: LBA 0..4096 to LBA 4096 of the
/// one LU (named by its VPD 0x83 NAA designator), list id `id`, held.
fn xcopy_list(device: &DeviceServer, id: u8) -> Vec<u8> {
    let port = &device.targets[0];
    let lu = &port.luns[&0];
    let ds = scsi::copy::vpd83_designators()(port, lu);
    let naa = ds.iter().find(|d| d.designator_type == 3).unwrap();
    let mut cscd = vec![0u8; 32];
    cscd[0] = 0xE4;
    cscd[4] = naa.code_set;
    cscd[5] = 0x03;
    cscd[7] = naa.value.len() as u8;
    cscd[8..8 + naa.value.len()].copy_from_slice(&naa.value);
    cscd[29..32].copy_from_slice(&512u32.to_be_bytes()[1..]);
    let mut seg = vec![0u8; 28];
    seg[0] = 0x02;
    seg[2..4].copy_from_slice(&0x18u16.to_be_bytes());
    seg[10..12].copy_from_slice(&4096u16.to_be_bytes());
    seg[20..28].copy_from_slice(&4096u64.to_be_bytes());
    let mut h = vec![0u8; 16];
    h[0] = id;
    h[2..4].copy_from_slice(&32u16.to_be_bytes());
    h[8..12].copy_from_slice(&28u32.to_be_bytes());
    [h, cscd, seg].concat()
}

/// Send an EXTENDED COPY and its Data-Out, without waiting for the
/// response; returns its ITT.
async fn send_xcopy(i: &mut Initiator, list: &[u8]) -> Itt {
    let mut cdb = [0u8; 16];
    cdb[0] = 0x83;
    cdb[10..14].copy_from_slice(&(list.len() as u32).to_be_bytes());
    let c = i.command(&cdb, false, true, list.len() as u32);
    let itt = c.itt;
    i.send(InitiatorPdu::ScsiCommand(c)).await;
    let r2t = match i.recv().await.expect("R2T") {
        TargetPdu::R2t(r) => r,
        p => panic!("{p:?}"),
    };
    i.send(InitiatorPdu::DataOut(DataOut {
        final_bit: true,
        lun: Lun::from_index(0),
        itt,
        ttt: r2t.ttt,
        exp_statsn: i.exp_statsn,
        datasn: DataSn(0),
        buffer_offset: 0,
        data: Bytes::copy_from_slice(list),
    }))
    .await;
    itt
}

async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..1000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn session(addr: std::net::SocketAddr, isid: u8) -> Initiator {
    let mut i = Initiator::connect(addr, isid).await;
    assert!(i.login().await);
    i.ready().await;
    i
}

#[tokio::test]
async fn abort_task_of_a_running_extended_copy_answers_after_it_stopped() {
    let (device, (addr, token, server)) = start().await;
    let mut i = session(addr, 1).await;
    let list = xcopy_list(&device, 1);
    let itt = send_xcopy(&mut i, &list).await;
    until("the copy to run", || device.copy.control.len() == 1).await;
    let started = Instant::now();
    let tmf_itt = i.next_itt();
    i.send(InitiatorPdu::TaskMgmt(TaskMgmtRequest {
        immediate: true,
        function: ABORT_TASK,
        lun: Lun::from_index(0),
        itt: tmf_itt,
        ref_itt: itt,
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
        ref_cmdsn: iscsi::pdu::CmdSn(i.cmdsn.0.wrapping_sub(1)),
        exp_datasn: DataSn(0),
    }))
    .await;
    match i.recv().await.expect("TMF response") {
        TargetPdu::TaskMgmt(r) => {
            assert_eq!((r.itt, r.response), (tmf_itt, 0), "function complete");
        }
        p => panic!("the aborted command got an answer: {p:?}"),
    }
    // The copy had stopped when the response was sent.
    assert!(device.copy.control.is_empty(), "copy still in flight");
    assert!(started.elapsed() < Duration::from_secs(5));
    // RECEIVE COPY STATUS (LID1): completed with errors, N bytes; the
    // destination holds exactly those N bytes of the source, zeroes after.
    let (status, st) = i
        .read(&[0x84, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0], 12)
        .await;
    assert_eq!(status, 0);
    assert_eq!((st[4], st[7]), (0x02, 0x00), "completed with errors, bytes");
    let done = u32::from_be_bytes(st[8..12].try_into().unwrap()) as usize;
    let lu = &device.targets[0].luns[&0];
    let src = lu.backend.read(0, 2 << 20).await.unwrap();
    let dst = lu.backend.read(2 << 20, 2 << 20).await.unwrap();
    assert!(done > 0 && done < 2 << 20, "stopped part way: {done}");
    assert!(dst[..done] == src[..done], "reported bytes copied");
    assert!(dst[done..].iter().all(|&b| b == 0), "nothing beyond them");
    // The session goes on; the aborted command never answers: the next
    // PDU is this command's response.
    assert_eq!(i.read(&[0x00, 0, 0, 0, 0, 0], 0).await.0, 0);
    i.logout().await;
    token.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn connection_loss_stops_the_nexus_copy() {
    let (device, (addr, token, server)) = start().await;
    let mut i = session(addr, 2).await;
    let list = xcopy_list(&device, 2);
    send_xcopy(&mut i, &list).await;
    until("the copy to run", || device.copy.control.len() == 1).await;
    // The initiator dies (kill -9): the socket closes mid-copy.
    drop(i);
    let lost = Instant::now();
    until("the copy to stop", || device.copy.control.is_empty()).await;
    // A whole 2 MiB copy takes >= 32 chunks * 20 ms / 2 in flight; it
    // stopped at a chunk boundary instead.
    assert!(
        lost.elapsed() < Duration::from_millis(300),
        "{:?}",
        lost.elapsed()
    );
    // A new session reuses the list id at once.
    let mut j = session(addr, 3).await;
    send_xcopy(&mut j, &list).await;
    until("the new copy to run", || device.copy.control.len() == 1).await;
    drop(j);
    until("the copy to stop", || device.copy.control.is_empty()).await;
    token.cancel();
    server.await.unwrap().unwrap();
}
