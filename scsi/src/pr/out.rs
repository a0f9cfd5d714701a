//! PERSISTENT RESERVE OUT (SPC-5 6.16): the CDB and parameter list, and
//! every service action applied to a [`PrData`], I/O-free. The caller
//! establishes the unit attentions an [`Outcome`] lists.

use super::transport_id::{self, TransportId};
use super::types::{NexusIdent, PrData, PrType, Registration, Reservation};
use crate::sense::{FieldPointer, ScsiError};

/// PERSISTENT RESERVE OUT service actions (SPC-5 table 193).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutAction {
    Register,
    Reserve,
    Release,
    Clear,
    Preempt,
    PreemptAndAbort,
    RegisterAndIgnoreExistingKey,
    RegisterAndMove,
}

impl OutAction {
    pub fn from_code(sa: u8) -> Option<OutAction> {
        Some(match sa {
            0 => OutAction::Register,
            1 => OutAction::Reserve,
            2 => OutAction::Release,
            3 => OutAction::Clear,
            4 => OutAction::Preempt,
            5 => OutAction::PreemptAndAbort,
            6 => OutAction::RegisterAndIgnoreExistingKey,
            7 => OutAction::RegisterAndMove,
            _ => return None,
        })
    }

    /// The service actions whose SCOPE and TYPE fields are used.
    fn uses_type(self) -> bool {
        matches!(
            self,
            OutAction::Reserve
                | OutAction::Release
                | OutAction::Preempt
                | OutAction::PreemptAndAbort
        )
    }
}

/// A decoded PERSISTENT RESERVE OUT command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRequest {
    pub action: OutAction,
    /// TYPE, for the service actions that use it.
    pub ty: Option<PrType>,
    pub key: u64,
    pub sa_key: u64,
    pub spec_i_pt: bool,
    pub all_tg_pt: bool,
    pub aptpl: bool,
    /// SPEC_I_PT TransportIDs, or REGISTER AND MOVE's one.
    pub transport_ids: Vec<TransportId>,
    /// REGISTER AND MOVE: UNREG and RELATIVE TARGET PORT IDENTIFIER.
    pub unreg: bool,
    pub rel_port: u16,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn invalid_param(byte: u16, bit: Option<u8>) -> ScsiError {
    ScsiError::InvalidFieldInParameterList(FieldPointer { byte, bit })
}

/// Decodes the CDB (10 bytes, checked by the opcode table) and the
/// parameter list (`params`: the Data-Out cut to PARAMETER LIST LENGTH).
/// `ptpl_capable`: APTPL=1 is accepted (the LU can persist its state).
pub fn parse(cdb: &[u8], params: &[u8], ptpl_capable: bool) -> Result<OutRequest, ScsiError> {
    let sa = cdb.get(1).map_or(0, |b| b & 0x1F);
    let action =
        OutAction::from_code(sa).ok_or(ScsiError::InvalidFieldInCdb(FieldPointer::bit(1, 4)))?;
    let scope_type = cdb.get(2).copied().unwrap_or(0);
    let pll = be32(cdb, 5).ok_or(ScsiError::InvalidFieldInCdb(FieldPointer::byte(5)))?;
    let pll = usize::try_from(pll).unwrap_or(usize::MAX);
    let mut ty = None;
    if action.uses_type() {
        // SCOPE must be LU_SCOPE (0h).
        if scope_type >> 4 != 0 {
            return Err(ScsiError::InvalidFieldInCdb(FieldPointer::bit(2, 7)));
        }
        ty = Some(
            PrType::from_code(scope_type & 0x0F)
                .ok_or(ScsiError::InvalidFieldInCdb(FieldPointer::bit(2, 3)))?,
        );
    }
    // Every parameter list holds at least the 24-byte basic part.
    if pll < 24 || params.len() < 24 {
        return Err(ScsiError::ParameterListLengthError);
    }
    let key = be64(params, 0).unwrap_or(0);
    let sa_key = be64(params, 8).unwrap_or(0);
    if action == OutAction::RegisterAndMove {
        let flags = params[17];
        let unreg = flags & 0x02 != 0;
        let aptpl = flags & 0x01 != 0;
        if aptpl && !ptpl_capable {
            return Err(invalid_param(17, Some(0)));
        }
        let rel_port = u16::from_be_bytes([params[18], params[19]]);
        let tid_len = be32(params, 20).unwrap_or(0);
        let tid_len = usize::try_from(tid_len).unwrap_or(usize::MAX);
        if 24usize.checked_add(tid_len) != Some(pll) || params.len() < pll {
            return Err(ScsiError::ParameterListLengthError);
        }
        let (tid, used) = transport_id::parse(&params[24..pll], 24)?;
        if used != tid_len {
            return Err(ScsiError::ParameterListLengthError);
        }
        return Ok(OutRequest {
            action,
            ty,
            key,
            sa_key,
            spec_i_pt: false,
            all_tg_pt: false,
            aptpl,
            transport_ids: vec![tid],
            unreg,
            rel_port,
        });
    }
    let flags = params[20];
    let spec_i_pt = flags & 0x08 != 0;
    let all_tg_pt = flags & 0x04 != 0;
    let aptpl = flags & 0x01 != 0;
    let registers = matches!(
        action,
        OutAction::Register | OutAction::RegisterAndIgnoreExistingKey
    );
    if spec_i_pt && action != OutAction::Register {
        return Err(invalid_param(20, Some(3)));
    }
    // ALL_TG_PT is meaningful for registering only; elsewhere ignored.
    let all_tg_pt = all_tg_pt && registers;
    if aptpl && registers && !ptpl_capable {
        return Err(invalid_param(20, Some(0)));
    }
    let mut transport_ids = Vec::new();
    if spec_i_pt {
        let tid_len = be32(params, 24).ok_or(ScsiError::ParameterListLengthError)?;
        let tid_len = usize::try_from(tid_len).unwrap_or(usize::MAX);
        if 28usize.checked_add(tid_len) != Some(pll) || params.len() < pll {
            return Err(ScsiError::ParameterListLengthError);
        }
        let mut at = 28;
        while at < pll {
            let (tid, used) = transport_id::parse(&params[at..pll], at)?;
            transport_ids.push(tid);
            at += used;
        }
    } else if pll != 24 {
        return Err(ScsiError::ParameterListLengthError);
    }
    Ok(OutRequest {
        action,
        ty,
        key,
        sa_key,
        spec_i_pt,
        all_tg_pt,
        aptpl: aptpl && registers,
        transport_ids,
        unreg: false,
        rel_port: 0,
    })
}

/// A unit attention to establish for every I_T nexus of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub to: Registration,
    pub ua: ScsiError,
}

/// What a service action did besides changing the state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub notices: Vec<Notice>,
    /// Registrations removed by PREEMPT AND ABORT (their tasks are to be
    /// aborted).
    pub preempted: Vec<Registration>,
}

impl Outcome {
    fn notify(&mut self, to: &Registration, ua: ScsiError) {
        self.notices.push(Notice { to: to.clone(), ua });
    }
}

/// The sender's registration, checked against RESERVATION KEY.
fn registered(data: &PrData, who: &NexusIdent, key: u64) -> Result<Registration, ScsiError> {
    match data.registration_of(who) {
        Some(r) if r.key == key => Ok(r.clone()),
        _ => Err(ScsiError::ReservationConflict),
    }
}

/// Applies `req` from the I_T nexus `who` to `data`. On error `data` is
/// unchanged.
pub fn apply(data: &mut PrData, who: &NexusIdent, req: &OutRequest) -> Result<Outcome, ScsiError> {
    let mut out = Outcome::default();
    match req.action {
        OutAction::Register | OutAction::RegisterAndIgnoreExistingKey => {
            register(data, who, req, &mut out)?
        }
        OutAction::Reserve => {
            let me = registered(data, who, req.key)?;
            let ty = req.ty.ok_or(ScsiError::InternalTargetFailure)?;
            match data.reservation {
                None => {
                    data.reservation = Some(Reservation {
                        ty,
                        holder: (!ty.all_registrants()).then_some(me.id),
                    })
                }
                Some(r) if r.ty == ty && data.is_holder(&me) => {}
                Some(_) => return Err(ScsiError::ReservationConflict),
            }
        }
        OutAction::Release => {
            let me = registered(data, who, req.key)?;
            let ty = req.ty.ok_or(ScsiError::InternalTargetFailure)?;
            if let Some(r) = data.reservation {
                if data.is_holder(&me) {
                    if r.ty != ty {
                        return Err(ScsiError::InvalidReleaseOfReservation);
                    }
                    data.reservation = None;
                    if r.ty.registrants_have_access() {
                        for reg in data.registrations.iter().filter(|r| r.id != me.id) {
                            out.notify(reg, ScsiError::ReservationsReleased);
                        }
                    }
                }
            }
        }
        OutAction::Clear => {
            let me = registered(data, who, req.key)?;
            for reg in data.registrations.iter().filter(|r| r.id != me.id) {
                out.notify(reg, ScsiError::ReservationsPreempted);
            }
            data.registrations.clear();
            data.reservation = None;
            data.bump_generation();
        }
        OutAction::Preempt | OutAction::PreemptAndAbort => preempt(data, who, req, &mut out)?,
        OutAction::RegisterAndMove => register_and_move(data, who, req)?,
    }
    Ok(out)
}

fn register(
    data: &mut PrData,
    who: &NexusIdent,
    req: &OutRequest,
    out: &mut Outcome,
) -> Result<(), ScsiError> {
    let ignore = req.action == OutAction::RegisterAndIgnoreExistingKey;
    let Some(me) = data.registration_of(who).cloned() else {
        if !ignore && req.key != 0 {
            return Err(ScsiError::ReservationConflict);
        }
        if req.sa_key == 0 {
            // Unregistering what is not registered: nothing to do.
            return Ok(());
        }
        let mut new = vec![Registration {
            id: 0,
            key: req.sa_key,
            initiator: who.initiator.clone(),
            isid: Some(who.isid.clone()),
            target: who.target.clone(),
            rel_port: who.rel_port,
            all_tg_pt: req.all_tg_pt,
        }];
        for tid in &req.transport_ids {
            let reg = Registration {
                id: 0,
                key: req.sa_key,
                initiator: tid.name.clone(),
                isid: tid.isid.clone(),
                target: who.target.clone(),
                rel_port: who.rel_port,
                all_tg_pt: req.all_tg_pt,
            };
            // A TransportID naming an I_T nexus that is registered (or
            // named twice, or the sender's own) is refused.
            let clash = data.registrations.iter().chain(new.iter()).any(|r| {
                r.initiator == reg.initiator && r.target == reg.target && {
                    match (&r.isid, &reg.isid) {
                        (Some(a), Some(b)) => a == b,
                        _ => true,
                    }
                }
            });
            if clash {
                return Err(invalid_param(24, None));
            }
            new.push(reg);
        }
        for reg in new {
            data.add(reg);
        }
        data.aptpl = req.aptpl;
        data.bump_generation();
        return Ok(());
    };
    if !ignore && req.key != me.key {
        return Err(ScsiError::ReservationConflict);
    }
    if req.spec_i_pt {
        return Err(invalid_param(20, Some(3)));
    }
    if req.sa_key == 0 {
        unregister(data, &me, out);
    } else if let Some(r) = data.registrations.iter_mut().find(|r| r.id == me.id) {
        r.key = req.sa_key;
    }
    data.aptpl = req.aptpl;
    data.bump_generation();
    Ok(())
}

/// Removes `me`; a reservation it held is released (SPC-5 5.14.11.2.3):
/// for a Registrants Only type with RESERVATIONS RELEASED to the other
/// registrants, an All Registrants one only with its last registrant.
fn unregister(data: &mut PrData, me: &Registration, out: &mut Outcome) {
    data.registrations.retain(|r| r.id != me.id);
    match data.reservation {
        Some(Reservation { holder: None, .. }) if data.registrations.is_empty() => {
            data.reservation = None;
        }
        Some(Reservation {
            ty,
            holder: Some(h),
        }) if h == me.id => {
            data.reservation = None;
            if ty.registrants_have_access() {
                for reg in &data.registrations {
                    out.notify(reg, ScsiError::ReservationsReleased);
                }
            }
        }
        _ => {}
    }
}

/// Removes the registrations with key `key` (but not `keep`); returns them.
fn remove_key(data: &mut PrData, key: u64, keep: Option<u64>) -> Vec<Registration> {
    let (gone, stay): (Vec<_>, Vec<_>) = std::mem::take(&mut data.registrations)
        .into_iter()
        .partition(|r| r.key == key && Some(r.id) != keep);
    data.registrations = stay;
    gone
}

fn preempt(
    data: &mut PrData,
    who: &NexusIdent,
    req: &OutRequest,
    out: &mut Outcome,
) -> Result<(), ScsiError> {
    let me = registered(data, who, req.key)?;
    let ty = req.ty.ok_or(ScsiError::InternalTargetFailure)?;
    let mut next = data.clone();
    let gone = match data.reservation {
        None => {
            if req.sa_key == 0 {
                return Err(invalid_param(8, None));
            }
            let gone = remove_key(&mut next, req.sa_key, None);
            if gone.is_empty() {
                return Err(ScsiError::ReservationConflict);
            }
            gone
        }
        Some(r) if r.ty.all_registrants() && req.sa_key == 0 => {
            // Every other registration goes; the sender holds the new one.
            let (gone, stay): (Vec<_>, Vec<_>) = std::mem::take(&mut next.registrations)
                .into_iter()
                .partition(|x| x.id != me.id);
            next.registrations = stay;
            next.reservation = Some(Reservation {
                ty,
                holder: (!ty.all_registrants()).then_some(me.id),
            });
            gone
        }
        Some(r) if !r.ty.all_registrants() && req.sa_key == data.reservation_key() => {
            let gone = remove_key(&mut next, req.sa_key, Some(me.id));
            next.reservation = Some(Reservation {
                ty,
                holder: (!ty.all_registrants()).then_some(me.id),
            });
            if r.ty != ty {
                for reg in next.registrations.iter().filter(|x| x.id != me.id) {
                    out.notify(reg, ScsiError::ReservationsReleased);
                }
            }
            gone
        }
        Some(_) => {
            if req.sa_key == 0 {
                return Err(invalid_param(8, None));
            }
            let gone = remove_key(&mut next, req.sa_key, Some(me.id));
            if gone.is_empty() {
                return Err(ScsiError::ReservationConflict);
            }
            gone
        }
    };
    for reg in gone.iter().filter(|r| r.id != me.id) {
        out.notify(reg, ScsiError::RegistrationsPreempted);
    }
    // The sender preempted its own registration (no reservation, its own
    // key): a reservation it held cannot outlive it.
    if let Some(Reservation {
        holder: Some(h), ..
    }) = next.reservation
    {
        if !next.registrations.iter().any(|r| r.id == h) {
            next.reservation = None;
        }
    }
    if next.registrations.is_empty() {
        next.reservation = None;
    }
    if req.action == OutAction::PreemptAndAbort {
        out.preempted = gone;
    }
    next.bump_generation();
    *data = next;
    Ok(())
}

fn register_and_move(
    data: &mut PrData,
    who: &NexusIdent,
    req: &OutRequest,
) -> Result<(), ScsiError> {
    let me = registered(data, who, req.key)?;
    let Some(r) = data.reservation else {
        return Err(ScsiError::ReservationConflict);
    };
    if r.ty.all_registrants() || !data.is_holder(&me) {
        return Err(ScsiError::ReservationConflict);
    }
    if req.sa_key == 0 {
        return Err(invalid_param(8, None));
    }
    if req.rel_port != who.rel_port {
        return Err(invalid_param(18, None));
    }
    let tid = req
        .transport_ids
        .first()
        .ok_or(ScsiError::ParameterListLengthError)?;
    if tid.name == who.initiator && tid.isid.as_deref().is_none_or(|i| i == who.isid) {
        // The destination is the sender's own I_T nexus.
        return Err(invalid_param(24, None));
    }
    let dest = match data
        .registrations
        .iter()
        .find(|x| x.same_nexus(&tid.name, tid.isid.as_deref(), &who.target))
    {
        Some(d) => d.id,
        None => data.add(Registration {
            id: 0,
            key: req.sa_key,
            initiator: tid.name.clone(),
            isid: tid.isid.clone(),
            target: who.target.clone(),
            rel_port: who.rel_port,
            all_tg_pt: false,
        }),
    };
    data.reservation = Some(Reservation {
        ty: r.ty,
        holder: Some(dest),
    });
    if req.unreg {
        data.registrations.retain(|x| x.id != me.id);
    }
    data.aptpl = req.aptpl;
    data.bump_generation();
    Ok(())
}
