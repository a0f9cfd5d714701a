//! CDB fields of the ODX token commands (SBC-4 5.12, 5.59; SPC-5 6.3,
//! 6.24, 6.26, 6.31). Only fields: the opcode table checks reserved bits
//! and the CDB length. A CDB too short for a field (which the table never
//! lets through) is refused with INVALID FIELD IN CDB pointing at the
//! first byte of that field.

use crate::sense::{FieldPointer, ScsiError};
use crate::wire::be_uint;

/// THIRD PARTY COPY OUT (0x83) service actions.
pub const SA_POPULATE_TOKEN: u8 = 0x10;
pub const SA_WRITE_USING_TOKEN: u8 = 0x11;
pub const SA_COPY_OPERATION_ABORT: u8 = 0x1C;
/// THIRD PARTY COPY IN (0x84) service actions.
pub const SA_RECEIVE_COPY_STATUS_LID4: u8 = 0x05;
pub const SA_RECEIVE_ROD_TOKEN_INFORMATION: u8 = 0x07;
pub const SA_REPORT_ALL_ROD_TOKENS: u8 = 0x08;

/// POPULATE TOKEN and WRITE USING TOKEN: the same three fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCopyOutCdb {
    /// LIST IDENTIFIER (bytes 6-9), processed as LIST ID USAGE 00b.
    pub list_identifier: u32,
    /// PARAMETER LIST LENGTH (bytes 10-13); 0: nothing to do, GOOD.
    pub parameter_list_length: u32,
    /// GROUP NUMBER (byte 14, bits 5-0).
    pub group_number: u8,
}

/// COPY OPERATION ABORT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyOperationAbortCdb {
    /// LIST IDENTIFIER (bytes 2-5) of the copy operation to abort.
    pub list_identifier: u32,
}

/// RECEIVE ROD TOKEN INFORMATION and RECEIVE COPY STATUS (LID4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveCopyStatusCdb {
    /// LIST IDENTIFIER (bytes 2-5).
    pub list_identifier: u32,
    /// ALLOCATION LENGTH (bytes 10-13).
    pub allocation_length: u32,
}

/// REPORT ALL ROD TOKENS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportAllRodTokensCdb {
    /// ALLOCATION LENGTH (bytes 10-13).
    pub allocation_length: u32,
}

fn field_u32(cdb: &[u8], at: usize) -> Result<u32, ScsiError> {
    be_uint(cdb, at, 4)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or(ScsiError::InvalidFieldInCdb(FieldPointer::byte(
            u16::try_from(at).unwrap_or(u16::MAX),
        )))
}

fn token_copy_out(cdb: &[u8]) -> Result<TokenCopyOutCdb, ScsiError> {
    Ok(TokenCopyOutCdb {
        list_identifier: field_u32(cdb, 6)?,
        parameter_list_length: field_u32(cdb, 10)?,
        group_number: cdb
            .get(14)
            .map(|b| b & 0x3F)
            .ok_or(ScsiError::InvalidFieldInCdb(FieldPointer::byte(14)))?,
    })
}

/// 0x83/0x10 POPULATE TOKEN.
pub fn decode_populate_token(cdb: &[u8]) -> Result<TokenCopyOutCdb, ScsiError> {
    token_copy_out(cdb)
}

/// 0x83/0x11 WRITE USING TOKEN.
pub fn decode_write_using_token(cdb: &[u8]) -> Result<TokenCopyOutCdb, ScsiError> {
    token_copy_out(cdb)
}

/// 0x83/0x1C COPY OPERATION ABORT.
pub fn decode_copy_operation_abort(cdb: &[u8]) -> Result<CopyOperationAbortCdb, ScsiError> {
    Ok(CopyOperationAbortCdb {
        list_identifier: field_u32(cdb, 2)?,
    })
}

fn receive_copy_status(cdb: &[u8]) -> Result<ReceiveCopyStatusCdb, ScsiError> {
    Ok(ReceiveCopyStatusCdb {
        list_identifier: field_u32(cdb, 2)?,
        allocation_length: field_u32(cdb, 10)?,
    })
}

/// 0x84/0x07 RECEIVE ROD TOKEN INFORMATION.
pub fn decode_receive_rod_token_information(cdb: &[u8]) -> Result<ReceiveCopyStatusCdb, ScsiError> {
    receive_copy_status(cdb)
}

/// 0x84/0x05 RECEIVE COPY STATUS (LID4).
pub fn decode_receive_copy_status_lid4(cdb: &[u8]) -> Result<ReceiveCopyStatusCdb, ScsiError> {
    receive_copy_status(cdb)
}

/// 0x84/0x08 REPORT ALL ROD TOKENS.
pub fn decode_report_all_rod_tokens(cdb: &[u8]) -> Result<ReportAllRodTokensCdb, ScsiError> {
    Ok(ReportAllRodTokensCdb {
        allocation_length: field_u32(cdb, 10)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdb(opcode: u8, sa: u8) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[0] = opcode;
        c[1] = sa;
        c[2..6].copy_from_slice(&[0xA1, 0xA2, 0xA3, 0xA4]);
        c[6..10].copy_from_slice(&[0x01, 0x02, 0x03, 0x04]);
        c[10..14].copy_from_slice(&[0x00, 0x00, 0x02, 0x28]);
        c[14] = 0xE5; // reserved bits 7-6 set: not this decoder's business
        c
    }

    #[test]
    fn populate_and_write_using_token_fields() {
        let want = TokenCopyOutCdb {
            list_identifier: 0x0102_0304,
            parameter_list_length: 0x228,
            group_number: 0x25,
        };
        assert_eq!(decode_populate_token(&cdb(0x83, 0x10)), Ok(want));
        assert_eq!(decode_write_using_token(&cdb(0x83, 0x11)), Ok(want));
    }

    #[test]
    fn list_id_at_2_for_abort_rrti_and_rcs() {
        assert_eq!(
            decode_copy_operation_abort(&cdb(0x83, 0x1C)),
            Ok(CopyOperationAbortCdb {
                list_identifier: 0xA1A2_A3A4
            })
        );
        let want = ReceiveCopyStatusCdb {
            list_identifier: 0xA1A2_A3A4,
            allocation_length: 0x228,
        };
        assert_eq!(
            decode_receive_rod_token_information(&cdb(0x84, 7)),
            Ok(want)
        );
        assert_eq!(decode_receive_copy_status_lid4(&cdb(0x84, 5)), Ok(want));
        assert_eq!(
            decode_report_all_rod_tokens(&cdb(0x84, 8)),
            Ok(ReportAllRodTokensCdb {
                allocation_length: 0x228
            })
        );
    }

    /// A CDB cut short names the first byte of the field it lacks.
    #[test]
    fn short_cdbs_point_at_the_missing_field() {
        let c = cdb(0x83, 0x10);
        let e = |b| ScsiError::InvalidFieldInCdb(FieldPointer::byte(b));
        assert_eq!(decode_populate_token(&c[..9]), Err(e(6)));
        assert_eq!(decode_populate_token(&c[..13]), Err(e(10)));
        assert_eq!(decode_write_using_token(&c[..14]), Err(e(14)));
        assert_eq!(decode_copy_operation_abort(&c[..5]), Err(e(2)));
        assert_eq!(decode_receive_rod_token_information(&c[..12]), Err(e(10)));
        assert_eq!(decode_report_all_rod_tokens(&c[..0]), Err(e(10)));
        let s = ScsiError::InvalidFieldInCdb(FieldPointer::byte(10))
            .sense()
            .encode_fixed();
        assert_eq!(&s[12..18], &[0x24, 0x00, 0, 0xC0, 0, 10]);
    }
}
