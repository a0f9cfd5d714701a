#![no_main]
//! EXTENDED COPY (LID1) parameter list parser: arbitrary Data-Out must
//! give a parsed list or a SCSI error, never a panic, and a parsed list
//! must respect the advertised limits.
use libfuzzer_sys::fuzz_target;
use scsi::copy::params::{parse_lid1, CopyLimits, Designator};

fuzz_target!(|data: &[u8]| {
    let limits = CopyLimits::default();
    if let Ok(list) = parse_lid1(data, &limits) {
        assert!(list.cscds.len() <= usize::from(limits.max_cscd_descriptors));
        assert!(list.segments.len() <= usize::from(limits.max_segment_descriptors));
    }
    let _ = Designator::from_vpd83_page(data);
});
