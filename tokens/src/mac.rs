//! The token MAC: HMAC-SHA256 under a per-process random key.
//!
//! The key never leaves the process, so a token is accepted only if this
//! process made it: an altered, forged or pre-restart token fails
//! [`MacKey::verify`] and is answered as corrupt before any store lookup.

use crate::TokenError;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of the MAC in a token (HMAC-SHA256 output).
pub const TAG_LEN: usize = 32;

/// Length of the key: the SHA-256 block size, the most HMAC can use.
pub const KEY_LEN: usize = 64;

/// A MAC key. Its `Debug` output does not show the key.
#[derive(Clone)]
pub struct MacKey([u8; KEY_LEN]);

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey(..)")
    }
}

impl MacKey {
    /// A fresh key from the OS random generator.
    pub fn random() -> Result<Self, TokenError> {
        let mut k = [0u8; KEY_LEN];
        getrandom::fill(&mut k).map_err(|_| TokenError::Random)?;
        Ok(MacKey(k))
    }

    /// A key with the given bytes (tests and fuzzing; production uses
    /// [`MacKey::random`]).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        MacKey(bytes)
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new(&self.0.into())
    }

    /// HMAC-SHA256 of `data`.
    pub fn tag(&self, data: &[u8]) -> [u8; TAG_LEN] {
        let mut m = self.mac();
        m.update(data);
        m.finalize().into_bytes().into()
    }

    /// Whether `tag` is the MAC of `data`, compared in constant time.
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        let mut m = self.mac();
        m.update(data);
        m.verify_slice(tag).is_ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut key = [0u8; KEY_LEN];
        key[..4].copy_from_slice(b"Jefe");
        let k = MacKey::from_bytes(key);
        let want = [
            0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
            0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
            0x64, 0xec, 0x38, 0x43,
        ];
        let data = b"what do ya want for nothing?";
        assert_eq!(k.tag(data), want);
        assert!(k.verify(data, &want));
        let mut bad = want;
        bad[31] ^= 1;
        assert!(!k.verify(data, &bad));
        assert!(!k.verify(data, &want[..31]));
    }

    #[test]
    fn random_keys_differ_and_debug_hides_them() {
        let a = MacKey::random().unwrap();
        let b = MacKey::random().unwrap();
        assert_ne!(a.tag(b"x"), b.tag(b"x"));
        assert_eq!(format!("{a:?}"), "MacKey(..)");
    }
}
