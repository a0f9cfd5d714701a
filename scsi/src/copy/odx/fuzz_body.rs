// The body of the `odx_params` fuzz target, shared with the unit test
// that runs it over random and mutated inputs (`fuzz_tests.rs`): both
// `include!` this file after importing `odx`'s items, so it names them
// unqualified. Arbitrary Data-Out through both parameter-list parsers
// gives a validated request or a SCSI error, never a panic; a request
// that parses respects the limits and the LU.

/// Check both parsers on `data` against a 512-byte-block LU of `capacity`
/// blocks; returns how many of the two parsed.
pub fn check_odx_parsers(data: &[u8], capacity: u64) -> usize {
    let limits = OdxLimits::default();
    let lu = LuExtent {
        capacity_blocks: capacity,
        block_size: 512,
    };
    let types = [RodTypeSupport {
        rod_type: rod_type::POINT_IN_TIME_CHANGE_VULNERABLE,
        ecpy_int: false,
        token_in: true,
        token_out: true,
        preference: 0,
    }];
    let max_blocks = limits.max_token_transfer_blocks(lu.block_size);
    let ok = |ranges: &[BlockRange], total: u64| {
        assert!(ranges.len() <= usize::from(limits.max_range_descriptors));
        let sum: u64 = ranges.iter().map(|r| u64::from(r.blocks)).sum();
        assert_eq!(sum, total);
        assert!(total <= max_blocks);
        for (i, r) in ranges.iter().enumerate() {
            assert!(r.blocks > 0);
            assert!(r.lba + u64::from(r.blocks) <= lu.capacity_blocks);
            for o in &ranges[..i] {
                assert!(
                    r.lba + u64::from(r.blocks) <= o.lba || o.lba + u64::from(o.blocks) <= r.lba
                );
            }
        }
    };
    let mut parsed = 0;
    if let Ok(pt) = parse_populate_token(data, &limits, &types, &lu) {
        ok(&pt.ranges, pt.total_blocks);
        assert!(pt.inactivity_timeout_secs <= limits.max_inactivity_timeout_secs);
        assert!(pt.inactivity_timeout_secs > 0);
        if let Some(t) = pt.rod_type {
            assert!(rod_type::is_point_in_time(t));
        }
        parsed += 1;
    }
    if let Ok(wut) = parse_write_using_token(data, &limits, &lu) {
        ok(&wut.ranges, wut.total_blocks);
        assert_eq!(&wut.rod_token[..], &data[16..16 + ROD_TOKEN_LEN]);
        let _ = offset_into_rod(wut.offset_into_rod, lu.block_size, 1 << 40);
        parsed += 1;
    }
    parsed
}
