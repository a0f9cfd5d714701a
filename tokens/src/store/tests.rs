use super::*;
use crate::clock::ManualClock;
use crate::codec::tests::{key, sample};
use crate::codec::{rod_type, zero_token, RodType};
use std::time::Duration;

type Store = TokenStore<u32, ManualClock>;

fn store_with(config: StoreConfig) -> (Store, ManualClock) {
    let clock = ManualClock::new();
    (
        TokenStore::with_key(config, clock.clone(), key(0x11)),
        clock,
    )
}

fn store() -> (Store, ManualClock) {
    store_with(StoreConfig::default())
}

fn req(lu: u32, rod_type: RodType, ranges: &[(u64, u64)], initiator: &str) -> NewToken<u32> {
    let s = sample(rod_type);
    NewToken {
        lu,
        rod_type,
        ranges: ranges
            .iter()
            .map(|&(lba, count)| BlockRange { lba, count })
            .collect(),
        block_size: 512,
        inactivity_timeout_secs: 0,
        owner: Owner {
            nexus: 7,
            initiator: initiator.into(),
        },
        creator: s.creator,
        device: s.device,
        target: s.target,
    }
}

fn cv(lu: u32, ranges: &[(u64, u64)]) -> NewToken<u32> {
    req(lu, RodType::ChangeVulnerable, ranges, "iqn.a")
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn create_then_lookup_gives_the_token_back() {
    let (s, _) = store();
    let c = s.create(cv(1, &[(0, 8), (100, 16)])).unwrap();
    assert_eq!(c.info.bytes_represented, 24 * 512);
    assert_eq!(c.info.inactivity_timeout, secs(60));
    assert_eq!(c.token[0..4], [0x00, 0x80, 0x00, 0x01]);
    assert_eq!(c.token[8..16], c.info.id.to_be_bytes());
    assert_eq!(
        u128::from_be_bytes(c.token[48..64].try_into().unwrap()),
        24 * 512
    );
    assert_eq!(s.lookup(&c.token), Ok(Lookup::Token(c.info.clone())));
    assert_eq!(s.encoded(c.info.id), Ok(c.token));
    assert_eq!(s.state(c.info.id), TokenState::Live);
    assert_eq!(
        s.stats(),
        StoreStats {
            live: 1,
            bytes_represented: 24 * 512,
            tombstones: 0
        }
    );
}

#[test]
fn the_zero_token_is_recognised_without_the_store() {
    let (s, _) = store();
    assert_eq!(s.lookup(&zero_token()), Ok(Lookup::Zero));
}

#[test]
fn corrupt_foreign_short_and_unsupported_tokens_get_their_errors() {
    let (s, _) = store();
    let c = s.create(cv(1, &[(0, 8)])).unwrap();
    let mut t = c.token;
    t[300] ^= 1;
    assert_eq!(s.lookup(&t), Err(TokenError::Corrupt));
    // Another process (another key), e.g. before a restart.
    let other: Store = TokenStore::with_key(StoreConfig::default(), ManualClock::new(), key(0x22));
    assert_eq!(other.lookup(&c.token), Err(TokenError::Corrupt));
    assert_eq!(s.lookup(&c.token[..511]), Err(TokenError::InvalidLength));
    let mut t = c.token;
    t[7] = 0;
    assert_eq!(s.lookup(&t), Err(TokenError::InvalidLength));
    let mut t = c.token;
    t[0..4].copy_from_slice(&rod_type::ACCESS_UPON_REFERENCE.to_be_bytes());
    assert_eq!(
        s.lookup(&t),
        Err(TokenError::UnsupportedType(rod_type::ACCESS_UPON_REFERENCE))
    );
    // None of it harmed the real token.
    assert!(matches!(s.lookup(&c.token), Ok(Lookup::Token(_))));
}

#[test]
fn a_token_of_this_key_never_issued_is_unknown() {
    let (s, _) = store();
    let mut tok = sample(RodType::PointInTime);
    tok.id = 999;
    let wire = tok.encode(&key(0x11));
    assert_eq!(s.lookup(&wire), Err(TokenError::Unknown));
    assert_eq!(s.state(999), TokenState::Unknown);
    assert_eq!(s.touch(999), Err(TokenError::Unknown));
    assert!(s.pin(999).is_err());
    assert_eq!(s.delete(999), Err(TokenError::Unknown));
}

#[test]
fn expiry_after_the_default_timeout_with_the_manual_clock() {
    let (s, clock) = store();
    let c = s.create(cv(1, &[(0, 8)])).unwrap();
    clock.advance(secs(59));
    assert!(s.sweep().is_empty());
    assert!(s.lookup(&c.token).is_ok());
    clock.advance(secs(1));
    assert_eq!(s.sweep(), vec![c.info.id]);
    assert_eq!(s.lookup(&c.token), Err(TokenError::Expired));
    assert_eq!(s.state(c.info.id), TokenState::Dead(Death::Expired));
    assert_eq!(s.stats().live, 0);
    assert_eq!(s.stats().bytes_represented, 0);
}

#[test]
fn lookup_expires_a_token_the_sweeper_has_not_reached() {
    let (s, clock) = store();
    let c = s.create(cv(1, &[(0, 8)])).unwrap();
    clock.advance(secs(61));
    assert_eq!(s.lookup(&c.token), Err(TokenError::Expired));
    assert_eq!(s.stats().live, 0);
    assert!(s.sweep().is_empty(), "already gone from the queue");
}

#[test]
fn requested_timeouts_are_granted_and_clamped() {
    let (s, clock) = store();
    let mut r = cv(1, &[(0, 8)]);
    r.inactivity_timeout_secs = 5;
    let short = s.create(r).unwrap();
    let mut r = cv(1, &[(0, 8)]);
    r.inactivity_timeout_secs = 100_000;
    let long = s.create(r).unwrap();
    assert_eq!(short.info.inactivity_timeout, secs(5));
    assert_eq!(long.info.inactivity_timeout, secs(600));
    clock.advance(secs(5));
    assert_eq!(s.sweep(), vec![short.info.id]);
    clock.advance(secs(594));
    assert!(s.sweep().is_empty());
    clock.advance(secs(1));
    assert_eq!(s.sweep(), vec![long.info.id]);
}

#[test]
fn a_touch_restarts_the_timeout() {
    let (s, clock) = store();
    let c = s.create(cv(1, &[(0, 8)])).unwrap();
    clock.advance(secs(50));
    s.touch(c.info.id).unwrap();
    clock.advance(secs(50));
    assert!(s.sweep().is_empty(), "re-queued at its new deadline");
    assert!(s.lookup(&c.token).is_ok());
    clock.advance(secs(10));
    assert_eq!(s.sweep(), vec![c.info.id]);
}

#[test]
fn a_pinned_token_does_not_expire_and_its_unpin_is_a_use() {
    let (s, clock) = store();
    let c = s.create(cv(1, &[(0, 8)])).unwrap();
    let g = s.pin(c.info.id).unwrap();
    assert_eq!(g.info().pins, 1);
    let g2 = s.pin(c.info.id).unwrap();
    clock.advance(secs(1000));
    assert!(s.sweep().is_empty());
    assert!(s.lookup(&c.token).is_ok());
    drop(g);
    clock.advance(secs(1000));
    assert!(s.sweep().is_empty(), "still pinned once");
    drop(g2);
    clock.advance(secs(59));
    assert!(s.sweep().is_empty(), "the unpin restarted the timeout");
    clock.advance(secs(1));
    assert_eq!(s.sweep(), vec![c.info.id]);
}

#[test]
fn an_expired_token_cannot_be_pinned() {
    let (s, clock) = store();
    let c = s.create(cv(1, &[(0, 8)])).unwrap();
    clock.advance(secs(60));
    assert_eq!(s.pin(c.info.id).err(), Some(TokenError::Expired));
}

#[test]
fn delete_answers_deleted_afterwards_and_pinned_users_may_finish() {
    let (s, _) = store();
    let c = s.create(cv(1, &[(0, 8)])).unwrap();
    let g = s.pin(c.info.id).unwrap();
    s.delete(c.info.id).unwrap();
    assert_eq!(g.still_valid(), Ok(()));
    assert_eq!(s.lookup(&c.token), Err(TokenError::Deleted));
    assert_eq!(s.delete(c.info.id), Err(TokenError::Deleted));
    assert_eq!(s.pin(c.info.id).err(), Some(TokenError::Deleted));
    assert_eq!(s.encoded(c.info.id), Err(TokenError::Deleted));
    drop(g);
    assert_eq!(s.stats().live, 0);
}

#[test]
fn a_pin_guard_deletes_on_request() {
    let (s, _) = store();
    let c = s.create(cv(1, &[(0, 8)])).unwrap();
    s.pin(c.info.id).unwrap().delete().unwrap();
    assert_eq!(s.lookup(&c.token), Err(TokenError::Deleted));
}

#[test]
fn overlapping_writes_revoke_change_vulnerable_tokens_only() {
    let (s, _) = store();
    let a = s.create(cv(1, &[(0, 8), (100, 10)])).unwrap();
    let b = s.create(cv(1, &[(50, 10)])).unwrap();
    let pit = s
        .create(req(1, RodType::PointInTime, &[(0, 200)], "iqn.a"))
        .unwrap();
    let other_lu = s.create(cv(2, &[(0, 200)])).unwrap();
    let hook = s.write_hook(1);
    assert!(hook.on_write(8, 42).is_empty(), "gap between ranges");
    assert!(hook.on_write(110, 1000).is_empty());
    assert_eq!(hook.on_write(109, 1), vec![a.info.id]);
    assert_eq!(s.lookup(&a.token), Err(TokenError::Revoked));
    assert!(hook.on_write(109, 1).is_empty(), "already revoked");
    assert_eq!(s.revoke_overlapping(&1, 0, 1000), vec![b.info.id]);
    assert_eq!(s.lookup(&b.token), Err(TokenError::Revoked));
    assert!(s.lookup(&pit.token).is_ok(), "point in time survives");
    assert!(s.lookup(&other_lu.token).is_ok(), "other LU untouched");
    assert!(s.revoke_overlapping(&9, 0, u64::MAX).is_empty());
    assert_eq!(s.lu_tokens(&1).indexed_ranges(), 0);
}

#[test]
fn a_revoked_pin_is_no_longer_valid() {
    let (s, _) = store();
    let c = s.create(cv(1, &[(0, 8)])).unwrap();
    let g = s.pin(c.info.id).unwrap();
    assert_eq!(s.write_hook(1).on_write(0, 1), vec![c.info.id]);
    assert_eq!(g.still_valid(), Err(TokenError::Revoked));
}

#[test]
fn cancel_lu_cancels_every_token_of_that_lu() {
    let (s, _) = store();
    let a = s.create(cv(1, &[(0, 8)])).unwrap();
    let b = s
        .create(req(1, RodType::PointInTime, &[(0, 8)], "iqn.a"))
        .unwrap();
    let c = s.create(cv(2, &[(0, 8)])).unwrap();
    let g = s.pin(b.info.id).unwrap();
    assert_eq!(s.cancel_lu(&1), vec![a.info.id, b.info.id]);
    assert_eq!(s.lookup(&a.token), Err(TokenError::Cancelled));
    assert_eq!(s.lookup(&b.token), Err(TokenError::Cancelled));
    assert_eq!(g.still_valid(), Err(TokenError::Cancelled));
    assert!(s.lookup(&c.token).is_ok());
    s.cancel(c.info.id).unwrap();
    assert_eq!(s.lookup(&c.token), Err(TokenError::Cancelled));
    assert_eq!(s.cancel(c.info.id), Err(TokenError::Cancelled));
    assert!(s.cancel_lu(&3).is_empty());
}

#[test]
fn the_first_death_wins() {
    let (s, clock) = store();
    let c = s.create(cv(1, &[(0, 8)])).unwrap();
    s.delete(c.info.id).unwrap();
    assert!(s.revoke_overlapping(&1, 0, 8).is_empty());
    assert!(s.cancel_lu(&1).is_empty());
    clock.advance(secs(1000));
    assert!(s.sweep().is_empty());
    assert_eq!(s.lookup(&c.token), Err(TokenError::Deleted));
    assert_eq!(s.stats().tombstones, 1);
}

#[test]
fn tombstones_are_bounded_and_the_oldest_goes_first() {
    let (s, _) = store_with(StoreConfig {
        max_tombstones: 3,
        ..StoreConfig::default()
    });
    let toks: Vec<_> = (0..5)
        .map(|i| s.create(cv(1, &[(i * 10, 1)])).unwrap())
        .collect();
    for t in &toks {
        s.delete(t.info.id).unwrap();
    }
    assert_eq!(s.stats().tombstones, 3);
    assert_eq!(s.lookup(&toks[0].token), Err(TokenError::Unknown));
    assert_eq!(s.lookup(&toks[1].token), Err(TokenError::Unknown));
    for t in &toks[2..] {
        assert_eq!(s.lookup(&t.token), Err(TokenError::Deleted));
    }
    assert_eq!(s.inner.slots.len(), 3, "evicted slots are freed");
}

fn refused(r: Result<Created<u32>, TokenError>) -> Limit {
    match r {
        Err(TokenError::InsufficientResources(l)) => l,
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn the_live_token_limit_refuses_and_live_tokens_keep_working() {
    let (s, _) = store_with(StoreConfig {
        max_live_tokens: 2,
        ..StoreConfig::default()
    });
    let a = s.create(cv(1, &[(0, 8)])).unwrap();
    let b = s
        .create(req(1, RodType::ChangeVulnerable, &[(8, 8)], "iqn.b"))
        .unwrap();
    let e = s.create(cv(1, &[(16, 8)])).unwrap_err();
    assert_eq!(e.sense(), (0x05, 0x55, 0x0D));
    assert_eq!(refused(Err(e)), Limit::LiveTokens);
    assert!(s.lookup(&a.token).is_ok());
    assert!(s.lookup(&b.token).is_ok());
    assert_eq!(s.stats().live, 2);
    s.delete(a.info.id).unwrap();
    assert!(s.create(cv(1, &[(16, 8)])).is_ok(), "room again");
}

#[test]
fn the_per_initiator_limit_counts_each_initiator() {
    let (s, _) = store_with(StoreConfig {
        max_tokens_per_initiator: 1,
        ..StoreConfig::default()
    });
    let a = s.create(cv(1, &[(0, 8)])).unwrap();
    assert_eq!(refused(s.create(cv(1, &[(8, 8)]))), Limit::PerInitiator);
    let b = s
        .create(req(1, RodType::ChangeVulnerable, &[(8, 8)], "iqn.b"))
        .unwrap();
    assert!(s.lookup(&a.token).is_ok());
    assert!(s.lookup(&b.token).is_ok());
}

#[test]
fn the_bytes_limit_refuses_and_expiry_frees_room() {
    let (s, clock) = store_with(StoreConfig {
        max_bytes_represented: 16 * 512,
        ..StoreConfig::default()
    });
    let a = s.create(cv(1, &[(0, 10)])).unwrap();
    assert_eq!(
        refused(s.create(cv(1, &[(10, 7)]))),
        Limit::BytesRepresented
    );
    let b = s.create(cv(1, &[(10, 6)])).unwrap();
    assert_eq!(s.stats().bytes_represented, 16 * 512);
    assert!(s.lookup(&a.token).is_ok());
    assert!(s.lookup(&b.token).is_ok());
    clock.advance(secs(60));
    // create sweeps first: the expired tokens' bytes count no more.
    assert!(s.create(cv(1, &[(0, 16)])).is_ok());
    assert_eq!(s.lookup(&a.token), Err(TokenError::Expired));
}

#[test]
fn list_filters_by_owner() {
    let (s, _) = store();
    let a = s.create(cv(1, &[(0, 8)])).unwrap();
    let mut r = req(1, RodType::PointInTime, &[(8, 8)], "iqn.b");
    r.owner.nexus = 9;
    let b = s.create(r).unwrap();
    let c = s.create(cv(2, &[(0, 8)])).unwrap();
    s.delete(c.info.id).unwrap();
    let ids = |v: Vec<TokenInfo<u32>>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(ids(s.list(ListFilter::All)), vec![a.info.id, b.info.id]);
    assert_eq!(ids(s.list(ListFilter::Nexus(9))), vec![b.info.id]);
    assert_eq!(ids(s.list(ListFilter::Initiator("iqn.a"))), vec![a.info.id]);
}

#[test]
fn tokens_carry_fresh_randomness() {
    let (s, _) = store();
    let a = s.create(cv(1, &[(0, 8)])).unwrap();
    let b = s.create(cv(1, &[(0, 8)])).unwrap();
    assert_ne!(a.token[448..480], b.token[448..480]);
    assert_ne!(a.info.id, b.info.id);
}

#[test]
fn many_threads_create_use_and_revoke() {
    let (s, clock) = store_with(StoreConfig {
        max_live_tokens: 500,
        max_tombstones: 10_000,
        ..StoreConfig::default()
    });
    let handles: Vec<_> = (0..4u32)
        .map(|t| {
            let s = s.clone();
            let clock = clock.clone();
            std::thread::spawn(move || {
                let hook = s.write_hook(t % 2);
                let mut mine = Vec::new();
                for i in 0..400u64 {
                    let rt = if i % 3 == 0 {
                        RodType::PointInTime
                    } else {
                        RodType::ChangeVulnerable
                    };
                    let r = req(t % 2, rt, &[(i * 4, 4)], &format!("iqn.{t}"));
                    match s.create(r) {
                        Ok(c) => mine.push(c),
                        Err(TokenError::InsufficientResources(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                    if let Some(c) = mine.get(i as usize / 2) {
                        if let Ok(g) = s.pin(c.info.id) {
                            let _ = g.still_valid();
                        }
                    }
                    hook.on_write((i * 7) % 1600, 3);
                    if i % 50 == 0 {
                        clock.advance(secs(7));
                        s.sweep();
                    }
                }
                mine
            })
        })
        .collect();
    let all: Vec<Created<u32>> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let mut live = 0;
    for c in &all {
        match s.lookup(&c.token) {
            Ok(Lookup::Token(i)) => {
                live += 1;
                assert_eq!(i.pins, 0, "every guard was dropped");
            }
            Err(TokenError::Revoked) => assert_eq!(c.info.rod_type, RodType::ChangeVulnerable),
            Err(TokenError::Expired) => {}
            other => panic!("{other:?}"),
        }
    }
    let stats = s.stats();
    assert_eq!(stats.live, live);
    assert_eq!(s.list(ListFilter::All).len(), live);
    let bytes: u128 = s
        .list(ListFilter::All)
        .iter()
        .map(|i| i.bytes_represented)
        .sum();
    assert_eq!(stats.bytes_represented, bytes);
    assert_eq!(
        lock(&s.inner.expiry).len(),
        live,
        "one queue entry per live token"
    );
}

#[test]
fn only_change_vulnerable_tokens_are_indexed() {
    let (s, _) = store();
    let hook = s.write_hook(1);
    assert!(hook.on_write(0, u64::MAX).is_empty(), "LU without tokens");
    s.create(req(1, RodType::PointInTime, &[(0, 8), (16, 8)], "iqn.a"))
        .unwrap();
    assert_eq!(s.lu_tokens(&1).indexed_ranges(), 0);
    assert!(hook.on_write(0, 100).is_empty());
    let c = s.create(cv(1, &[(0, 8), (16, 8), (40, 0)])).unwrap();
    assert_eq!(
        s.lu_tokens(&1).indexed_ranges(),
        2,
        "empty range not indexed"
    );
    assert!(
        hook.on_write(40, 0).is_empty(),
        "a zero-length write touches nothing"
    );
    assert_eq!(hook.on_write(23, 1), vec![c.info.id]);
    assert_eq!(s.lu_tokens(&1).indexed_ranges(), 0);
}

#[test]
fn touch_of_an_expired_token_says_expired() {
    let (s, clock) = store();
    let c = s.create(cv(1, &[(0, 8)])).unwrap();
    clock.advance(secs(60));
    assert_eq!(s.touch(c.info.id), Err(TokenError::Expired));
    assert_eq!(s.delete(c.info.id), Err(TokenError::Expired));
    assert_eq!(s.cancel(c.info.id), Err(TokenError::Expired));
}

#[test]
fn every_single_byte_flip_of_a_live_token_is_refused_by_the_store() {
    let (s, _) = store();
    let c = s.create(cv(1, &[(0, 8)])).unwrap();
    for i in 0..c.token.len() {
        let mut t = c.token;
        t[i] ^= 0x01;
        match s.lookup(&t) {
            Err(TokenError::Corrupt)
            | Err(TokenError::InvalidLength)
            | Err(TokenError::UnsupportedType(_)) => {}
            other => panic!("byte {i}: {other:?}"),
        }
    }
    assert!(matches!(s.lookup(&c.token), Ok(Lookup::Token(_))));
}
