//! SET TARGET PORT GROUPS (SPC-5 6.48): MAINTENANCE OUT, service action
//! 0Ah. In the opcode table only as an explicit-ALUA row: a target whose
//! configuration does not allow explicit ALUA answers it as an unsupported
//! command (dispatch), and REPORT SUPPORTED OPERATION CODES leaves it out.

use super::{AccessState, TargetAlua};
use crate::command::{CommandCtx, CommandResult, Completion};
use crate::sense::{FieldPointer, ScsiError};

/// The SET TARGET PORT GROUPS service action.
pub const SA_SET_TARGET_PORT_GROUPS: u8 = 0x0A;

/// Length of the parameter list header and of one descriptor.
const HEADER_LEN: usize = 4;
const DESCRIPTOR_LEN: usize = 4;

/// The state changes a parameter list asks for, checked against `alua`:
/// `(group id, new state)` in list order. `list` is the Data-Out cut to
/// the PARAMETER LIST LENGTH `declared`.
pub fn parse(
    alua: &TargetAlua,
    list: &[u8],
    declared: u32,
) -> Result<Vec<(u16, AccessState)>, ScsiError> {
    // SPC-5 6.48: a PARAMETER LIST LENGTH of zero changes nothing and is
    // not an error.
    if declared == 0 {
        return Ok(Vec::new());
    }
    let declared = usize::try_from(declared).unwrap_or(usize::MAX);
    if list.len() < declared
        || declared < HEADER_LEN
        || !(declared - HEADER_LEN).is_multiple_of(DESCRIPTOR_LEN)
    {
        return Err(ScsiError::ParameterListLengthError);
    }
    let body = list.get(HEADER_LEN..declared).unwrap_or_default();
    let mut changes: Vec<(u16, AccessState)> = Vec::with_capacity(body.len() / DESCRIPTOR_LEN);
    for (i, d) in body.chunks_exact(DESCRIPTOR_LEN).enumerate() {
        let off = u16::try_from(HEADER_LEN + i * DESCRIPTOR_LEN).unwrap_or(u16::MAX);
        let field = |byte: u16, bit: Option<u8>| {
            ScsiError::InvalidFieldInParameterList(match bit {
                Some(b) => FieldPointer::bit(off.saturating_add(byte), b),
                None => FieldPointer::byte(off.saturating_add(byte)),
            })
        };
        let (b0, b1, group) = match d {
            [b0, b1, g0, g1] => (*b0, *b1, u16::from_be_bytes([*g0, *g1])),
            _ => return Err(ScsiError::ParameterListLengthError),
        };
        // Reserved bits of the descriptor.
        if b0 & 0xF0 != 0 {
            return Err(ScsiError::InvalidFieldInParameterList(
                FieldPointer::top_bit(off, b0 & 0xF0),
            ));
        }
        if b1 != 0 {
            return Err(ScsiError::InvalidFieldInParameterList(
                FieldPointer::top_bit(off.saturating_add(1), b1),
            ));
        }
        // Only the states REPORT TARGET PORT GROUPS says are supported
        // (not LBA dependent, offline or transitioning).
        let Some(state) = AccessState::from_code(b0 & 0x0F) else {
            return Err(field(0, Some(3)));
        };
        if alua.group(group).is_none() || changes.iter().any(|(g, _)| *g == group) {
            return Err(field(2, None));
        }
        changes.push((group, state));
    }
    Ok(changes)
}

/// Apply `changes`; true when some group's state changed. A group whose
/// state changes gets STATUS CODE 01h (altered by SET TARGET PORT GROUPS).
pub fn apply(alua: &TargetAlua, changes: &[(u16, AccessState)]) -> bool {
    let mut changed = false;
    for (id, state) in changes {
        if let Some(g) = alua.group(*id).filter(|g| g.state() != *state) {
            g.set_state(*state);
            changed = true;
        }
    }
    changed
}

pub async fn set_target_port_groups(ctx: &CommandCtx<'_>) -> CommandResult {
    let b = |i: usize| ctx.cdb.get(i).copied().unwrap_or(0);
    let declared = u32::from_be_bytes([b(6), b(7), b(8), b(9)]);
    let alua = &ctx.nexus.port.alua;
    let list = ctx.parameter_list(declared);
    let changes = parse(alua, &list, declared)?;
    if apply(alua, &changes) {
        tracing::info!(
            target = %ctx.nexus.target.name,
            initiator = %ctx.nexus.initiator_port,
            changes = ?changes,
            "SET TARGET PORT GROUPS changed asymmetric access states"
        );
        // SPC-5 5.16.2.6: every other I_T nexus learns of it.
        for lu in ctx.nexus.target.luns.values() {
            lu.spc
                .ua
                .establish_all(&ScsiError::AsymmetricAccessStateChanged, Some(ctx.nexus.id));
        }
    }
    Ok(Completion::good())
}
