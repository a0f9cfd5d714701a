//! An interval set over LBA ranges: the revocation index of one LU.
//!
//! A treap (BST by range start, heap by a random priority) whose nodes also
//! keep the largest range end of their subtree, so an overlap query skips
//! every subtree that ends before the queried range. Expected height is
//! O(log n) whatever the ranges, because priorities come from a keyed hash
//! ([`RandomState`], random per process) that initiators cannot predict; a
//! query costs O(log n) when nothing overlaps and at most one root-to-leaf
//! path per reported range otherwise.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// Identifies one range of one token: (start LBA, token id, range index).
pub(crate) type Key = (u64, u64, u32);

type Link = Option<Box<Node>>;

struct Node {
    key: Key,
    /// Exclusive end LBA.
    end: u64,
    prio: u64,
    max_end: u64,
    left: Link,
    right: Link,
}

fn max_end(l: &Link) -> u64 {
    l.as_ref().map_or(0, |n| n.max_end)
}

fn fix(n: &mut Node) {
    n.max_end = n.end.max(max_end(&n.left)).max(max_end(&n.right));
}

/// Splits into (keys < key, keys >= key).
fn split(t: Link, key: &Key) -> (Link, Link) {
    match t {
        None => (None, None),
        Some(mut n) => {
            if n.key < *key {
                let (l, r) = split(n.right.take(), key);
                n.right = l;
                fix(&mut n);
                (Some(n), r)
            } else {
                let (l, r) = split(n.left.take(), key);
                n.left = r;
                fix(&mut n);
                (l, Some(n))
            }
        }
    }
}

/// Joins two treaps where every key of `a` is below every key of `b`.
fn merge(a: Link, b: Link) -> Link {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(mut a), Some(mut b)) => {
            if a.prio >= b.prio {
                a.right = merge(a.right.take(), Some(b));
                fix(&mut a);
                Some(a)
            } else {
                b.left = merge(Some(a), b.left.take());
                fix(&mut b);
                Some(b)
            }
        }
    }
}

/// Removes `key`; returns whether it was there.
fn remove(t: &mut Link, key: &Key) -> bool {
    let Some(n) = t else { return false };
    let found = if *key < n.key {
        remove(&mut n.left, key)
    } else if *key > n.key {
        remove(&mut n.right, key)
    } else {
        let (l, r) = (n.left.take(), n.right.take());
        *t = merge(l, r);
        return true;
    };
    fix(n);
    found
}

/// A set of half-open LBA ranges, each tagged with its token.
pub(crate) struct IntervalSet {
    root: Link,
    len: usize,
    hasher: RandomState,
}

impl Default for IntervalSet {
    fn default() -> Self {
        IntervalSet {
            root: None,
            len: 0,
            hasher: RandomState::new(),
        }
    }
}

impl IntervalSet {
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds [start, end) under `key` (key.0 must be `start`). Empty ranges
    /// are not stored: they overlap nothing.
    pub(crate) fn insert(&mut self, key: Key, end: u64) {
        if end <= key.0 {
            return;
        }
        let node = Box::new(Node {
            key,
            end,
            prio: self.hasher.hash_one(key),
            max_end: end,
            left: None,
            right: None,
        });
        let (l, r) = split(self.root.take(), &key);
        self.root = merge(merge(l, Some(node)), r);
        self.len += 1;
    }

    pub(crate) fn remove(&mut self, key: &Key) {
        if remove(&mut self.root, key) {
            self.len -= 1;
        }
    }

    /// Calls `f` with the token id of every range overlapping [a, b).
    pub(crate) fn overlapping(&self, a: u64, b: u64, mut f: impl FnMut(u64)) {
        if a >= b {
            return;
        }
        let mut stack: Vec<&Node> = Vec::new();
        if let Some(n) = &self.root {
            stack.push(n);
        }
        while let Some(n) = stack.pop() {
            if n.max_end <= a {
                continue;
            }
            if let Some(l) = &n.left {
                stack.push(l);
            }
            if n.key.0 < b {
                if n.end > a {
                    f(n.key.1);
                }
                if let Some(r) = &n.right {
                    stack.push(r);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::codec::tests::XorShift;

    /// Checks the BST, heap and max-end invariants of a subtree.
    fn check(l: &Link) -> u64 {
        match l {
            None => 0,
            Some(n) => {
                let m = n.end.max(check(&n.left)).max(check(&n.right));
                assert_eq!(m, n.max_end, "max_end of {:?}", n.key);
                if let Some(x) = &n.left {
                    assert!(x.key < n.key && x.prio <= n.prio);
                }
                if let Some(x) = &n.right {
                    assert!(x.key > n.key && x.prio <= n.prio);
                }
                m
            }
        }
    }

    fn brute(v: &[(Key, u64)], a: u64, b: u64) -> Vec<u64> {
        let mut r: Vec<u64> = v
            .iter()
            .filter(|(k, e)| k.0 < b && *e > a && k.0 < *e)
            .map(|(k, _)| k.1)
            .collect();
        r.sort_unstable();
        r
    }

    fn query(s: &IntervalSet, a: u64, b: u64) -> Vec<u64> {
        let mut r = Vec::new();
        s.overlapping(a, b, |id| r.push(id));
        r.sort_unstable();
        r
    }

    #[test]
    fn overlap_is_half_open() {
        let mut s = IntervalSet::default();
        s.insert((10, 1, 0), 20);
        assert_eq!(query(&s, 0, 10), Vec::<u64>::new());
        assert_eq!(query(&s, 20, 30), Vec::<u64>::new());
        assert_eq!(query(&s, 9, 11), vec![1]);
        assert_eq!(query(&s, 19, 20), vec![1]);
        assert_eq!(query(&s, 0, u64::MAX), vec![1]);
        assert_eq!(query(&s, 15, 15), Vec::<u64>::new());
        s.insert((5, 2, 0), 5); // empty: not stored
        assert_eq!(s.len(), 1);
        s.remove(&(10, 1, 0));
        assert_eq!(s.len(), 0);
        assert_eq!(query(&s, 0, u64::MAX), Vec::<u64>::new());
    }

    #[test]
    fn matches_a_brute_force_model_under_random_inserts_and_removes() {
        let mut r = XorShift(12345);
        let mut s = IntervalSet::default();
        let mut model: Vec<(Key, u64)> = Vec::new();
        for step in 0..4000u64 {
            if !r.next().is_multiple_of(3) || model.is_empty() {
                let start = r.next() % 10_000;
                let end = start + r.next() % 500;
                let key = (start, step, 0);
                s.insert(key, end);
                if end > start {
                    model.push((key, end));
                }
            } else {
                let i = (r.next() as usize) % model.len();
                let (k, _) = model.swap_remove(i);
                s.remove(&k);
            }
            assert_eq!(s.len(), model.len());
            check(&s.root);
            let a = r.next() % 10_500;
            let b = a + 1 + r.next() % 300;
            assert_eq!(query(&s, a, b), brute(&model, a, b), "step {step}");
        }
    }

    #[test]
    fn sorted_inserts_keep_the_tree_shallow() {
        // Ascending starts would make a plain BST a list; the treap stays
        // balanced, so this neither overflows the stack nor takes long.
        let mut s = IntervalSet::default();
        for i in 0..200_000u64 {
            s.insert((i * 8, i, 0), i * 8 + 8);
        }
        assert_eq!(query(&s, 80, 81), vec![10]);
        for i in 0..200_000u64 {
            s.remove(&(i * 8, i, 0));
        }
        assert_eq!(s.len(), 0);
    }
}
