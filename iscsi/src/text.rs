//! Text key=value codec (RFC 7143 6.1, 5.1) for Login and Text PDUs.
//!
//! A data segment holds `key=value` records, each terminated by one NUL
//! (0x00), UTF-8 encoded. Key names are at most 63 bytes of
//! `[A-Za-z0-9.\-+@_]`; values at most 255 bytes except the keys whose
//! values may be large (CHAP binary values: up to 8192, RFC 7143 5.1).
//! Everything the peer controls is bounded: number of keys, total size.

use thiserror::Error;

/// RFC 7143 6.1: "key names MUST NOT exceed 63 bytes".
pub const MAX_KEY_LEN: usize = 63;
/// RFC 7143 5.1: text-value, iSCSI-name-value and numbers: 255 bytes.
pub const MAX_VALUE_LEN: usize = 255;
/// RFC 7143 5.1: large-binary-value (CHAP_C, CHAP_R) up to 8192 bytes.
pub const MAX_LARGE_VALUE_LEN: usize = 8192;
/// Bound on the number of keys in one text exchange.
pub const MAX_KEYS: usize = 256;
/// Bound on the bytes of one text exchange (all PDUs of a C-bit sequence).
pub const MAX_TEXT_BYTES: usize = 65_536;

/// Why a text data segment could not be parsed. Login maps every variant
/// to status 0x0200 (initiator error); Text requests answer with a Reject.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TextError {
    #[error("text data exceeds {MAX_TEXT_BYTES} bytes")]
    TooLong,
    #[error("more than {MAX_KEYS} keys")]
    TooManyKeys,
    #[error("last key=value record is not NUL terminated")]
    Unterminated,
    #[error("record without '='")]
    MissingEquals,
    #[error("empty key name")]
    EmptyKey,
    #[error("key name longer than {MAX_KEY_LEN} bytes")]
    KeyTooLong,
    #[error("invalid character in key name")]
    InvalidKeyChar,
    #[error("value of {0} too long")]
    ValueTooLong(String),
    #[error("record is not valid UTF-8")]
    InvalidUtf8,
    #[error("key {0} appears twice")]
    DuplicateKey(String),
}

/// One `key=value` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// Largest value length accepted for `key` (RFC 7143 5.1, 12.1.3).
pub fn max_value_len(key: &str) -> usize {
    match key {
        "CHAP_C" | "CHAP_R" => MAX_LARGE_VALUE_LEN,
        _ => MAX_VALUE_LEN,
    }
}

fn valid_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'@' | b'_')
}

/// Parse a complete text data segment (all continuation PDUs joined).
///
/// Every record must end with a NUL (RFC 7143 6.1). Empty records
/// (consecutive NULs, e.g. zero padding an initiator left in) are skipped.
/// A key may appear only once (RFC 7143 6.2: "the same key MUST NOT
/// appear more than once").
pub fn parse(data: &[u8]) -> Result<Vec<KeyValue>, TextError> {
    if data.len() > MAX_TEXT_BYTES {
        return Err(TextError::TooLong);
    }
    let mut out: Vec<KeyValue> = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let Some(nul) = rest.iter().position(|&b| b == 0) else {
            return Err(TextError::Unterminated);
        };
        let (record, tail) = rest.split_at(nul);
        rest = tail.get(1..).unwrap_or_default();
        if record.is_empty() {
            continue;
        }
        let kv = parse_record(record)?;
        if out.iter().any(|o| o.key == kv.key) {
            return Err(TextError::DuplicateKey(kv.key));
        }
        if out.len() >= MAX_KEYS {
            return Err(TextError::TooManyKeys);
        }
        out.push(kv);
    }
    Ok(out)
}

fn parse_record(record: &[u8]) -> Result<KeyValue, TextError> {
    let Some(eq) = record.iter().position(|&b| b == b'=') else {
        return Err(TextError::MissingEquals);
    };
    let (key, value) = record.split_at(eq);
    let value = value.get(1..).unwrap_or_default();
    if key.is_empty() {
        return Err(TextError::EmptyKey);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(TextError::KeyTooLong);
    }
    if !key.iter().all(|&b| valid_key_char(b)) {
        return Err(TextError::InvalidKeyChar);
    }
    // Key characters are ASCII, so this cannot fail; still no panic path.
    let key = std::str::from_utf8(key).map_err(|_| TextError::InvalidUtf8)?;
    if value.len() > max_value_len(key) {
        return Err(TextError::ValueTooLong(key.to_owned()));
    }
    let value = std::str::from_utf8(value).map_err(|_| TextError::InvalidUtf8)?;
    Ok(KeyValue {
        key: key.to_owned(),
        value: value.to_owned(),
    })
}

/// Parse a numerical value (RFC 7143 5.1): a decimal constant, or a
/// hex-constant `0x`/`0X` followed by hex digits; 64 bits at most. Nothing
/// else (no sign, no spaces): `str::parse` and `from_str_radix` would take
/// a leading `+`.
pub fn parse_number(s: &str) -> Option<u64> {
    let (digits, radix, max_len) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) if h.bytes().all(|b| b.is_ascii_hexdigit()) => (h, 16, 16),
        None if s.bytes().all(|b| b.is_ascii_digit()) => (s, 10, 20),
        _ => return None,
    };
    if digits.is_empty() || digits.len() > max_len {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Builder of a text data segment: `key=value\0` records in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextWriter {
    buf: Vec<u8>,
}

impl TextWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Append `key=value\0`.
    pub fn push(&mut self, key: &str, value: &str) -> &mut Self {
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.push(b'=');
        self.buf.extend_from_slice(value.as_bytes());
        self.buf.push(0);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether a record for `key` was already written.
    pub fn contains_key(&self, key: &str) -> bool {
        self.buf.split(|&b| b == 0).any(|r| {
            r.len() > key.len() && r.starts_with(key.as_bytes()) && r.get(key.len()) == Some(&b'=')
        })
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
}

/// Encode records into a data segment.
pub fn encode<'a, I>(pairs: I) -> Vec<u8>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut w = TextWriter::new();
    for (k, v) in pairs {
        w.push(k, v);
    }
    w.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_decimal_or_hex_constants_only() {
        assert_eq!(parse_number("8192"), Some(8192));
        assert_eq!(parse_number("0x2000"), Some(8192));
        assert_eq!(parse_number("0XfF"), Some(255));
        assert_eq!(parse_number("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_number("0xffffffffffffffff"), Some(u64::MAX));
        for bad in [
            "",
            "0x",
            "+5",
            "0x+5",
            "-1",
            " 1",
            "1 ",
            "0x 1",
            "1e3",
            "0b1",
            "18446744073709551616",
            "0x10000000000000000",
        ] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
    }

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn parses_records() {
        let data = b"InitiatorName=iqn.1994-05.com.example:a\0SessionType=Normal\0X=a=b\0";
        assert_eq!(
            parse(data),
            Ok(vec![
                kv("InitiatorName", "iqn.1994-05.com.example:a"),
                kv("SessionType", "Normal"),
                kv("X", "a=b"),
            ])
        );
    }

    #[test]
    fn empty_value_and_empty_segment() {
        assert_eq!(parse(b""), Ok(vec![]));
        assert_eq!(parse(b"SendTargets=\0"), Ok(vec![kv("SendTargets", "")]));
        assert_eq!(parse(b"A=1\0\0\0"), Ok(vec![kv("A", "1")]));
    }

    #[test]
    fn every_prefix_truncation_is_typed() {
        let data = b"InitiatorName=iqn.x\0HeaderDigest=None,CRC32C\0MaxBurstLength=262144\0";
        let ends: Vec<usize> = data
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == 0)
            .map(|(i, _)| i + 1)
            .collect();
        for n in 0..=data.len() {
            let r = parse(&data[..n]);
            if n == 0 || ends.contains(&n) {
                let expect = ends.iter().filter(|&&e| e <= n).count();
                assert_eq!(r.map(|v| v.len()), Ok(expect), "prefix {n}");
            } else {
                assert_eq!(r, Err(TextError::Unterminated), "prefix {n}");
            }
        }
    }

    #[test]
    fn errors() {
        assert_eq!(parse(b"NoEquals\0"), Err(TextError::MissingEquals));
        assert_eq!(parse(b"=v\0"), Err(TextError::EmptyKey));
        assert_eq!(parse(b"K y=v\0"), Err(TextError::InvalidKeyChar));
        let long_key = format!("{}=1\0", "K".repeat(64));
        assert_eq!(parse(long_key.as_bytes()), Err(TextError::KeyTooLong));
        let ok_key = format!("{}=1\0", "K".repeat(63));
        assert!(parse(ok_key.as_bytes()).is_ok());
        let long_val = format!("TargetAlias={}\0", "v".repeat(256));
        assert_eq!(
            parse(long_val.as_bytes()),
            Err(TextError::ValueTooLong("TargetAlias".into()))
        );
        let ok_val = format!("TargetAlias={}\0", "v".repeat(255));
        assert!(parse(ok_val.as_bytes()).is_ok());
        let chap = format!("CHAP_C=0x{}\0", "ab".repeat(1024));
        assert!(parse(chap.as_bytes()).is_ok());
        assert_eq!(parse(b"A=\xff\0"), Err(TextError::InvalidUtf8));
        assert_eq!(
            parse(b"A=1\0B=2\0A=1\0"),
            Err(TextError::DuplicateKey("A".into()))
        );
    }

    #[test]
    fn bounds() {
        let mut many = Vec::new();
        for i in 0..=MAX_KEYS {
            many.extend_from_slice(format!("K{i}=1\0").as_bytes());
        }
        assert_eq!(parse(&many), Err(TextError::TooManyKeys));
        assert_eq!(
            parse(&vec![0u8; MAX_TEXT_BYTES + 1]),
            Err(TextError::TooLong)
        );
    }

    #[test]
    fn encode_round_trip() {
        let bytes = encode([("A", "1"), ("TargetName", "iqn.x")]);
        assert_eq!(bytes, b"A=1\0TargetName=iqn.x\0");
        assert_eq!(
            parse(&bytes),
            Ok(vec![kv("A", "1"), kv("TargetName", "iqn.x")])
        );
        let mut w = TextWriter::new();
        w.push("AB", "1");
        assert!(w.contains_key("AB"));
        assert!(!w.contains_key("A"));
    }
}
