#![no_main]
//! POPULATE TOKEN and WRITE USING TOKEN parameter lists: arbitrary Data-Out
//! through both parsers must give a validated request or a SCSI error,
//! never a panic; a parsed request respects the advertised limits and lies
//! inside the logical unit, with no LBA in two ranges. The body is shared
//! with the scsi crate's unit test that runs it over random and mutated
//! inputs (scsi/src/copy/odx/fuzz_tests.rs).
use libfuzzer_sys::fuzz_target;
use scsi::copy::odx::*;

include!("../../scsi/src/copy/odx/fuzz_body.rs");

fuzz_target!(|data: &[u8]| {
    // A small LU (ranges often past its end) and the largest one (LBA
    // arithmetic at the top of u64).
    check_odx_parsers(data, 1000);
    check_odx_parsers(data, u64::MAX);
});
