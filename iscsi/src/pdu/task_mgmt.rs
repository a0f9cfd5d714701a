//! Task Management Function Request (RFC 7143 11.5) and Response (11.6).

use super::{Bhs, CmdSn, DataSn, Itt, Lun, PduCodec, PduError, RawPdu, StatSn};
use bytes::Bytes;

/// Function codes (RFC 7143 11.5.1).
pub mod function {
    pub const ABORT_TASK: u8 = 1;
    pub const ABORT_TASK_SET: u8 = 2;
    pub const CLEAR_ACA: u8 = 3;
    pub const CLEAR_TASK_SET: u8 = 4;
    pub const LOGICAL_UNIT_RESET: u8 = 5;
    pub const TARGET_WARM_RESET: u8 = 6;
    pub const TARGET_COLD_RESET: u8 = 7;
    pub const TASK_REASSIGN: u8 = 8;
}

/// Response codes (RFC 7143 11.6.1).
pub mod response {
    pub const FUNCTION_COMPLETE: u8 = 0;
    pub const TASK_DOES_NOT_EXIST: u8 = 1;
    pub const LUN_DOES_NOT_EXIST: u8 = 2;
    pub const TASK_STILL_ALLEGIANT: u8 = 3;
    pub const REASSIGNMENT_NOT_SUPPORTED: u8 = 4;
    pub const FUNCTION_NOT_SUPPORTED: u8 = 5;
    pub const AUTHORIZATION_FAILED: u8 = 6;
    pub const FUNCTION_REJECTED: u8 = 255;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskMgmtRequest {
    pub immediate: bool,
    pub function: u8,
    pub lun: Lun,
    pub itt: Itt,
    /// Referenced Task Tag: the ITT of the task to abort (ABORT TASK).
    pub ref_itt: Itt,
    pub cmdsn: CmdSn,
    pub exp_statsn: StatSn,
    pub ref_cmdsn: CmdSn,
    pub exp_datasn: DataSn,
}

impl PduCodec for TaskMgmtRequest {
    const OPCODE: u8 = 0x02;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        super::no_ahs(raw)?;
        super::no_data(raw)?;
        let b = &raw.bhs;
        Ok(Self {
            immediate: b.immediate(),
            function: b.flags() & 0x7f,
            lun: b.lun(),
            itt: b.itt(),
            ref_itt: Itt(b.u32_at(20)),
            cmdsn: b.cmdsn(),
            exp_statsn: b.exp_statsn(),
            ref_cmdsn: CmdSn(b.u32_at(32)),
            exp_datasn: DataSn(b.u32_at(36)),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, self.immediate);
        b.set_flags(0x80 | (self.function & 0x7f));
        b.set_lun(self.lun);
        b.set_itt(self.itt);
        b.set_u32(20, self.ref_itt.0);
        b.set_cmdsn(self.cmdsn);
        b.set_exp_statsn(self.exp_statsn);
        b.set_u32(32, self.ref_cmdsn.0);
        b.set_u32(36, self.exp_datasn.0);
        RawPdu::new(b, Bytes::new(), Bytes::new())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskMgmtResponse {
    pub response: u8,
    pub itt: Itt,
    pub statsn: StatSn,
    pub exp_cmdsn: CmdSn,
    pub max_cmdsn: CmdSn,
}

impl PduCodec for TaskMgmtResponse {
    const OPCODE: u8 = 0x22;

    fn parse(raw: &RawPdu) -> Result<Self, PduError> {
        let b = &raw.bhs;
        Ok(Self {
            response: b.u8_at(2),
            itt: b.itt(),
            statsn: b.statsn(),
            exp_cmdsn: b.exp_cmdsn(),
            max_cmdsn: b.max_cmdsn(),
        })
    }

    fn to_raw(&self) -> RawPdu {
        let mut b = Bhs::new(Self::OPCODE, false);
        b.set_flags(0x80);
        b.set_u8(2, self.response);
        b.set_itt(self.itt);
        b.set_statsn(self.statsn);
        b.set_exp_cmdsn(self.exp_cmdsn);
        b.set_max_cmdsn(self.max_cmdsn);
        RawPdu::new(b, Bytes::new(), Bytes::new())
    }
}
