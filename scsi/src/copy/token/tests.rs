//! The ODX token commands through [`DeviceServer::execute`], as the
//! transport runs them: POPULATE TOKEN, RRTI, WRITE USING TOKEN from other
//! sessions, initiators and LUs, every token error, limits, the zero
//! token, time slicing, IMMED and COPY OPERATION ABORT.

use crate::access::AccessPolicy;
use crate::backend::{Backend, Capabilities, MemoryBackend, Snapshot};
use crate::copy::odx::params::build::{pt, wut};
use crate::copy::odx::OdxConfig;
use crate::copy::{AclResolver, CopyLimits, CopyManager, PortAccess};
use crate::device::testutil::{exec, sense_of};
use crate::device::{
    DeviceServer, LogicalUnit, LuConfig, Nexus, Response, Status, TargetPort, TmfFunction,
};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokens::ManualClock;

const BS: u64 = 512;
const BLOCKS: u64 = 2048;

/// A memory backend that can snapshot (by copying the ranges), and that
/// may sleep before every write (a slow medium for the time budget).
struct TestBackend {
    inner: MemoryBackend,
    snapshots: bool,
    write_delay: Option<Duration>,
}

struct MemSnapshot(Bytes);

#[async_trait]
impl Snapshot for MemSnapshot {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    async fn read(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        let o = usize::try_from(offset).unwrap();
        self.0
            .get(o..o + len)
            .map(Bytes::copy_from_slice)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))
    }
}

#[async_trait]
impl Backend for TestBackend {
    fn describe(&self) -> String {
        "test".into()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            point_in_time: self.snapshots,
            ..self.inner.capabilities()
        }
    }
    async fn read(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        self.inner.read(offset, len).await
    }
    async fn write(&self, offset: u64, data: Bytes, fua: bool) -> io::Result<()> {
        if let Some(d) = self.write_delay {
            tokio::time::sleep(d).await;
        }
        self.inner.write(offset, data, fua).await
    }
    async fn flush(&self) -> io::Result<()> {
        self.inner.flush().await
    }
    async fn unmap(&self, offset: u64, len: u64) -> io::Result<()> {
        self.inner.unmap(offset, len).await
    }
    async fn write_zeroes(&self, offset: u64, len: u64) -> io::Result<()> {
        self.inner.write_zeroes(offset, len).await
    }
    async fn snapshot(&self, ranges: &[(u64, u64)]) -> io::Result<Arc<dyn Snapshot>> {
        let mut v = Vec::new();
        for &(o, l) in ranges {
            v.extend_from_slice(&self.inner.read(o, l as usize).await?);
        }
        Ok(Arc::new(MemSnapshot(Bytes::from(v))))
    }
}

fn backend(snapshots: bool, write_delay: Option<Duration>) -> Arc<TestBackend> {
    Arc::new(TestBackend {
        inner: MemoryBackend::new(BLOCKS * BS),
        snapshots,
        write_delay,
    })
}

fn lu_on(naa_id: u64, b: Arc<dyn Backend>) -> Arc<LogicalUnit> {
    Arc::new(LogicalUnit::new(
        LuConfig {
            block_size: BS as u32,
            read_only: false,
            serial: format!("{naa_id:016X}"),
            naa_id,
            vendor: "XTGT".into(),
            product: "disk".into(),
            revision: "0.1".into(),
        },
        b,
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

const I1: &str = "iqn.2026-01.test:one";
const I2: &str = "iqn.2026-01.test:two";
const STRANGER: &str = "iqn.2026-01.test:stranger";

/// Target A (LU `a`, the token source, and `a2`) admits I1 and I2;
/// target B (LU `b`) admits everybody. Manual token clock.
struct Env {
    s: DeviceServer,
    clock: ManualClock,
    a: Arc<LogicalUnit>,
    b: Arc<LogicalUnit>,
    ta: Arc<TargetPort>,
    tb: Arc<TargetPort>,
}

fn env_with(
    config: OdxConfig,
    limits: CopyLimits,
    a: Arc<dyn Backend>,
    b: Arc<dyn Backend>,
) -> Env {
    let a = lu_on(1, a);
    let a2 = lu_on(2, backend(false, None));
    let b = lu_on(3, b);
    let ta = port("iqn.t:a", 1, &[&a, &a2]);
    let tb = port("iqn.t:b", 2, &[&b]);
    let mut s = DeviceServer::new(vec![ta.clone(), tb.clone()]);
    let clock = ManualClock::new();
    s.copy = CopyManager::with_odx_clock(
        limits,
        Arc::new(crate::copy::OwnTargetResolver::with_vpd83_designators()),
        config,
        Arc::new(clock.clone()),
    );
    s.copy
        .set_resolver(Arc::new(AclResolver::from_port_access(vec![
            PortAccess {
                target: ta.clone(),
                policy: AccessPolicy {
                    allowed_initiators: vec![I1.into(), I2.into()],
                    chap: None,
                    mutual_chap: None,
                },
            },
            PortAccess {
                target: tb.clone(),
                policy: AccessPolicy::default(),
            },
        ])));
    Env {
        s,
        clock,
        a,
        b,
        ta,
        tb,
    }
}

fn env() -> Env {
    env_with(
        OdxConfig::default(),
        CopyLimits::default(),
        backend(false, None),
        backend(false, None),
    )
}

async fn nexus(e: &Env, initiator: &str, t: &Arc<TargetPort>) -> Arc<Nexus> {
    let n =
        e.s.register_nexus(initiator, &format!("{initiator},i,0x1"), t.clone());
    for &lun in t.luns.keys() {
        exec(&e.s, &n, lun, &[0x03, 0, 0, 0, 252, 0], &[]).await;
    }
    n
}

fn pattern(seed: u8) -> Vec<u8> {
    (0..BLOCKS * BS)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect()
}

async fn fill(lu: &LogicalUnit, seed: u8) -> Vec<u8> {
    let d = pattern(seed);
    lu.backend
        .write(0, Bytes::from(d.clone()), false)
        .await
        .unwrap();
    d
}

async fn contents(lu: &LogicalUnit) -> Vec<u8> {
    lu.backend
        .read(0, lu.backend.size() as usize)
        .await
        .unwrap()
        .to_vec()
}

fn blocks(d: &[u8], lba: u64, n: u64) -> &[u8] {
    &d[(lba * BS) as usize..((lba + n) * BS) as usize]
}

fn out_cdb(sa: u8, list_id: u32, len: usize) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = 0x83;
    c[1] = sa;
    c[6..10].copy_from_slice(&list_id.to_be_bytes());
    c[10..14].copy_from_slice(&(len as u32).to_be_bytes());
    c
}

fn in_cdb(sa: u8, list_id: u32, alloc: u32) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = 0x84;
    c[1] = sa;
    c[2..6].copy_from_slice(&list_id.to_be_bytes());
    c[10..14].copy_from_slice(&alloc.to_be_bytes());
    c
}

async fn populate(e: &Env, n: &Nexus, lun: u64, list_id: u32, p: &[u8]) -> Response {
    exec(&e.s, n, lun, &out_cdb(0x10, list_id, p.len()), p).await
}

async fn write_using(e: &Env, n: &Nexus, lun: u64, list_id: u32, p: &[u8]) -> Response {
    exec(&e.s, n, lun, &out_cdb(0x11, list_id, p.len()), p).await
}

async fn rrti(e: &Env, n: &Nexus, list_id: u32) -> Vec<u8> {
    let r = exec(&e.s, n, 0, &in_cdb(0x07, list_id, 4096), &[]).await;
    assert_eq!(r.status, Status::Good, "RRTI {list_id}: {:?}", sense_of(&r));
    r.data_in.to_vec()
}

/// POPULATE TOKEN + RRTI: the token.
async fn token_of(e: &Env, n: &Nexus, list_id: u32, p: &[u8]) -> [u8; 512] {
    let r = populate(e, n, 0, list_id, p).await;
    assert_eq!(r.status, Status::Good, "PT: {:?}", sense_of(&r));
    rrti(e, n, list_id).await[38..550].try_into().unwrap()
}

fn check(r: &Response) -> (u8, u8, u8) {
    assert_eq!(r.status, Status::CheckCondition);
    sense_of(r).unwrap()
}

/// (VALID, INFORMATION) of fixed-format sense.
fn information(r: &Response) -> (bool, u32) {
    let s = r.sense.as_ref().unwrap();
    (
        s[0] & 0x80 != 0,
        u32::from_be_bytes([s[3], s[4], s[5], s[6]]),
    )
}

/// Windows' sequence: POPULATE TOKEN on LU `a`, RRTI (units F1h, segments
/// 0, descriptors length 514, zero id, the token; twice), WRITE USING
/// TOKEN from another initiator's session on another target's LU, byte
/// exact, RRTI of the WUT: done, all blocks.
#[tokio::test]
async fn windows_sequence_across_initiators_targets_and_lus() {
    let e = env();
    let src = fill(&e.a, 1).await;
    let old_b = fill(&e.b, 2).await;
    let n1 = nexus(&e, I1, &e.ta).await;
    let r = populate(
        &e,
        &n1,
        0,
        0x0102_0304,
        &pt(0, 0, 0, &[(10, 100), (500, 28)]),
    )
    .await;
    assert_eq!(r.status, Status::Good, "{:?}", sense_of(&r));
    let d = rrti(&e, &n1, 0x0102_0304).await;
    assert_eq!(d.len(), 550);
    #[rustfmt::skip]
    let head: [u8; 38] = [
        0, 0, 0x02, 0x22, // AVAILABLE DATA 546
        0x10, 0x01, 0, 0, // POPULATE TOKEN, completed without errors
        0xFF, 0xFF, 0xFF, 0xFE, // estimated status update delay: done
        0x00, 0, 0, 0xF1, // GOOD, no sense, units: blocks
        0, 0, 0, 0, 0, 0, 0, 128, // transfer count: 128 blocks
        0, 0, 0, 0, 0, 0, 0, 0, // segments processed 0, reserved
        0, 0, 0x02, 0x02, // ROD TOKEN DESCRIPTORS LENGTH 514
        0, 0, // id
    ];
    assert_eq!(d[..38], head);
    // Change vulnerable on memory, ROD TOKEN LENGTH 0x01F8.
    assert_eq!(d[38..46], [0x00, 0x80, 0x00, 0x01, 0, 0, 0x01, 0xF8]);
    // Bytes represented: 128 * 512.
    assert_eq!(d[38 + 48..38 + 64], (128u128 * 512).to_be_bytes());
    let token: [u8; 512] = d[38..550].try_into().unwrap();
    assert_eq!(
        rrti(&e, &n1, 0x0102_0304).await,
        d,
        "held, not freed by a read"
    );

    let n2 = nexus(&e, I2, &e.tb).await;
    let r = write_using(&e, &n2, 0, 9, &wut(0, 0, &token, &[(1000, 128)])).await;
    assert_eq!(r.status, Status::Good, "{:?}", sense_of(&r));
    let got = contents(&e.b).await;
    assert_eq!(blocks(&got, 1000, 100), blocks(&src, 10, 100));
    assert_eq!(blocks(&got, 1100, 28), blocks(&src, 500, 28));
    assert_eq!(blocks(&got, 0, 1000), blocks(&old_b, 0, 1000));
    assert_eq!(
        blocks(&got, 1128, BLOCKS - 1128),
        blocks(&old_b, 1128, BLOCKS - 1128)
    );
    let w = rrti(&e, &n2, 9).await;
    assert_eq!(w.len(), 36);
    assert_eq!(w[4..6], [0x11, 0x01]);
    assert_eq!(w[12..16], [0x00, 0, 0, 0xF1]);
    assert_eq!(w[16..24], 128u64.to_be_bytes());
    assert_eq!(w[32..36], [0, 0, 0, 0], "no token after WUT");
    // Destination ranges longer than the ROD: the ROD is copied, then
    // COPY ABORTED 0Dh/04h with the blocks written, RRTI 04h.
    let r = write_using(&e, &n2, 0, 11, &wut(0, 0, &token, &[(0, 100), (200, 100)])).await;
    assert_eq!(check(&r), (0x0A, 0x0D, 0x04));
    assert_eq!(information(&r), (true, 128));
    let got = contents(&e.b).await;
    assert_eq!(blocks(&got, 200, 28), blocks(&src, 500, 28));
    assert_eq!(blocks(&got, 228, 72), blocks(&old_b, 228, 72));
    let w = rrti(&e, &n2, 11).await;
    assert_eq!((w[5], &w[16..24]), (0x04, &128u64.to_be_bytes()[..]));
    // Another WUT with OFFSET INTO ROD into LU a2 of target A.
    let r = write_using(&e, &n1, 1, 10, &wut(0, 100, &token, &[(0, 28)])).await;
    assert_eq!(r.status, Status::Good, "{:?}", sense_of(&r));
    let a2 = contents(&e.s.targets[0].luns[&1]).await;
    assert_eq!(blocks(&a2, 0, 28), blocks(&src, 500, 28));
}

#[tokio::test]
async fn token_errors_have_their_exact_sense() {
    let e = env_with(
        OdxConfig {
            max_tombstones: 1,
            ..OdxConfig::default()
        },
        CopyLimits::default(),
        backend(false, None),
        backend(false, None),
    );
    fill(&e.a, 3).await;
    let n1 = nexus(&e, I1, &e.ta).await;
    let n2 = nexus(&e, I2, &e.tb).await;
    let t = token_of(&e, &n1, 1, &pt(0, 0, 0, &[(0, 8)])).await;
    // Any altered byte: corrupt, before the lookup.
    for at in [0x08usize, 0x10, 0x40, 0x60, 0x80, 0x1FF] {
        let mut bad = t;
        bad[at] ^= 0x01;
        let r = write_using(&e, &n2, 0, 2, &wut(0, 0, &bad, &[(0, 8)])).await;
        assert_eq!(check(&r), (0x05, 0x23, 0x05), "byte {at:#x}");
    }
    // DEL_TKN: deleted after a complete copy.
    let r = write_using(&e, &n2, 0, 2, &wut(0x02, 0, &t, &[(0, 8)])).await;
    assert_eq!(r.status, Status::Good);
    let r = write_using(&e, &n2, 0, 2, &wut(0, 0, &t, &[(0, 8)])).await;
    assert_eq!(check(&r), (0x05, 0x23, 0x09));
    // One tombstone kept: after another dies, the first is unknown.
    let t2 = token_of(&e, &n1, 3, &pt(0, 0, 0, &[(0, 8)])).await;
    let r = write_using(&e, &n2, 0, 2, &wut(0x02, 0, &t2, &[(0, 8)])).await;
    assert_eq!(r.status, Status::Good);
    let r = write_using(&e, &n2, 0, 2, &wut(0, 0, &t, &[(0, 8)])).await;
    assert_eq!(check(&r), (0x05, 0x23, 0x04));
    // Expired after the inactivity timeout (manual clock).
    let t3 = token_of(&e, &n1, 4, &pt(0, 5, 0, &[(0, 8)])).await;
    e.clock.advance(Duration::from_secs(6));
    let r = write_using(&e, &n2, 0, 2, &wut(0, 0, &t3, &[(0, 8)])).await;
    assert_eq!(check(&r), (0x05, 0x23, 0x07));
    // Revoked by a write to its source (WRITE(10) of LBA 7).
    let t4 = token_of(&e, &n1, 5, &pt(0, 0, 0, &[(0, 8)])).await;
    let w10 = [0x2A, 0, 0, 0, 0, 7, 0, 0, 1, 0];
    let r = exec(&e.s, &n1, 0, &w10, &[0xAB; 512]).await;
    assert_eq!(r.status, Status::Good);
    let r = write_using(&e, &n2, 0, 2, &wut(0, 0, &t4, &[(0, 8)])).await;
    assert_eq!(check(&r), (0x05, 0x23, 0x06));
    // A write elsewhere does not revoke; a LUN reset of the source cancels.
    let t5 = token_of(&e, &n1, 6, &pt(0, 0, 0, &[(0, 8)])).await;
    let w10 = [0x2A, 0, 0, 0, 0, 8, 0, 0, 1, 0];
    assert_eq!(
        exec(&e.s, &n1, 0, &w10, &[0xCD; 512]).await.status,
        Status::Good
    );
    assert_eq!(
        e.s.task_management(&n1, TmfFunction::LunReset, 0).await,
        crate::device::TmfResponse::Complete
    );
    let r = write_using(&e, &n2, 0, 2, &wut(0, 0, &t5, &[(0, 8)])).await;
    assert_eq!(check(&r), (0x05, 0x23, 0x08));
    // The reset's unit attention for n1.
    let r = exec(&e.s, &n1, 0, &[0, 0, 0, 0, 0, 0], &[]).await;
    assert_eq!(check(&r), (0x06, 0x29, 0x03));
    // The dead tokens' sources are all released.
    assert_eq!(e.s.copy.odx().unwrap().sources_held(), 0);
    // OFFSET INTO ROD past the end of a live token.
    let t6 = token_of(&e, &n1, 7, &pt(0, 0, 0, &[(0, 8)])).await;
    let r = write_using(&e, &n2, 0, 2, &wut(0, 8, &t6, &[(0, 8)])).await;
    assert_eq!(check(&r), (0x05, 0x26, 0x00));
}

/// An initiator that may not use the token's source LU (not admitted to
/// target A) gets 0x26/0x15 and nothing is written.
#[tokio::test]
async fn unauthorized_holder_is_refused_and_nothing_is_written() {
    let e = env();
    fill(&e.a, 4).await;
    let before = fill(&e.b, 5).await;
    let n1 = nexus(&e, I1, &e.ta).await;
    let t = token_of(&e, &n1, 1, &pt(0, 0, 0, &[(0, 64)])).await;
    let ns = nexus(&e, STRANGER, &e.tb).await;
    let r = write_using(&e, &ns, 0, 1, &wut(0, 0, &t, &[(0, 64)])).await;
    assert_eq!(check(&r), (0x05, 0x26, 0x15));
    assert_eq!(contents(&e.b).await, before);
    let w = rrti(&e, &ns, 1).await;
    assert_eq!(w[5], 0x02, "completed with errors");
    assert_eq!((w[12], w[14]), (0x02, 18));
    assert_eq!((w[32 + 2], w[32 + 12], w[32 + 13]), (0x05, 0x26, 0x15));
}

/// With `allow_any_token_holder`, a valid token is enough.
#[tokio::test]
async fn any_holder_may_use_a_token_when_configured() {
    let e = env_with(
        OdxConfig {
            allow_any_token_holder: true,
            ..OdxConfig::default()
        },
        CopyLimits::default(),
        backend(false, None),
        backend(false, None),
    );
    let src = fill(&e.a, 4).await;
    let n1 = nexus(&e, I1, &e.ta).await;
    let t = token_of(&e, &n1, 1, &pt(0, 0, 0, &[(0, 64)])).await;
    let ns = nexus(&e, STRANGER, &e.tb).await;
    let r = write_using(&e, &ns, 0, 1, &wut(0, 0, &t, &[(0, 64)])).await;
    assert_eq!(r.status, Status::Good);
    assert_eq!(blocks(&contents(&e.b).await, 0, 64), blocks(&src, 0, 64));
}

/// The live-token limit refuses POPULATE TOKEN with 0x55/0x0D; the live
/// tokens keep working; one freed slot admits a new one.
#[tokio::test]
async fn store_full_refuses_new_tokens_and_keeps_live_ones() {
    let e = env_with(
        OdxConfig {
            max_live_tokens: 2,
            ..OdxConfig::default()
        },
        CopyLimits::default(),
        backend(false, None),
        backend(false, None),
    );
    let src = fill(&e.a, 6).await;
    let n1 = nexus(&e, I1, &e.ta).await;
    let t1 = token_of(&e, &n1, 1, &pt(0, 0, 0, &[(0, 16)])).await;
    let t2 = token_of(&e, &n1, 2, &pt(0, 0, 0, &[(16, 16)])).await;
    let r = populate(&e, &n1, 0, 3, &pt(0, 0, 0, &[(32, 16)])).await;
    assert_eq!(check(&r), (0x05, 0x55, 0x0D));
    assert_eq!(rrti(&e, &n1, 3).await[5], 0x02);
    let n2 = nexus(&e, I2, &e.tb).await;
    for (i, t) in [t1, t2].iter().enumerate() {
        let r = write_using(&e, &n2, 0, 1, &wut(0x02, 0, t, &[(i as u64 * 16, 16)])).await;
        assert_eq!(r.status, Status::Good, "{:?}", sense_of(&r));
    }
    assert_eq!(blocks(&contents(&e.b).await, 0, 32), blocks(&src, 0, 32));
    let r = populate(&e, &n1, 0, 3, &pt(0, 0, 0, &[(32, 16)])).await;
    assert_eq!(r.status, Status::Good);
}

/// The block device zero ROD token zeroes its ranges (no store entry).
#[tokio::test]
async fn zero_token_zeroes() {
    let e = env();
    let before = fill(&e.b, 7).await;
    let n = nexus(&e, I2, &e.tb).await;
    let mut zero = [0u8; 512];
    zero[..8].copy_from_slice(&[0xFF, 0xFF, 0x00, 0x01, 0, 0, 0x01, 0xF8]);
    let r = write_using(&e, &n, 0, 1, &wut(0, 0, &zero, &[(5, 10), (100, 3)])).await;
    assert_eq!(r.status, Status::Good, "{:?}", sense_of(&r));
    let mut want = before.clone();
    want[5 * 512..15 * 512].fill(0);
    want[100 * 512..103 * 512].fill(0);
    assert_eq!(contents(&e.b).await, want);
}

/// A byte budget of 16 blocks per WRITE USING TOKEN: a 40-block copy
/// takes three commands; the first two end COPY ABORTED 0Dh/04h with
/// VALID=1 and INFORMATION 16, never GOOD, only the reported blocks are
/// written, RRTI says 04h with the same count; continuing with OFFSET INTO
/// ROD advanced finishes the copy byte-exact.
#[tokio::test]
async fn time_slices_end_in_underrun_never_good_and_continue_from_offset() {
    let e = env_with(
        OdxConfig {
            max_wut_bytes: Some(16 * 512),
            ..OdxConfig::default()
        },
        CopyLimits {
            chunk_size: 4096,
            ..CopyLimits::default()
        },
        backend(false, None),
        backend(false, None),
    );
    let src = fill(&e.a, 8).await;
    let before = fill(&e.b, 9).await;
    let n1 = nexus(&e, I1, &e.ta).await;
    let t = token_of(&e, &n1, 1, &pt(0, 0, 0, &[(100, 30), (300, 10)])).await;
    let n2 = nexus(&e, I2, &e.tb).await;
    let mut offset = 0u64;
    let mut commands = 0;
    loop {
        commands += 1;
        let left = 40 - offset;
        let r = write_using(
            &e,
            &n2,
            0,
            5,
            &wut(0, offset, &t, &[(50 + offset, left as u32)]),
        )
        .await;
        let got = contents(&e.b).await;
        let w = rrti(&e, &n2, 5).await;
        if r.status == Status::Good {
            assert_eq!(offset + left, 40);
            assert_eq!(w[5], 0x01);
            assert_eq!(w[16..24], left.to_be_bytes());
            break;
        }
        assert_eq!(check(&r), (0x0A, 0x0D, 0x04));
        let (valid, info) = information(&r);
        assert!(valid);
        let done = u64::from(info);
        assert_eq!(done, 16, "the budget");
        // Written: exactly the reported blocks after the offset.
        let rod: Vec<u8> = [blocks(&src, 100, 30), blocks(&src, 300, 10)].concat();
        let rod_at = |b: u64, n: u64| rod[(b * BS) as usize..((b + n) * BS) as usize].to_vec();
        assert_eq!(blocks(&got, 50 + offset, done), &rod_at(offset, done)[..]);
        assert_eq!(
            blocks(&got, 50 + offset + done, BLOCKS - 50 - offset - done),
            blocks(&before, 50 + offset + done, BLOCKS - 50 - offset - done),
            "nothing past the reported blocks"
        );
        assert_eq!(w[5], 0x04, "completed with residual");
        assert_eq!(w[12], 0x02, "CHECK CONDITION");
        assert_eq!(w[15], 0xF1);
        assert_eq!(w[16..24], done.to_be_bytes());
        assert_eq!(
            &w[32..32 + 18],
            &r.sense.as_ref().unwrap()[..],
            "the same sense"
        );
        offset += done;
    }
    assert_eq!(commands, 3);
    let got = contents(&e.b).await;
    assert_eq!(blocks(&got, 50, 30), blocks(&src, 100, 30));
    assert_eq!(blocks(&got, 80, 10), blocks(&src, 300, 10));
    assert_eq!(blocks(&got, 0, 50), blocks(&before, 0, 50));
    assert_eq!(
        blocks(&got, 90, BLOCKS - 90),
        blocks(&before, 90, BLOCKS - 90)
    );
}

/// A slow destination and a 30 ms time budget: the WUT stops short, says
/// exactly how many blocks it wrote (those are copied, the rest not).
#[tokio::test]
async fn time_budget_stops_a_slow_copy_with_the_exact_count() {
    let e = env_with(
        OdxConfig {
            max_wut_duration: Duration::from_millis(30),
            ..OdxConfig::default()
        },
        CopyLimits {
            chunk_size: 4096,
            ..CopyLimits::default()
        },
        backend(false, None),
        backend(false, Some(Duration::from_millis(10))),
    );
    let src = fill(&e.a, 10).await;
    let before = pattern(0);
    e.b.backend
        .write(0, Bytes::from(before.clone()), false)
        .await
        .unwrap();
    let n1 = nexus(&e, I1, &e.ta).await;
    let t = token_of(&e, &n1, 1, &pt(0, 0, 0, &[(0, 256)])).await;
    let n2 = nexus(&e, I2, &e.tb).await;
    let r = write_using(&e, &n2, 0, 2, &wut(0, 0, &t, &[(0, 256)])).await;
    assert_eq!(check(&r), (0x0A, 0x0D, 0x04));
    let (valid, info) = information(&r);
    let done = u64::from(info);
    assert!(valid && done > 0 && done < 256, "{done}");
    let got = contents(&e.b).await;
    assert_eq!(blocks(&got, 0, done), blocks(&src, 0, done));
    assert_eq!(
        blocks(&got, done, 256 - done),
        blocks(&before, done, 256 - done)
    );
    let w = rrti(&e, &n2, 2).await;
    assert_eq!((w[5], &w[16..24]), (0x04, &done.to_be_bytes()[..]));
}

/// IMMED=1: GOOD at once, RRTI in progress (12h) with the blocks so far,
/// COPY OPERATION ABORT stops it: 60h and how far it got.
#[tokio::test]
async fn immed_copy_runs_in_background_and_abort_stops_it() {
    let e = env_with(
        OdxConfig::default(),
        CopyLimits {
            chunk_size: 4096,
            ..CopyLimits::default()
        },
        backend(false, None),
        backend(false, Some(Duration::from_millis(5))),
    );
    let src = fill(&e.a, 11).await;
    let before = pattern(0);
    e.b.backend
        .write(0, Bytes::from(before.clone()), false)
        .await
        .unwrap();
    let n1 = nexus(&e, I1, &e.ta).await;
    let t = token_of(&e, &n1, 1, &pt(0, 0, 0, &[(0, 2048)])).await;
    let n2 = nexus(&e, I2, &e.tb).await;
    let r = write_using(&e, &n2, 0, 77, &wut(0x01, 0, &t, &[(0, 2048)])).await;
    assert_eq!(r.status, Status::Good);
    // The list id is busy while it runs.
    let r = write_using(&e, &n2, 0, 77, &wut(0x01, 0, &t, &[(0, 8)])).await;
    assert_eq!(check(&r), (0x05, 0x00, 0x16));
    let progress = loop {
        let w = rrti(&e, &n2, 77).await;
        assert_eq!(w[5], 0x12, "in progress, background");
        let n = u64::from_be_bytes(w[16..24].try_into().unwrap());
        if n > 0 {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(progress < 2048);
    let mut abort = [0u8; 16];
    abort[0] = 0x83;
    abort[1] = 0x1C;
    abort[2..6].copy_from_slice(&77u32.to_be_bytes());
    assert_eq!(exec(&e.s, &n2, 0, &abort, &[]).await.status, Status::Good);
    let (w, done) = loop {
        let w = rrti(&e, &n2, 77).await;
        if w[5] != 0x12 {
            let done = u64::from_be_bytes(w[16..24].try_into().unwrap());
            break (w, done);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(w[5], 0x60, "terminated");
    assert_eq!(w[12], 0x40, "TASK ABORTED");
    assert!(done >= progress && done < 2048, "{done}");
    let got = contents(&e.b).await;
    assert_eq!(blocks(&got, 0, done), blocks(&src, 0, done));
    assert_eq!(
        blocks(&got, done, 2048 - done),
        blocks(&before, done, 2048 - done)
    );
    // Unknown list id: INVALID FIELD IN CDB.
    abort[2..6].copy_from_slice(&78u32.to_be_bytes());
    let r = exec(&e.s, &n2, 0, &abort, &[]).await;
    assert_eq!(check(&r), (0x05, 0x24, 0x00));
    // Nexus loss does not stop a background copy (SPC-5 table 109); its
    // result is not held for anybody (5.17.4.5).
    let r = write_using(&e, &n2, 0, 79, &wut(0x01, 0, &t, &[(0, 2048)])).await;
    assert_eq!(r.status, Status::Good);
    let odx = e.s.copy.odx().unwrap().clone();
    let rec = odx.results.get(n2.id, 79).unwrap();
    e.s.unregister_nexus(&n2);
    assert!(
        odx.results.get(n2.id, 79).is_none(),
        "held result discarded"
    );
    for _ in 0..2000 {
        if !rec.running() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    match rec.outcome() {
        crate::copy::token::Outcome::Done {
            status,
            transfer_count,
            ..
        } => {
            assert_eq!(
                status,
                crate::copy::odx::CopyOperationStatus::CompletedWithoutErrors
            );
            assert_eq!(transfer_count, 2048);
        }
        other => panic!("still {other:?}"),
    }
    assert!(e.s.copy.control.wait_idle(Duration::from_secs(1)).await);
}

/// Point in time (a backend that snapshots): a write to the source after
/// POPULATE TOKEN does not change what WRITE USING TOKEN copies, and the
/// token is not revoked. A change-vulnerable type can still be asked for.
#[tokio::test]
async fn point_in_time_token_copies_the_data_of_populate_time() {
    let e = env_with(
        OdxConfig::default(),
        CopyLimits::default(),
        backend(true, None),
        backend(false, None),
    );
    let src = fill(&e.a, 12).await;
    let n1 = nexus(&e, I1, &e.ta).await;
    let t = token_of(&e, &n1, 1, &pt(0, 0, 0, &[(0, 32), (64, 32)])).await;
    assert_eq!(t[..4], [0x00, 0x80, 0x00, 0x00], "point in time by default");
    let w16: Vec<u8> = vec![0xEE; 8 * 512];
    let w10 = [0x2A, 0, 0, 0, 0, 4, 0, 0, 8, 0];
    assert_eq!(exec(&e.s, &n1, 0, &w10, &w16).await.status, Status::Good);
    let n2 = nexus(&e, I2, &e.tb).await;
    let r = write_using(&e, &n2, 0, 1, &wut(0, 0, &t, &[(0, 64)])).await;
    assert_eq!(r.status, Status::Good, "{:?}", sense_of(&r));
    let got = contents(&e.b).await;
    assert_eq!(blocks(&got, 0, 32), blocks(&src, 0, 32));
    assert_eq!(blocks(&got, 32, 32), blocks(&src, 64, 32));
    // RTV with change vulnerable on the same LU.
    let t = token_of(&e, &n1, 2, &pt(0x02, 0, 0x0080_0001, &[(0, 8)])).await;
    assert_eq!(t[..4], [0x00, 0x80, 0x00, 0x01]);
    // RTV point in time on a LU that cannot snapshot: refused at ROD TYPE.
    let r = populate(&e, &n1, 1, 3, &pt(0x02, 0, 0x0080_0000, &[(0, 8)])).await;
    assert_eq!(check(&r), (0x05, 0x26, 0x00));
}

/// REPORT ALL ROD TOKENS lists this nexus's live tokens (management
/// tokens: the first 96 bytes); nexus loss frees held results, not tokens.
#[tokio::test]
async fn report_all_rod_tokens_and_nexus_loss() {
    let e = env();
    let src = fill(&e.a, 13).await;
    let n1 = nexus(&e, I1, &e.ta).await;
    let t1 = token_of(&e, &n1, 1, &pt(0, 0, 0, &[(0, 8)])).await;
    let t2 = token_of(&e, &n1, 2, &pt(0, 0, 0, &[(8, 8)])).await;
    let r = exec(&e.s, &n1, 0, &in_cdb(0x08, 0, 4096), &[]).await;
    assert_eq!(r.status, Status::Good);
    let want: Vec<u8> = [&[0u8, 0, 0, 196, 0, 0, 0, 0][..], &t1[..96], &t2[..96]].concat();
    assert_eq!(&r.data_in[..], &want[..]);
    let n2 = nexus(&e, I2, &e.tb).await;
    let r = exec(&e.s, &n2, 0, &in_cdb(0x08, 0, 4096), &[]).await;
    assert_eq!(&r.data_in[..], &[0, 0, 0, 4, 0, 0, 0, 0]);
    let odx = e.s.copy.odx().unwrap().clone();
    assert_eq!(odx.results.len(), 2);
    e.s.unregister_nexus(&n1);
    assert_eq!(odx.results.len(), 0);
    let r = write_using(&e, &n2, 0, 1, &wut(0, 0, &t2, &[(0, 8)])).await;
    assert_eq!(r.status, Status::Good);
    assert_eq!(blocks(&contents(&e.b).await, 0, 8), blocks(&src, 8, 8));
}

/// VPD 0x8F: Block Device ROD Token Limits first (length 0x20, page
/// length >= 0x24), Supported ROD Types per LU, the commands of the table.
#[tokio::test]
async fn vpd_8f_describes_odx_per_lu() {
    let e = env_with(
        OdxConfig::default(),
        CopyLimits::default(),
        backend(true, None),
        backend(false, None),
    );
    let n1 = nexus(&e, I1, &e.ta).await;
    let page = |lun: u64| {
        let s = &e.s;
        let n = n1.clone();
        async move {
            let r = exec(s, &n, lun, &[0x12, 0x01, 0x8F, 0x10, 0x00, 0], &[]).await;
            assert_eq!(r.status, Status::Good);
            r.data_in.to_vec()
        }
    };
    let p = page(0).await;
    assert!(u16::from_be_bytes([p[2], p[3]]) >= 0x24);
    assert_eq!(p[4..8], [0x00, 0x00, 0x00, 0x20]);
    assert_eq!(p[14..16], 64u16.to_be_bytes(), "max range descriptors");
    assert_eq!(
        p[16..24],
        [0, 0, 0x02, 0x58, 0, 0, 0, 60],
        "600 s max, 60 s default"
    );
    let types = |p: &[u8]| -> Vec<u32> {
        let mut at = 4;
        while at + 4 <= p.len() {
            let t = u16::from_be_bytes([p[at], p[at + 1]]);
            let len = usize::from(u16::from_be_bytes([p[at + 2], p[at + 3]]));
            if t == 0x0108 {
                let n = usize::from(u16::from_be_bytes([p[at + 6], p[at + 7]])) / 64;
                return (0..n)
                    .map(|i| {
                        u32::from_be_bytes(p[at + 8 + i * 64..at + 12 + i * 64].try_into().unwrap())
                    })
                    .collect();
            }
            at += 4 + len;
        }
        panic!("no Supported ROD Types descriptor");
    };
    assert_eq!(types(&p), vec![0x0080_0000, 0x0080_0001, 0xFFFF_0001]);
    assert_eq!(types(&page(1).await), vec![0x0080_0001, 0xFFFF_0001]);
}

/// A WRITE USING TOKEN whose command is dropped mid-copy (task abort,
/// connection loss) ends its record: RRTI says terminated, the list id is
/// free again.
#[tokio::test]
async fn dropped_write_using_token_ends_its_record() {
    let fault = Arc::new(crate::backend::FaultBackend::new(backend(false, None)));
    let e = env_with(
        OdxConfig::default(),
        CopyLimits::default(),
        backend(false, None),
        fault.clone(),
    );
    fill(&e.a, 14).await;
    let n1 = nexus(&e, I1, &e.ta).await;
    let t = token_of(&e, &n1, 1, &pt(0, 0, 0, &[(0, 64)])).await;
    let n2 = nexus(&e, I2, &e.tb).await;
    fault.hold();
    let p = wut(0, 0, &t, &[(0, 64)]);
    let cut = tokio::time::timeout(Duration::from_millis(50), write_using(&e, &n2, 0, 3, &p));
    assert!(cut.await.is_err(), "held destination: cannot finish");
    fault.release();
    let w = rrti(&e, &n2, 3).await;
    assert_eq!((w[5], w[12]), (0x60, 0x40));
    let r = write_using(&e, &n2, 0, 3, &p).await;
    assert_eq!(r.status, Status::Good, "{:?}", sense_of(&r));
}

/// A fresh XFS (reflink) on a loop device, unmounted and removed on drop.
struct Xfs {
    root: std::path::PathBuf,
    mnt: std::path::PathBuf,
}

impl Xfs {
    fn new() -> Self {
        use std::process::Command;
        let root = std::env::temp_dir().join(format!("xtgt-odx-{:016x}", rand::random::<u64>()));
        let mnt = root.join("mnt");
        std::fs::create_dir_all(&mnt).unwrap();
        let img = root.join("xfs.img");
        std::fs::File::create(&img)
            .unwrap()
            .set_len(512 << 20)
            .unwrap();
        let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
        ok(Command::new("mkfs.xfs")
            .args(["-q", "-m", "reflink=1"])
            .arg(&img));
        ok(Command::new("mount")
            .args(["-o", "loop"])
            .arg(&img)
            .arg(&mnt));
        Self { root, mnt }
    }
}

impl Drop for Xfs {
    fn drop(&mut self) {
        use std::process::Command;
        for _ in 0..20 {
            if Command::new("umount")
                .arg(&self.mnt)
                .status()
                .is_ok_and(|s| s.success())
            {
                let _ = std::fs::remove_dir_all(&self.root);
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The file backend on XFS: POPULATE TOKEN makes a point-in-time token
/// (a reflink snapshot), a write to the source afterwards does not change
/// what WRITE USING TOKEN copies, and DEL_TKN releases the snapshot.
#[tokio::test]
#[ignore = "needs root: loop-mounts XFS"]
async fn odx_point_in_time_snapshot_on_xfs_file_backend() {
    let fs = Xfs::new();
    let file = |name: &str| {
        Arc::new(
            crate::backend::FileBackend::open_or_create(
                &fs.mnt.join(name),
                Some(BLOCKS * BS),
                false,
            )
            .unwrap(),
        )
    };
    let e = env_with(
        OdxConfig::default(),
        CopyLimits::default(),
        file("src.img"),
        file("dst.img"),
    );
    assert!(e.a.capabilities().point_in_time);
    let src = fill(&e.a, 15).await;
    let n1 = nexus(&e, I1, &e.ta).await;
    let t = token_of(&e, &n1, 1, &pt(0, 0, 0, &[(0, 1024), (1536, 512)])).await;
    assert_eq!(t[..4], [0x00, 0x80, 0x00, 0x00]);
    let w10 = [0x2A, 0, 0, 0, 0, 8, 0, 0, 16, 0];
    assert_eq!(
        exec(&e.s, &n1, 0, &w10, &[0x5A; 16 * 512]).await.status,
        Status::Good
    );
    let n2 = nexus(&e, I2, &e.tb).await;
    let r = write_using(&e, &n2, 0, 1, &wut(0x02, 0, &t, &[(0, 1536)])).await;
    assert_eq!(r.status, Status::Good, "{:?}", sense_of(&r));
    let got = contents(&e.b).await;
    assert_eq!(blocks(&got, 0, 1024), blocks(&src, 0, 1024));
    assert_eq!(blocks(&got, 1024, 512), blocks(&src, 1536, 512));
    assert_eq!(
        e.s.copy.odx().unwrap().sources_held(),
        0,
        "snapshot released"
    );
    drop(e);
}

/// With D_SENSE=1 the underrun is descriptor-format sense with an
/// Information descriptor (8-byte INFORMATION, VALID) of the blocks
/// written; RRTI carries the same sense. A LUN reset of the receiving LU
/// stops its running background copy (60h).
#[tokio::test]
async fn descriptor_sense_underrun_and_lun_reset_stops_a_copy() {
    let e = env_with(
        OdxConfig {
            max_wut_bytes: Some(8 * 512),
            ..OdxConfig::default()
        },
        CopyLimits {
            chunk_size: 4096,
            ..CopyLimits::default()
        },
        backend(false, None),
        backend(false, Some(Duration::from_millis(5))),
    );
    fill(&e.a, 16).await;
    let n1 = nexus(&e, I1, &e.ta).await;
    let t = token_of(&e, &n1, 1, &pt(0, 0, 0, &[(0, 1024)])).await;
    let n2 = nexus(&e, I2, &e.tb).await;
    let control = [
        0, 0, 0, 0, 0x0A, 0x0A, 0x04, 0x10, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0,
    ];
    let r = exec(&e.s, &n2, 0, &[0x15, 0x10, 0, 0, 16, 0], &control).await;
    assert_eq!(r.status, Status::Good);
    let r = write_using(&e, &n2, 0, 2, &wut(0, 0, &t, &[(0, 64)])).await;
    assert_eq!(r.status, Status::CheckCondition);
    let s = r.sense.clone().unwrap();
    assert_eq!(s[..4], [0x72, 0x0A, 0x0D, 0x04]);
    assert_eq!(s[8..20], [0x00, 0x0A, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 8]);
    let w = rrti(&e, &n2, 2).await;
    assert_eq!(&w[32..32 + s.len()], &s[..]);
    // IMMED has no budget; the LUN reset stops it.
    let r = write_using(&e, &n2, 0, 3, &wut(0x01, 0, &t, &[(0, 1024)])).await;
    assert_eq!(r.status, Status::Good);
    e.s.task_management(&n2, TmfFunction::LunReset, 0).await;
    let r = exec(&e.s, &n2, 0, &[0, 0, 0, 0, 0, 0], &[]).await;
    assert_eq!(check(&r), (0x06, 0x29, 0x03));
    let w = loop {
        let w = rrti(&e, &n2, 3).await;
        if w[5] != 0x12 {
            break w;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(w[5], 0x60);
    assert!(u64::from_be_bytes(w[16..24].try_into().unwrap()) < 1024);
}
