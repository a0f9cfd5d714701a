//! Big-endian field access shared by the CDB and parameter-list parsers.

/// The unsigned big-endian integer of `len` bytes (at most 8) at `at` in
/// `b`, or `None` when `b` is too short. Callers map `None` to the sense
/// their standard prescribes (INVALID FIELD IN CDB, PARAMETER LIST LENGTH
/// ERROR, ...).
pub(crate) fn be_uint(b: &[u8], at: usize, len: usize) -> Option<u64> {
    if len > 8 {
        return None;
    }
    let bytes = b.get(at..at.checked_add(len)?)?;
    Some(bytes.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
}

#[cfg(test)]
mod tests {
    use super::be_uint;

    #[test]
    fn reads_in_bounds_and_refuses_the_rest() {
        let b = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09];
        assert_eq!(be_uint(&b, 0, 0), Some(0));
        assert_eq!(be_uint(&b, 1, 2), Some(0x0203));
        assert_eq!(be_uint(&b, 1, 8), Some(0x0203_0405_0607_0809));
        assert_eq!(be_uint(&b, 2, 8), None);
        assert_eq!(be_uint(&b, 0, 9), None);
        assert_eq!(be_uint(&b, usize::MAX, 2), None);
        assert_eq!(be_uint(&b, 9, 1), None);
    }
}
