#![no_main]
// Placeholder: the owner of this parser replaces the body with a real call.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = data;
});
