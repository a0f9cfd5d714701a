//! Copy operations of every kind through [`DeviceServer::execute`] while
//! they run: busy list ids across kinds, POPULATE TOKEN with IMMED, COPY
//! OPERATION ABORT, ABORT TASK and resets stopping a copy at a chunk
//! boundary (the destination holds exactly what was reported done).

use crate::backend::{Backend, Capabilities, MemoryBackend, Snapshot};
use crate::copy::odx::params::build::{pt, wut};
use crate::copy::params::build::{cscd, list, seg_b2b};
use crate::copy::CopyLimits;
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
use tokio::sync::watch;

const BS: u64 = 512;
const BLOCKS: u64 = 2048;

/// Memory that can snapshot, with a gate that holds writes and snapshots
/// while closed and an optional delay before every write (a slow medium:
/// a copy takes many chunks' time).
struct Gated {
    inner: MemoryBackend,
    gate: watch::Sender<bool>,
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

impl Gated {
    fn new(write_delay: Option<Duration>) -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryBackend::new(BLOCKS * BS),
            gate: watch::Sender::new(false),
            write_delay,
        })
    }
    fn hold(&self) {
        self.gate.send_replace(true);
    }
    fn release(&self) {
        self.gate.send_replace(false);
    }
    async fn pass(&self) {
        let mut rx = self.gate.subscribe();
        let _ = rx.wait_for(|held| !*held).await;
    }
}

#[async_trait]
impl Backend for Gated {
    fn describe(&self) -> String {
        "gated".into()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            point_in_time: true,
            ..self.inner.capabilities()
        }
    }
    async fn read(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        self.inner.read(offset, len).await
    }
    async fn write(&self, offset: u64, data: Bytes, fua: bool) -> io::Result<()> {
        self.pass().await;
        if let Some(d) = self.write_delay {
            tokio::time::sleep(d).await;
        }
        self.inner.write(offset, data, fua).await
    }
    async fn flush(&self) -> io::Result<()> {
        self.inner.flush().await
    }
    async fn snapshot(&self, ranges: &[(u64, u64)]) -> io::Result<Arc<dyn Snapshot>> {
        self.pass().await;
        let mut v = Vec::new();
        for &(o, l) in ranges {
            v.extend_from_slice(&self.inner.read(o, l as usize).await?);
        }
        Ok(Arc::new(MemSnapshot(Bytes::from(v))))
    }
}

struct Env {
    s: Arc<DeviceServer>,
    /// LUN 0: the source (memory).
    a: Arc<LogicalUnit>,
    /// LUN 1: the destination.
    b: Arc<LogicalUnit>,
    gb: Arc<Gated>,
    n: Arc<Nexus>,
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

/// One target with LUs a (LUN 0) and b (LUN 1, gated, slow writes when
/// `write_delay`), copies in 4 KiB chunks, a registered nexus.
async fn env(write_delay: Option<Duration>) -> Env {
    let ga = Gated::new(None);
    let gb = Gated::new(write_delay);
    let a = lu_on(0x11, ga);
    let b = lu_on(0x12, gb.clone());
    let mut luns = BTreeMap::new();
    luns.insert(0, a.clone());
    luns.insert(1, b.clone());
    let t = Arc::new(TargetPort {
        name: "iqn.2026-01.test:t".into(),
        relative_port_id: 1,
        port_group: 1,
        luns,
    });
    let mut s = DeviceServer::new(vec![t.clone()]);
    s.copy = crate::copy::CopyManager::new(
        CopyLimits {
            chunk_size: 4096,
            chunks_in_flight: 2,
            ..CopyLimits::default()
        },
        Arc::new(crate::copy::OwnTargetResolver::with_vpd83_designators()),
    );
    let s = Arc::new(s);
    let n = s.register_nexus("iqn.2026-01.test:i", "iqn.2026-01.test:i,i,0x1", t.clone());
    for lun in [0, 1] {
        exec(&s, &n, lun, &[0x03, 0, 0, 0, 252, 0], &[]).await;
    }
    Env { s, a, b, gb, n }
}

fn pattern(seed: u8) -> Vec<u8> {
    (0..BLOCKS * BS)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed) ^ (i >> 9) as u8)
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

fn check(r: &Response) -> (u8, u8, u8) {
    assert_eq!(r.status, Status::CheckCondition);
    sense_of(r).unwrap()
}

/// An identification CSCD naming `lu` by the NAA designator VPD 0x83
/// reports for it.
fn cscd_of(e: &Env, lu: &LogicalUnit) -> Vec<u8> {
    let ds = crate::copy::vpd83_designators()(&e.n.target, lu);
    let d = ds.iter().find(|d| d.designator_type == 3).unwrap();
    cscd(d.code_set, 0x03, &d.value, 512)
}

/// EXTENDED COPY (LID1) of `blocks` blocks a[0..] -> b[0..], list id
/// `id`, results held.
fn xcopy(e: &Env, id: u8, blocks: u16) -> ([u8; 16], Vec<u8>) {
    let p = list(
        id,
        0,
        &[cscd_of(e, &e.a), cscd_of(e, &e.b)],
        &[seg_b2b(false, 0, 1, blocks, 0, 0)],
    );
    let mut c = [0u8; 16];
    c[0] = 0x83;
    c[10..14].copy_from_slice(&(p.len() as u32).to_be_bytes());
    (c, p)
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
    if sa == 0x00 || sa == 0x04 {
        c[2] = list_id as u8;
    } else {
        c[2..6].copy_from_slice(&list_id.to_be_bytes());
    }
    c[10..14].copy_from_slice(&alloc.to_be_bytes());
    c
}

fn abort_cdb(list_id: u32) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[0] = 0x83;
    c[1] = 0x1C;
    c[2..6].copy_from_slice(&list_id.to_be_bytes());
    c
}

/// Run a command in its own task (as the transport does).
fn spawn(e: &Env, lun: u64, cdb: [u8; 16], data: Vec<u8>) -> tokio::task::JoinHandle<Response> {
    let (s, n) = (e.s.clone(), e.n.clone());
    tokio::spawn(async move { exec(&s, &n, lun, &cdb, &data).await })
}

/// RRTI of a running operation: (status, transfer count); (0, 0) before
/// it started.
async fn odx_progress(e: &Env, list_id: u32) -> (u8, u64) {
    let r = exec(&e.s, &e.n, 0, &in_cdb(0x07, list_id, 4096), &[]).await;
    if r.status != Status::Good {
        return (0, 0);
    }
    let w = &r.data_in;
    (w[5], u64::from_be_bytes(w[16..24].try_into().unwrap()))
}

async fn rrti(e: &Env, list_id: u32) -> Vec<u8> {
    let r = exec(&e.s, &e.n, 0, &in_cdb(0x07, list_id, 4096), &[]).await;
    assert_eq!(r.status, Status::Good, "RRTI: {:?}", sense_of(&r));
    r.data_in.to_vec()
}

/// RECEIVE COPY STATUS (LID1): (status, segments, transfer count bytes).
async fn copy_status(e: &Env, id: u8) -> (u8, u16, u32) {
    let r = exec(&e.s, &e.n, 0, &in_cdb(0x00, u32::from(id), 64), &[]).await;
    assert_eq!(r.status, Status::Good, "RCS: {:?}", sense_of(&r));
    status_of(&r)
}

/// The transfer count of a running EXTENDED COPY (0 before it started).
async fn xcopy_progress(e: &Env, id: u8) -> u32 {
    let r = exec(&e.s, &e.n, 0, &in_cdb(0x00, u32::from(id), 64), &[]).await;
    if r.status != Status::Good {
        return 0;
    }
    let (st, _, n) = status_of(&r);
    assert_eq!(st, 0x00, "in progress");
    n
}

fn status_of(r: &Response) -> (u8, u16, u32) {
    let d = &r.data_in;
    assert_eq!(d[7], 0, "transfer count in bytes");
    (
        d[4],
        u16::from_be_bytes([d[5], d[6]]),
        u32::from_be_bytes([d[8], d[9], d[10], d[11]]),
    )
}

/// POPULATE TOKEN (IMMED=0) of a[0..BLOCKS) with list id `id` + RRTI.
async fn token(e: &Env, id: u32) -> [u8; 512] {
    let p = pt(0, 0, 0, &[(0, BLOCKS as u32)]);
    let r = exec(&e.s, &e.n, 0, &out_cdb(0x10, id, p.len()), &p).await;
    assert_eq!(r.status, Status::Good, "PT: {:?}", sense_of(&r));
    rrti(e, id).await[38..550].try_into().unwrap()
}

async fn until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..2000 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("timed out waiting for {what}");
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Xcopy,
    Pt,
    Wut,
}

/// Start a copy of `kind` with list id `id` that cannot finish while the
/// destination's gate is held: EXTENDED COPY and WRITE USING TOKEN into
/// b, POPULATE TOKEN (IMMED) of b, whose snapshot waits.
async fn start(e: &Env, kind: Kind, id: u8, t: &[u8; 512]) -> tokio::task::JoinHandle<Response> {
    match kind {
        Kind::Xcopy => {
            let (c, p) = xcopy(e, id, 64);
            spawn(e, 1, c, p)
        }
        Kind::Pt => {
            let p = pt(0x01, 0, 0, &[(0, 64)]);
            let r = exec(&e.s, &e.n, 1, &out_cdb(0x10, u32::from(id), p.len()), &p).await;
            assert_eq!(r.status, Status::Good, "PT IMMED: {:?}", sense_of(&r));
            tokio::spawn(async move { r })
        }
        Kind::Wut => {
            let p = wut(0, 0, t, &[(0, 64)]);
            spawn(e, 1, out_cdb(0x11, u32::from(id), p.len()), p)
        }
    }
}

/// What a second copy of `kind` with list id `id` answers.
async fn second(e: &Env, kind: Kind, id: u8, t: &[u8; 512]) -> Response {
    match kind {
        Kind::Xcopy => {
            let (c, p) = xcopy(e, id, 8);
            exec(&e.s, &e.n, 1, &c, &p).await
        }
        Kind::Pt => {
            let p = pt(0, 0, 0, &[(0, 8)]);
            exec(&e.s, &e.n, 1, &out_cdb(0x10, u32::from(id), p.len()), &p).await
        }
        Kind::Wut => {
            let p = wut(0, 0, t, &[(0, 8)]);
            exec(&e.s, &e.n, 1, &out_cdb(0x11, u32::from(id), p.len()), &p).await
        }
    }
}

/// SPC-5 5.17.4.2: all 3x3 (running, new) pairs of EXTENDED COPY (LID1),
/// POPULATE TOKEN and WRITE USING TOKEN with one list id on one nexus:
/// the new one is ILLEGAL REQUEST, OPERATION IN PROGRESS and touches
/// nothing; the running one is unaffected and the id free afterwards.
#[tokio::test]
async fn busy_list_id_across_all_kinds() {
    let e = env(None).await;
    fill(&e.a, 1).await;
    let t = token(&e, 0x500).await;
    let kinds = [Kind::Xcopy, Kind::Pt, Kind::Wut];
    for (i, running) in kinds.into_iter().enumerate() {
        for (j, next) in kinds.into_iter().enumerate() {
            let id = 0x20 + (3 * i + j) as u8;
            e.gb.hold();
            let h = start(&e, running, id, &t).await;
            until("the copy to run", async || {
                e.s.copy.control.busy(e.n.id, u32::from(id))
            })
            .await;
            let r = second(&e, next, id, &t).await;
            assert_eq!(check(&r), (0x05, 0x00, 0x16), "{running:?} then {next:?}");
            e.gb.release();
            let r = h.await.unwrap();
            assert_eq!(r.status, Status::Good, "{running:?}: {:?}", sense_of(&r));
            assert!(e.s.copy.control.wait_idle(Duration::from_secs(5)).await);
            // Free again: the same id works for the second kind.
            let r = second(&e, next, id, &t).await;
            assert_eq!(r.status, Status::Good, "{next:?} after: {:?}", sense_of(&r));
        }
    }
}

/// POPULATE TOKEN IMMED=1: GOOD before the token exists; RRTI meanwhile
/// says 12h (background), transfer count 0, a non-zero ESTIMATED STATUS
/// UPDATE DELAY and no token; then the token exactly as without IMMED
/// (514-byte descriptor), and WRITE USING TOKEN copies the data of
/// POPULATE time.
#[tokio::test]
async fn populate_token_immed_runs_in_background() {
    let e = env(None).await;
    let src = fill(&e.b, 2).await;
    e.gb.hold();
    let p = pt(0x01, 0, 0, &[(0, BLOCKS as u32)]);
    let r = exec(&e.s, &e.n, 1, &out_cdb(0x10, 7, p.len()), &p).await;
    assert_eq!(r.status, Status::Good);
    let w = rrti(&e, 7).await;
    assert_eq!(
        (w[4], w[5]),
        (0x10, 0x12),
        "POPULATE TOKEN, in progress (background)"
    );
    assert_ne!(u32::from_be_bytes(w[8..12].try_into().unwrap()), 0);
    assert_eq!(w[15], 0xF1);
    assert_eq!(u64::from_be_bytes(w[16..24].try_into().unwrap()), 0);
    assert_eq!(&w[w.len() - 4..], &[0, 0, 0, 0], "no token yet");
    e.gb.release();
    until("the token", async || rrti(&e, 7).await[5] == 0x01).await;
    let w = rrti(&e, 7).await;
    assert_eq!(u64::from_be_bytes(w[16..24].try_into().unwrap()), BLOCKS);
    assert_eq!(
        u32::from_be_bytes(w[8..12].try_into().unwrap()),
        0xFFFF_FFFE
    );
    assert_eq!(w[32..36], [0, 0, 2, 2], "descriptors length 514");
    assert_eq!(w.len(), 36 + 514);
    let t: [u8; 512] = w[38..550].try_into().unwrap();
    let p = wut(0, 0, &t, &[(0, BLOCKS as u32)]);
    let r = exec(&e.s, &e.n, 0, &out_cdb(0x11, 8, p.len()), &p).await;
    assert_eq!(r.status, Status::Good, "{:?}", sense_of(&r));
    assert_eq!(contents(&e.a).await, src);
}

/// The destination holds the source's bytes for exactly the reported
/// `done` bytes and its old content after them.
async fn holds_exactly(e: &Env, src: &[u8], old: &[u8], done: usize, total: usize) {
    assert!(
        done > 0 && done < total,
        "stopped part way: {done} of {total}"
    );
    let got = contents(&e.b).await;
    assert!(got[..done] == src[..done], "copied prefix");
    assert!(got[done..total] == old[done..total], "untouched rest");
}

/// COPY OPERATION ABORT of a running EXTENDED COPY (LID1), its progress
/// read meanwhile with RECEIVE COPY STATUS from another command: the copy
/// stops at a chunk boundary, the command ends COPY ABORTED, COMMAND
/// CLEARED BY DEVICE SERVER with the segment in COMMAND-SPECIFIC
/// INFORMATION; RECEIVE COPY STATUS says completed with errors and the
/// bytes done, exactly what the destination holds.
#[tokio::test]
async fn copy_operation_abort_stops_extended_copy_at_a_chunk() {
    let e = env(Some(Duration::from_millis(3))).await;
    let src = fill(&e.a, 3).await;
    let old = fill(&e.b, 4).await;
    let (c, p) = xcopy(&e, 9, BLOCKS as u16);
    let h = spawn(&e, 1, c, p);
    let mut seen = 0;
    until("progress", async || {
        seen = xcopy_progress(&e, 9).await;
        seen > 0
    })
    .await;
    let r = exec(&e.s, &e.n, 1, &abort_cdb(9), &[]).await;
    assert_eq!(r.status, Status::Good);
    assert!(e.s.copy.control.is_empty(), "stopped before COA completed");
    let r = h.await.unwrap();
    assert_eq!(check(&r), (0x0A, 0x2F, 0x02));
    let s = r.sense.unwrap();
    assert_eq!(
        s[8..12],
        [0, 0, 0, 0],
        "COMMAND-SPECIFIC INFORMATION: segment 0"
    );
    let (st, segs, done) = copy_status(&e, 9).await;
    assert_eq!((st, segs), (0x02, 0));
    assert!(done as usize >= seen as usize);
    holds_exactly(&e, &src, &old, done as usize, (BLOCKS * BS) as usize).await;
    let fd = exec(&e.s, &e.n, 1, &in_cdb(0x04, 9, 256), &[]).await;
    assert_eq!(&fd.data_in[60..64], &[0x72, 0x0A, 0x2F, 0x02]);
    // RECEIVE COPY STATUS (LID4) of the same list id: EXTENDED COPY
    // (LID1), terminated (60h, TASK ABORTED), units bytes, the same count.
    let r = exec(&e.s, &e.n, 0, &in_cdb(0x05, 9, 64), &[]).await;
    assert_eq!(r.status, Status::Good);
    let w = &r.data_in;
    assert_eq!((w[4], w[5], w[12], w[15]), (0x00, 0x60, 0x40, 0x00));
    assert_eq!(
        u64::from_be_bytes(w[16..24].try_into().unwrap()),
        u64::from(done)
    );
    assert_eq!(w[24..26], [0, 0], "segments processed");
}

/// RECEIVE COPY STATUS (LID4) of a running and of a finished EXTENDED
/// COPY (LID1): 11h with the bytes so far, then 01h with all of them.
#[tokio::test]
async fn receive_copy_status_lid4_reports_extended_copy() {
    let e = env(Some(Duration::from_millis(1))).await;
    fill(&e.a, 11).await;
    let (c, p) = xcopy(&e, 12, 256);
    let h = spawn(&e, 1, c, p);
    until("progress", async || xcopy_progress(&e, 12).await > 0).await;
    let r = exec(&e.s, &e.n, 0, &in_cdb(0x05, 12, 64), &[]).await;
    assert_eq!((r.data_in[4], r.data_in[5]), (0x00, 0x11));
    assert_eq!(h.await.unwrap().status, Status::Good);
    let r = exec(&e.s, &e.n, 0, &in_cdb(0x05, 12, 64), &[]).await;
    let w = &r.data_in;
    assert_eq!((w[5], w[12]), (0x01, 0x00));
    assert_eq!(u64::from_be_bytes(w[16..24].try_into().unwrap()), 256 * BS);
    assert_eq!(w[24..26], [0, 1]);
}

/// ABORT TASK SET stops this nexus' foreground copy on the LU, not a
/// background one; a target reset stops the background one too.
#[tokio::test]
async fn task_set_abort_spares_background_copies_and_target_reset_does_not() {
    let e = env(Some(Duration::from_millis(3))).await;
    fill(&e.a, 12).await;
    let t = token(&e, 1).await;
    let (c, p) = xcopy(&e, 2, BLOCKS as u16);
    let h = spawn(&e, 1, c, p);
    let p = wut(0x01, 0, &t, &[(0, BLOCKS as u32)]);
    let r = exec(&e.s, &e.n, 1, &out_cdb(0x11, 3, p.len()), &p).await;
    assert_eq!(r.status, Status::Good);
    until("both to run", async || e.s.copy.control.len() == 2).await;
    let r =
        e.s.task_management(&e.n, TmfFunction::AbortTaskSet, 1)
            .await;
    assert_eq!(r, crate::device::TmfResponse::Complete);
    assert_eq!(check(&h.await.unwrap()), (0x0B, 0x00, 0x00));
    assert_eq!(e.s.copy.control.len(), 1, "the IMMED copy goes on");
    assert_eq!(odx_progress(&e, 3).await.0, 0x12);
    let r =
        e.s.task_management(&e.n, TmfFunction::TargetWarmReset, 0)
            .await;
    assert_eq!(r, crate::device::TmfResponse::Complete);
    assert!(e.s.copy.control.is_empty(), "stopped before the response");
    assert_eq!(
        check(&exec(&e.s, &e.n, 0, &[0; 6], &[]).await),
        (0x06, 0x29, 0x03)
    );
    assert_eq!(rrti(&e, 3).await[5], 0x60);
}

/// COPY OPERATION ABORT of a WRITE USING TOKEN without IMMED: COPY
/// ABORTED, COMMAND CLEARED BY DEVICE SERVER, VALID=1 and INFORMATION the
/// blocks written; RRTI 60h with the same count; the destination holds
/// exactly those blocks; the list id is free.
#[tokio::test]
async fn copy_operation_abort_stops_write_using_token() {
    let e = env(Some(Duration::from_millis(3))).await;
    let src = fill(&e.a, 5).await;
    let old = fill(&e.b, 6).await;
    let t = token(&e, 1).await;
    let p = wut(0, 0, &t, &[(0, BLOCKS as u32)]);
    let h = spawn(&e, 1, out_cdb(0x11, 2, p.len()), p);
    until("progress", async || {
        let (st, n) = odx_progress(&e, 2).await;
        assert!(st == 0 || st == 0x11, "in progress, foreground: {st:#x}");
        n > 0
    })
    .await;
    assert_eq!(
        exec(&e.s, &e.n, 1, &abort_cdb(2), &[]).await.status,
        Status::Good
    );
    let r = h.await.unwrap();
    assert_eq!(check(&r), (0x0A, 0x2F, 0x02));
    let s = r.sense.unwrap();
    assert_ne!(s[0] & 0x80, 0, "VALID");
    let info = u32::from_be_bytes([s[3], s[4], s[5], s[6]]);
    let w = rrti(&e, 2).await;
    assert_eq!((w[5], w[12]), (0x60, 0x40));
    assert_eq!(
        u64::from_be_bytes(w[16..24].try_into().unwrap()),
        u64::from(info)
    );
    holds_exactly(
        &e,
        &src,
        &old,
        (u64::from(info) * BS) as usize,
        (BLOCKS * BS) as usize,
    )
    .await;
    let r = exec(&e.s, &e.n, 1, &out_cdb(0x11, 2, 0), &[]).await;
    assert_eq!(r.status, Status::Good);
}

/// COPY OPERATION ABORT of a POPULATE TOKEN without IMMED (its snapshot
/// held): the command ends COPY ABORTED, COMMAND CLEARED BY DEVICE
/// SERVER, RRTI 60h with no token, and no token is left live.
#[tokio::test]
async fn copy_operation_abort_stops_populate_token() {
    let e = env(None).await;
    fill(&e.b, 7).await;
    e.gb.hold();
    let p = pt(0, 0, 0, &[(0, 64)]);
    let h = spawn(&e, 1, out_cdb(0x10, 3, p.len()), p);
    until("the copy to run", async || e.s.copy.control.busy(e.n.id, 3)).await;
    let (s, n) = (e.s.clone(), e.n.clone());
    let coa = tokio::spawn(async move { exec(&s, &n, 1, &abort_cdb(3), &[]).await });
    until("the stop request", async || {
        e.s.copy
            .control
            .find(e.n.id, 3)
            .is_some_and(|c| c.progress.cancelled())
    })
    .await;
    e.gb.release();
    assert_eq!(check(&h.await.unwrap()), (0x0A, 0x2F, 0x02));
    assert_eq!(coa.await.unwrap().status, Status::Good);
    let w = rrti(&e, 3).await;
    assert_eq!(w[5], 0x60);
    assert_eq!(&w[w.len() - 4..], &[0, 0, 0, 0], "no token");
    assert_eq!(e.s.copy.odx().unwrap().sources_held(), 0);
}

/// ABORT TASK of a running EXTENDED COPY and of a WRITE USING TOKEN: the
/// device server's `abort_task` returns only after the copy stopped at a
/// chunk boundary; the record says how far it got; the token pin is gone
/// (a WRITE USING TOKEN with DEL_TKN can delete the token right after).
#[tokio::test]
async fn abort_task_stops_the_copy_before_answering() {
    let e = env(Some(Duration::from_millis(3))).await;
    let src = fill(&e.a, 8).await;
    let old = fill(&e.b, 9).await;
    let (c, p) = xcopy(&e, 4, BLOCKS as u16);
    let h = spawn(&e, 1, c, p);
    until("progress", async || xcopy_progress(&e, 4).await > 0).await;
    // exec runs every command with task tag 1.
    assert!(!e.s.abort_task(&e.n, 2).await, "no copy with tag 2");
    assert!(e.s.abort_task(&e.n, 1).await);
    assert!(e.s.copy.control.is_empty());
    let r = h.await.unwrap();
    assert_eq!(check(&r), (0x0B, 0x00, 0x00), "aborted (never sent)");
    let (st, _, done) = copy_status(&e, 4).await;
    assert_eq!(st, 0x02);
    holds_exactly(&e, &src, &old, done as usize, (BLOCKS * BS) as usize).await;

    let t = token(&e, 5).await;
    let p = wut(0, 0, &t, &[(0, BLOCKS as u32)]);
    let h = spawn(&e, 1, out_cdb(0x11, 6, p.len()), p);
    until("progress", async || odx_progress(&e, 6).await.1 > 0).await;
    assert!(e.s.abort_task(&e.n, 1).await);
    assert!(e.s.copy.control.is_empty());
    let w = rrti(&e, 6).await;
    assert_eq!((w[5], w[12]), (0x60, 0x40));
    h.await.unwrap();
    // Unpinned: DEL_TKN of a complete copy deletes it.
    let p = wut(0x02, 0, &t, &[(0, 8)]);
    let r = exec(&e.s, &e.n, 1, &out_cdb(0x11, 7, p.len()), &p).await;
    assert_eq!(r.status, Status::Good, "{:?}", sense_of(&r));
    let r = exec(&e.s, &e.n, 1, &out_cdb(0x11, 8, p.len()), &p).await;
    assert_eq!(check(&r), (0x05, 0x23, 0x09), "deleted");
}

/// A LUN reset of the destination stops a foreground EXTENDED COPY and a
/// background WRITE USING TOKEN; the reset returns once both stopped.
/// Loss of the I_T nexus stops its foreground copies (background ones go
/// on, SPC-5 table 109).
#[tokio::test]
async fn lun_reset_and_nexus_loss_stop_copies() {
    let e = env(Some(Duration::from_millis(3))).await;
    fill(&e.a, 10).await;
    let t = token(&e, 1).await;
    let (c, p) = xcopy(&e, 2, BLOCKS as u16);
    let h = spawn(&e, 1, c, p);
    let p = wut(0x01, 0, &t, &[(0, BLOCKS as u32)]);
    let r = exec(&e.s, &e.n, 1, &out_cdb(0x11, 3, p.len()), &p).await;
    assert_eq!(r.status, Status::Good);
    until("both to run", async || e.s.copy.control.len() == 2).await;
    let r = e.s.task_management(&e.n, TmfFunction::LunReset, 1).await;
    assert_eq!(r, crate::device::TmfResponse::Complete);
    assert!(e.s.copy.control.is_empty(), "stopped before the response");
    assert_eq!(check(&h.await.unwrap()), (0x0A, 0x2F, 0x02));
    let w = rrti(&e, 3).await;
    assert_eq!(w[5], 0x60);
    assert!(u64::from_be_bytes(w[16..24].try_into().unwrap()) < BLOCKS);

    // The reset's unit attention first.
    assert_eq!(
        check(&exec(&e.s, &e.n, 1, &[0; 6], &[]).await),
        (0x06, 0x29, 0x03)
    );
    let (c, p) = xcopy(&e, 4, BLOCKS as u16);
    let h = spawn(&e, 1, c, p);
    until("progress", async || e.s.copy.control.len() == 1).await;
    e.s.abort_nexus_tasks(&e.n).await;
    assert!(e.s.copy.control.is_empty());
    assert_eq!(check(&h.await.unwrap()), (0x0B, 0x00, 0x00));
}

/// PERSISTENT RESERVE OUT `sa` of type `ty` on `lun` with RESERVATION KEY
/// `key` and SERVICE ACTION RESERVATION KEY `sark`.
async fn prout(e: &Env, n: &Arc<Nexus>, lun: u64, sa: u8, ty: u8, key: u64, sark: u64) -> Response {
    let mut p = vec![0u8; 24];
    p[0..8].copy_from_slice(&key.to_be_bytes());
    p[8..16].copy_from_slice(&sark.to_be_bytes());
    exec(&e.s, n, lun, &[0x5F, sa, ty, 0, 0, 0, 0, 0, 24, 0], &p).await
}

#[tokio::test]
async fn preempt_and_abort_stops_the_fenced_nexus_copies() {
    let e = env(Some(Duration::from_millis(3))).await;
    fill(&e.a, 21).await;
    let n2 = e.s.register_nexus(
        "iqn.2026-01.test:j",
        "iqn.2026-01.test:j,i,0x2",
        e.n.target.clone(),
    );
    for lun in [0, 1] {
        exec(&e.s, &n2, lun, &[0x03, 0, 0, 0, 252, 0], &[]).await;
    }
    // Node 1 (e.n) and node 2 register on the destination; node 1 holds
    // Write Exclusive - Registrants Only and copies into it.
    assert_eq!(prout(&e, &e.n, 1, 0x00, 0, 0, 1).await.status, Status::Good);
    assert_eq!(prout(&e, &n2, 1, 0x00, 0, 0, 2).await.status, Status::Good);
    assert_eq!(prout(&e, &e.n, 1, 0x01, 5, 1, 0).await.status, Status::Good);
    let (c, p) = xcopy(&e, 7, BLOCKS as u16);
    let h = spawn(&e, 1, c, p);
    until("the copy to run", async || xcopy_progress(&e, 7).await > 0).await;
    // Node 2 fences node 1: the copy has stopped when GOOD comes back.
    let r = prout(&e, &n2, 1, 0x05, 5, 2, 1).await;
    assert_eq!(r.status, Status::Good, "{:?}", sense_of(&r));
    assert!(
        e.s.copy.control.is_empty(),
        "stopped before PREEMPT AND ABORT completed"
    );
    let r = h.await.unwrap();
    assert_ne!(r.status, Status::Good);
    assert_ne!(
        contents(&e.b).await,
        contents(&e.a).await,
        "the copy did not finish"
    );
    // Node 1 is told, and its next copy into the LU conflicts.
    assert_eq!(
        check(&exec(&e.s, &e.n, 1, &[0; 6], &[]).await),
        (0x06, 0x2A, 0x05)
    );
    let (c, p) = xcopy(&e, 8, BLOCKS as u16);
    let r = exec(&e.s, &e.n, 1, &c, &p).await;
    assert_eq!(r.status, Status::ReservationConflict);
}
