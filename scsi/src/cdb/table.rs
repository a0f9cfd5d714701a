//! The one table of supported commands, sorted by (opcode, service action).
//!
//! Usage masks follow the CDB layouts of SPC-5 and SBC-4; a bit is in the
//! mask when the device server looks at it. Obsolete fields that initiators
//! still send (e.g. SYNC_NV) are accepted and ignored. The CONTROL byte mask
//! is 0: NACA and LINK are not supported (SAM-5 5.2). GROUP NUMBER is
//! accepted and ignored (no grouping function; libiscsi expects GOOD).

use super::{DataDir, DataOut, Flags, Handler, HandlerFuture, OpcodeEntry};
use crate::command::CommandCtx;
use crate::{sbc, spc};

/// Wraps an `async fn(&CommandCtx<'_>) -> CommandResult` into a [`Handler`].
macro_rules! h {
    ($f:path) => {{
        fn wrap<'a, 'b>(ctx: &'a CommandCtx<'b>) -> HandlerFuture<'a> {
            Box::pin($f(ctx))
        }
        wrap as Handler
    }};
}

/// Default (nominal, recommended) command timeouts in seconds.
const TIMEOUTS: (u32, u32) = (0, 30);

const NONE: Flags = Flags(0);
const UA_OK: Flags = Flags::UA_ALLOWED.union(Flags::NO_LUN_OK);
const WM: Flags = Flags::WRITES_MEDIUM;

#[allow(clippy::too_many_arguments)]
const fn row(
    opcode: u8,
    service_action: Option<u16>,
    name: &'static str,
    usage: &'static [u8],
    dir: DataDir,
    data_out: DataOut,
    handler: Handler,
    flags: Flags,
) -> OpcodeEntry {
    OpcodeEntry {
        opcode,
        service_action,
        name,
        usage,
        dir,
        data_out,
        handler,
        flags,
        timeouts: TIMEOUTS,
    }
}

use DataDir::{In, None as NoData, Out};

const fn blocks(offset: u8, width: u8) -> DataOut {
    DataOut::Blocks { offset, width }
}
const fn bytes(offset: u8, width: u8) -> DataOut {
    DataOut::Bytes { offset, width }
}

#[rustfmt::skip]
pub static TABLE: &[OpcodeEntry] = &[
    row(0x00, None, "TEST_UNIT_READY", &[0x00, 0, 0, 0, 0, 0],
        NoData, DataOut::None, h!(spc::unit::test_unit_ready), NONE),
    row(0x03, None, "REQUEST_SENSE", &[0x03, 0x01, 0, 0, 0xFF, 0],
        In, DataOut::None, h!(spc::request_sense::request_sense), UA_OK),
    row(0x08, None, "READ_6", &[0x08, 0x1F, 0xFF, 0xFF, 0xFF, 0],
        In, DataOut::None, h!(sbc::read::read6), NONE),
    row(0x0A, None, "WRITE_6", &[0x0A, 0x1F, 0xFF, 0xFF, 0xFF, 0],
        Out, DataOut::Blocks6, h!(sbc::write::write6), WM),
    row(0x12, None, "INQUIRY", &[0x12, 0x01, 0xFF, 0xFF, 0xFF, 0],
        In, DataOut::None, h!(spc::inquiry::inquiry), UA_OK),
    row(0x15, None, "MODE_SELECT_6", &[0x15, 0x10, 0, 0, 0xFF, 0],
        Out, bytes(4, 1), h!(spc::mode::mode_select6), NONE),
    row(0x1A, None, "MODE_SENSE_6", &[0x1A, 0x08, 0xFF, 0xFF, 0xFF, 0],
        In, DataOut::None, h!(spc::mode::mode_sense6), NONE),
    row(0x1B, None, "START_STOP_UNIT", &[0x1B, 0x01, 0, 0x0F, 0xF7, 0],
        NoData, DataOut::None, h!(spc::unit::start_stop_unit), NONE),
    row(0x1E, None, "PREVENT_ALLOW_MEDIUM_REMOVAL", &[0x1E, 0, 0, 0, 0x03, 0],
        NoData, DataOut::None, h!(spc::unit::prevent_allow_medium_removal), NONE),
    row(0x25, None, "READ_CAPACITY_10", &[0x25, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0x01, 0],
        In, DataOut::None, h!(sbc::capacity::read_capacity10), NONE),
    row(0x28, None, "READ_10", &[0x28, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0],
        In, DataOut::None, h!(sbc::read::read10), NONE),
    row(0x2A, None, "WRITE_10", &[0x2A, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0],
        Out, blocks(7, 2), h!(sbc::write::write10), WM),
    row(0x2E, None, "WRITE_AND_VERIFY_10", &[0x2E, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0],
        Out, blocks(7, 2), h!(sbc::verify::write_verify10), WM),
    row(0x2F, None, "VERIFY_10", &[0x2F, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0],
        Out, DataOut::Verify { offset: 7, width: 2 }, h!(sbc::verify::verify10), NONE),
    row(0x34, None, "PRE_FETCH_10", &[0x34, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0],
        NoData, DataOut::None, h!(sbc::prefetch::prefetch10), NONE),
    row(0x35, None, "SYNCHRONIZE_CACHE_10", &[0x35, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0],
        NoData, DataOut::None, h!(sbc::sync::synchronize_cache10), NONE),
    row(0x41, None, "WRITE_SAME_10", &[0x41, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0],
        Out, DataOut::OneBlock, h!(sbc::write_same::write_same10), WM),
    row(0x42, None, "UNMAP", &[0x42, 0, 0, 0, 0, 0, 0x3F, 0xFF, 0xFF, 0],
        Out, bytes(7, 2), h!(sbc::unmap::unmap), WM),
    row(0x55, None, "MODE_SELECT_10", &[0x55, 0x10, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0],
        Out, bytes(7, 2), h!(spc::mode::mode_select10), NONE),
    row(0x5A, None, "MODE_SENSE_10", &[0x5A, 0x18, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0],
        In, DataOut::None, h!(spc::mode::mode_sense10), NONE),
    // THIRD PARTY COPY OUT / IN (SPC-5 6.5, 6.19, 6.20, 6.22). EXTENDED
    // COPY does not carry WRITES_MEDIUM: the copy manager checks the
    // destination LU itself (DATA PROTECT for a read-only one).
    row(0x83, Some(0x00), "EXTENDED_COPY", &[0x83, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        Out, bytes(10, 4), h!(crate::copy::extended_copy), NONE),
    row(0x84, Some(0x00), "RECEIVE_COPY_STATUS", &[0x84, 0x00, 0xFF, 0, 0, 0, 0, 0, 0, 0,
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, DataOut::None, h!(crate::copy::receive_copy_results), NONE),
    row(0x84, Some(0x03), "RECEIVE_COPY_OPERATING_PARAMETERS", &[0x84, 0x03, 0, 0, 0, 0, 0, 0, 0, 0,
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, DataOut::None, h!(crate::copy::receive_copy_results), NONE),
    row(0x84, Some(0x04), "RECEIVE_COPY_FAILURE_DETAILS", &[0x84, 0x04, 0xFF, 0, 0, 0, 0, 0, 0, 0,
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, DataOut::None, h!(crate::copy::receive_copy_results), NONE),
    row(0x88, None, "READ_16", &[0x88, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        In, DataOut::None, h!(sbc::read::read16), NONE),
    row(0x89, None, "COMPARE_AND_WRITE", &[0x89, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0, 0, 0, 0xFF, 0x3F, 0],
        Out, DataOut::CompareAndWrite, h!(sbc::caw::compare_and_write), WM),
    row(0x8A, None, "WRITE_16", &[0x8A, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        Out, blocks(10, 4), h!(sbc::write::write16), WM),
    // ORWRITE(16), SBC-4 5.12: ORPROTECT (byte 1 bits 7..5) must be 0.
    row(0x8B, None, "ORWRITE_16", &[0x8B, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0],
        Out, blocks(10, 4), h!(sbc::orwrite::orwrite16), WM),
    row(0x8E, None, "WRITE_AND_VERIFY_16", &[0x8E, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        Out, blocks(10, 4), h!(sbc::verify::write_verify16), WM),
    row(0x8F, None, "VERIFY_16", &[0x8F, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        Out, DataOut::Verify { offset: 10, width: 4 }, h!(sbc::verify::verify16), NONE),
    row(0x90, None, "PRE_FETCH_16", &[0x90, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        NoData, DataOut::None, h!(sbc::prefetch::prefetch16), NONE),
    row(0x91, None, "SYNCHRONIZE_CACHE_16", &[0x91, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        NoData, DataOut::None, h!(sbc::sync::synchronize_cache16), NONE),
    row(0x93, None, "WRITE_SAME_16", &[0x93, 0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        Out, DataOut::WriteSame16, h!(sbc::write_same::write_same16), WM),
    row(0x9E, Some(0x10), "READ_CAPACITY_16", &[0x9E, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0],
        In, DataOut::None, h!(sbc::capacity::read_capacity16), NONE),
    row(0x9E, Some(0x12), "GET_LBA_STATUS", &[0x9E, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x03, 0],
        In, DataOut::None, h!(sbc::lba_status::get_lba_status), NONE),
    row(0xA0, None, "REPORT_LUNS", &[0xA0, 0, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, DataOut::None, h!(spc::report_luns::report_luns), UA_OK),
    row(0xA3, Some(0x0C), "REPORT_SUPPORTED_OPERATION_CODES",
        &[0xA3, 0x0C, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, DataOut::None, h!(spc::rsoc::report_supported_operation_codes), NONE),
    row(0xA8, None, "READ_12", &[0xA8, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        In, DataOut::None, h!(sbc::read::read12), NONE),
    row(0xAA, None, "WRITE_12", &[0xAA, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        Out, blocks(6, 4), h!(sbc::write::write12), WM),
    row(0xAE, None, "WRITE_AND_VERIFY_12", &[0xAE, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        Out, blocks(6, 4), h!(sbc::verify::write_verify12), WM),
    row(0xAF, None, "VERIFY_12", &[0xAF, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        Out, DataOut::Verify { offset: 6, width: 4 }, h!(sbc::verify::verify12), NONE),
];
