//! The policy without timers: time is a number, foreground presence is set
//! on the domain's atomics.

use super::policy::*;
use super::Foreground;
use std::sync::Arc;
use std::time::Duration;

const MS: u64 = 1_000_000;
const D: DomainKey = DomainKey::Lu(1);

fn spec(lu: u64, initiator: &str, priority: u8) -> OpSpec {
    OpSpec {
        lu,
        initiator: initiator.into(),
        priority,
    }
}

fn policy(cfg: SchedConfig) -> (Policy, Arc<Foreground>) {
    let mut p = Policy::new(cfg);
    let fg = Arc::new(Foreground::default());
    p.add_domain(D, fg.clone(), 1);
    (p, fg)
}

fn running(p: &mut Policy, s: OpSpec, now: u64) -> OpId {
    let (id, run) = p.enqueue(s, now).unwrap();
    assert!(run);
    id
}

/// Idle: chunks as deep as asked, at the idle size. Foreground arrives:
/// no further grant while any copy chunk is in flight in the domain, then
/// exactly one, of the busy size.
#[test]
fn foreground_arrival_preempts_further_copy_grants() {
    // Busy chunks smaller than idle ones (the defaults are both 1 MiB), to
    // see which size each grant got.
    let cfg = SchedConfig {
        chunk_busy: 256 << 10,
        ..SchedConfig::default()
    };
    let (mut p, fg) = policy(cfg.clone());
    let op = running(&mut p, spec(1, "i", 0), 1);
    let reqs: Vec<_> = (0..4)
        .map(|_| p.request(op, &[D], 8 << 20, ChunkKind::Buffered, 1))
        .collect();
    assert_eq!(p.pump(1), reqs);
    assert!(reqs
        .iter()
        .all(|r| p.granted(*r).unwrap().bytes == cfg.chunk_idle));
    fg.set_active(1);
    let more = p.request(op, &[D], 8 << 20, ChunkKind::Buffered, 2);
    assert!(
        p.pump(2).is_empty(),
        "4 chunks in flight, foreground present"
    );
    for (i, r) in reqs.iter().enumerate() {
        p.release(*r, 3);
        let granted = p.pump(3);
        if i < 3 {
            assert!(granted.is_empty(), "{} still in flight", 3 - i);
        } else {
            assert_eq!(granted, vec![more]);
        }
    }
    let g = p.granted(more).unwrap();
    assert_eq!((g.bytes, g.busy), (cfg.chunk_busy, true));
    let next = p.request(op, &[D], 8 << 20, ChunkKind::Buffered, 3);
    assert!(p.pump(3).is_empty(), "one copy chunk at a time");
    assert_eq!(p.domain_in_flight(&D), 1);
    p.release(more, 3);
    assert_eq!(p.pump(3), vec![next]);
}

/// Under foreground presence a native piece that copies data is cut to
/// the busy chunk size, a clone (reflink) keeps the native piece size;
/// both stay one at a time.
#[test]
fn clones_keep_their_piece_size_under_foreground() {
    let (mut p, fg) = policy(SchedConfig::default());
    let op = running(&mut p, spec(1, "i", 0), 1);
    fg.set_active(1);
    let native = p.request(op, &[D], 1 << 30, ChunkKind::Native, 2);
    assert_eq!(p.pump(2), vec![native]);
    assert_eq!(
        p.granted(native).unwrap().bytes,
        SchedConfig::default().chunk_busy
    );
    let clone = p.request(op, &[D], 1 << 30, ChunkKind::Clone, 3);
    assert!(p.pump(3).is_empty(), "one copy chunk at a time");
    p.release(native, 3);
    assert_eq!(p.pump(3), vec![clone]);
    let g = p.granted(clone).unwrap();
    assert_eq!((g.bytes, g.busy), (64 << 20, true));
}

/// Foreground that ended counts for the window, then the domain is idle
/// again (and the policy says when to look).
#[test]
fn recent_foreground_window_then_idle() {
    let (mut p, fg) = policy(SchedConfig::default());
    let op = running(&mut p, spec(1, "i", 0), 1);
    fg.set_last(10 * MS);
    let a = p.request(op, &[D], 4 << 20, ChunkKind::Buffered, 11 * MS);
    let b = p.request(op, &[D], 4 << 20, ChunkKind::Buffered, 11 * MS);
    assert_eq!(p.pump(11 * MS), vec![a]);
    assert_eq!(p.next_wake(11 * MS), Some(13 * MS));
    p.release(a, 12 * MS);
    // Busy-time credit left (1 ms charged of 10): b is granted at once.
    assert_eq!(p.pump(12 * MS), vec![b]);
    let c = p.request(op, &[D], 4 << 20, ChunkKind::Buffered, 12 * MS);
    assert!(p.pump(12 * MS).is_empty());
    // 13 ms: the window closed, the domain is idle: full speed.
    assert_eq!(p.pump(13 * MS), vec![c]);
    assert_eq!(p.granted(c).unwrap().bytes, 1 << 20);
}

/// Under continuous foreground the copy gets `foreground_share` of the
/// domain's time, not more (chunks of 2 ms, simulated for 2 s).
#[test]
fn share_accounting_limits_copy_busy_time() {
    let (mut p, fg) = policy(SchedConfig {
        foreground_share: 0.25,
        share_burst: Duration::from_millis(10),
        ..SchedConfig::default()
    });
    fg.set_active(1);
    let op = running(&mut p, spec(1, "i", 0), 0);
    let mut now = 0u64;
    let mut busy = 0u64;
    let mut chunks = 0;
    while now < 2000 * MS {
        let r = p.request(op, &[D], 1 << 20, ChunkKind::Buffered, now);
        loop {
            if p.pump(now).contains(&r) {
                break;
            }
            // A blocked request names its wake-up.
            now = p.next_wake(now).unwrap();
        }
        now += 2 * MS;
        busy += 2 * MS;
        chunks += 1;
        p.release(r, now);
    }
    let share = busy as f64 / now as f64;
    assert!(
        (0.23..=0.26).contains(&share),
        "share {share} over {chunks} chunks"
    );
    assert!(p.tokens(&D) <= 10 * MS as i64);
}

/// Priority first, then arrival (FIFO among equals).
#[test]
fn priority_then_fifo() {
    let (mut p, fg) = policy(SchedConfig {
        foreground_share: 1.0,
        ..SchedConfig::default()
    });
    fg.set_active(1);
    let low = running(&mut p, spec(1, "a", 5), 0);
    let hi1 = running(&mut p, spec(2, "b", 1), 0);
    let hi2 = running(&mut p, spec(3, "c", 1), 0);
    let r_low = p.request(low, &[D], 1 << 20, ChunkKind::Buffered, 1);
    let r_hi2 = p.request(hi2, &[D], 1 << 20, ChunkKind::Buffered, 2);
    let r_hi1 = p.request(hi1, &[D], 1 << 20, ChunkKind::Buffered, 3);
    let mut order = Vec::new();
    let mut now = 3;
    for _ in 0..3 {
        let g = p.pump(now);
        assert_eq!(g.len(), 1);
        order.push(g[0]);
        now += 1;
        p.release(g[0], now);
    }
    assert_eq!(order, vec![r_hi2, r_hi1, r_low]);
}

/// A priority-7 request waiting behind a stream of priority-0 requests is
/// served once it has aged to priority 0 (7 x aging), not never.
#[test]
fn aging_prevents_starvation() {
    let (mut p, fg) = policy(SchedConfig {
        foreground_share: 1.0,
        aging: Duration::from_millis(100),
        ..SchedConfig::default()
    });
    fg.set_active(1);
    let low = running(&mut p, spec(1, "a", 7), 0);
    let high = running(&mut p, spec(2, "b", 0), 0);
    let r_low = p.request(low, &[D], 1 << 20, ChunkKind::Buffered, 0);
    let mut now = 0;
    let mut served_at = None;
    for _ in 0..200 {
        let r_high = p.request(high, &[D], 1 << 20, ChunkKind::Buffered, now);
        let g = p.pump(now);
        assert_eq!(g.len(), 1);
        now += 5 * MS;
        p.release(g[0], now);
        if g[0] == r_low {
            served_at = Some(now);
            break;
        }
        assert_eq!(g[0], r_high);
    }
    let t = served_at.unwrap();
    assert!(
        (700 * MS..=710 * MS).contains(&t),
        "served at {} ms",
        t / MS
    );
}

/// Concurrency per LU, per initiator and overall; the bounded queue;
/// refusal with the limit that kept the copy out; a finished copy admits
/// the next ones in order.
#[test]
fn quotas_queue_and_refusal() {
    let (mut p, _) = policy(SchedConfig {
        max_copies: 2,
        max_copies_per_lu: 1,
        max_copies_per_initiator: 1,
        max_queued: 2,
        ..SchedConfig::default()
    });
    let a = running(&mut p, spec(1, "x", 0), 0);
    let (b, run) = p.enqueue(spec(1, "y", 0), 1).unwrap();
    assert!(!run, "LU 1 has its copy");
    let (c, run) = p.enqueue(spec(2, "x", 0), 2).unwrap();
    assert!(!run, "initiator x has its copy");
    let d = running(&mut p, spec(3, "z", 0), 3);
    assert_eq!(p.enqueue(spec(4, "w", 0), 4), Err(Refusal::Global));
    p.finish(d, 5);
    assert_eq!(p.enqueue(spec(1, "v", 0), 6), Err(Refusal::PerLu));
    assert_eq!(p.enqueue(spec(5, "x", 0), 7), Err(Refusal::PerInitiator));
    assert_eq!(p.counts_for_lu(1), (1, 1));
    p.finish(a, 8);
    assert!(p.is_running(b) && p.is_running(c));
    assert_eq!(p.counts_for_lu(1), (1, 0));
}

/// No queue at all: a copy that cannot run now is refused at once.
#[test]
fn refusal_when_the_queue_is_full() {
    let (mut p, _) = policy(SchedConfig {
        max_copies: 1,
        max_queued: 0,
        ..SchedConfig::default()
    });
    let a = running(&mut p, spec(1, "x", 0), 0);
    assert_eq!(p.enqueue(spec(2, "y", 0), 1), Err(Refusal::Global));
    assert_eq!(p.counts_for_lu(2), (0, 0), "a refused copy leaves nothing");
    p.finish(a, 2);
    running(&mut p, spec(2, "y", 0), 3);
}

/// Waiting copies are admitted by priority (with aging), then arrival.
#[test]
fn queued_copies_admitted_by_priority() {
    let (mut p, _) = policy(SchedConfig {
        max_copies: 1,
        ..SchedConfig::default()
    });
    let a = running(&mut p, spec(1, "x", 0), 0);
    let (low, _) = p.enqueue(spec(2, "x", 6), 1).unwrap();
    let (high, _) = p.enqueue(spec(3, "x", 2), 2).unwrap();
    p.finish(a, 3);
    assert!(p.is_running(high) && !p.is_running(low));
}

/// Buffer bytes in flight: per copy and overall; native pieces take no
/// buffer but a chunk slot.
#[test]
fn bytes_in_flight_are_capped() {
    let (mut p, _) = policy(SchedConfig {
        max_bytes_per_copy: 2 << 20,
        max_bytes: 3 << 20,
        max_chunks: 5,
        ..SchedConfig::default()
    });
    let a = running(&mut p, spec(1, "x", 0), 0);
    let b = running(&mut p, spec(2, "y", 0), 0);
    let ra: Vec<_> = (0..3)
        .map(|_| p.request(a, &[D], 1 << 20, ChunkKind::Buffered, 1))
        .collect();
    assert_eq!(p.pump(1), ra[..2].to_vec(), "2 MiB per copy");
    let rb: Vec<_> = (0..2)
        .map(|_| p.request(b, &[D], 1 << 20, ChunkKind::Buffered, 1))
        .collect();
    assert_eq!(p.pump(1), rb[..1].to_vec(), "3 MiB overall");
    assert_eq!(p.in_flight(), (3 << 20, 3));
    let n = p.request(b, &[D], 1 << 30, ChunkKind::Native, 1);
    assert_eq!(p.pump(1), vec![n]);
    assert_eq!(p.granted(n).unwrap().bytes, 64 << 20);
    assert_eq!(p.in_flight(), (3 << 20, 4));
    p.release(ra[0], 2);
    assert_eq!(p.pump(2), vec![ra[2]], "the oldest waiting request first");
    let m = p.request(b, &[D], 1 << 30, ChunkKind::Native, 2);
    let m2 = p.request(b, &[D], 1 << 30, ChunkKind::Native, 2);
    assert_eq!(p.pump(2), vec![m], "5 chunks overall");
    p.finish(b, 3);
    assert!(p.granted(m2).is_none());
    p.release(rb[0], 3);
    p.release(n, 3);
    p.release(m, 3);
    p.release(ra[1], 3);
    p.release(ra[2], 3);
    assert_eq!(p.in_flight(), (0, 0));
}
