//! Every handler on random CDB bytes and random Data-Out never panics.

use super::{exec, Harness};
use crate::backend::MemoryBackend;
use crate::sbc::{
    capacity, caw, lba_status, prefetch, read, sync, unmap, verify, write, write_same,
};
use std::sync::Arc;

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// A CDB of random length with `op` at byte 0 most of the time, and
    /// small LBA/length values often enough to reach the I/O paths.
    fn cdb(&mut self, op: u8) -> Vec<u8> {
        let len = match self.next() % 8 {
            0 => (self.next() % 33) as usize,
            1 => 6,
            2 => 10,
            3 => 12,
            _ => 16,
        };
        let mut c = self.bytes(len);
        if !self.next().is_multiple_of(4) {
            if let Some(b) = c.first_mut() {
                *b = op;
            }
        }
        if self.next().is_multiple_of(2) {
            // Zero the high bytes of the LBA and length fields.
            for i in [2usize, 3, 4, 5, 6, 7, 10, 11, 12] {
                if let Some(b) = c.get_mut(i) {
                    *b = 0;
                }
            }
        }
        c
    }
}

macro_rules! fuzz {
    ($h:expr, $rng:expr, $op:expr, $($f:path),+) => {
        $(
            for _ in 0..400 {
                let cdb = $rng.cdb($op);
                let n = match $rng.next() % 4 {
                    0 => 0,
                    1 => 512,
                    2 => 1024,
                    _ => ($rng.next() % 4096) as usize,
                };
                let data = $rng.bytes(n);
                let _ = exec!($h, $f, cdb, data);
            }
        )+
    };
}

#[tokio::test]
async fn handlers_survive_random_cdbs() {
    use crate::sbc::cdb::*;
    let h = Harness::with(Arc::new(MemoryBackend::new(4 << 20)), 512, false);
    let ro = Harness::with(Arc::new(MemoryBackend::new(64 << 10)), 4096, true);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for h in [&h, &ro] {
        fuzz!(h, rng, READ_6, read::read6);
        fuzz!(h, rng, READ_10, read::read10);
        fuzz!(h, rng, READ_12, read::read12);
        fuzz!(h, rng, READ_16, read::read16);
        fuzz!(h, rng, WRITE_6, write::write6);
        fuzz!(h, rng, WRITE_10, write::write10);
        fuzz!(h, rng, WRITE_12, write::write12);
        fuzz!(h, rng, WRITE_16, write::write16);
        fuzz!(h, rng, VERIFY_10, verify::verify10);
        fuzz!(h, rng, VERIFY_12, verify::verify12);
        fuzz!(h, rng, VERIFY_16, verify::verify16);
        fuzz!(h, rng, WRITE_AND_VERIFY_10, verify::write_verify10);
        fuzz!(h, rng, WRITE_AND_VERIFY_12, verify::write_verify12);
        fuzz!(h, rng, WRITE_AND_VERIFY_16, verify::write_verify16);
        fuzz!(h, rng, WRITE_SAME_10, write_same::write_same10);
        fuzz!(h, rng, WRITE_SAME_16, write_same::write_same16);
        fuzz!(h, rng, UNMAP, unmap::unmap);
        fuzz!(h, rng, SERVICE_ACTION_IN_16, lba_status::get_lba_status);
        fuzz!(h, rng, COMPARE_AND_WRITE, caw::compare_and_write);
        fuzz!(h, rng, SYNCHRONIZE_CACHE_10, sync::synchronize_cache10);
        fuzz!(h, rng, SYNCHRONIZE_CACHE_16, sync::synchronize_cache16);
        fuzz!(h, rng, PRE_FETCH_10, prefetch::prefetch10);
        fuzz!(h, rng, PRE_FETCH_16, prefetch::prefetch16);
        fuzz!(h, rng, READ_CAPACITY_10, capacity::read_capacity10);
        fuzz!(h, rng, SERVICE_ACTION_IN_16, capacity::read_capacity16);
    }
}

#[tokio::test]
async fn unmap_parameter_lists_truncated_at_every_prefix() {
    let h = Harness::with(Arc::new(MemoryBackend::new(1 << 20)), 512, false);
    let mut list = vec![0, 38, 0, 32, 0, 0, 0, 0];
    for lba in [1u64, 9] {
        list.extend_from_slice(&lba.to_be_bytes());
        list.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
    }
    for n in 0..=list.len() {
        let mut c = [0u8; 10];
        c[0] = crate::sbc::cdb::UNMAP;
        c[8] = list.len() as u8;
        let r = exec!(h, unmap::unmap, c, list[..n].to_vec());
        // Fewer than 8 bytes: nothing to do; a truncated list is a length error.
        if n < 8 || n == list.len() {
            assert!(r.is_ok(), "prefix {n}: {r:?}");
        } else {
            assert_eq!(
                r.unwrap_err(),
                crate::sense::ScsiError::ParameterListLengthError
            );
        }
    }
}
