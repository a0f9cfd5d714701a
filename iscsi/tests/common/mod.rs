//! A minimal initiator built from the crate's own codec, and a `Server`
//! on 127.0.0.1:0 backed by a 4 MiB memory LUN, for the socket tests.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use bytes::{Bytes, BytesMut};
use iscsi::framing::{decode_frame, encode_frame, Frame, FrameConfig};
use iscsi::pdu::{
    CmdSn, DataOut, DataSn, InitiatorPdu, Itt, LoginRequest, LogoutRequest, Lun, ScsiCommand,
    StatSn, TargetPdu,
};
use iscsi::{Server, ServerConfig, TargetConfig};
use scsi::alua::{AccessState, PortGroup, TargetAlua};
use scsi::backend::MemoryBackend;
use scsi::{DeviceServer, LogicalUnit, LuConfig, TargetPort};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub const IQN: &str = "iqn.2026-11.org.xtgt:e2e";
pub const INITIATOR: &str = "iqn.2026-11.org.xtgt:e2e-initiator";

pub type Running = (
    SocketAddr,
    CancellationToken,
    tokio::task::JoinHandle<std::io::Result<()>>,
);

pub async fn start() -> Running {
    start_with(Duration::from_secs(30), Duration::from_secs(10)).await
}

pub async fn start_with(nop_interval: Duration, nop_timeout: Duration) -> Running {
    start_targets(&[IQN], nop_interval, nop_timeout).await
}

/// A server with one target per name in `iqns`, each with its own 4 MiB
/// memory LUN 0.
pub async fn start_targets(
    iqns: &[&str],
    nop_interval: Duration,
    nop_timeout: Duration,
) -> Running {
    let (addrs, token, h) = start_on_portals(iqns, 1, nop_interval, nop_timeout).await;
    (addrs[0], token, h)
}

/// Like [`start_targets`] with `portals` listeners on 127.0.0.1 (portal
/// `i`: TPGT `i + 1`, relative target port `i + 1`).
pub async fn start_on_portals(
    iqns: &[&str],
    portals: usize,
    nop_interval: Duration,
    nop_timeout: Duration,
) -> (
    Vec<SocketAddr>,
    CancellationToken,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let ports: Vec<Arc<TargetPort>> = iqns
        .iter()
        .zip(1u16..)
        .map(|(iqn, id)| {
            let lu = Arc::new(LogicalUnit::new(
                LuConfig {
                    block_size: 512,
                    read_only: false,
                    serial: format!("e2e{id}"),
                    naa_id: 0x1234 + u64::from(id),
                    vendor: "XTGT".into(),
                    product: "e2e".into(),
                    revision: "0.1".into(),
                },
                Arc::new(MemoryBackend::new(4 << 20)),
            ));
            Arc::new(TargetPort {
                name: (*iqn).into(),
                relative_port_id: id,
                port_group: 1,
                luns: BTreeMap::from([(0u64, lu)]),
            })
        })
        .collect();
    let mut device = DeviceServer::new(ports.clone());
    // One active/optimized group holding every portal's target port.
    let rel: Vec<u16> = (0..portals).map(iscsi::target::relative_port_id).collect();
    for p in &ports {
        device.set_alua(
            &p.name,
            TargetAlua::new(
                false,
                vec![PortGroup::new(1, AccessState::ActiveOptimized, rel.clone())],
            ),
        );
    }
    serve_on(Arc::new(device), ports, portals, nop_interval, nop_timeout).await
}

/// A server for `device` and its target `ports` (no access rules) on one
/// portal.
pub async fn serve_device(
    device: Arc<DeviceServer>,
    ports: Vec<Arc<TargetPort>>,
    nop_interval: Duration,
    nop_timeout: Duration,
) -> Running {
    let (addrs, token, h) = serve_on(device, ports, 1, nop_interval, nop_timeout).await;
    (addrs[0], token, h)
}

/// A server for `device` and its target `ports` on `portals` listeners.
async fn serve_on(
    device: Arc<DeviceServer>,
    ports: Vec<Arc<TargetPort>>,
    portals: usize,
    nop_interval: Duration,
    nop_timeout: Duration,
) -> (
    Vec<SocketAddr>,
    CancellationToken,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let mut listeners = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..portals {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(l.local_addr().unwrap());
        listeners.push(l);
    }
    let server = Server::new(
        ServerConfig {
            targets: ports
                .into_iter()
                .map(|port| TargetConfig {
                    iqn: port.name.clone(),
                    alias: None,
                    access: Default::default(),
                    port,
                    portals: Vec::new(),
                })
                .collect(),
            portals: addrs.clone(),
            portal_group_tag: 1,
            nop_interval,
            nop_timeout,
            max_recv_data_segment: 8192,
            queue_depth: 64,
        },
        device,
    );
    let token = CancellationToken::new();
    let h = tokio::spawn(server.serve(listeners, token.clone()));
    (addrs, token, h)
}

pub struct Initiator {
    pub sock: TcpStream,
    pub buf: BytesMut,
    pub cmdsn: CmdSn,
    pub exp_statsn: StatSn,
    pub itt: u32,
    pub isid: [u8; 6],
    pub tsih: u16,
    /// Offer CRC32C header and data digests at login.
    pub want_digests: bool,
    /// Digests are in force (after the final login response).
    pub digests: bool,
    /// TargetName of a normal session login.
    pub target: String,
    /// Status-Class and Status-Detail of the last Login Response, with
    /// its T bit and NSG.
    pub login_status: (u8, u8, bool, u8),
}

pub fn keys(kv: &[(&str, &str)]) -> Bytes {
    let mut v = Vec::new();
    for (k, val) in kv {
        v.extend_from_slice(format!("{k}={val}").as_bytes());
        v.push(0);
    }
    Bytes::from(v)
}

impl Initiator {
    pub async fn connect(addr: SocketAddr, isid_low: u8) -> Self {
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
            target: IQN.into(),
            login_status: (0, 0, false, 0),
        }
    }

    pub async fn send(&mut self, p: InitiatorPdu) {
        let f = encode_frame(&p.to_raw(), self.digests, self.digests);
        self.sock.write_all(&f).await.unwrap();
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).await.unwrap();
    }

    /// Next PDU, or None when the target closed the connection.
    pub async fn recv(&mut self) -> Option<TargetPdu> {
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

    pub fn track(&mut self, p: &TargetPdu) {
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

    pub fn next_itt(&mut self) -> Itt {
        self.itt += 1;
        Itt(self.itt)
    }

    pub async fn login(&mut self) -> bool {
        self.login_as(false).await
    }

    pub async fn login_as(&mut self, discovery: bool) -> bool {
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
                ("TargetName", self.target.as_str()),
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
                self.login_status = (r.status_class, r.status_detail, r.transit, r.nsg);
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

    pub fn command(&mut self, cdb: &[u8], read: bool, write: bool, edtl: u32) -> ScsiCommand {
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
    pub async fn read(&mut self, cdb: &[u8], edtl: u32) -> (u8, Vec<u8>) {
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
    pub async fn ready(&mut self) {
        for _ in 0..3 {
            if self.read(&[0x00, 0, 0, 0, 0, 0], 0).await.0 == 0 {
                return;
            }
        }
        panic!("unit never ready");
    }

    /// Logout (close the session, RFC 7143 11.14): the response answers
    /// our ITT with "closed successfully", then the target closes the
    /// connection.
    pub async fn logout(&mut self) {
        let itt = self.next_itt();
        let lo = LogoutRequest {
            immediate: true,
            reason: 0,
            itt,
            cid: 0,
            cmdsn: self.cmdsn,
            exp_statsn: self.exp_statsn,
        };
        self.send(InitiatorPdu::Logout(lo)).await;
        match self.recv().await {
            Some(TargetPdu::Logout(r)) => assert_eq!((r.itt, r.response), (itt, 0)),
            p => panic!("{p:?}"),
        }
        assert!(
            self.recv().await.is_none(),
            "connection closed after logout"
        );
    }

    /// Run a write command through R2T; returns (status, R2Ts seen).
    pub async fn write(&mut self, cdb: &[u8], payload: &[u8]) -> (u8, usize) {
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
