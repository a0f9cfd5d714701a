//! CHAP for iSCSI (RFC 1994, RFC 7143 12.1.3): MD5 only (CHAP_A=5).
//!
//! Response = MD5(CHAP_I || secret || CHAP_C). Binary values travel as
//! hex (`0x...`) or base64 (`0b...`) constants (RFC 7143 5.1); we send hex.

use crate::text::parse_number;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{alphabet, Engine};
use md5::{Digest, Md5};
use rand::RngExt;
use subtle::ConstantTimeEq;
use thiserror::Error;

/// CHAP_A value of MD5 (RFC 1994, IANA PPP authentication algorithms).
pub const CHAP_MD5: u8 = 5;
/// Bytes of the challenge the target sends (RFC 7143 12.1.3 recommends a
/// challenge at least as long as the hash output: 16 for MD5).
pub const CHALLENGE_LEN: usize = 16;
/// Bound on an initiator's challenge for mutual CHAP (RFC 7143 12.1.3:
/// CHAP_C is at most 1024 bytes).
pub const MAX_CHALLENGE_LEN: usize = 1024;
/// MD5 output length: the only valid CHAP_R length.
pub const RESPONSE_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChapError {
    #[error("binary value is neither 0x-hex nor 0b-base64")]
    BadEncoding,
    #[error("binary value is empty or too long")]
    BadLength,
    #[error("CHAP_I is not a number in 0..=255")]
    BadIdentifier,
}

/// Pick CHAP_A from the initiator's list (RFC 7143 12.1.3: "CHAP_A=<A1,A2...>"):
/// the first entry that is MD5.
pub fn select_algorithm(list: &str) -> Option<u8> {
    list.split(',')
        .filter_map(|a| parse_number(a.trim()))
        .find(|&a| a == u64::from(CHAP_MD5))
        .map(|_| CHAP_MD5)
}

/// Parse CHAP_I: a number 0..=255.
pub fn parse_identifier(s: &str) -> Result<u8, ChapError> {
    parse_number(s)
        .and_then(|n| u8::try_from(n).ok())
        .ok_or(ChapError::BadIdentifier)
}

/// Decode a binary value `0x<hex>` or `0b<base64>` (RFC 7143 5.1).
pub fn decode_binary(s: &str) -> Result<Vec<u8>, ChapError> {
    let bytes = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if h.len() % 2 == 1 {
            // An odd digit count means an implied leading zero nibble.
            hex::decode(format!("0{h}")).map_err(|_| ChapError::BadEncoding)?
        } else {
            hex::decode(h).map_err(|_| ChapError::BadEncoding)?
        }
    } else if let Some(b) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        BASE64.decode(b).map_err(|_| ChapError::BadEncoding)?
    } else {
        return Err(ChapError::BadEncoding);
    };
    if bytes.is_empty() || bytes.len() > MAX_CHALLENGE_LEN {
        return Err(ChapError::BadLength);
    }
    Ok(bytes)
}

/// Encode bytes as a hex constant `0x...` (lower case).
pub fn encode_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// RFC 4648 base64 (standard alphabet) with or without '=' padding; the
/// unused bits of the last quantum must be zero.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// CHAP response (RFC 1994 4.1): MD5 over identifier, secret, challenge.
pub fn response(identifier: u8, secret: &[u8], challenge: &[u8]) -> [u8; RESPONSE_LEN] {
    let mut h = Md5::new();
    h.update([identifier]);
    h.update(secret);
    h.update(challenge);
    h.finalize().into()
}

/// Compare a received response with the expected one in constant time.
pub fn verify(expected: &[u8; RESPONSE_LEN], received: &[u8]) -> bool {
    received.len() == RESPONSE_LEN && bool::from(expected.as_slice().ct_eq(received))
}

/// The target's challenge of one login: random CHAP_I and CHAP_C.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub identifier: u8,
    pub challenge: Vec<u8>,
}

impl Challenge {
    /// A fresh random challenge (thread RNG, a CSPRNG in rand 0.10).
    pub fn random() -> Self {
        let mut rng = rand::rng();
        let mut challenge = vec![0u8; CHALLENGE_LEN];
        rng.fill(challenge.as_mut_slice());
        Self {
            identifier: rng.random(),
            challenge,
        }
    }

    /// Check the initiator's CHAP_R for this challenge with `secret`.
    pub fn check(&self, secret: &[u8], received: &[u8]) -> bool {
        verify(
            &response(self.identifier, secret, &self.challenge),
            received,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_response_known_answer() {
        // Independently computed: python3 -c "import hashlib;
        // print(hashlib.md5(bytes([1])+b'secretsecret'+bytes(range(16))).hexdigest())"
        let r = response(1, b"secretsecret", &(0u8..16).collect::<Vec<_>>());
        assert_eq!(hex::encode(r), "226dc576c33f04ff9c3a200ffe35f442");
    }

    #[test]
    fn verify_constant_time_semantics() {
        let r = response(7, b"s", b"c");
        assert!(verify(&r, &r));
        let mut bad = r;
        bad[15] ^= 1;
        assert!(!verify(&r, &bad));
        assert!(!verify(&r, &r[..15]));
    }

    #[test]
    fn binary_values() {
        assert_eq!(decode_binary("0x0102ff"), Ok(vec![1, 2, 0xff]));
        assert_eq!(decode_binary("0XABC"), Ok(vec![0x0a, 0xbc]));
        assert_eq!(decode_binary("0bAQL/"), Ok(vec![1, 2, 0xff]));
        assert_eq!(decode_binary("0bAQI="), Ok(vec![1, 2]));
        assert_eq!(decode_binary("0bAQ=="), Ok(vec![1]));
        assert_eq!(decode_binary("0bAQ"), Ok(vec![1]));
        assert_eq!(decode_binary("0bAR=="), Err(ChapError::BadEncoding));
        assert_eq!(decode_binary("0bAQ==="), Err(ChapError::BadEncoding));
        assert_eq!(decode_binary("0bAQ-_"), Err(ChapError::BadEncoding));
        assert_eq!(decode_binary("0b"), Err(ChapError::BadLength));
        assert_eq!(decode_binary("0x"), Err(ChapError::BadLength));
        assert_eq!(decode_binary("0xzz"), Err(ChapError::BadEncoding));
        assert_eq!(decode_binary("1234"), Err(ChapError::BadEncoding));
        assert_eq!(encode_hex(&[0, 0xab]), "0x00ab");
    }

    #[test]
    fn identifiers_and_algorithms() {
        assert_eq!(parse_identifier("0"), Ok(0));
        assert_eq!(parse_identifier("255"), Ok(255));
        assert_eq!(parse_identifier("0xff"), Ok(255));
        assert_eq!(parse_identifier("256"), Err(ChapError::BadIdentifier));
        assert_eq!(parse_identifier("-1"), Err(ChapError::BadIdentifier));
        assert_eq!(parse_identifier(""), Err(ChapError::BadIdentifier));
        assert_eq!(select_algorithm("7,5"), Some(5));
        assert_eq!(select_algorithm("5"), Some(5));
        assert_eq!(select_algorithm("6,7"), None);
        assert_eq!(select_algorithm("x"), None);
    }

    #[test]
    fn random_challenges_differ() {
        let a = Challenge::random();
        let b = Challenge::random();
        assert_eq!(a.challenge.len(), CHALLENGE_LEN);
        assert_ne!(a.challenge, b.challenge);
        let r = response(a.identifier, b"k", &a.challenge);
        assert!(a.check(b"k", &r));
        assert!(!a.check(b"j", &r));
    }
}
