//! UNMAP, SBC-4 5.32. The parameter list is parsed and every descriptor
//! validated into a plan before any block is deallocated.

use super::cdb::Unmap;
use super::BlockLimits;
use crate::blockio::WriteKind;
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::device::LogicalUnit;
use crate::sense::{FieldPointer, ScsiError};

/// Size of the UNMAP parameter list header (SBC-4 5.32.2).
const HEADER_LEN: usize = 8;
/// Size of one UNMAP block descriptor (SBC-4 5.32.3).
const DESCRIPTOR_LEN: usize = 16;

/// One validated UNMAP block descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnmapRange {
    pub lba: u64,
    pub blocks: u32,
}

fn be(p: &[u8], at: usize, len: usize) -> Result<u64, ScsiError> {
    crate::wire::be_uint(p, at, len).ok_or(ScsiError::ParameterListLengthError)
}

/// Parse and validate an UNMAP parameter list (already truncated to the
/// PARAMETER LIST LENGTH) against the LU.
pub fn parse_parameter_list(lu: &LogicalUnit, list: &[u8]) -> Result<Vec<UnmapRange>, ScsiError> {
    if list.len() < HEADER_LEN {
        // Too short to hold a header: nothing to do (SBC-4 5.32.1).
        return Ok(Vec::new());
    }
    let data_length = be(list, 0, 2)? as usize;
    let bd_length = be(list, 2, 2)? as usize;
    // UNMAP DATA LENGTH counts the bytes after itself; both lengths must fit
    // in what was transferred.
    if data_length + 2 > list.len() || bd_length + HEADER_LEN > list.len() {
        return Err(ScsiError::ParameterListLengthError);
    }
    if bd_length + HEADER_LEN - 2 > data_length {
        return Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
            0,
        )));
    }
    // A trailing partial descriptor is ignored (SBC-4 5.32.2).
    let count = bd_length / DESCRIPTOR_LEN;
    let limits = BlockLimits::for_lu(lu);
    if count as u64 > u64::from(limits.max_unmap_descriptors) {
        return Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
            2,
        )));
    }
    let mut plan = Vec::with_capacity(count);
    for i in 0..count {
        let at = HEADER_LEN + i * DESCRIPTOR_LEN;
        let lba = be(list, at, 8)?;
        let blocks = be(list, at + 8, 4)? as u32;
        if blocks > limits.max_unmap_lba_count {
            return Err(ScsiError::InvalidFieldInParameterList(FieldPointer::byte(
                (at + 8) as u16,
            )));
        }
        lu.check_range(lba, u64::from(blocks))?;
        if blocks > 0 {
            plan.push(UnmapRange { lba, blocks });
        }
    }
    Ok(plan)
}

pub async fn unmap(ctx: &CommandCtx<'_>) -> CommandResult {
    let u = Unmap::parse(ctx.cdb)?;
    if u.anchor {
        return Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 0)));
    }
    if !BlockLimits::for_lu(ctx.lu).unmap_supported && !ctx.lu.config.read_only {
        return Err(ScsiError::InvalidOpcode);
    }
    let w = ctx.lu.writer().await?;
    let len = usize::from(u.parameter_list_length).min(ctx.data_out.len());
    let list = ctx.data_out.get(..len).unwrap_or(&[]);
    let plan = parse_parameter_list(ctx.lu, list)?;
    if plan.is_empty() {
        return Ok(Completion::good());
    }
    for r in plan {
        w.unmap(r.lba, u64::from(r.blocks), WriteKind::Unmap)
            .await?;
    }
    Ok(Completion::good())
}
