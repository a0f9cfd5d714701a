//! The mode pages (SPC-5 7.5, SBC-4 6.5): their current, changeable and
//! default values.

use super::ModeState;

/// PAGE CONTROL (SPC-5 6.11: 00b current, 01b changeable, 10b default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageControl {
    Current,
    Changeable,
    Default,
}

pub const READ_WRITE_ERROR_RECOVERY: u8 = 0x01;
pub const CACHING: u8 = 0x08;
pub const CONTROL: u8 = 0x0A;
pub const INFORMATIONAL_EXCEPTIONS: u8 = 0x1C;

/// Pages in the order "return all pages" lists them.
pub const PAGE_CODES: [u8; 4] = [
    READ_WRITE_ERROR_RECOVERY,
    CACHING,
    CONTROL,
    INFORMATIONAL_EXCEPTIONS,
];

/// WCE bit of byte 2 of the Caching page.
pub const WCE: u8 = 0x04;

/// D_SENSE bit of byte 2 of the Control page (SPC-5 7.5.8).
pub const D_SENSE: u8 = 0x04;

/// The page `code` as MODE SENSE returns it (PS=0: nothing is saveable),
/// or None for a page we do not implement.
pub fn page(code: u8, pc: PageControl, state: ModeState) -> Option<Vec<u8>> {
    let changeable = pc == PageControl::Changeable;
    let state = if pc == PageControl::Default {
        ModeState::default()
    } else {
        state
    };
    let mut p = match code {
        // SBC-4 6.5.9: AWRE/ARRE 0, retry counts 0, RECOVERY TIME LIMIT 0.
        READ_WRITE_ERROR_RECOVERY => vec![0u8; 12],
        // SBC-4 6.5.5: WCE; read cache on (RCD=0); nothing else.
        CACHING => {
            let mut p = vec![0u8; 20];
            if changeable || state.wce {
                p[2] = WCE;
            }
            p
        }
        // SPC-5 7.5.8: TST=000b, D_SENSE (changeable, default 0), QUEUE
        // ALGORITHM MODIFIER=1 (unrestricted reordering), QERR=00b, TAS=0,
        // BUSY TIMEOUT PERIOD FFFFh (unlimited).
        CONTROL => {
            let mut p = vec![0u8; 12];
            if changeable || state.d_sense {
                p[2] = D_SENSE;
            }
            if !changeable {
                p[3] = 0x10;
                p[8] = 0xFF;
                p[9] = 0xFF;
            }
            p
        }
        // SPC-5 7.5.14: DEXCPT=1 (no informational exception reporting).
        INFORMATIONAL_EXCEPTIONS => {
            let mut p = vec![0u8; 12];
            if !changeable {
                p[2] = 0x08;
            }
            p
        }
        _ => return None,
    };
    p[0] = code;
    p[1] = u8::try_from(p.len() - 2).unwrap_or(0);
    Some(p)
}
