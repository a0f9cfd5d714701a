#![no_main]
//! RFC 7143 6.1 text codec: arbitrary bytes must parse to a typed error or
//! to records that re-encode to a segment parsing to the same records.
use iscsi::text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = text::parse(data) {
        let encoded = text::encode(
            records
                .iter()
                .map(|kv| (kv.key.as_str(), kv.value.as_str())),
        );
        assert!(encoded.len() <= data.len());
        assert_eq!(text::parse(&encoded).ok(), Some(records));
    }
    // CHAP binary values come from the same text: decoding must not panic.
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = iscsi::auth::chap::decode_binary(s);
        let _ = iscsi::auth::chap::parse_identifier(s);
    }
});
