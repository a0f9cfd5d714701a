use super::*;

pub(crate) fn key(b: u8) -> MacKey {
    MacKey::from_bytes([b; 64])
}

pub(crate) fn sample(rod_type: RodType) -> RodToken {
    let naa = [0x60, 0x01, 0x40, 0x50, 0x11, 0x22, 0x33, 0x44];
    let mut rc16 = [0u8; 32];
    rc16[8..12].copy_from_slice(&512u32.to_be_bytes());
    rc16[13] = 0x03; // LBPPBE
    rc16[14] = 0xC0; // LBPME, LBPRZ
    let mut target = vec![0x53, 0xA8, 0x00, 0x14];
    target.extend_from_slice(b"iqn.2026-11.org.x\0\0\0");
    RodToken {
        rod_type,
        id: 0x0102_0304_0506_0708,
        creator: CreatorDescriptor::from_designator(0, 1, 0, 3, &naa, 512).unwrap(),
        bytes_represented: 0x1122_3344_5566,
        device: DeviceSpecific::from_read_capacity16(&rc16),
        target: TargetDescriptor::new(&target).unwrap(),
        nonce: [0xA5; NONCE_LEN],
    }
}

#[test]
fn encode_puts_every_field_at_its_offset() {
    let k = key(1);
    let t = sample(RodType::ChangeVulnerable).encode(&k);
    assert_eq!(t[0..4], [0x00, 0x80, 0x00, 0x01]);
    assert_eq!(t[4..6], [0, 0]);
    assert_eq!(t[6..8], [0x01, 0xF8]);
    assert_eq!(t[8..16], [1, 2, 3, 4, 5, 6, 7, 8]);
    // 0xE4 CSCD: type, PDT 0, port 0, code set 1, assoc 0 / NAA 3, len 8.
    assert_eq!(t[16..24], [0xE4, 0, 0, 0, 1, 3, 0, 8]);
    assert_eq!(t[24..32], [0x60, 0x01, 0x40, 0x50, 0x11, 0x22, 0x33, 0x44]);
    assert_eq!(t[32..44], [0; 12]);
    assert_eq!(t[44..48], [0, 0, 0x02, 0x00]); // disk block length 512
    let mut bytes = [0u8; 16];
    bytes[10..16].copy_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
    assert_eq!(t[48..64], bytes);
    assert_eq!(t[64..96], [0; 32]);
    assert_eq!(t[96..100], [0, 0, 2, 0]);
    assert_eq!(t[100..104], [0, 0x03, 0xC0, 0]);
    assert_eq!(t[104..128], [0; 24]);
    assert_eq!(t[128..132], [0x53, 0xA8, 0x00, 0x14]);
    assert_eq!(&t[132..152], b"iqn.2026-11.org.x\0\0\0");
    assert!(t[152..448].iter().all(|&b| b == 0));
    assert_eq!(t[448..480], [0xA5; 32]);
    assert_eq!(t[480..512], k.tag(&t[..480]));
}

#[test]
fn decode_returns_what_was_encoded() {
    let k = key(2);
    for rt in [RodType::PointInTime, RodType::ChangeVulnerable] {
        let tok = sample(rt);
        assert_eq!(decode(&tok.encode(&k), &k), Ok(Decoded::Token(tok)));
    }
}

#[test]
fn flipping_any_byte_is_never_accepted() {
    let k = key(3);
    for rt in [RodType::PointInTime, RodType::ChangeVulnerable] {
        let good = sample(rt).encode(&k);
        for i in 0..TOKEN_LEN {
            for mask in [0x01u8, 0x80, 0xFF] {
                let mut t = good;
                t[i] ^= mask;
                let r = decode(&t, &k);
                match r {
                    Err(TokenError::Corrupt)
                    | Err(TokenError::InvalidLength)
                    | Err(TokenError::UnsupportedType(_)) => {}
                    other => panic!("byte {i} ^ {mask:#x} gave {other:?}"),
                }
                if (6..8).contains(&i) {
                    assert_eq!(r, Err(TokenError::InvalidLength), "byte {i}");
                } else if i >= 4 {
                    assert_eq!(r, Err(TokenError::Corrupt), "byte {i}");
                }
            }
        }
    }
}

#[test]
fn a_token_of_another_key_is_corrupt() {
    let t = sample(RodType::PointInTime).encode(&key(4));
    assert_eq!(decode(&t, &key(5)), Err(TokenError::Corrupt));
}

#[test]
fn wrong_sizes_and_lengths_are_invalid_length() {
    let k = key(6);
    let good = sample(RodType::PointInTime).encode(&k);
    for n in [0, 1, 8, 511] {
        assert_eq!(decode(&good[..n], &k), Err(TokenError::InvalidLength));
    }
    let mut long = good.to_vec();
    long.push(0);
    assert_eq!(decode(&long, &k), Err(TokenError::InvalidLength));
    for len in [0u16, 0x01F7, 0x01F9, 0xFFFF] {
        let mut t = good;
        t[6..8].copy_from_slice(&len.to_be_bytes());
        assert_eq!(decode(&t, &k), Err(TokenError::InvalidLength));
    }
}

#[test]
fn other_rod_types_are_unsupported() {
    let k = key(7);
    let good = sample(RodType::PointInTime).encode(&k);
    for code in [
        rod_type::COPY_MANAGER_CHOOSES,
        rod_type::ACCESS_UPON_REFERENCE,
        rod_type::PERSISTENT,
        rod_type::POINT_IN_TIME_ANY,
        0xFFFF_0002,
        0xFFFF_FFFF,
    ] {
        let mut t = good;
        t[0..4].copy_from_slice(&code.to_be_bytes());
        assert_eq!(decode(&t, &k), Err(TokenError::UnsupportedType(code)));
    }
}

#[test]
fn the_zero_token_has_its_sbc4_layout_and_no_mac() {
    let z = zero_token();
    assert_eq!(z[0..8], [0xFF, 0xFF, 0x00, 0x01, 0, 0, 0x01, 0xF8]);
    assert!(z[8..].iter().all(|&b| b == 0));
    // Accepted under any key: it is well known.
    assert_eq!(decode(&z, &key(8)), Ok(Decoded::Zero));
    assert_eq!(decode(&z, &key(9)), Ok(Decoded::Zero));
    for i in (4..6).chain(8..TOKEN_LEN) {
        let mut t = z;
        t[i] = 1;
        assert_eq!(decode(&t, &key(8)), Err(TokenError::Corrupt), "byte {i}");
    }
    let mut t = z;
    t[7] = 0xF9;
    assert_eq!(decode(&t, &key(8)), Err(TokenError::InvalidLength));
}

#[test]
fn descriptors_are_validated() {
    assert!(CreatorDescriptor::new([0; 32]).is_err());
    let mut c = [0u8; 32];
    c[0] = 0xE4;
    c[7] = 21;
    assert!(CreatorDescriptor::new(c).is_err());
    c[7] = 20;
    assert!(CreatorDescriptor::new(c).is_ok());
    assert!(CreatorDescriptor::from_designator(0, 1, 0, 3, &[0; 21], 512).is_err());
    assert!(CreatorDescriptor::from_designator(0, 1, 0, 3, &[0; 8], 1 << 24).is_err());
    assert!(TargetDescriptor::new(&[]).is_err());
    assert!(TargetDescriptor::new(&[0, 0, 0, 1]).is_err());
    assert!(TargetDescriptor::new(&[0, 0, 0, 0]).is_ok());
    let mut max = vec![0u8; 4 + 255];
    max[3] = 255;
    assert!(
        TargetDescriptor::new(&max).is_ok(),
        "any designation descriptor fits"
    );
}

#[test]
fn the_longest_target_descriptor_round_trips() {
    let k = key(10);
    let mut tok = sample(RodType::PointInTime);
    let mut d = vec![0x5Au8; 4 + 255];
    d[3] = 255;
    tok.target = TargetDescriptor::new(&d).unwrap();
    let t = tok.encode(&k);
    assert_eq!(t[128..128 + 259], d[..]);
    assert_eq!(decode(&t, &k), Ok(Decoded::Token(tok)));
}

/// Small deterministic generator for the random-input tests.
pub(crate) struct XorShift(pub u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The body of `fuzz/fuzz_targets/rod_token.rs`, kept in step with it.
fn fuzz_body(data: &[u8]) {
    let k = key(0x42);
    if let Ok(Decoded::Token(t)) = decode(data, &k) {
        assert_eq!(
            t.encode(&k)[..],
            data[..],
            "an accepted token is what we made"
        );
    }
    if data.len() >= TOKEN_LEN {
        let good = sample(RodType::ChangeVulnerable).encode(&k);
        let mut t = good;
        for (b, m) in t.iter_mut().zip(data) {
            *b ^= m;
        }
        match decode(&t, &k) {
            Ok(Decoded::Token(_)) => assert_eq!(t, good, "an altered token was accepted"),
            Ok(Decoded::Zero) => assert_eq!(t, zero_token()),
            Err(_) => assert_ne!(t, good),
        }
    }
}

#[test]
fn random_inputs_never_panic_nor_pass() {
    let mut r = XorShift(0x9E37_79B9_7F4A_7C15);
    for round in 0..20_000 {
        let len = match round % 4 {
            0 => (r.next() % 600) as usize,
            _ => TOKEN_LEN,
        };
        let mut data: Vec<u8> = (0..len).map(|_| r.next() as u8).collect();
        if round % 3 == 0 && len >= 8 {
            // Make the header plausible so the MAC check is reached.
            data[0..8].copy_from_slice(&[0x00, 0x80, 0x00, (round % 2) as u8, 0, 0, 0x01, 0xF8]);
        }
        if round % 5 == 0 {
            // A sparse mask: few bytes altered.
            for b in data.iter_mut() {
                if !r.next().is_multiple_of(64) {
                    *b = 0;
                }
            }
        }
        fuzz_body(&data);
    }
    fuzz_body(&[0u8; TOKEN_LEN]);
}
