//! The one table of supported commands, sorted by (opcode, service action).
//!
//! Usage masks follow the CDB layouts of SPC-5 and SBC-4; a bit is in the
//! mask when the device server looks at it. Obsolete fields that initiators
//! still send (e.g. SYNC_NV) are accepted and ignored. The CONTROL byte mask
//! is 0: NACA and LINK are not supported (SAM-5 5.2). GROUP NUMBER is
//! accepted and ignored (no grouping function; libiscsi expects GOOD).

use super::opcodes::*;
use super::{DataDir, DataOut, Flags, Handler, HandlerFuture, OpcodeEntry, UnmappedHandler};
use crate::command::CommandCtx;
use crate::copy::odx::cdb::{
    SA_COPY_OPERATION_ABORT, SA_POPULATE_TOKEN, SA_RECEIVE_COPY_STATUS_LID4,
    SA_RECEIVE_ROD_TOKEN_INFORMATION, SA_REPORT_ALL_ROD_TOKENS, SA_WRITE_USING_TOKEN,
};
use crate::copy::{self, CopyManager};
use crate::pr::{handlers as pr, PrAccess};
use crate::{alua, sbc, spc};

/// Wraps an `async fn(&CommandCtx<'_>) -> CommandResult` into a
/// [`Handler::Lu`].
macro_rules! lu {
    ($f:path) => {{
        fn wrap<'a, 'b>(ctx: &'a CommandCtx<'b>) -> HandlerFuture<'a> {
            Box::pin($f(ctx))
        }
        Handler::Lu(wrap)
    }};
}

/// Wraps an `async fn(&CopyManager, &CommandCtx<'_>) -> CommandResult`
/// into a [`Handler::Copy`].
macro_rules! cm {
    ($f:path) => {{
        fn wrap<'a, 'b>(m: &'a CopyManager, ctx: &'a CommandCtx<'b>) -> HandlerFuture<'a> {
            Box::pin($f(m, ctx))
        }
        Handler::Copy(wrap)
    }};
}

/// Default (nominal, recommended) command timeouts in seconds.
const TIMEOUTS: (u32, u32) = (0, 30);

const NONE: Flags = Flags(0);
/// Processed through a target port in any ALUA state (SPC-5 5.16.2.4.5:
/// INQUIRY, REPORT LUNS, REQUEST SENSE, REPORT/SET TARGET PORT GROUPS).
const ANY_ALUA: Flags = Flags::ALUA_STANDBY_OK.union(Flags::ALUA_UNAVAILABLE_OK);
/// INQUIRY, REPORT LUNS, REQUEST SENSE: reported with a unit attention
/// pending, without a medium and in every ALUA state.
const ALWAYS: Flags = Flags::UA_ALLOWED.union(Flags::NO_MEDIUM_OK).union(ANY_ALUA);
const NO_MEDIUM: Flags = Flags::NO_MEDIUM_OK;
/// MODE SELECT/SENSE: also through a standby port (SPC-5 5.16.2.4.4).
const MODE: Flags = Flags::NO_MEDIUM_OK.union(Flags::ALUA_STANDBY_OK);
/// PERSISTENT RESERVE IN/OUT: also through a standby port (SPC-5
/// 5.16.2.4.4), not through an unavailable one.
const PR_STANDBY: Flags = Flags::NO_MEDIUM_OK.union(Flags::ALUA_STANDBY_OK);
/// REPORT TARGET PORT GROUPS.
const TPG: Flags = Flags::NO_MEDIUM_OK.union(ANY_ALUA);
/// SET TARGET PORT GROUPS: only with explicit ALUA.
const STPG: Flags = TPG.union(Flags::EXPLICIT_ALUA);
const WRITES: Flags = Flags::WRITES_MEDIUM;

const fn row(
    opcode: u8,
    service_action: Option<u16>,
    name: &'static str,
    usage: &'static [u8],
    dir: DataDir,
    handler: Handler,
    flags: Flags,
) -> OpcodeEntry {
    OpcodeEntry {
        opcode,
        service_action,
        name,
        usage,
        dir,
        handler,
        unmapped: None,
        flags,
        // Unless the row says otherwise (`allowed`, `always`, `writes`):
        // a command that writes the medium conflicts under every
        // reservation type, any other one under the Exclusive Access
        // types.
        pr: if flags.contains(Flags::WRITES_MEDIUM) {
            PrAccess::Write
        } else {
            PrAccess::Read
        },
        timeouts: TIMEOUTS,
    }
}

/// Reservation behaviour other than the default of [`row`].
const fn pr_access(mut e: OpcodeEntry, pr: PrAccess) -> OpcodeEntry {
    e.pr = pr;
    e
}

/// Allowed under every persistent reservation (SPC-5 5.14.1, SBC-4 4.17);
/// conflicts under another I_T nexus' SPC-2 reservation.
const fn allowed(e: OpcodeEntry) -> OpcodeEntry {
    pr_access(e, PrAccess::Allowed)
}

/// Never conflicts, or the handler applies the reservation rules.
const fn always(e: OpcodeEntry) -> OpcodeEntry {
    pr_access(e, PrAccess::Always)
}

/// Conflicts under every reservation type though it does not write the
/// medium (SYNCHRONIZE CACHE, MODE SELECT, START STOP UNIT).
const fn writes(e: OpcodeEntry) -> OpcodeEntry {
    pr_access(e, PrAccess::Write)
}

/// A row that is also served for a LUN without a logical unit.
const fn unmapped(mut e: OpcodeEntry, f: UnmappedHandler) -> OpcodeEntry {
    e.unmapped = Some(f);
    e
}

/// A service action as the table stores it.
const fn sa(v: u8) -> Option<u16> {
    Some(v as u16)
}

use DataDir::{In, None as NoData, Out};

const fn blocks(offset: u8, width: u8) -> DataDir {
    Out(DataOut::Blocks { offset, width })
}
const fn bytes(offset: u8, width: u8) -> DataDir {
    Out(DataOut::Bytes { offset, width })
}

use crate::pr::inq::{
    SA_READ_FULL_STATUS as SA_PR_READ_FULL_STATUS, SA_READ_KEYS as SA_PR_READ_KEYS,
    SA_READ_RESERVATION as SA_PR_READ_RESERVATION,
    SA_REPORT_CAPABILITIES as SA_PR_REPORT_CAPABILITIES,
};

#[rustfmt::skip]
pub static TABLE: &[OpcodeEntry] = &[
    allowed(row(TEST_UNIT_READY, None, "TEST_UNIT_READY", &[TEST_UNIT_READY, 0, 0, 0, 0, 0],
        NoData, lu!(spc::unit::test_unit_ready), NONE)),
    always(unmapped(row(REQUEST_SENSE, None, "REQUEST_SENSE", &[REQUEST_SENSE, 0x01, 0, 0, 0xFF, 0],
        In, lu!(spc::request_sense::request_sense), ALWAYS),
        spc::request_sense::unmapped)),
    row(READ_6, None, "READ_6", &[READ_6, 0x1F, 0xFF, 0xFF, 0xFF, 0],
        In, lu!(sbc::read::read6), NONE),
    row(WRITE_6, None, "WRITE_6", &[WRITE_6, 0x1F, 0xFF, 0xFF, 0xFF, 0],
        Out(DataOut::Blocks6), lu!(sbc::write::write6), WRITES),
    always(unmapped(row(INQUIRY, None, "INQUIRY", &[INQUIRY, 0x01, 0xFF, 0xFF, 0xFF, 0],
        In, cm!(spc::inquiry::inquiry), ALWAYS),
        spc::inquiry::inquiry_unmapped)),
    writes(row(MODE_SELECT_6, None, "MODE_SELECT_6", &[MODE_SELECT_6, 0x10, 0, 0, 0xFF, 0],
        bytes(4, 1), lu!(spc::mode::mode_select6), MODE)),
    // RESERVE(6)/RELEASE(6) (SPC-2 7.21, 7.17): third-party reservations
    // and extents are not supported.
    always(row(RESERVE_6, None, "RESERVE_6", &[RESERVE_6, 0, 0, 0, 0, 0],
        NoData, lu!(pr::reserve), NO_MEDIUM)),
    always(row(RELEASE_6, None, "RELEASE_6", &[RELEASE_6, 0, 0, 0, 0, 0],
        NoData, lu!(pr::release), NO_MEDIUM)),
    row(MODE_SENSE_6, None, "MODE_SENSE_6", &[MODE_SENSE_6, 0x08, 0xFF, 0xFF, 0xFF, 0],
        In, lu!(spc::mode::mode_sense6), MODE),
    writes(row(START_STOP_UNIT, None, "START_STOP_UNIT", &[START_STOP_UNIT, 0x01, 0, 0x0F, 0xF7, 0],
        NoData, lu!(spc::unit::start_stop_unit), NO_MEDIUM)),
    pr_access(row(PREVENT_ALLOW_MEDIUM_REMOVAL, None, "PREVENT_ALLOW_MEDIUM_REMOVAL", &[PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 0x03, 0],
        NoData, lu!(spc::unit::prevent_allow_medium_removal), NO_MEDIUM), PrAccess::PreventAllow),
    allowed(row(READ_CAPACITY_10, None, "READ_CAPACITY_10", &[READ_CAPACITY_10, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0x01, 0],
        In, lu!(sbc::capacity::read_capacity10), NONE)),
    row(READ_10, None, "READ_10", &[READ_10, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0],
        In, lu!(sbc::read::read10), NONE),
    row(WRITE_10, None, "WRITE_10", &[WRITE_10, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0],
        blocks(7, 2), lu!(sbc::write::write10), WRITES),
    row(WRITE_AND_VERIFY_10, None, "WRITE_AND_VERIFY_10", &[WRITE_AND_VERIFY_10, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0],
        blocks(7, 2), lu!(sbc::verify::write_verify10), WRITES),
    row(VERIFY_10, None, "VERIFY_10", &[VERIFY_10, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0],
        Out(DataOut::Verify { offset: 7, width: 2 }), lu!(sbc::verify::verify10), NONE),
    row(PRE_FETCH_10, None, "PRE_FETCH_10", &[PRE_FETCH_10, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0],
        NoData, lu!(sbc::prefetch::prefetch10), NONE),
    writes(row(SYNCHRONIZE_CACHE_10, None, "SYNCHRONIZE_CACHE_10", &[SYNCHRONIZE_CACHE_10, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0],
        NoData, lu!(sbc::sync::synchronize_cache10), NONE)),
    row(READ_DEFECT_DATA_10, None, "READ_DEFECT_DATA_10", &[READ_DEFECT_DATA_10, 0, 0x1F, 0, 0, 0, 0, 0xFF, 0xFF, 0],
        In, lu!(sbc::defect::read_defect_data10), NONE),
    row(WRITE_SAME_10, None, "WRITE_SAME_10", &[WRITE_SAME_10, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0],
        Out(DataOut::OneBlock), lu!(sbc::write_same::write_same10), WRITES),
    row(UNMAP, None, "UNMAP", &[UNMAP, 0, 0, 0, 0, 0, 0x3F, 0xFF, 0xFF, 0],
        bytes(7, 2), lu!(sbc::unmap::unmap), WRITES),
    writes(row(MODE_SELECT_10, None, "MODE_SELECT_10", &[MODE_SELECT_10, 0x10, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0],
        bytes(7, 2), lu!(spc::mode::mode_select10), MODE)),
    always(row(RESERVE_10, None, "RESERVE_10", &[RESERVE_10, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        NoData, lu!(pr::reserve), NO_MEDIUM)),
    always(row(RELEASE_10, None, "RELEASE_10", &[RELEASE_10, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        NoData, lu!(pr::release), NO_MEDIUM)),
    row(MODE_SENSE_10, None, "MODE_SENSE_10", &[MODE_SENSE_10, 0x18, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0],
        In, lu!(spc::mode::mode_sense10), MODE),
    // PERSISTENT RESERVE IN/OUT (SPC-5 6.15, 6.16): the handlers apply
    // the reservation rules (key checks, SPC-2 interaction).
    always(row(PERSISTENT_RESERVE_IN, sa(SA_PR_READ_KEYS), "PERSISTENT_RESERVE_IN_READ_KEYS", &[PERSISTENT_RESERVE_IN, 0x00, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0],
        In, lu!(pr::persistent_reserve_in), PR_STANDBY)),
    always(row(PERSISTENT_RESERVE_IN, sa(SA_PR_READ_RESERVATION), "PERSISTENT_RESERVE_IN_READ_RESERVATION", &[PERSISTENT_RESERVE_IN, 0x01, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0],
        In, lu!(pr::persistent_reserve_in), PR_STANDBY)),
    always(row(PERSISTENT_RESERVE_IN, sa(SA_PR_REPORT_CAPABILITIES), "PERSISTENT_RESERVE_IN_REPORT_CAPABILITIES", &[PERSISTENT_RESERVE_IN, 0x02, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0],
        In, lu!(pr::persistent_reserve_in), PR_STANDBY)),
    always(row(PERSISTENT_RESERVE_IN, sa(SA_PR_READ_FULL_STATUS), "PERSISTENT_RESERVE_IN_READ_FULL_STATUS", &[PERSISTENT_RESERVE_IN, 0x03, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0],
        In, lu!(pr::persistent_reserve_in), PR_STANDBY)),
    always(row(PERSISTENT_RESERVE_OUT, sa(0x00), "PERSISTENT_RESERVE_OUT_REGISTER", &[PERSISTENT_RESERVE_OUT, 0x00, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0],
        bytes(5, 4), cm!(pr::persistent_reserve_out), PR_STANDBY)),
    always(row(PERSISTENT_RESERVE_OUT, sa(0x01), "PERSISTENT_RESERVE_OUT_RESERVE", &[PERSISTENT_RESERVE_OUT, 0x01, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0],
        bytes(5, 4), cm!(pr::persistent_reserve_out), PR_STANDBY)),
    always(row(PERSISTENT_RESERVE_OUT, sa(0x02), "PERSISTENT_RESERVE_OUT_RELEASE", &[PERSISTENT_RESERVE_OUT, 0x02, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0],
        bytes(5, 4), cm!(pr::persistent_reserve_out), PR_STANDBY)),
    always(row(PERSISTENT_RESERVE_OUT, sa(0x03), "PERSISTENT_RESERVE_OUT_CLEAR", &[PERSISTENT_RESERVE_OUT, 0x03, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0],
        bytes(5, 4), cm!(pr::persistent_reserve_out), PR_STANDBY)),
    always(row(PERSISTENT_RESERVE_OUT, sa(0x04), "PERSISTENT_RESERVE_OUT_PREEMPT", &[PERSISTENT_RESERVE_OUT, 0x04, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0],
        bytes(5, 4), cm!(pr::persistent_reserve_out), PR_STANDBY)),
    always(row(PERSISTENT_RESERVE_OUT, sa(0x05), "PERSISTENT_RESERVE_OUT_PREEMPT_AND_ABORT", &[PERSISTENT_RESERVE_OUT, 0x05, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0],
        bytes(5, 4), cm!(pr::persistent_reserve_out), PR_STANDBY)),
    always(row(PERSISTENT_RESERVE_OUT, sa(0x06), "PERSISTENT_RESERVE_OUT_REGISTER_AND_IGNORE_EXISTING_KEY", &[PERSISTENT_RESERVE_OUT, 0x06, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0],
        bytes(5, 4), cm!(pr::persistent_reserve_out), PR_STANDBY)),
    always(row(PERSISTENT_RESERVE_OUT, sa(0x07), "PERSISTENT_RESERVE_OUT_REGISTER_AND_MOVE", &[PERSISTENT_RESERVE_OUT, 0x07, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0],
        bytes(5, 4), cm!(pr::persistent_reserve_out), PR_STANDBY)),
    // THIRD PARTY COPY OUT / IN (SPC-5 6.5, 6.19, 6.20, 6.22). EXTENDED
    // COPY does not carry WRITES_MEDIUM: the copy manager checks the
    // destination LU itself (DATA PROTECT for a read-only one), and the
    // reservations of every LU it reads or writes (SPC-5 5.14.1 "policy").
    allowed(row(THIRD_PARTY_COPY_OUT, sa(SA_EXTENDED_COPY_LID1), "EXTENDED_COPY", &[THIRD_PARTY_COPY_OUT, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        bytes(10, 4), cm!(copy::extended_copy), NONE)),
    // ODX (SBC-4 5.12, 5.59; SPC-5 6.3): WRITE USING TOKEN writes the
    // receiving LU; POPULATE TOKEN only reads.
    row(THIRD_PARTY_COPY_OUT, sa(SA_POPULATE_TOKEN), "POPULATE_TOKEN", &[THIRD_PARTY_COPY_OUT, 0x10, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        bytes(10, 4), cm!(copy::populate_token), NONE),
    row(THIRD_PARTY_COPY_OUT, sa(SA_WRITE_USING_TOKEN), "WRITE_USING_TOKEN", &[THIRD_PARTY_COPY_OUT, 0x11, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        bytes(10, 4), cm!(copy::write_using_token), WRITES),
    allowed(row(THIRD_PARTY_COPY_OUT, sa(SA_COPY_OPERATION_ABORT), "COPY_OPERATION_ABORT", &[THIRD_PARTY_COPY_OUT, 0x1C, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0],
        NoData, cm!(copy::copy_operation_abort), NONE)),
    allowed(row(THIRD_PARTY_COPY_IN, sa(SA_RECEIVE_COPY_STATUS_LID1), "RECEIVE_COPY_STATUS", &[THIRD_PARTY_COPY_IN, 0x00, 0xFF, 0, 0, 0, 0, 0, 0, 0,
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, cm!(copy::receive_copy_status), NONE)),
    allowed(row(THIRD_PARTY_COPY_IN, sa(SA_RECEIVE_COPY_OPERATING_PARAMETERS), "RECEIVE_COPY_OPERATING_PARAMETERS", &[THIRD_PARTY_COPY_IN, 0x03, 0, 0, 0, 0, 0, 0, 0, 0,
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, cm!(copy::receive_copy_operating_parameters), NONE)),
    allowed(row(THIRD_PARTY_COPY_IN, sa(SA_RECEIVE_COPY_FAILURE_DETAILS_LID1), "RECEIVE_COPY_FAILURE_DETAILS", &[THIRD_PARTY_COPY_IN, 0x04, 0xFF, 0, 0, 0, 0, 0, 0, 0,
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, cm!(copy::receive_copy_failure_details), NONE)),
    allowed(row(THIRD_PARTY_COPY_IN, sa(SA_RECEIVE_COPY_STATUS_LID4), "RECEIVE_COPY_STATUS_LID4", &[THIRD_PARTY_COPY_IN, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0,
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, cm!(copy::receive_copy_status_lid4), NONE)),
    allowed(row(THIRD_PARTY_COPY_IN, sa(SA_RECEIVE_ROD_TOKEN_INFORMATION), "RECEIVE_ROD_TOKEN_INFORMATION", &[THIRD_PARTY_COPY_IN, 0x07, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0,
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, cm!(copy::receive_rod_token_information), NONE)),
    allowed(row(THIRD_PARTY_COPY_IN, sa(SA_REPORT_ALL_ROD_TOKENS), "REPORT_ALL_ROD_TOKENS", &[THIRD_PARTY_COPY_IN, 0x08, 0, 0, 0, 0, 0, 0, 0, 0,
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, cm!(copy::report_all_rod_tokens), NONE)),
    row(READ_16, None, "READ_16", &[READ_16, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        In, lu!(sbc::read::read16), NONE),
    row(COMPARE_AND_WRITE, None, "COMPARE_AND_WRITE", &[COMPARE_AND_WRITE, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0, 0, 0, 0xFF, 0x3F, 0],
        Out(DataOut::CompareAndWrite), lu!(sbc::caw::compare_and_write), WRITES),
    row(WRITE_16, None, "WRITE_16", &[WRITE_16, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        blocks(10, 4), lu!(sbc::write::write16), WRITES),
    // ORWRITE(16), SBC-4 5.12: ORPROTECT (byte 1 bits 7..5) must be 0.
    row(ORWRITE_16, None, "ORWRITE_16", &[ORWRITE_16, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0],
        blocks(10, 4), lu!(sbc::orwrite::orwrite16), WRITES),
    row(WRITE_AND_VERIFY_16, None, "WRITE_AND_VERIFY_16", &[WRITE_AND_VERIFY_16, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        blocks(10, 4), lu!(sbc::verify::write_verify16), WRITES),
    row(VERIFY_16, None, "VERIFY_16", &[VERIFY_16, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        Out(DataOut::Verify { offset: 10, width: 4 }), lu!(sbc::verify::verify16), NONE),
    row(PRE_FETCH_16, None, "PRE_FETCH_16", &[PRE_FETCH_16, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        NoData, lu!(sbc::prefetch::prefetch16), NONE),
writes(row(SYNCHRONIZE_CACHE_16, None, "SYNCHRONIZE_CACHE_16", &[SYNCHRONIZE_CACHE_16, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        NoData, lu!(sbc::sync::synchronize_cache16), NONE)),
    row(WRITE_SAME_16, None, "WRITE_SAME_16", &[WRITE_SAME_16, 0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        Out(DataOut::WriteSame16), lu!(sbc::write_same::write_same16), WRITES),
    allowed(row(SERVICE_ACTION_IN_16, sa(SA_READ_CAPACITY_16), "READ_CAPACITY_16", &[SERVICE_ACTION_IN_16, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0],
        In, lu!(sbc::capacity::read_capacity16), NONE)),
    row(SERVICE_ACTION_IN_16, sa(SA_GET_LBA_STATUS), "GET_LBA_STATUS", &[SERVICE_ACTION_IN_16, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0x03, 0],
        In, lu!(sbc::lba_status::get_lba_status), NONE),
    always(unmapped(row(REPORT_LUNS, None, "REPORT_LUNS", &[REPORT_LUNS, 0, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, lu!(spc::report_luns::report_luns), ALWAYS),
        spc::report_luns::report_unmapped)),
    // ALUA (SPC-5 6.37, 6.48): PARAMETER DATA FORMAT in byte 1 bits 7..5.
    // REPORT TARGET PORT GROUPS is allowed under every reservation, SET
    // TARGET PORT GROUPS conflicts (SPC-5 table 67).
    allowed(row(MAINTENANCE_IN, sa(SA_REPORT_TARGET_PORT_GROUPS), "REPORT_TARGET_PORT_GROUPS", &[MAINTENANCE_IN, 0xEA, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, lu!(alua::rtpg::report_target_port_groups), TPG)),
    allowed(row(MAINTENANCE_IN, sa(SA_REPORT_SUPPORTED_OPERATION_CODES), "REPORT_SUPPORTED_OPERATION_CODES", &[MAINTENANCE_IN, 0x0C, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, lu!(spc::rsoc::report_supported_operation_codes), NO_MEDIUM)),
    writes(row(MAINTENANCE_OUT, sa(SA_SET_TARGET_PORT_GROUPS), "SET_TARGET_PORT_GROUPS", &[MAINTENANCE_OUT, 0x0A, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        bytes(6, 4), lu!(alua::stpg::set_target_port_groups), STPG)),
    row(READ_12, None, "READ_12", &[READ_12, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        In, lu!(sbc::read::read12), NONE),
    row(WRITE_12, None, "WRITE_12", &[WRITE_12, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        blocks(6, 4), lu!(sbc::write::write12), WRITES),
    row(WRITE_AND_VERIFY_12, None, "WRITE_AND_VERIFY_12", &[WRITE_AND_VERIFY_12, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        blocks(6, 4), lu!(sbc::verify::write_verify12), WRITES),
    row(VERIFY_12, None, "VERIFY_12", &[VERIFY_12, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0],
        Out(DataOut::Verify { offset: 6, width: 4 }), lu!(sbc::verify::verify12), NONE),
    row(READ_DEFECT_DATA_12, None, "READ_DEFECT_DATA_12", &[READ_DEFECT_DATA_12, 0x1F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0],
        In, lu!(sbc::defect::read_defect_data12), NONE),
];
