//! Parameter data of RECEIVE COPY STATUS (LID4) (SPC-5 6.24), RECEIVE ROD
//! TOKEN INFORMATION (SPC-5 6.26) and REPORT ALL ROD TOKENS (SPC-5 6.31).
//!
//! Every response is built whole and cut to the ALLOCATION LENGTH; the
//! AVAILABLE DATA field always counts the whole response (SPC-5 4.2.5.6).
//!
//! Not here, for the integrator: a WRITE USING TOKEN that stops short (a
//! time slice) ends with CHECK CONDITION, sense key COPY ABORTED (0Ah),
//! COPY TARGET DEVICE DATA UNDERRUN (0Dh/04h), VALID=1 and INFORMATION =
//! the number of contiguous blocks written, never GOOD; its RRTI then says
//! [`CopyOperationStatus::CompletedWithResidual`] with the same transfer
//! count, EXTENDED COPY COMPLETION STATUS CHECK CONDITION and that sense.

use super::params::ROD_TOKEN_LEN;
use crate::sense::MAX_SENSE_LENGTH;

/// COPY OPERATION STATUS (SPC-5 table 249).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyOperationStatus {
    CompletedWithoutErrors = 0x01,
    CompletedWithErrors = 0x02,
    /// Completed without errors but with partial ROD token usage (SBC-4).
    CompletedPartialRodTokenUsage = 0x03,
    /// Completed without errors but with residual data (a WRITE USING
    /// TOKEN that wrote less than asked).
    CompletedWithResidual = 0x04,
    InProgress = 0x10,
    InProgressForeground = 0x11,
    InProgressBackground = 0x12,
    /// Terminated (e.g. COPY OPERATION ABORT, reset).
    Terminated = 0x60,
}

impl CopyOperationStatus {
    pub fn code(self) -> u8 {
        self as u8
    }
    /// 01h..04h: the operation finished on its own.
    fn finished(self) -> bool {
        matches!(
            self,
            Self::CompletedWithoutErrors
                | Self::CompletedWithErrors
                | Self::CompletedPartialRodTokenUsage
                | Self::CompletedWithResidual
        )
    }
    /// 10h..12h.
    fn in_progress(self) -> bool {
        matches!(
            self,
            Self::InProgress | Self::InProgressForeground | Self::InProgressBackground
        )
    }
    /// 01h or 03h: the only statuses whose RRTI carries ROD tokens
    /// (SPC-5 6.26).
    fn returns_tokens(self) -> bool {
        matches!(
            self,
            Self::CompletedWithoutErrors | Self::CompletedPartialRodTokenUsage
        )
    }
}

/// TRANSFER COUNT UNITS (SPC-5 table 251).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferCountUnits {
    Bytes = 0x00,
    Kibibytes = 0x01,
    Mebibytes = 0x02,
    Gibibytes = 0x03,
    Tebibytes = 0x04,
    Pebibytes = 0x05,
    Exbibytes = 0x06,
    /// Logical blocks of the copy destination: what Windows insists on
    /// for POPULATE TOKEN and WRITE USING TOKEN.
    LogicalBlocks = 0xF1,
}

/// SAM-5 status codes used for EXTENDED COPY COMPLETION STATUS.
pub const STATUS_GOOD: u8 = 0x00;
pub const STATUS_CHECK_CONDITION: u8 = 0x02;
pub const STATUS_TASK_ABORTED: u8 = 0x40;

/// ESTIMATED STATUS UPDATE DELAY of a finished or terminated operation
/// (SPC-5 6.24).
pub const STATUS_UPDATE_DELAY_DONE: u32 = 0xFFFF_FFFE;

/// Length of the fixed part, up to the SENSE DATA field.
pub const COPY_STATUS_HEADER_LEN: usize = 32;
/// ROD TOKEN DESCRIPTORS LENGTH of one ROD token descriptor: 2-byte ID
/// (reserved for POPULATE TOKEN) + 512-byte token.
pub const ROD_TOKEN_DESCRIPTOR_LEN: u32 = 2 + ROD_TOKEN_LEN as u32;
/// Length of a ROD management token: ROD token header and body (SPC-5
/// 5.17.6.4, 6.31).
pub const MANAGEMENT_TOKEN_LEN: usize = 96;

/// What the copy manager knows of one copy operation (POPULATE TOKEN or
/// WRITE USING TOKEN), for RECEIVE COPY STATUS (LID4) and RRTI. The
/// encoder applies SPC-5's rules for the fields that depend on the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyStatusReport<'a> {
    /// RESPONSE TO SERVICE ACTION: 0x10 POPULATE TOKEN, 0x11 WRITE USING
    /// TOKEN (5 bits).
    pub service_action: u8,
    pub status: CopyOperationStatus,
    /// OPERATION COUNTER: commands (or equivalents) sent to a copy source or
    /// destination that completed GOOD, wrapping.
    pub operation_counter: u16,
    /// ESTIMATED STATUS UPDATE DELAY in ms while in progress; a finished or
    /// terminated operation reports FFFF FFFEh whatever this holds.
    pub estimated_status_update_delay_ms: u32,
    /// SAM status the operation completed with (00h GOOD, 02h CHECK
    /// CONDITION) for 01h..04h; reserved (0) in progress; 60h reports 40h
    /// TASK ABORTED.
    pub completion_status: u8,
    /// Sense data of the completed operation (encoded in the format the LU
    /// uses), for 01h..04h only; at most 252 bytes are kept.
    pub sense: &'a [u8],
    pub transfer_count_units: TransferCountUnits,
    /// TRANSFER COUNT: data written to the destination in order (for
    /// POPULATE TOKEN: the blocks the token represents).
    pub transfer_count: u64,
    /// SEGMENTS PROCESSED: 0 for commands without segment descriptors (all
    /// of POPULATE TOKEN and WRITE USING TOKEN, SPC-5 6.24); Windows
    /// requires 0 after POPULATE TOKEN.
    pub segments_processed: u16,
}

/// The RECEIVE COPY STATUS (LID4) layout without AVAILABLE DATA filled in.
fn status_body(r: &CopyStatusReport<'_>) -> Vec<u8> {
    let finished = r.status.finished();
    let sense = if finished {
        r.sense
            .get(..r.sense.len().min(MAX_SENSE_LENGTH))
            .unwrap_or_default()
    } else {
        &[]
    };
    let sense_field_len = sense.len().div_ceil(4) * 4;
    let delay = if r.status.in_progress() {
        r.estimated_status_update_delay_ms
    } else {
        STATUS_UPDATE_DELAY_DONE
    };
    let completion = match r.status {
        CopyOperationStatus::Terminated => STATUS_TASK_ABORTED,
        s if s.finished() => r.completion_status,
        _ => 0,
    };
    let mut d = Vec::with_capacity(COPY_STATUS_HEADER_LEN + sense_field_len + 4 + 514);
    d.extend_from_slice(&[0; 4]); // AVAILABLE DATA, set by `finish`
    d.push(r.service_action & 0x1F);
    d.push(r.status.code());
    d.extend_from_slice(&r.operation_counter.to_be_bytes());
    d.extend_from_slice(&delay.to_be_bytes());
    d.push(completion);
    d.push(u8::try_from(sense_field_len).unwrap_or(u8::MAX));
    d.push(u8::try_from(sense.len()).unwrap_or(u8::MAX));
    d.push(r.transfer_count_units as u8);
    d.extend_from_slice(&r.transfer_count.to_be_bytes());
    d.extend_from_slice(&r.segments_processed.to_be_bytes());
    d.extend_from_slice(&[0; 6]);
    d.extend_from_slice(sense);
    d.resize(COPY_STATUS_HEADER_LEN + sense_field_len, 0);
    d
}

/// Fill in AVAILABLE DATA and cut to the allocation length.
fn finish(mut d: Vec<u8>, allocation_length: u32) -> Vec<u8> {
    let available = u32::try_from(d.len().saturating_sub(4)).unwrap_or(u32::MAX);
    d[..4].copy_from_slice(&available.to_be_bytes());
    d.truncate(usize::try_from(allocation_length).unwrap_or(usize::MAX));
    d
}

/// RECEIVE COPY STATUS (LID4) parameter data (SPC-5 table 248).
pub fn receive_copy_status_lid4(r: &CopyStatusReport<'_>, allocation_length: u32) -> Vec<u8> {
    finish(status_body(r), allocation_length)
}

/// RECEIVE ROD TOKEN INFORMATION parameter data (SPC-5 table 256): the
/// copy status, then ROD TOKEN DESCRIPTORS LENGTH and, when `token` is
/// given and the status is 01h or 03h, one descriptor (2-byte ID 0, the
/// 512-byte token): descriptors length 514. Any other status carries no
/// token (descriptors length 0), as SPC-5 6.26 requires.
pub fn receive_rod_token_information(
    r: &CopyStatusReport<'_>,
    token: Option<&[u8; ROD_TOKEN_LEN]>,
    allocation_length: u32,
) -> Vec<u8> {
    let mut d = status_body(r);
    match token.filter(|_| r.status.returns_tokens()) {
        Some(t) => {
            d.extend_from_slice(&ROD_TOKEN_DESCRIPTOR_LEN.to_be_bytes());
            d.extend_from_slice(&[0, 0]);
            d.extend_from_slice(t);
        }
        None => d.extend_from_slice(&0u32.to_be_bytes()),
    }
    finish(d, allocation_length)
}

/// The ROD management token of a ROD token: its header and body, without
/// the extension (which holds what makes the token unguessable).
pub fn management_token(token: &[u8; ROD_TOKEN_LEN]) -> [u8; MANAGEMENT_TOKEN_LEN] {
    let mut m = [0u8; MANAGEMENT_TOKEN_LEN];
    m.copy_from_slice(&token[..MANAGEMENT_TOKEN_LEN]);
    m
}

/// REPORT ALL ROD TOKENS parameter data (SPC-5 table 278): AVAILABLE DATA,
/// 4 reserved bytes, one 96-byte ROD management token per token. Every
/// token is counted in AVAILABLE DATA, but only the bytes that fit the
/// allocation length are built, so memory follows the initiator's buffer,
/// not the number of tokens.
pub fn report_all_rod_tokens<'a>(
    tokens: impl IntoIterator<Item = &'a [u8; ROD_TOKEN_LEN]>,
    allocation_length: u32,
) -> Vec<u8> {
    let cap = usize::try_from(allocation_length).unwrap_or(usize::MAX);
    let mut d = vec![0u8; 8];
    let mut count: u64 = 0;
    for t in tokens {
        count += 1;
        if d.len() < cap {
            d.extend_from_slice(&management_token(t));
        }
    }
    let available = count
        .saturating_mul(MANAGEMENT_TOKEN_LEN as u64)
        .saturating_add(4);
    d[..4].copy_from_slice(&u32::try_from(available).unwrap_or(u32::MAX).to_be_bytes());
    d.truncate(cap);
    d
}

#[cfg(test)]
mod tests {
    use super::super::params::build::token;
    use super::*;

    fn pt_done(blocks: u64) -> CopyStatusReport<'static> {
        CopyStatusReport {
            service_action: 0x10,
            status: CopyOperationStatus::CompletedWithoutErrors,
            operation_counter: 0,
            estimated_status_update_delay_ms: 0,
            completion_status: STATUS_GOOD,
            sense: &[],
            transfer_count_units: TransferCountUnits::LogicalBlocks,
            transfer_count: blocks,
            segments_processed: 0,
        }
    }

    /// Windows' expectations after POPULATE TOKEN: units F1h, segments
    /// processed 0, ROD token descriptors length exactly 514, a zero
    /// 2-byte ID, then the token.
    #[test]
    fn rrti_after_populate_token_is_what_windows_reads() {
        let t = token(0x0080_0001);
        let d = receive_rod_token_information(&pt_done(0x1234), Some(&t), 1024);
        #[rustfmt::skip]
        let head: [u8; 32] = [
            0x00, 0x00, 0x02, 0x22,             // AVAILABLE DATA: 546 = 550 - 4
            0x10,                               // RESPONSE TO SERVICE ACTION: PT
            0x01,                               // completed without errors
            0x00, 0x00,                         // OPERATION COUNTER
            0xFF, 0xFF, 0xFF, 0xFE,             // ESTIMATED STATUS UPDATE DELAY: done
            0x00,                               // EXTENDED COPY COMPLETION STATUS: GOOD
            0x00, 0x00,                         // no sense
            0xF1,                               // TRANSFER COUNT UNITS: blocks
            0, 0, 0, 0, 0, 0, 0x12, 0x34,       // TRANSFER COUNT
            0x00, 0x00,                         // SEGMENTS PROCESSED
            0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(d.len(), 32 + 4 + 2 + 512);
        assert_eq!(&d[..32], &head);
        assert_eq!(&d[32..38], &[0x00, 0x00, 0x02, 0x02, 0x00, 0x00]);
        assert_eq!(&d[38..], &t[..]);
        // Cut to the allocation length, AVAILABLE DATA unchanged.
        let cut = receive_rod_token_information(&pt_done(0x1234), Some(&t), 40);
        assert_eq!(cut, d[..40].to_vec());
        assert!(receive_rod_token_information(&pt_done(1), Some(&t), 0).is_empty());
    }

    /// A failed operation: sense kept (padded to a multiple of 4 in the
    /// field), no token even if one is passed, descriptors length 0.
    #[test]
    fn rrti_of_failed_wut_carries_sense_not_token() {
        let sense = [
            0x70, 0, 0x0A, 0, 0, 0, 7, 10, 0, 0, 0, 0, 0x0D, 0x04, 0, 0, 0, 0,
        ];
        let r = CopyStatusReport {
            service_action: 0x11,
            status: CopyOperationStatus::CompletedWithErrors,
            operation_counter: 0x0102,
            estimated_status_update_delay_ms: 500, // ignored: done
            completion_status: STATUS_CHECK_CONDITION,
            sense: &sense,
            transfer_count_units: TransferCountUnits::LogicalBlocks,
            transfer_count: 7,
            segments_processed: 0,
        };
        let t = token(0x0080_0001);
        let d = receive_rod_token_information(&r, Some(&t), 4096);
        let mut want = vec![0, 0, 0, 52, 0x11, 0x02, 0x01, 0x02, 0xFF, 0xFF, 0xFF, 0xFE];
        want.extend_from_slice(&[0x02, 20, 18, 0xF1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0]);
        want.extend_from_slice(&[0; 6]);
        want.extend_from_slice(&sense);
        want.extend_from_slice(&[0, 0]); // pad to 20
        want.extend_from_slice(&[0, 0, 0, 0]); // ROD TOKEN DESCRIPTORS LENGTH
        assert_eq!(d, want);
        // RECEIVE COPY STATUS (LID4): the same without the descriptors part.
        let mut lid4 = want[..52].to_vec();
        lid4[3] = 48;
        assert_eq!(receive_copy_status_lid4(&r, 4096), lid4);
    }

    /// Completed with residual (a time-sliced WRITE USING TOKEN), in
    /// progress and terminated: the status-dependent fields.
    #[test]
    fn status_dependent_fields() {
        let sense = [0x72, 0x0A, 0x0D, 0x04, 0, 0, 0, 0];
        let mut r = CopyStatusReport {
            service_action: 0x11,
            status: CopyOperationStatus::CompletedWithResidual,
            operation_counter: 9,
            estimated_status_update_delay_ms: 250,
            completion_status: STATUS_CHECK_CONDITION,
            sense: &sense,
            transfer_count_units: TransferCountUnits::LogicalBlocks,
            transfer_count: 131072,
            segments_processed: 0,
        };
        let t = token(0x0080_0001);
        let d = receive_rod_token_information(&r, Some(&t), 4096);
        assert_eq!(
            &d[4..16],
            &[0x11, 0x04, 0, 9, 0xFF, 0xFF, 0xFF, 0xFE, 0x02, 8, 8, 0xF1]
        );
        assert_eq!(&d[16..24], &131072u64.to_be_bytes());
        assert_eq!(&d[32..40], &sense);
        assert_eq!(&d[40..], &[0, 0, 0, 0]); // 04h returns no token
        r.status = CopyOperationStatus::InProgressForeground;
        let d = receive_copy_status_lid4(&r, 4096);
        assert_eq!(d.len(), 32);
        assert_eq!(
            &d[..16],
            &[0, 0, 0, 28, 0x11, 0x11, 0, 9, 0, 0, 0, 250, 0, 0, 0, 0xF1]
        );
        r.status = CopyOperationStatus::Terminated;
        let d = receive_copy_status_lid4(&r, 4096);
        assert_eq!(
            &d[4..16],
            &[0x11, 0x60, 0, 9, 0xFF, 0xFF, 0xFF, 0xFE, 0x40, 0, 0, 0xF1]
        );
        // Sense longer than SPC-5 allows is cut to 252 bytes.
        let long = [0x5Au8; 300];
        r.status = CopyOperationStatus::CompletedWithErrors;
        r.sense = &long;
        let d = receive_copy_status_lid4(&r, u32::MAX);
        assert_eq!((d[13], d[14], d.len()), (252, 252, 32 + 252));
    }

    #[test]
    fn report_all_rod_tokens_lists_management_tokens() {
        let a = token(0x0080_0001);
        let mut b = token(0x0080_0002);
        b[95] = 0xEE;
        b[96] = 0x11; // the extension stays secret
        let d = report_all_rod_tokens([&a, &b], 4096);
        let mut want = vec![0, 0, 0, 196, 0, 0, 0, 0];
        want.extend_from_slice(&a[..96]);
        want.extend_from_slice(&b[..96]);
        assert_eq!(d, want);
        assert_eq!(management_token(&b)[95], 0xEE);
        // Cut: AVAILABLE DATA still counts both.
        let d = report_all_rod_tokens([&a, &b], 50);
        assert_eq!(d, want[..50].to_vec());
        assert_eq!(
            report_all_rod_tokens(std::iter::empty(), 100),
            vec![0, 0, 0, 4, 0, 0, 0, 0]
        );
        // Many tokens, small buffer: only what fits is built.
        let many = vec![a; 10_000];
        let d = report_all_rod_tokens(many.iter(), 8 + 96);
        assert_eq!(d.len(), 104);
        assert_eq!(&d[..4], &(4u32 + 96 * 10_000).to_be_bytes());
    }
}
