#![no_main]
//! ROD tokens: arbitrary bytes presented as a WRITE USING TOKEN's token must
//! decode to an error or to a token this store issued, never panic; a real
//! token altered by the input (XOR mask) must never be accepted.
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tokens::codec::{decode, zero_token, Decoded};
use tokens::mac::MacKey;
use tokens::{
    BlockRange, CreatorDescriptor, DeviceSpecific, Lookup, ManualClock, NewToken, Owner, RodType,
    StoreConfig, TargetDescriptor, TokenStore, TOKEN_LEN,
};

struct World {
    store: TokenStore<u32, ManualClock>,
    key: MacKey,
    token: [u8; TOKEN_LEN],
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let key = MacKey::from_bytes([0x42; 64]);
        let store = TokenStore::with_key(StoreConfig::default(), ManualClock::new(), key.clone());
        let mut target = vec![0x53, 0xA8, 0x00, 0x08];
        target.extend_from_slice(b"iqn.fuzz");
        let created = store
            .create(NewToken {
                lu: 0,
                rod_type: RodType::ChangeVulnerable,
                ranges: vec![BlockRange { lba: 0, count: 8 }],
                block_size: 512,
                inactivity_timeout_secs: 0,
                owner: Owner {
                    nexus: 1,
                    initiator: "iqn.fuzz.initiator".into(),
                },
                creator: CreatorDescriptor::from_designator(0, 1, 0, 3, &[0x60; 8], 512)
                    .expect("valid creator"),
                device: DeviceSpecific([0; 24]),
                target: TargetDescriptor::new(&target).expect("valid target"),
            })
            .expect("token");
        World {
            store,
            key,
            token: created.token,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    if let Ok(Decoded::Token(t)) = decode(data, &w.key) {
        assert_eq!(
            t.encode(&w.key)[..],
            data[..],
            "an accepted token is what we made"
        );
    }
    if let Ok(Lookup::Token(info)) = w.store.lookup(data) {
        assert_eq!(data, &w.token[..]);
        assert_eq!(info.lu, 0);
    }
    if data.len() >= TOKEN_LEN {
        let mut t = w.token;
        for (b, m) in t.iter_mut().zip(data) {
            *b ^= m;
        }
        match w.store.lookup(&t) {
            Ok(Lookup::Token(_)) => assert_eq!(t, w.token, "an altered token was accepted"),
            Ok(Lookup::Zero) => assert_eq!(t, zero_token()),
            Err(_) => assert_ne!(t, w.token),
        }
    }
});
