//! The `odx_params` fuzz target's body (`fuzz_body.rs`) over random and
//! mutated inputs, since cargo-fuzz needs a nightly toolchain: no input
//! may panic either parser.

use super::params::build::{pt, token, wut};
use super::*;

include!("fuzz_body.rs");

/// xorshift64*: deterministic, so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Valid lists to mutate: both commands, a few ranges, some near the
/// capacity.
fn seeds() -> Vec<Vec<u8>> {
    let t = token(rod_type::POINT_IN_TIME_CHANGE_VULNERABLE);
    vec![
        pt(
            0x03,
            30,
            rod_type::POINT_IN_TIME_CHANGE_VULNERABLE,
            &[(0, 8), (16, 8)],
        ),
        pt(0, 0, 0, &(0..64).map(|i| (i * 10, 5)).collect::<Vec<_>>()),
        wut(0x02, 4, &t, &[(100, 50), (0, 0), (900, 100)]),
        wut(0, 0, &t, &(0..64).map(|i| (i * 3, 3)).collect::<Vec<_>>()),
    ]
}

#[test]
fn seeds_parse() {
    let s = seeds();
    for d in &s {
        assert_eq!(check_odx_parsers(d, 1000), 1);
    }
}

#[test]
fn random_and_mutated_inputs_never_panic() {
    let seeds = seeds();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0;
    for round in 0..6000 {
        let mut d = if round % 4 == 0 {
            let len = rng.below(700);
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            seeds[rng.below(seeds.len())].clone()
        };
        for _ in 0..1 + rng.below(4) {
            match rng.below(5) {
                0 if !d.is_empty() => {
                    let i = rng.below(d.len());
                    d[i] = rng.next() as u8;
                }
                1 if !d.is_empty() => {
                    // Hit a length or flag field.
                    let fields = [0usize, 1, 2, 4, 8, 11, 14, 15, 534, 535];
                    let i = fields[rng.below(fields.len())];
                    if i < d.len() {
                        d[i] = rng.next() as u8;
                    }
                }
                2 => d.truncate(rng.below(d.len() + 1)),
                3 => d.extend((0..rng.below(40)).map(|_| rng.next() as u8)),
                _ => {}
            }
        }
        parsed += check_odx_parsers(&d, 1 + rng.next() % 2000);
    }
    // The mutations leave many lists valid: the checks above ran.
    assert!(parsed > 500, "{parsed}");
}

/// Every prefix of a valid list: an error or (past the first complete
/// range) a shorter valid list, never a panic.
#[test]
fn every_prefix() {
    for d in seeds() {
        for n in 0..=d.len() {
            let _ = check_odx_parsers(&d[..n], 1000);
        }
    }
}
