//! The 512-byte ROD token (SPC-5 5.x "ROD token format", SBC-4 for the
//! block-device parts) and the well-known block device zero ROD token.
//!
//! Layout of the tokens this copy manager issues (byte offsets, big-endian):
//!
//! | bytes     | field (SPC-5 ROD token format)                                  |
//! |-----------|-----------------------------------------------------------------|
//! | 0-3       | ROD TYPE (0x0080_0000 point in time, 0x0080_0001 change vulnerable) |
//! | 4-5       | reserved (0)                                                    |
//! | 6-7       | ROD TOKEN LENGTH = 0x01F8 (n - 7 for n = 511)                   |
//! | 8-15      | COPY MANAGER ROD TOKEN IDENTIFIER (the store key)               |
//! | 16-47     | CREATOR LOGICAL UNIT DESCRIPTOR (0xE4 identification CSCD descriptor of the source LU) |
//! | 48-63     | NUMBER OF BYTES REPRESENTED (128 bit)                           |
//! | 64-95     | reserved for the ROD types we issue (0)                         |
//! | 96-127    | DEVICE TYPE SPECIFIC DATA: READ CAPACITY(16) parameter data bytes 8-31 at 96-119 (SBC-4), 120-127 reserved (0) |
//! | 128-      | TARGET DEVICE DESCRIPTOR: a designation descriptor (4 + n bytes, at most [`TARGET_DESCRIPTOR_MAX`]) |
//! | ..-447    | zero up to the vendor-specific part                             |
//! | 448-479   | vendor specific: 256 bits from the OS random generator          |
//! | 480-511   | vendor specific: HMAC-SHA256 of bytes 0-479 under the process key |
//!
//! The MAC covers everything the token claims, so decoding checks it before
//! the fields are believed; the random bytes make a token unguessable even
//! by someone who has seen other tokens of this process.
//!
//! The block device zero ROD token (SBC-4 "block device zero ROD token"):
//! ROD TYPE 0xFFFF_0001 at 0-3, ROD TOKEN LENGTH 0x01F8 at 6-7, every other
//! byte reserved (0). It carries no MAC: anyone may build it. We check the
//! reserved bytes and answer a non-zero one as a corrupt token.

use crate::mac::{MacKey, TAG_LEN};
use crate::TokenError;
use std::sync::Arc;

/// Length of every ROD token handled here.
pub const TOKEN_LEN: usize = 512;
/// The ROD TOKEN LENGTH field of a 512-byte token (bytes after byte 7).
pub const ROD_TOKEN_LENGTH: u16 = 0x01F8;
/// Largest target device descriptor (designation descriptor, header included).
pub const TARGET_DESCRIPTOR_MAX: usize = OFF_NONCE - OFF_TARGET;
/// Bits of OS randomness in each token.
pub const NONCE_LEN: usize = 32;

const OFF_TYPE: usize = 0;
const OFF_LENGTH: usize = 6;
const OFF_ID: usize = 8;
const OFF_CREATOR: usize = 16;
const OFF_BYTES: usize = 48;
const OFF_DEVICE: usize = 96;
const DEVICE_LEN: usize = 24;
const OFF_TARGET: usize = 128;
const OFF_NONCE: usize = 448;
const OFF_MAC: usize = OFF_NONCE + NONCE_LEN;
const _: () = assert!(OFF_MAC + TAG_LEN == TOKEN_LEN);

/// ROD TYPE values (SPC-5 table "ROD type codes").
pub mod rod_type {
    /// Copy manager chooses (POPULATE TOKEN with RTV=0 or this value).
    pub const COPY_MANAGER_CHOOSES: u32 = 0x0000_0000;
    /// Access upon reference.
    pub const ACCESS_UPON_REFERENCE: u32 = 0x0001_0000;
    /// Point in time copy, default.
    pub const POINT_IN_TIME: u32 = 0x0080_0000;
    /// Point in time copy, change vulnerable.
    pub const CHANGE_VULNERABLE: u32 = 0x0080_0001;
    /// Point in time copy, persistent.
    pub const PERSISTENT: u32 = 0x0080_0002;
    /// Point in time copy, any.
    pub const POINT_IN_TIME_ANY: u32 = 0x0080_FFFF;
    /// Block device zero ROD token (SBC-4), WRITE USING TOKEN only.
    pub const BLOCK_DEVICE_ZERO: u32 = 0xFFFF_0001;
}

/// The ROD types this copy manager issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RodType {
    /// 0x0080_0000: the data is cloned at POPULATE TOKEN time; writes to the
    /// source do not affect the token.
    PointInTime,
    /// 0x0080_0001: the data is read at WRITE USING TOKEN time; a write to
    /// the source revokes the token.
    ChangeVulnerable,
}

impl RodType {
    /// The ROD TYPE code.
    pub fn code(self) -> u32 {
        match self {
            RodType::PointInTime => rod_type::POINT_IN_TIME,
            RodType::ChangeVulnerable => rod_type::CHANGE_VULNERABLE,
        }
    }

    /// The type for an issued-token ROD TYPE code, if we issue it.
    pub fn from_code(code: u32) -> Option<Self> {
        match code {
            rod_type::POINT_IN_TIME => Some(RodType::PointInTime),
            rod_type::CHANGE_VULNERABLE => Some(RodType::ChangeVulnerable),
            _ => None,
        }
    }

    /// Whether writes to the source revoke tokens of this type.
    pub fn revoked_by_writes(self) -> bool {
        self == RodType::ChangeVulnerable
    }
}

/// The CREATOR LOGICAL UNIT DESCRIPTOR: a 32-byte identification descriptor
/// CSCD descriptor (type 0xE4, SPC-5 "Identification descriptor CSCD
/// descriptor format") naming the source LU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreatorDescriptor([u8; 32]);

impl CreatorDescriptor {
    /// Takes the 32 bytes as given; byte 0 must be 0xE4 and the designator
    /// length (byte 7) at most 20.
    pub fn new(bytes: [u8; 32]) -> Result<Self, TokenError> {
        if bytes[0] != 0xE4 || bytes[7] > 20 {
            return Err(TokenError::Internal(
                "creator descriptor is not a 0xE4 CSCD",
            ));
        }
        Ok(CreatorDescriptor(bytes))
    }

    /// Builds the descriptor from a VPD 0x83 designator of the LU:
    /// 0 = 0xE4; 1 LU ID TYPE 00b, NUL 0, PERIPHERAL DEVICE TYPE; 2-3
    /// RELATIVE INITIATOR PORT IDENTIFIER 0; 4 CODE SET; 5 ASSOCIATION
    /// (bits 5-4) and DESIGNATOR TYPE (bits 3-0); 7 DESIGNATOR LENGTH;
    /// 8-27 DESIGNATOR; 29-31 DISK BLOCK LENGTH (block device parameters).
    pub fn from_designator(
        peripheral_type: u8,
        code_set: u8,
        association: u8,
        designator_type: u8,
        designator: &[u8],
        block_length: u32,
    ) -> Result<Self, TokenError> {
        if designator.len() > 20 || block_length > 0x00FF_FFFF {
            return Err(TokenError::Internal(
                "designator or block length too long for a CSCD",
            ));
        }
        let mut b = [0u8; 32];
        b[0] = 0xE4;
        b[1] = peripheral_type & 0x1F;
        b[4] = code_set & 0x0F;
        b[5] = ((association & 0x03) << 4) | (designator_type & 0x0F);
        b[7] = designator.len() as u8;
        b[8..8 + designator.len()].copy_from_slice(designator);
        b[29..32].copy_from_slice(&block_length.to_be_bytes()[1..]);
        Ok(CreatorDescriptor(b))
    }

    /// The 32 bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The TARGET DEVICE DESCRIPTOR: a designation descriptor (SPC-5 7.7.6.1)
/// of the SCSI target device, 4 + DESIGNATOR LENGTH bytes. Shared (`Arc`)
/// because every token of one target carries the same one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetDescriptor(Arc<[u8]>);

impl TargetDescriptor {
    /// Checks that `bytes` is one designation descriptor (length 4 + byte 3)
    /// of at most [`TARGET_DESCRIPTOR_MAX`] bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, TokenError> {
        match bytes.get(3) {
            Some(&n)
                if bytes.len() == 4 + usize::from(n) && bytes.len() <= TARGET_DESCRIPTOR_MAX =>
            {
                Ok(TargetDescriptor(bytes.into()))
            }
            _ => Err(TokenError::Internal(
                "target device descriptor malformed or too long",
            )),
        }
    }

    /// The descriptor bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// READ CAPACITY(16) parameter data bytes 8-31 of the source LU (block
/// length, protection, LBPPBE, LBPME/LBPRZ, LALBA), carried as the DEVICE
/// TYPE SPECIFIC DATA (SBC-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceSpecific(pub [u8; DEVICE_LEN]);

impl DeviceSpecific {
    /// Takes bytes 8-31 of a READ CAPACITY(16) parameter data block.
    pub fn from_read_capacity16(data: &[u8; 32]) -> Self {
        let mut b = [0u8; DEVICE_LEN];
        b.copy_from_slice(&data[8..32]);
        DeviceSpecific(b)
    }
}

/// What a MAC-protected token says. Built by the store; decoded from the
/// wire by [`decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RodToken {
    /// ROD TYPE.
    pub rod_type: RodType,
    /// COPY MANAGER ROD TOKEN IDENTIFIER.
    pub id: u64,
    /// CREATOR LOGICAL UNIT DESCRIPTOR.
    pub creator: CreatorDescriptor,
    /// NUMBER OF BYTES REPRESENTED.
    pub bytes_represented: u128,
    /// DEVICE TYPE SPECIFIC DATA.
    pub device: DeviceSpecific,
    /// TARGET DEVICE DESCRIPTOR.
    pub target: TargetDescriptor,
    /// The random bytes (vendor specific).
    pub nonce: [u8; NONCE_LEN],
}

/// A token presented by an initiator, once its format and MAC are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// The block device zero ROD token.
    Zero,
    /// A token this process issued (MAC verified); its state is the store's.
    Token(RodToken),
}

impl RodToken {
    /// The 512 wire bytes, MAC included.
    pub fn encode(&self, key: &MacKey) -> [u8; TOKEN_LEN] {
        let mut t = [0u8; TOKEN_LEN];
        t[OFF_TYPE..OFF_TYPE + 4].copy_from_slice(&self.rod_type.code().to_be_bytes());
        t[OFF_LENGTH..OFF_LENGTH + 2].copy_from_slice(&ROD_TOKEN_LENGTH.to_be_bytes());
        t[OFF_ID..OFF_ID + 8].copy_from_slice(&self.id.to_be_bytes());
        t[OFF_CREATOR..OFF_CREATOR + 32].copy_from_slice(self.creator.bytes());
        t[OFF_BYTES..OFF_BYTES + 16].copy_from_slice(&self.bytes_represented.to_be_bytes());
        t[OFF_DEVICE..OFF_DEVICE + DEVICE_LEN].copy_from_slice(&self.device.0);
        let target = self.target.bytes();
        t[OFF_TARGET..OFF_TARGET + target.len()].copy_from_slice(target);
        t[OFF_NONCE..OFF_MAC].copy_from_slice(&self.nonce);
        let tag = key.tag(&t[..OFF_MAC]);
        t[OFF_MAC..].copy_from_slice(&tag);
        t
    }
}

/// The wire bytes of the block device zero ROD token.
pub fn zero_token() -> [u8; TOKEN_LEN] {
    let mut t = [0u8; TOKEN_LEN];
    t[OFF_TYPE..OFF_TYPE + 4].copy_from_slice(&rod_type::BLOCK_DEVICE_ZERO.to_be_bytes());
    t[OFF_LENGTH..OFF_LENGTH + 2].copy_from_slice(&ROD_TOKEN_LENGTH.to_be_bytes());
    t
}

fn be16(t: &[u8; TOKEN_LEN], at: usize) -> u16 {
    u16::from_be_bytes([t[at], t[at + 1]])
}

fn be32(t: &[u8; TOKEN_LEN], at: usize) -> u32 {
    u32::from_be_bytes([t[at], t[at + 1], t[at + 2], t[at + 3]])
}

/// Decodes a presented token. The checks, in order: 512 bytes, else
/// [`TokenError::InvalidLength`]; a ROD TYPE we issue or the zero token's,
/// else [`TokenError::UnsupportedType`]; ROD TOKEN LENGTH 0x01F8, else
/// [`TokenError::InvalidLength`]; then the MAC (or, for the zero token, the
/// reserved bytes), else [`TokenError::Corrupt`]. Never panics.
pub fn decode(bytes: &[u8], key: &MacKey) -> Result<Decoded, TokenError> {
    let t: &[u8; TOKEN_LEN] = bytes.try_into().map_err(|_| TokenError::InvalidLength)?;
    let code = be32(t, OFF_TYPE);
    let rod_type = match RodType::from_code(code) {
        Some(r) => Some(r),
        None if code == rod_type::BLOCK_DEVICE_ZERO => None,
        None => return Err(TokenError::UnsupportedType(code)),
    };
    if be16(t, OFF_LENGTH) != ROD_TOKEN_LENGTH {
        return Err(TokenError::InvalidLength);
    }
    let Some(rod_type) = rod_type else {
        let reserved_zero = t[4..OFF_LENGTH].iter().chain(&t[OFF_ID..]).all(|&b| b == 0);
        return if reserved_zero {
            Ok(Decoded::Zero)
        } else {
            Err(TokenError::Corrupt)
        };
    };
    if !key.verify(&t[..OFF_MAC], &t[OFF_MAC..]) {
        return Err(TokenError::Corrupt);
    }
    // The MAC vouches for what follows; parse it without trusting it anyway.
    let mut creator = [0u8; 32];
    creator.copy_from_slice(&t[OFF_CREATOR..OFF_CREATOR + 32]);
    let mut bytes_represented = [0u8; 16];
    bytes_represented.copy_from_slice(&t[OFF_BYTES..OFF_BYTES + 16]);
    let mut device = [0u8; DEVICE_LEN];
    device.copy_from_slice(&t[OFF_DEVICE..OFF_DEVICE + DEVICE_LEN]);
    let target_len = 4 + usize::from(t[OFF_TARGET + 3]);
    let target = t
        .get(OFF_TARGET..OFF_TARGET + target_len)
        .ok_or(TokenError::Corrupt)
        .and_then(|b| TargetDescriptor::new(b).map_err(|_| TokenError::Corrupt))?;
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&t[OFF_NONCE..OFF_MAC]);
    let mut id = [0u8; 8];
    id.copy_from_slice(&t[OFF_ID..OFF_ID + 8]);
    Ok(Decoded::Token(RodToken {
        rod_type,
        id: u64::from_be_bytes(id),
        creator: CreatorDescriptor::new(creator).map_err(|_| TokenError::Corrupt)?,
        bytes_represented: u128::from_be_bytes(bytes_represented),
        device: DeviceSpecific(device),
        target,
        nonce,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests;
