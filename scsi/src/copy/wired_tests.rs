//! The copy manager wired into the device server: every test goes through
//! [`DeviceServer::execute`] exactly as the transport would (opcode table,
//! VPD 0x8F, RSOC, authorization across targets, fault handling).

use super::params::build::*;
use super::{AclResolver, ChapIdentity, PortAccess};
use crate::access::AccessPolicy;
use crate::backend::{Backend, Capabilities, FaultBackend, MemoryBackend};
use crate::device::testutil::{exec, sense_of};
use crate::device::{DeviceServer, LogicalUnit, LuConfig, Nexus, Response, Status, TargetPort};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A memory backend that counts every read and write reaching it.
struct Counting {
    inner: MemoryBackend,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl Counting {
    fn new(size: u64) -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryBackend::new(size),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
        })
    }
    fn io(&self) -> (u64, u64) {
        (
            self.reads.load(Ordering::SeqCst),
            self.writes.load(Ordering::SeqCst),
        )
    }
}

#[async_trait]
impl Backend for Counting {
    fn describe(&self) -> String {
        "counting".into()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn read(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.read(offset, len).await
    }
    async fn write(&self, offset: u64, data: Bytes, fua: bool) -> io::Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.write(offset, data, fua).await
    }
    async fn flush(&self) -> io::Result<()> {
        self.inner.flush().await
    }
    async fn unmap(&self, offset: u64, len: u64) -> io::Result<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.unmap(offset, len).await
    }
}

fn lu(naa_id: u64, block_size: u32, backend: Arc<dyn Backend>) -> Arc<LogicalUnit> {
    Arc::new(LogicalUnit::new(
        LuConfig {
            block_size,
            read_only: false,
            serial: format!("{naa_id:016X}"),
            naa_id,
            vendor: "XTGT".into(),
            product: "disk".into(),
            revision: "0.1".into(),
        },
        backend,
    ))
}

fn port(name: &str, id: u16, luns: &[&Arc<LogicalUnit>]) -> Arc<TargetPort> {
    let mut map = BTreeMap::new();
    for (i, l) in luns.iter().enumerate() {
        map.insert(i as u64, (*l).clone());
    }
    Arc::new(TargetPort {
        name: name.into(),
        relative_port_id: id,
        port_group: 1,
        luns: map,
    })
}

const INITIATOR: &str = "iqn.2026-01.test:i";

fn chap(user: &str, secret: &str) -> Option<ChapIdentity> {
    Some(ChapIdentity {
        user: user.into(),
        secret: secret.into(),
    })
}

/// Targets with their ACL and CHAP, the ACL resolver installed as the
/// binary does.
fn server(ports: Vec<PortAccess>) -> DeviceServer {
    let s = DeviceServer::new(ports.iter().map(|p| p.target.clone()).collect());
    s.copy
        .set_resolver(Arc::new(AclResolver::from_port_access(ports)));
    s
}

fn open(target: &Arc<TargetPort>) -> PortAccess {
    PortAccess {
        target: target.clone(),
        policy: AccessPolicy::default(),
    }
}

fn guarded(
    target: &Arc<TargetPort>,
    allowed_initiators: Vec<String>,
    chap: Option<ChapIdentity>,
) -> PortAccess {
    PortAccess {
        target: target.clone(),
        policy: AccessPolicy {
            allowed_initiators,
            chap,
            mutual_chap: None,
        },
    }
}

/// A nexus whose power-on unit attentions are consumed.
async fn nexus(s: &DeviceServer, p: &Arc<TargetPort>) -> Arc<Nexus> {
    let n = s.register_nexus(INITIATOR, "iqn.2026-01.test:i,i,0x1", p.clone());
    for &lun in p.luns.keys() {
        exec(s, &n, lun, &[0x03, 0, 0, 0, 252, 0], &[]).await;
    }
    n
}

fn naa_of(lu: &LogicalUnit) -> [u8; 16] {
    crate::spc::vpd::naa6(lu.config.naa_id)
}

fn cscd16(lu: &LogicalUnit) -> Vec<u8> {
    cscd(0x01, 0x03, &naa_of(lu), lu.config.block_size)
}

fn xcopy_cdb(len: usize) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = 0x83;
    c[10..14].copy_from_slice(&(len as u32).to_be_bytes());
    c
}

async fn xcopy(s: &DeviceServer, n: &Nexus, lun: u64, list: &[u8]) -> Response {
    exec(s, n, lun, &xcopy_cdb(list.len()), list).await
}

fn rcr_cdb(sa: u8, list_id: u8) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = 0x84;
    c[1] = sa;
    c[2] = list_id;
    c[10..14].copy_from_slice(&4096u32.to_be_bytes());
    c
}

async fn vpd(s: &DeviceServer, n: &Nexus, page: u8) -> Vec<u8> {
    let r = exec(s, n, 0, &[0x12, 0x01, page, 0x10, 0x00, 0], &[]).await;
    assert_eq!(r.status, Status::Good, "VPD {page:#x}");
    r.data_in.to_vec()
}

/// VPD 0x8F through INQUIRY, byte for byte (SPC-5 7.7.18).
#[tokio::test]
async fn vpd_8f_byte_exact() {
    let a = lu(1, 512, Arc::new(MemoryBackend::new(1 << 20)));
    let t = port("iqn.t:a", 1, &[&a]);
    let s = server(vec![open(&t)]);
    let n = nexus(&s, &t).await;
    #[rustfmt::skip]
    let want: Vec<u8> = [
        &[0x00, 0x8F, 0x01, 0x74][..],
        // Block Device ROD Token Limits first (Windows): 64 ranges, 600 s
        // maximum and 60 s default inactivity timeout, 4 GiB and 64 MiB in
        // 512-byte blocks.
        &[0x00, 0x00, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0x02, 0x58, 0, 0, 0, 60,
          0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0],
        // Supported Commands: 0x83 {00, 10, 11, 1C}, 0x84 {00, 03, 04, 05, 07, 08}.
        &[0x00, 0x01, 0x00, 0x10, 14, 0x83, 4, 0x00, 0x10, 0x11, 0x1C,
          0x84, 6, 0x00, 0x03, 0x04, 0x05, 0x07, 0x08, 0],
        &[0x00, 0x04, 0x00, 0x1C, 0, 0, 0, 0, 0, 64, 0, 64, 0, 0, 0x20, 0, 0, 0, 0, 0,
          0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        // Supported Descriptors: 0x02, 0x0A, 0xE4.
        &[0x00, 0x08, 0x00, 0x04, 3, 0x02, 0x0A, 0xE4],
        // Supported CSCD IDs: 0xFFFF.
        &[0x00, 0x0C, 0x00, 0x04, 0, 2, 0xFF, 0xFF],
        // ROD Token Features and Supported ROD Types (their encoders are
        // tested byte for byte in `odx::vpd`): change vulnerable and the
        // zero token on a memory LU.
        &crate::copy::odx::vpd::rod_token_features(&crate::copy::odx::OdxLimits::default(), 512),
        &crate::copy::odx::vpd::supported_rod_types(&crate::copy::token::Odx::rod_types(&a)),
        // General Copy Operations: 16 copies, 256 MiB segments, 2^9 granularity.
        &[0x80, 0x01, 0x00, 0x20, 0, 0, 0, 16, 0, 0, 0, 16, 0x10, 0, 0, 0, 9, 0,
          0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
    .concat();
    assert_eq!(vpd(&s, &n, 0x8F).await, want);
    // Listed among the supported pages, and 3PC set in standard INQUIRY.
    assert!(vpd(&s, &n, 0x00).await[4..].contains(&0x8F));
    let r = exec(&s, &n, 0, &[0x12, 0, 0, 0, 36, 0], &[]).await;
    assert_eq!(r.data_in[5] & 0x08, 0x08);
}

/// Third-party copy descriptors of a VPD 0x8F page: type -> body.
fn tpc_descriptors(page: &[u8]) -> BTreeMap<u16, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut off = 4;
    while off + 4 <= page.len() {
        let ty = u16::from_be_bytes([page[off], page[off + 1]]);
        let len = usize::from(u16::from_be_bytes([page[off + 2], page[off + 3]]));
        out.insert(ty, page[off + 4..off + 4 + len].to_vec());
        off += 4 + len;
    }
    out
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// REPORT SUPPORTED OPERATION CODES, VPD 0x8F and RECEIVE COPY OPERATING
/// PARAMETERS are each derived here from their own wire answers and must
/// agree: the same commands, the same limits, the same descriptor types.
#[tokio::test]
async fn rsoc_vpd_8f_and_operating_parameters_agree() {
    let a = lu(1, 4096, Arc::new(MemoryBackend::new(1 << 20)));
    let t = port("iqn.t:a", 1, &[&a]);
    let s = server(vec![open(&t)]);
    let n = nexus(&s, &t).await;

    // RSOC, all commands (SPC-5 6.34.2): 8-byte descriptors.
    let r = exec(
        &s,
        &n,
        0,
        &[0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0],
        &[],
    )
    .await;
    assert_eq!(r.status, Status::Good);
    let d = &r.data_in;
    let len = be32(d, 0) as usize;
    let mut rsoc: Vec<(u8, u8)> = Vec::new();
    let mut off = 4;
    while off < 4 + len {
        let (op, sa, flags) = (d[off], be16(d, off + 2), d[off + 5]);
        if op == 0x83 || op == 0x84 {
            assert_eq!(flags & 0x01, 0x01, "SERVACTV for {op:#x}");
            rsoc.push((op, sa as u8));
        }
        off += if flags & 0x02 != 0 { 20 } else { 8 };
    }
    rsoc.sort_unstable();
    assert_eq!(
        rsoc,
        vec![
            (0x83, 0x00),
            (0x83, 0x10),
            (0x83, 0x11),
            (0x83, 0x1C),
            (0x84, 0x00),
            (0x84, 0x03),
            (0x84, 0x04),
            (0x84, 0x05),
            (0x84, 0x07),
            (0x84, 0x08)
        ]
    );

    let page = vpd(&s, &n, 0x8F).await;
    let desc = tpc_descriptors(&page);
    // Supported Commands descriptor -> the same (opcode, SA) pairs.
    let sc = &desc[&0x0001];
    let mut vpd_cmds = Vec::new();
    let mut i = 1;
    while i < 1 + usize::from(sc[0]) {
        let (op, n_sa) = (sc[i], usize::from(sc[i + 1]));
        for &sa in &sc[i + 2..i + 2 + n_sa] {
            vpd_cmds.push((op, sa));
        }
        i += 2 + n_sa;
    }
    vpd_cmds.sort_unstable();
    assert_eq!(vpd_cmds, rsoc);
    // ODX: Block Device ROD Token Limits first, and its maximum inactivity
    // timeout is the ROD Token Features one.
    assert_eq!(page[4..8], [0x00, 0x00, 0x00, 0x20]);
    assert_eq!(be32(&desc[&0x0000], 8), be32(&desc[&0x0106], 20));

    let r = exec(&s, &n, 0, &rcr_cdb(0x03, 0), &[]).await;
    assert_eq!(r.status, Status::Good);
    let op = &r.data_in;
    let pd = &desc[&0x0004];
    let gco = &desc[&0x8001];
    // MAXIMUM CSCD / SEGMENT DESCRIPTOR COUNT, DESCRIPTOR LIST LENGTH, INLINE.
    assert_eq!(be16(op, 8), be16(pd, 4));
    assert_eq!(be16(op, 10), be16(pd, 6));
    assert_eq!(be32(op, 12), be32(pd, 8));
    assert_eq!(be32(op, 20), be32(pd, 12));
    // MAXIMUM SEGMENT LENGTH, concurrent copies, data segment granularity.
    assert_eq!(be32(op, 16), be32(gco, 8));
    assert_eq!(u32::from(be16(op, 34)), be32(gco, 0));
    assert_eq!(u32::from(op[36]), be32(gco, 4));
    assert_eq!(op[37], gco[12]);
    // Implemented descriptor type codes = Supported Descriptors.
    let codes = &op[44..44 + usize::from(op[43])];
    let sd = &desc[&0x0008];
    assert_eq!(codes, &sd[1..1 + usize::from(sd[0])]);
    // The limits meet issue 4's floor.
    assert!(be16(op, 8) >= 64 && be16(op, 10) >= 64 && be32(op, 12) >= 8192);
    assert!(be32(op, 16) >= 65535 * 4096);
}

/// CVE-2020-28374: a CSCD naming a LU of a target the initiator may not
/// use is refused with 0x26/0x15 before any I/O, as source and as
/// destination; copies across targets it may use work.
#[tokio::test]
async fn unauthorized_cscd_refused_before_any_io() {
    let own_b = Counting::new(1 << 20);
    let secret_b = Counting::new(1 << 20);
    let chap_b = Counting::new(1 << 20);
    let open_b = Counting::new(1 << 20);
    let own = lu(1, 512, own_b.clone());
    let secret = lu(2, 512, secret_b.clone());
    let chapped = lu(3, 512, chap_b.clone());
    let other = lu(4, 512, open_b.clone());
    let t_own = port("iqn.t:own", 1, &[&own]);
    let t_secret = port("iqn.t:secret", 2, &[&secret]);
    let t_chap = port("iqn.t:chap", 3, &[&chapped]);
    let t_open = port("iqn.t:open", 4, &[&other]);
    let s = server(vec![
        open(&t_own),
        guarded(
            &t_secret,
            vec!["iqn.2026-01.test:someone-else".into()],
            None,
        ),
        guarded(&t_chap, vec![INITIATOR.into()], chap("u", "secret-of-chap")),
        open(&t_open),
    ]);
    let n = nexus(&s, &t_own).await;
    let before = (own_b.io(), secret_b.io(), chap_b.io());
    for forbidden in [&secret, &chapped] {
        for (src, dst) in [(0u16, 1u16), (1, 0)] {
            let l = list(
                0,
                0b11,
                &[cscd16(forbidden), cscd16(&own)],
                &[seg_b2b(false, src, dst, 8, 0, 0)],
            );
            let r = xcopy(&s, &n, 0, &l).await;
            assert_eq!(sense_of(&r), Some((0x05, 0x26, 0x15)));
        }
    }
    assert_eq!((own_b.io(), secret_b.io(), chap_b.io()), before);
    assert_eq!(own_b.io(), (0, 0));
    assert_eq!(secret_b.io(), (0, 0));

    // Same CHAP credential on the requester's own target: allowed.
    let s2 = server(vec![
        guarded(&t_own, Vec::new(), chap("u", "secret-of-chap")),
        guarded(&t_chap, vec![INITIATOR.into()], chap("u", "secret-of-chap")),
    ]);
    let n2 = nexus(&s2, &t_own).await;
    let l = list(
        0,
        0b11,
        &[cscd16(&chapped), cscd16(&own)],
        &[seg_b2b(false, 0, 1, 8, 0, 0)],
    );
    assert_eq!(xcopy(&s2, &n2, 0, &l).await.status, Status::Good);

    // The same CHAP user with another secret proves nothing: refused.
    let s3 = server(vec![
        guarded(&t_own, Vec::new(), chap("u", "another-secret")),
        guarded(&t_chap, vec![INITIATOR.into()], chap("u", "secret-of-chap")),
    ]);
    let n3 = nexus(&s3, &t_own).await;
    let r = xcopy(&s3, &n3, 0, &l).await;
    assert_eq!(sense_of(&r), Some((0x05, 0x26, 0x15)));

    // An open target of the same xtgt: the data moves across targets.
    other
        .backend
        .write(0, Bytes::from(vec![0x5A; 4096]), false)
        .await
        .unwrap();
    let l = list(
        0,
        0b11,
        &[cscd16(&other), cscd16(&own)],
        &[seg_b2b(false, 0, 1, 8, 0, 16)],
    );
    assert_eq!(xcopy(&s, &n, 0, &l).await.status, Status::Good);
    assert_eq!(
        own.backend.read(16 * 512, 4096).await.unwrap(),
        vec![0x5A; 4096]
    );
}

/// Every LU designator VPD 0x83 reports fits a CSCD and names the LU
/// exactly (NAA, T10 vendor ID); port/device SCSI name strings name no LU.
#[tokio::test]
async fn vpd83_lu_designators_usable_in_cscd() {
    let a = lu(
        0x0123_4567_89AB_CDEF,
        512,
        Arc::new(MemoryBackend::new(1 << 20)),
    );
    let t = port("iqn.t:a", 1, &[&a]);
    let s = server(vec![open(&t)]);
    let n = nexus(&s, &t).await;
    a.backend
        .write(0, Bytes::from(vec![7u8; 512]), false)
        .await
        .unwrap();
    let page = vpd(&s, &n, 0x83).await;
    let ds = super::Designator::from_vpd83_page(&page);
    let mut lu_designators = 0;
    for (i, d) in ds.iter().enumerate() {
        let l = list(
            0,
            0b11,
            &[cscd(
                d.code_set,
                (d.association << 4) | d.designator_type,
                &d.value,
                512,
            )],
            &[seg_b2b(false, 0, 0xFFFF, 1, 0, 10 + i as u64)],
        );
        let r = xcopy(&s, &n, 0, &l).await;
        if d.association == 0 {
            assert!(d.value.len() <= 20, "{d:?}");
            assert_eq!(r.status, Status::Good, "{d:?}");
            lu_designators += 1;
        } else if d.value.len() <= 20 {
            assert_eq!(sense_of(&r), Some((0x05, 0x26, 0x15)), "{d:?}");
        }
    }
    assert_eq!(lu_designators, 2);
    // The T10 vendor ID designator is vendor + last 12 serial characters.
    assert!(ds
        .iter()
        .any(|d| d.designator_type == 1 && d.value == b"XTGT    456789ABCDEF"));
}

/// The descriptor-format sense of COPY ABORTED, THIRD-PARTY DEVICE FAILURE
/// in `segment`, segment pointer `pointer`, forwarding `fwd` (fixed format)
/// from SENSE DATA SOURCE `sds` with FORWARDED STATUS CHECK CONDITION
/// (SPC-5 4.4.2.10).
fn copy_aborted_descriptor(segment: u8, pointer: u8, sds: u8, fwd: &[u8; 18]) -> Vec<u8> {
    let mut v = vec![
        0x72, 0x0A, 0x0D, 0x01, 0, 0, 0, 42, // header
        0x01, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, segment, // CSI
        0x02, 0x06, 0, 0, 0x80, 0, pointer, 0, // SKS: segment pointer
        0x0C, 20, sds, 0x02, // forwarded sense data
    ];
    v.extend_from_slice(fwd);
    v
}

/// Fixed-format MEDIUM ERROR `asc`/00h at `lba` (VALID, INFORMATION).
fn medium_error_fixed(asc: u8, lba: u8) -> [u8; 18] {
    [
        0xF0, 0, 0x03, 0, 0, 0, lba, 10, 0, 0, 0, 0, asc, 0, 0, 0, 0, 0,
    ]
}

/// MODE SELECT(6) of the Control page with D_SENSE = `on` to `lun`.
async fn set_d_sense(s: &DeviceServer, n: &Nexus, lun: u64, on: bool) {
    let d = if on { 0x04 } else { 0 };
    let list = [
        0, 0, 0, 0, 0x0A, 0x0A, d, 0x10, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0,
    ];
    let r = exec(s, n, lun, &[0x15, 0x10, 0, 0, 16, 0], &list).await;
    assert_eq!(r.status, Status::Good, "{:?}", r.sense);
}

/// Two segments (16 blocks, then 64 blocks from LBA 64 to LBA 64) from LUN
/// 0 to LUN 1, sent to LUN 1 with LIST ID 7 held (00b), with the source
/// read of LBA 100 or every destination write failing. Returns the
/// EXTENDED COPY response and the destination LU.
async fn failing_copy(
    fail_source: bool,
    d_sense: bool,
) -> (DeviceServer, Arc<Nexus>, Response, Arc<LogicalUnit>) {
    let src_fault = Arc::new(FaultBackend::new(Arc::new(MemoryBackend::new(512 * 256))));
    let dst_fault = Arc::new(FaultBackend::new(Arc::new(MemoryBackend::new(512 * 256))));
    let src = lu(1, 512, src_fault.clone());
    let dst = lu(2, 512, dst_fault.clone());
    let t = port("iqn.t:a", 1, &[&src, &dst]);
    let s = server(vec![open(&t)]);
    let n = nexus(&s, &t).await;
    if d_sense {
        set_d_sense(&s, &n, 1, true).await;
    }
    src.backend
        .write(0, Bytes::from(vec![0xAB; 16 * 512]), false)
        .await
        .unwrap();
    if fail_source {
        src_fault.fail_reads(100 * 512..101 * 512);
    } else {
        dst_fault.fail_writes(64 * 512..128 * 512);
    }
    let l = list(
        7,
        0b00,
        &[cscd16(&src), cscd16(&dst)],
        &[
            seg_b2b(false, 0, 1, 16, 0, 0),
            seg_b2b(false, 0, 1, 64, 64, 64),
        ],
    );
    let r = xcopy(&s, &n, 1, &l).await;
    assert_eq!(r.status, Status::CheckCondition);
    (s, n, r, dst)
}

/// The segment pointer of segment 1: header 16 + two 32-byte CSCDs + one
/// 28-byte segment descriptor.
const SEGMENT_1: u8 = 16 + 64 + 28;

/// A source read failure mid-copy with D_SENSE=0: fixed-format COPY
/// ABORTED, THIRD-PARTY DEVICE FAILURE, the failing segment in
/// COMMAND-SPECIFIC INFORMATION, the segment pointer in SENSE KEY SPECIFIC
/// (fixed format has no field for the forwarded MEDIUM ERROR, SPC-5
/// 4.4.2.10); COPY STATUS says one segment was done and FAILURE DETAILS
/// carries descriptor-format sense with the MEDIUM ERROR forwarded from the
/// copy source.
#[tokio::test]
async fn source_read_error_aborts_with_segment_and_forwarded_sense() {
    let (s, n, r, dst) = failing_copy(true, false).await;
    assert_eq!(
        r.sense.as_deref(),
        Some(&[0x70, 0, 0x0A, 0, 0, 0, 0, 10, 0, 0, 0, 1, 0x0D, 0x01, 0, 0x80, 0, SEGMENT_1][..])
    );
    // The first segment was copied before the second one failed.
    assert_eq!(
        dst.backend.read(0, 16 * 512).await.unwrap(),
        vec![0xAB; 16 * 512]
    );

    // COPY STATUS (LID1): completed with error, 1 segment processed.
    let r = exec(&s, &n, 1, &rcr_cdb(0x00, 7), &[]).await;
    assert_eq!(r.status, Status::Good);
    assert_eq!(&r.data_in[..7], &[0, 0, 0, 8, 0x02, 0, 1]);
    // FAILURE DETAILS: CHECK CONDITION and descriptor sense forwarding
    // UNRECOVERED READ ERROR at the failing read's LBA from the source.
    let r = exec(&s, &n, 1, &rcr_cdb(0x04, 7), &[]).await;
    assert_eq!(r.status, Status::Good);
    let sense = copy_aborted_descriptor(
        SEGMENT_1_NUMBER,
        SEGMENT_1,
        0x01,
        &medium_error_fixed(0x11, 64),
    );
    let mut want = vec![0u8; 60];
    want[3] = 56 + sense.len() as u8;
    want[56] = 0x02;
    want[59] = sense.len() as u8;
    want.extend_from_slice(&sense);
    assert_eq!(&r.data_in[..], &want[..], "{:02x?}", &r.data_in[..]);
}

const SEGMENT_1_NUMBER: u8 = 1;

/// With D_SENSE=1 on the LU the EXTENDED COPY went to (set by MODE SELECT),
/// the CHECK CONDITION itself carries descriptor sense with the forwarded
/// MEDIUM ERROR; FAILURE DETAILS holds the same bytes.
#[tokio::test]
async fn source_read_error_with_d_sense_forwards_in_the_check_condition() {
    let (s, n, r, _) = failing_copy(true, true).await;
    let sense = copy_aborted_descriptor(
        SEGMENT_1_NUMBER,
        SEGMENT_1,
        0x01,
        &medium_error_fixed(0x11, 64),
    );
    assert_eq!(r.sense.as_deref(), Some(&sense[..]));
    let r = exec(&s, &n, 1, &rcr_cdb(0x04, 7), &[]).await;
    assert_eq!(&r.data_in[60..], &sense[..]);
}

/// A destination write failure forwards MEDIUM ERROR, WRITE ERROR from
/// SENSE DATA SOURCE 2h (the EXTENDED COPY destination).
#[tokio::test]
async fn destination_write_error_is_forwarded_from_the_destination() {
    let (s, n, r, _) = failing_copy(false, false).await;
    assert_eq!(sense_of(&r), Some((0x0A, 0x0D, 0x01)));
    let r = exec(&s, &n, 1, &rcr_cdb(0x04, 7), &[]).await;
    assert_eq!(
        &r.data_in[60..],
        &copy_aborted_descriptor(
            SEGMENT_1_NUMBER,
            SEGMENT_1,
            0x02,
            &medium_error_fixed(0x0C, 64)
        )[..]
    );
}

/// A CSCD naming a LU whose removable medium is ejected: COPY ABORTED,
/// UNREACHABLE COPY TARGET, the segment pointer at the CSCD ID field and
/// NOT READY, MEDIUM NOT PRESENT forwarded; nothing is copied.
#[tokio::test]
async fn ejected_medium_is_an_unreachable_copy_target() {
    let removable = Arc::new(LogicalUnit::with_medium(
        LuConfig {
            block_size: 512,
            read_only: false,
            serial: "REMOVABLE0000001".into(),
            naa_id: 9,
            vendor: "XTGT".into(),
            product: "disk".into(),
            revision: "0.1".into(),
        },
        crate::device::MediumConfig {
            physical_block_size: 4096,
            removable: true,
        },
        Counting::new(1 << 20),
    ));
    let dst_b = Counting::new(1 << 20);
    let dst = lu(2, 512, dst_b.clone());
    let t = port("iqn.t:a", 1, &[&dst, &removable]);
    let s = server(vec![open(&t)]);
    let n = nexus(&s, &t).await;
    // START STOP UNIT LOEJ=1 START=0: eject.
    let r = exec(&s, &n, 1, &[0x1B, 0, 0, 0, 0x02, 0], &[]).await;
    assert_eq!(r.status, Status::Good);
    assert!(removable.medium_absent());
    let l = list(
        0,
        0b11,
        &[cscd16(&removable), cscd16(&dst)],
        &[seg_b2b(false, 0, 1, 8, 0, 0)],
    );
    let r = xcopy(&s, &n, 0, &l).await;
    assert_eq!(sense_of(&r), Some((0x0A, 0x08, 0x04)));
    let sense = r.sense.clone().unwrap();
    assert_eq!(be32(&sense, 8), 0);
    // Segment pointer: the SOURCE CSCD ID field of segment 0 (16 + 64 + 4).
    assert_eq!(&sense[15..18], &[0x80, 0, 84]);
    assert_eq!((sense.len(), sense[7]), (18, 10), "{sense:02x?}");
    assert_eq!(dst_b.io(), (0, 0));
}
