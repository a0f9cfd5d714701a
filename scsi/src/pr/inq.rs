//! PERSISTENT RESERVE IN parameter data (SPC-5 6.15), I/O-free.

use super::transport_id;
use super::types::PrData;

/// PERSISTENT RESERVE IN service actions (SPC-5 table 185).
pub const SA_READ_KEYS: u8 = 0x00;
pub const SA_READ_RESERVATION: u8 = 0x01;
pub const SA_REPORT_CAPABILITIES: u8 = 0x02;
pub const SA_READ_FULL_STATUS: u8 = 0x03;

/// What REPORT CAPABILITIES says besides the fixed support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// PTPL_C: APTPL=1 is supported (the LU persists its state).
    pub ptpl_capable: bool,
}

fn header(generation: u32, additional: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + additional);
    v.extend_from_slice(&generation.to_be_bytes());
    v.extend_from_slice(&u32::try_from(additional).unwrap_or(u32::MAX).to_be_bytes());
    v
}

/// READ KEYS (SPC-5 6.15.2): PRgeneration, then every registered key.
pub fn read_keys(d: &PrData) -> Vec<u8> {
    let mut v = header(d.generation, 8 * d.registrations.len());
    for r in &d.registrations {
        v.extend_from_slice(&r.key.to_be_bytes());
    }
    v
}

/// READ RESERVATION (SPC-5 6.15.3): the reservation key, scope and type
/// when a reservation exists.
pub fn read_reservation(d: &PrData) -> Vec<u8> {
    let Some(r) = d.reservation else {
        return header(d.generation, 0);
    };
    let mut v = header(d.generation, 16);
    v.extend_from_slice(&d.reservation_key().to_be_bytes());
    v.extend_from_slice(&[0; 4]); // obsolete
    v.push(0); // reserved
    v.push(r.ty.code()); // SCOPE 0h (LU_SCOPE), TYPE
    v.extend_from_slice(&[0; 2]); // obsolete
    v
}

/// REPORT CAPABILITIES (SPC-5 6.15.4).
pub fn report_capabilities(d: &PrData, caps: Capabilities) -> Vec<u8> {
    let mut v = vec![0u8; 8];
    v[1] = 8; // LENGTH
              // CRH (RESERVE/RELEASE exceptions of SPC-5 5.14.3), SIP_C, ATP_C,
              // PTPL_C.
    v[2] = 0x10 | 0x08 | 0x04 | u8::from(caps.ptpl_capable);
    // TMV; ALLOW COMMANDS 001b (TEST UNIT READY is allowed through Write
    // Exclusive and Exclusive Access); PTPL_A.
    v[3] = 0x80 | (0b001 << 4) | u8::from(d.aptpl && caps.ptpl_capable);
    // PERSISTENT RESERVATION TYPE MASK: WR_EX_AR, EX_AC_RO, WR_EX_RO,
    // EX_AC, WR_EX; EX_AC_AR.
    v[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02;
    v[5] = 0x01;
    v
}

/// READ FULL STATUS (SPC-5 6.15.5): one descriptor per registration.
pub fn read_full_status(d: &PrData) -> Vec<u8> {
    let mut body = Vec::new();
    for r in &d.registrations {
        let tid = transport_id::encode(&r.initiator, r.isid.as_deref());
        body.extend_from_slice(&r.key.to_be_bytes());
        body.extend_from_slice(&[0; 4]);
        body.push(u8::from(r.all_tg_pt) << 1 | u8::from(d.is_holder(r) && d.reservation.is_some()));
        body.push(if d.is_holder(r) {
            d.reservation.map_or(0, |x| x.ty.code())
        } else {
            0
        });
        body.extend_from_slice(&[0; 4]);
        // RELATIVE TARGET PORT IDENTIFIER (ignored with ALL_TG_PT=1).
        body.extend_from_slice(&(if r.all_tg_pt { 0 } else { r.rel_port }).to_be_bytes());
        body.extend_from_slice(&u32::try_from(tid.len()).unwrap_or(0).to_be_bytes());
        body.extend_from_slice(&tid);
    }
    let mut v = header(d.generation, body.len());
    v.extend_from_slice(&body);
    v
}
