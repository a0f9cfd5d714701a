//! The copy scheduler's policy: an I/O-free state machine. Time comes in
//! as nanoseconds (`now`) on every call; foreground presence is read from
//! each domain's [`Foreground`] atomics. Nothing here sleeps or spawns.
//!
//! Two levels:
//! - **copy operations** (one EXTENDED COPY or WRITE USING TOKEN) are
//!   admitted up to the global, per-LU and per-initiator concurrency
//!   limits; the others wait in a bounded queue, ranked by (effective
//!   priority, arrival); beyond the queue a copy is refused;
//! - **chunks** (one read+write, one native piece, one zeroing step) of
//!   admitted copies are granted one by one. In a domain with foreground
//!   I/O present a chunk is granted only when no other copy chunk of the
//!   domain is in flight and the domain's busy-time bucket (refilled at
//!   `foreground_share` of wall time) is positive; its duration is then
//!   charged to the bucket. Idle domains grant freely. Bytes in flight are
//!   capped per copy and globally, chunks in flight globally.
//!
//! Ranking: PRIORITY (0 highest .. 7 lowest) improved by one level per
//! `aging` waited, then the oldest request first: a low-priority copy is
//! delayed, never starved.

use super::foreground::Foreground;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Lowest priority (EXTENDED COPY PRIORITY is 3 bits).
pub const LOWEST_PRIORITY: u8 = 7;

/// The scheduler's configuration (the `[copy]` section).
#[derive(Debug, Clone, PartialEq)]
pub struct SchedConfig {
    /// Fraction of backend time copies may use in a domain with foreground
    /// I/O present (0 < share <= 1).
    pub foreground_share: f64,
    /// Foreground counts as present this long after its last I/O ended.
    pub foreground_window: Duration,
    /// Busy time a domain's bucket saves up at most.
    pub share_burst: Duration,
    /// Bytes per read/write chunk in an idle domain.
    pub chunk_idle: u64,
    /// Bytes per chunk (and per native piece) with foreground I/O present.
    pub chunk_busy: u64,
    /// Bytes per native piece (copy_file_range/FICLONERANGE) when idle.
    pub native_piece: u64,
    /// Copy operations running at once: overall, per LU, per initiator.
    pub max_copies: usize,
    pub max_copies_per_lu: usize,
    pub max_copies_per_initiator: usize,
    /// Copy operations waiting for a turn; one more is refused.
    pub max_queued: usize,
    /// Buffer bytes in flight per copy and overall.
    pub max_bytes_per_copy: u64,
    pub max_bytes: u64,
    /// Chunks in flight overall: at most this many copy calls occupy
    /// blocking threads at once.
    pub max_chunks: usize,
    /// A waiting request gains one priority level per `aging` waited.
    pub aging: Duration,
    /// The priority of WRITE USING TOKEN copies (EXTENDED COPY carries its
    /// own).
    pub odx_priority: u8,
}

impl Default for SchedConfig {
    fn default() -> Self {
        Self {
            foreground_share: 0.75,
            foreground_window: Duration::from_millis(3),
            share_burst: Duration::from_millis(10),
            chunk_idle: 1 << 20,
            chunk_busy: 1 << 20,
            native_piece: 64 << 20,
            max_copies: 16,
            max_copies_per_lu: 4,
            max_copies_per_initiator: 8,
            max_queued: 1024,
            max_bytes_per_copy: 8 << 20,
            max_bytes: 64 << 20,
            max_chunks: 32,
            aging: Duration::from_millis(100),
            odx_priority: 0,
        }
    }
}

/// A backing domain: a device number (`st_dev`) or one LU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DomainKey {
    Device(u64),
    Lu(u64),
}

/// What a copy operation asks to be admitted as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpSpec {
    /// The receiving LU (its NAA id): the per-LU limit.
    pub lu: u64,
    /// The initiator name: the per-initiator limit.
    pub initiator: String,
    pub priority: u8,
}

/// Which limit kept a refused copy out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Global,
    PerLu,
    PerInitiator,
}

impl Refusal {
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Global => "global",
            Refusal::PerLu => "per_lu",
            Refusal::PerInitiator => "per_initiator",
        }
    }
}

/// What a chunk moves: buffers (counted against the byte limits) or
/// nothing through memory (a native piece), or nothing at all (a native
/// piece between LUs on a reflink file system, where the kernel shares
/// extents: its cost does not grow with its length, so it is cut into
/// `native_piece` pieces also under foreground load, still one in flight
/// and charged its time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkKind {
    Buffered,
    Native,
    Clone,
}

pub type OpId = u64;
pub type ReqId = u64;

struct Op {
    spec: OpSpec,
    arrived: u64,
    running: bool,
    bytes: u64,
    chunks: usize,
    domains: Vec<DomainKey>,
}

struct Request {
    op: OpId,
    domains: Vec<DomainKey>,
    want: u64,
    kind: ChunkKind,
    since: u64,
}

struct InFlight {
    op: OpId,
    domains: Vec<DomainKey>,
    bytes: u64,
    kind: ChunkKind,
    /// Granted with foreground present: its time is charged.
    charged: bool,
    started: u64,
}

struct Domain {
    fg: Arc<Foreground>,
    in_flight: usize,
    /// Busy-time credit in nanoseconds (negative: in debt).
    tokens: i64,
    refilled: u64,
}

/// A granted chunk: this many bytes (at most what was asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    pub bytes: u64,
    /// Granted under foreground presence.
    pub busy: bool,
}

/// The policy state.
pub struct Policy {
    cfg: SchedConfig,
    seq: u64,
    ops: BTreeMap<OpId, Op>,
    waiting: BTreeMap<ReqId, Request>,
    granted: HashMap<ReqId, (InFlight, Granted)>,
    domains: HashMap<DomainKey, Domain>,
    bytes: u64,
    chunks: usize,
    /// Grants made since the start.
    grants: u64,
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Policy {
    pub fn new(cfg: SchedConfig) -> Self {
        Self {
            cfg,
            seq: 0,
            ops: BTreeMap::new(),
            waiting: BTreeMap::new(),
            granted: HashMap::new(),
            domains: HashMap::new(),
            bytes: 0,
            chunks: 0,
            grants: 0,
        }
    }

    /// Chunks granted since the start.
    pub fn grants(&self) -> u64 {
        self.grants
    }

    pub fn config(&self) -> &SchedConfig {
        &self.cfg
    }

    fn next_id(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Make `key` known with its foreground state (idempotent).
    pub fn add_domain(&mut self, key: DomainKey, fg: Arc<Foreground>, now: u64) {
        let burst = i64::try_from(ns(self.cfg.share_burst)).unwrap_or(i64::MAX);
        self.domains.entry(key).or_insert(Domain {
            fg,
            in_flight: 0,
            tokens: burst,
            refilled: now,
        });
    }

    /// Priority after `waited` nanoseconds (lower is better).
    fn effective(&self, priority: u8, waited: u64) -> u8 {
        let step = ns(self.cfg.aging).max(1);
        let gained = u8::try_from(waited / step).unwrap_or(u8::MAX);
        priority.min(LOWEST_PRIORITY).saturating_sub(gained)
    }

    fn running_where(&self, f: impl Fn(&OpSpec) -> bool) -> usize {
        self.ops
            .values()
            .filter(|o| o.running && f(&o.spec))
            .count()
    }

    /// The first limit `spec` would exceed if it ran now.
    fn blocked_by(&self, spec: &OpSpec) -> Option<Refusal> {
        if self.running_where(|_| true) >= self.cfg.max_copies {
            return Some(Refusal::Global);
        }
        if self.running_where(|s| s.lu == spec.lu) >= self.cfg.max_copies_per_lu {
            return Some(Refusal::PerLu);
        }
        if self.running_where(|s| s.initiator == spec.initiator)
            >= self.cfg.max_copies_per_initiator
        {
            return Some(Refusal::PerInitiator);
        }
        None
    }

    /// A new copy operation: admitted now, queued, or refused (the queue of
    /// waiting copies is full) with the limit that kept it out.
    pub fn enqueue(&mut self, spec: OpSpec, now: u64) -> Result<(OpId, bool), Refusal> {
        let queued = self.ops.values().filter(|o| !o.running).count();
        let id = self.next_id();
        self.ops.insert(
            id,
            Op {
                spec,
                arrived: now,
                running: false,
                bytes: 0,
                chunks: 0,
                domains: Vec::new(),
            },
        );
        self.admit(now);
        let Some(op) = self.ops.get(&id) else {
            return Ok((id, false));
        };
        if op.running {
            return Ok((id, true));
        }
        if queued >= self.cfg.max_queued {
            let why = self.blocked_by(&op.spec).unwrap_or(Refusal::Global);
            self.ops.remove(&id);
            return Err(why);
        }
        Ok((id, false))
    }

    /// Admit waiting copies in rank order while the limits allow (a copy
    /// held back by its LU's or initiator's limit does not hold back the
    /// copies of others).
    fn admit(&mut self, now: u64) {
        let mut order: Vec<(u8, u64, OpId)> = self
            .ops
            .iter()
            .filter(|(_, o)| !o.running)
            .map(|(&id, o)| {
                let waited = now.saturating_sub(o.arrived);
                (self.effective(o.spec.priority, waited), o.arrived, id)
            })
            .collect();
        order.sort_unstable();
        for (_, _, id) in order {
            let blocked = match self.ops.get(&id) {
                Some(o) => self.blocked_by(&o.spec).is_some(),
                None => true,
            };
            if !blocked {
                if let Some(o) = self.ops.get_mut(&id) {
                    o.running = true;
                }
            }
        }
    }

    /// The copy operation is running (admitted).
    pub fn is_running(&self, op: OpId) -> bool {
        self.ops.get(&op).is_some_and(|o| o.running)
    }

    /// Copies running and waiting whose receiving LU is `lu`.
    pub fn counts_for_lu(&self, lu: u64) -> (usize, usize) {
        let mine = self.ops.values().filter(|o| o.spec.lu == lu);
        let running = mine.clone().filter(|o| o.running).count();
        (running, mine.count() - running)
    }

    /// The copy operation ended (or gave up waiting): its waiting chunk
    /// requests go, its domains are no longer watched, the next copies may
    /// be admitted. Chunks still in flight end through [`Policy::release`].
    pub fn finish(&mut self, op: OpId, now: u64) {
        self.waiting.retain(|_, r| r.op != op);
        if let Some(o) = self.ops.remove(&op) {
            for d in &o.domains {
                if let Some(dom) = self.domains.get(d) {
                    dom.fg.watch(-1);
                }
            }
        }
        self.admit(now);
    }

    /// Ask for one chunk of at most `want` bytes for running copy `op`,
    /// touching `domains` (source and destination). Returns the request
    /// id; [`Policy::pump`] decides.
    pub fn request(
        &mut self,
        op: OpId,
        domains: &[DomainKey],
        want: u64,
        kind: ChunkKind,
        now: u64,
    ) -> ReqId {
        let mut ds: Vec<DomainKey> = domains
            .iter()
            .copied()
            .filter(|d| self.domains.contains_key(d))
            .collect();
        ds.sort_unstable();
        ds.dedup();
        if let Some(o) = self.ops.get_mut(&op) {
            for d in &ds {
                if !o.domains.contains(d) {
                    o.domains.push(*d);
                    if let Some(dom) = self.domains.get(d) {
                        dom.fg.watch(1);
                    }
                }
            }
        }
        let id = self.next_id();
        self.waiting.insert(
            id,
            Request {
                op,
                domains: ds,
                want: want.max(1),
                kind,
                since: now,
            },
        );
        id
    }

    fn refill(&mut self, now: u64) {
        let share = self.cfg.foreground_share;
        let burst = i64::try_from(ns(self.cfg.share_burst)).unwrap_or(i64::MAX);
        for d in self.domains.values_mut() {
            let dt = now.saturating_sub(d.refilled);
            let gain = (dt as f64 * share) as i64;
            d.tokens = d.tokens.saturating_add(gain).min(burst);
            d.refilled = now;
        }
    }

    fn present(&self, key: &DomainKey, now: u64) -> bool {
        let window = ns(self.cfg.foreground_window);
        self.domains
            .get(key)
            .is_some_and(|d| d.fg.present(now, window))
    }

    /// Grant every waiting request the rules allow now, best ranked first;
    /// returns the requests granted.
    pub fn pump(&mut self, now: u64) -> Vec<ReqId> {
        self.refill(now);
        let mut order: Vec<(u8, u64, ReqId)> = self
            .waiting
            .iter()
            .filter(|(_, r)| self.is_running(r.op))
            .map(|(&id, r)| {
                let prio = self
                    .ops
                    .get(&r.op)
                    .map_or(LOWEST_PRIORITY, |o| o.spec.priority);
                let waited = now.saturating_sub(r.since);
                (self.effective(prio, waited), r.since, id)
            })
            .collect();
        order.sort_unstable();
        let mut out = Vec::new();
        let mut bytes_blocked = false;
        for (_, _, id) in order {
            if self.chunks >= self.cfg.max_chunks {
                break;
            }
            let Some(r) = self.waiting.get(&id) else {
                continue;
            };
            let busy = r.domains.iter().any(|d| self.present(d, now));
            let domain_ok = r.domains.iter().all(|d| {
                !self.present(d, now)
                    || self
                        .domains
                        .get(d)
                        .is_some_and(|dom| dom.in_flight == 0 && dom.tokens > 0)
            });
            if !domain_ok {
                continue;
            }
            let (op_bytes, op_chunks) = self.ops.get(&r.op).map_or((0, 0), |o| (o.bytes, o.chunks));
            let size = match (r.kind, busy) {
                (ChunkKind::Buffered, false) => self.cfg.chunk_idle,
                (ChunkKind::Native, false) | (ChunkKind::Clone, _) => self.cfg.native_piece,
                (_, true) => self.cfg.chunk_busy,
            }
            .min(r.want)
            .max(1);
            if r.kind == ChunkKind::Buffered {
                // One chunk per copy always fits its own limit (progress).
                let own = op_chunks == 0 || op_bytes + size <= self.cfg.max_bytes_per_copy;
                if !own {
                    continue;
                }
                if bytes_blocked || (self.bytes > 0 && self.bytes + size > self.cfg.max_bytes) {
                    // Head of line: smaller requests do not overtake a
                    // blocked one for ever.
                    bytes_blocked = true;
                    continue;
                }
            }
            let Some(r) = self.waiting.remove(&id) else {
                continue;
            };
            let mem = if r.kind == ChunkKind::Buffered {
                size
            } else {
                0
            };
            for d in &r.domains {
                if let Some(dom) = self.domains.get_mut(d) {
                    dom.in_flight += 1;
                    dom.fg.chunk_started();
                }
            }
            if let Some(o) = self.ops.get_mut(&r.op) {
                o.bytes += mem;
                o.chunks += 1;
            }
            self.bytes += mem;
            self.chunks += 1;
            self.grants += 1;
            let g = Granted { bytes: size, busy };
            self.granted.insert(
                id,
                (
                    InFlight {
                        op: r.op,
                        domains: r.domains,
                        bytes: mem,
                        kind: r.kind,
                        charged: busy,
                        started: now,
                    },
                    g,
                ),
            );
            out.push(id);
        }
        out
    }

    /// The grant of request `req`, once [`Policy::pump`] made it.
    pub fn granted(&self, req: ReqId) -> Option<Granted> {
        self.granted.get(&req).map(|(_, g)| *g)
    }

    /// The chunk of `req` ended (or its request was withdrawn): its bytes
    /// and slot return; a chunk granted under foreground presence charges
    /// its duration to its domains' buckets.
    pub fn release(&mut self, req: ReqId, now: u64) {
        if self.waiting.remove(&req).is_some() {
            return;
        }
        let Some((f, _)) = self.granted.remove(&req) else {
            return;
        };
        let took = i64::try_from(now.saturating_sub(f.started)).unwrap_or(i64::MAX);
        for d in &f.domains {
            if let Some(dom) = self.domains.get_mut(d) {
                dom.in_flight = dom.in_flight.saturating_sub(1);
                dom.fg.chunk_ended();
                if f.charged {
                    dom.tokens = dom.tokens.saturating_sub(took);
                }
            }
        }
        if let Some(o) = self.ops.get_mut(&f.op) {
            o.bytes = o.bytes.saturating_sub(f.bytes);
            o.chunks = o.chunks.saturating_sub(1);
        }
        self.bytes = self.bytes.saturating_sub(f.bytes);
        self.chunks = self.chunks.saturating_sub(1);
        let _ = f.kind;
    }

    /// When a waiting request may become grantable without any chunk
    /// ending: a bucket back above zero or a foreground window closing.
    pub fn next_wake(&self, now: u64) -> Option<u64> {
        let window = ns(self.cfg.foreground_window);
        let share = self.cfg.foreground_share.max(1e-6);
        let mut best: Option<u64> = None;
        let mut consider = |t: u64| best = Some(best.map_or(t, |b: u64| b.min(t)));
        for r in self.waiting.values() {
            for key in &r.domains {
                let Some(d) = self.domains.get(key) else {
                    continue;
                };
                if !d.fg.present(now, window) {
                    continue;
                }
                if d.tokens <= 0 {
                    // The first instant the refill makes the credit positive.
                    let wait = ((1 - d.tokens) as f64 / share).ceil() as u64 + 1;
                    consider(d.refilled.saturating_add(wait));
                }
                if let Some(t) = d.fg.quiet_at(window) {
                    consider(t);
                }
            }
        }
        best.map(|t| t.max(now.saturating_add(1)))
    }

    /// Buffer bytes and chunks in flight overall.
    pub fn in_flight(&self) -> (u64, usize) {
        (self.bytes, self.chunks)
    }

    /// Chunks in flight in a domain.
    pub fn domain_in_flight(&self, key: &DomainKey) -> usize {
        self.domains.get(key).map_or(0, |d| d.in_flight)
    }

    /// A domain's busy-time credit in nanoseconds (after the last refill).
    pub fn tokens(&self, key: &DomainKey) -> i64 {
        self.domains.get(key).map_or(0, |d| d.tokens)
    }
}
