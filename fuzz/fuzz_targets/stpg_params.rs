#![no_main]
//! SET TARGET PORT GROUPS parameter lists (SPC-5 6.48): arbitrary Data-Out
//! and PARAMETER LIST LENGTH through the parser must give state changes of
//! existing groups (each at most once, to a settable state) or a SCSI
//! error, never a panic.
use libfuzzer_sys::fuzz_target;
use scsi::alua::stpg::parse;
use scsi::alua::{AccessState, PortGroup, TargetAlua};

fuzz_target!(|data: &[u8]| {
    let Some((len, list)) = data.split_first_chunk::<4>() else {
        return;
    };
    let alua = TargetAlua::new(
        true,
        vec![
            PortGroup::new(1, AccessState::ActiveOptimized, vec![1]),
            PortGroup::new(2, AccessState::Standby, vec![2, 3]),
        ],
    );
    if let Ok(changes) = parse(&alua, list, u32::from_be_bytes(*len)) {
        for (i, (g, _)) in changes.iter().enumerate() {
            assert!(alua.group(*g).is_some());
            assert!(!changes[..i].iter().any(|(h, _)| h == g));
        }
    }
});
