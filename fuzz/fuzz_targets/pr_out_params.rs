#![no_main]
//! PERSISTENT RESERVE OUT: an arbitrary CDB (first 10 bytes) and
//! parameter list through the parser and, when it parses, through every
//! service action on a state with two registrations; never a panic, and a
//! failed service action leaves the state as it was. TransportIDs and the
//! APTPL file decoder get the same bytes.
use libfuzzer_sys::fuzz_target;
use scsi::pr::{out, persist, transport_id, NexusIdent, PrData};

fuzz_target!(|data: &[u8]| {
    let (cdb, params) = data.split_at(data.len().min(10));
    let mut cdb = cdb.to_vec();
    cdb.resize(10, 0);
    cdb[0] = 0x5F;
    let _ = transport_id::parse(params, 0);
    if let Ok(text) = std::str::from_utf8(params) {
        let _ = persist::decode(text);
    }
    for ptpl in [false, true] {
        let Ok(req) = out::parse(&cdb, params, ptpl) else {
            continue;
        };
        let a = NexusIdent::new("iqn.a", "iqn.a,i,0x000000000001", "iqn.t", 1);
        let b = NexusIdent::new("iqn.b", "iqn.b,i,0x000000000002", "iqn.t", 1);
        let mut d = PrData::default();
        for (who, key) in [(&a, 1u64), (&b, 2)] {
            let mut p = vec![0u8; 24];
            p[8..16].copy_from_slice(&key.to_be_bytes());
            let reg = out::parse(&[0x5F, 0, 0, 0, 0, 0, 0, 0, 24, 0], &p, true).unwrap();
            out::apply(&mut d, who, &reg).unwrap();
        }
        for who in [&a, &b] {
            let before = d.clone();
            if out::apply(&mut d, who, &req).is_err() {
                assert_eq!(d, before);
            }
        }
    }
});
