#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End to end over a real socket: a minimal initiator built from the
//! crate's own codec logs in to a `Server` on 127.0.0.1:0 backed by a memory
//! LUN, runs INQUIRY, WRITE(10) through R2T, READ(10), NOP, TMF, a bad PDU,
//! session reinstatement and logout.

use bytes::{Bytes, BytesMut};
use iscsi::framing::{decode_frame, encode_frame, Frame, FrameConfig};
use iscsi::pdu::{
    CmdSn, DataOut, DataSn, InitiatorPdu, Itt, LoginRequest, LogoutRequest, Lun, NopOut, RawPdu,
    ScsiCommand, StatSn, TargetPdu, TaskMgmtRequest, TextRequest, Ttt,
};
use iscsi::{Server, ServerConfig, TargetConfig};
use scsi::backend::MemoryBackend;
use scsi::{DeviceServer, LogicalUnit, LuConfig, TargetPort};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const IQN: &str = "iqn.2026-11.org.xtgt:e2e";
const INITIATOR: &str = "iqn.2026-11.org.xtgt:e2e-initiator";

type Running = (
    SocketAddr,
    CancellationToken,
    tokio::task::JoinHandle<std::io::Result<()>>,
);

async fn start() -> Running {
    start_with(Duration::from_secs(30), Duration::from_secs(10)).await
}

async fn start_with(nop_interval: Duration, nop_timeout: Duration) -> Running {
    let lu = Arc::new(LogicalUnit::new(
        LuConfig {
            block_size: 512,
            read_only: false,
            serial: "e2e0".into(),
            naa_id: 0x1234,
            vendor: "XTGT".into(),
            product: "e2e".into(),
            revision: "0.1".into(),
        },
        Arc::new(MemoryBackend::new(4 << 20)),
    ));
    let port = Arc::new(TargetPort {
        name: IQN.into(),
        relative_port_id: 1,
        port_group: 1,
        luns: BTreeMap::from([(0u64, lu)]),
    });
    let device = Arc::new(DeviceServer::new(vec![port.clone()]));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::new(
        ServerConfig {
            targets: vec![TargetConfig {
                iqn: IQN.into(),
                alias: None,
                allowed_initiators: vec![],
                chap: None,
                mutual_chap: None,
                port,
            }],
            portals: vec![addr],
            portal_group_tag: 1,
            nop_interval,
            nop_timeout,
            max_recv_data_segment: 8192,
            queue_depth: 64,
        },
        device,
    );
    let token = CancellationToken::new();
    let h = tokio::spawn(server.serve(vec![listener], token.clone()));
    (addr, token, h)
}

struct Initiator {
    sock: TcpStream,
    buf: BytesMut,
    cmdsn: CmdSn,
    exp_statsn: StatSn,
    itt: u32,
    isid: [u8; 6],
    tsih: u16,
    /// Offer CRC32C header and data digests at login.
    want_digests: bool,
    /// Digests are in force (after the final login response).
    digests: bool,
}

fn keys(kv: &[(&str, &str)]) -> Bytes {
    let mut v = Vec::new();
    for (k, val) in kv {
        v.extend_from_slice(format!("{k}={val}").as_bytes());
        v.push(0);
    }
    Bytes::from(v)
}

impl Initiator {
    async fn connect(addr: SocketAddr, isid_low: u8) -> Self {
        Self {
            sock: TcpStream::connect(addr).await.unwrap(),
            buf: BytesMut::new(),
            cmdsn: CmdSn(1),
            exp_statsn: StatSn(0),
            itt: 0,
            isid: [0x80, 0, 0, 0, 0x12, isid_low],
            tsih: 0,
            want_digests: false,
            digests: false,
        }
    }

    async fn send(&mut self, p: InitiatorPdu) {
        let f = encode_frame(&p.to_raw(), self.digests, self.digests);
        self.sock.write_all(&f).await.unwrap();
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).await.unwrap();
    }

    /// Next PDU, or None when the target closed the connection.
    async fn recv(&mut self) -> Option<TargetPdu> {
        let cfg = FrameConfig {
            header_digest: self.digests,
            data_digest: self.digests,
            max_recv_data_segment: 1 << 20,
        };
        loop {
            if let Some(Frame::Pdu(raw)) = decode_frame(&mut self.buf, &cfg).unwrap() {
                let p = TargetPdu::parse(&raw).unwrap();
                self.track(&p);
                return Some(p);
            }
            let n =
                tokio::time::timeout(Duration::from_secs(10), self.sock.read_buf(&mut self.buf))
                    .await
                    .expect("target answers within 10 s")
                    .unwrap_or(0);
            if n == 0 {
                return None;
            }
        }
    }

    fn track(&mut self, p: &TargetPdu) {
        let statsn = match p {
            TargetPdu::ScsiResponse(r) => Some(r.statsn),
            TargetPdu::DataIn(d) if d.status.is_some() => Some(d.statsn),
            TargetPdu::Login(r) => Some(r.statsn),
            TargetPdu::NopIn(n) if n.itt != Itt::RESERVED => Some(n.statsn),
            TargetPdu::TaskMgmt(r) => Some(r.statsn),
            TargetPdu::Logout(r) => Some(r.statsn),
            TargetPdu::Async(r) => Some(r.statsn),
            TargetPdu::Text(r) => Some(r.statsn),
            // "The StatSN is advanced after a Reject" (RFC 7143 11.17.2).
            TargetPdu::Reject(r) => Some(r.statsn),
            _ => None,
        };
        if let Some(s) = statsn {
            assert!(
                self.exp_statsn == StatSn(0) || s == self.exp_statsn,
                "StatSN {s:?}, expected {:?}",
                self.exp_statsn
            );
            self.exp_statsn = s.next();
        }
    }

    fn next_itt(&mut self) -> Itt {
        self.itt += 1;
        Itt(self.itt)
    }

    async fn login(&mut self) -> bool {
        self.login_as(false).await
    }

    async fn login_as(&mut self, discovery: bool) -> bool {
        let security = if discovery {
            keys(&[
                ("InitiatorName", INITIATOR),
                ("SessionType", "Discovery"),
                ("AuthMethod", "None"),
            ])
        } else {
            keys(&[
                ("InitiatorName", INITIATOR),
                ("SessionType", "Normal"),
                ("TargetName", IQN),
                ("AuthMethod", "None"),
            ])
        };
        let digest = if self.want_digests { "CRC32C" } else { "None" };
        let stages: [(u8, u8, Bytes); 2] = [
            (0, 1, security),
            (
                1,
                3,
                keys(&[
                    ("HeaderDigest", digest),
                    ("DataDigest", digest),
                    ("ImmediateData", "No"),
                    ("InitialR2T", "Yes"),
                    ("MaxRecvDataSegmentLength", "4096"),
                    ("MaxBurstLength", "8192"),
                    ("FirstBurstLength", "4096"),
                    ("MaxOutstandingR2T", "1"),
                ]),
            ),
        ];
        let itt = self.next_itt();
        for (csg, nsg, data) in stages {
            let mut data = data;
            loop {
                self.send(InitiatorPdu::Login(LoginRequest {
                    transit: true,
                    csg,
                    nsg,
                    isid: self.isid,
                    tsih: self.tsih,
                    itt,
                    cmdsn: self.cmdsn,
                    exp_statsn: self.exp_statsn,
                    data: data.clone(),
                    ..Default::default()
                }))
                .await;
                let Some(TargetPdu::Login(r)) = self.recv().await else {
                    return false;
                };
                if r.status_class != 0 {
                    return false;
                }
                if r.transit && r.nsg == nsg {
                    if nsg == 3 {
                        self.tsih = r.tsih;
                        self.digests = self.want_digests;
                        assert_ne!(r.tsih, 0);
                    }
                    break;
                }
                data = Bytes::new();
            }
        }
        true
    }

    fn command(&mut self, cdb: &[u8], read: bool, write: bool, edtl: u32) -> ScsiCommand {
        let mut c = [0u8; 16];
        c[..cdb.len()].copy_from_slice(cdb);
        let itt = self.next_itt();
        let cmd = ScsiCommand {
            immediate: false,
            final_bit: true,
            read,
            write,
            attr: 1,
            lun: Lun::from_index(0),
            itt,
            edtl,
            cmdsn: self.cmdsn,
            exp_statsn: self.exp_statsn,
            cdb: Bytes::copy_from_slice(&c),
            bidi_read_length: None,
            data: Bytes::new(),
        };
        self.cmdsn = self.cmdsn.next();
        cmd
    }

    /// Run a read command; returns (status, data).
    async fn read(&mut self, cdb: &[u8], edtl: u32) -> (u8, Vec<u8>) {
        let c = self.command(cdb, true, false, edtl);
        self.send(InitiatorPdu::ScsiCommand(c)).await;
        let mut data = Vec::new();
        loop {
            match self.recv().await.expect("response") {
                TargetPdu::DataIn(d) => {
                    assert_eq!(d.buffer_offset as usize, data.len());
                    assert!(
                        d.data.len() <= 4096,
                        "Data-In beyond our MaxRecvDataSegmentLength"
                    );
                    data.extend_from_slice(&d.data);
                    if let Some(s) = d.status {
                        return (s, data);
                    }
                }
                TargetPdu::ScsiResponse(r) => return (r.status, data),
                p => panic!("unexpected {p:?}"),
            }
        }
    }

    /// TEST UNIT READY until GOOD: the first command after login reports
    /// the POWER ON unit attention (SAM-5 5.14).
    async fn ready(&mut self) {
        for _ in 0..3 {
            if self.read(&[0x00, 0, 0, 0, 0, 0], 0).await.0 == 0 {
                return;
            }
        }
        panic!("unit never ready");
    }

    /// Run a write command through R2T; returns (status, R2Ts seen).
    async fn write(&mut self, cdb: &[u8], payload: &[u8]) -> (u8, usize) {
        let c = self.command(cdb, false, true, payload.len() as u32);
        let itt = c.itt;
        self.send(InitiatorPdu::ScsiCommand(c)).await;
        let mut r2ts = 0;
        loop {
            match self.recv().await.expect("response") {
                TargetPdu::R2t(r) => {
                    r2ts += 1;
                    assert!(r.desired_length <= 8192);
                    let mut off = r.buffer_offset;
                    let end = off + r.desired_length;
                    let mut sn = 0;
                    while off < end {
                        let n = 4096.min(end - off);
                        let d = DataOut {
                            final_bit: off + n == end,
                            lun: Lun::from_index(0),
                            itt,
                            ttt: r.ttt,
                            exp_statsn: self.exp_statsn,
                            datasn: DataSn(sn),
                            buffer_offset: off,
                            data: Bytes::copy_from_slice(
                                &payload[off as usize..(off + n) as usize],
                            ),
                        };
                        self.send(InitiatorPdu::DataOut(d)).await;
                        off += n;
                        sn += 1;
                    }
                }
                TargetPdu::ScsiResponse(r) => return (r.status, r2ts),
                p => panic!("unexpected {p:?}"),
            }
        }
    }
}

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

    let itt = i.next_itt();
    let lo = LogoutRequest {
        immediate: true,
        reason: 0,
        itt,
        cid: 0,
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
    };
    i.send(InitiatorPdu::Logout(lo)).await;
    match i.recv().await {
        Some(TargetPdu::Logout(r)) => assert_eq!((r.itt, r.response), (itt, 0)),
        p => panic!("{p:?}"),
    }
    assert!(i.recv().await.is_none(), "connection closed after logout");

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
    let mut bad = Initiator::connect(addr, 9).await;
    bad.send_raw(&[0xff; 200]).await;
    assert!(bad.recv().await.is_none());
    let mut good = Initiator::connect(addr, 10).await;
    assert!(good.login().await);
    good.ready().await;
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
    let itt = i.next_itt();
    let lo = LogoutRequest {
        immediate: true,
        reason: 0,
        itt,
        cid: 0,
        cmdsn: i.cmdsn,
        exp_statsn: i.exp_statsn,
    };
    i.send(InitiatorPdu::Logout(lo)).await;
    match i.recv().await {
        Some(TargetPdu::Logout(r)) => assert_eq!((r.itt, r.response), (itt, 0)),
        p => panic!("{p:?}"),
    }
    assert!(i.recv().await.is_none());
    server.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}
