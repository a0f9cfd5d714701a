//! iSCSI name syntax (RFC 3720 3.2.6.3, RFC 7143 4.2.7.2; naa. from
//! RFC 3980): `iqn.yyyy-mm.reversed.domain[:anything]`, `eui.` + 16 hex
//! digits, `naa.` + 16 or 32 hex digits. At most 223 bytes.
//!
//! Names are compared after stringprep (RFC 3722), which maps to lower
//! case; we accept the ASCII subset only and ask for lower case, so the
//! configured name is the name on the wire.

use std::fmt;

/// RFC 7143 4.2.7.1: iSCSI names are at most 223 bytes.
pub const MAX_NAME_LEN: usize = 223;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    Empty,
    TooLong(usize),
    UnknownType,
    BadDate,
    NoAuthority,
    BadChar(char),
    Uppercase,
    BadHex { want: &'static str },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "empty name"),
            Self::TooLong(n) => write!(f, "{n} bytes long; at most {MAX_NAME_LEN} are allowed"),
            Self::UnknownType => write!(
                f,
                "expected \"iqn.yyyy-mm.reversed.domain:identifier\", \"eui.\" + 16 hex digits or \"naa.\" + 16 or 32 hex digits"
            ),
            Self::BadDate => write!(f, "after \"iqn.\" expected a date yyyy-mm and a dot, e.g. iqn.2026-11.com.example:store1"),
            Self::NoAuthority => write!(f, "expected a reversed domain name after the date, e.g. iqn.2026-11.com.example:store1"),
            Self::BadChar(c) => write!(f, "character {c:?} is not allowed; use a-z, 0-9, '-', '.' and ':'"),
            Self::Uppercase => write!(f, "iSCSI names are lower case (RFC 3722 maps them so); write it in lower case"),
            Self::BadHex { want } => write!(f, "expected {want} hexadecimal digits after the type prefix"),
        }
    }
}

/// Check an iSCSI name (target or initiator).
pub fn validate_iscsi_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong(name.len()));
    }
    let lower = name.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("eui.") {
        return check_hex(hex, &[16], "16");
    }
    if let Some(hex) = lower.strip_prefix("naa.") {
        return check_hex(hex, &[16, 32], "16 or 32");
    }
    let Some(rest) = name.strip_prefix("iqn.") else {
        return Err(NameError::UnknownType);
    };
    let b = rest.as_bytes();
    let date_ok = b.len() >= 8
        && b.get(..4).is_some_and(|y| y.iter().all(u8::is_ascii_digit))
        && b.get(4) == Some(&b'-')
        && b.get(5..7)
            .is_some_and(|m| m.iter().all(u8::is_ascii_digit))
        && matches!(rest.get(5..7), Some(m) if ("01"..="12").contains(&m))
        && b.get(7) == Some(&b'.');
    if !date_ok {
        return Err(NameError::BadDate);
    }
    let after = rest.get(8..).unwrap_or("");
    let authority = after.split(':').next().unwrap_or("");
    if authority.is_empty() || authority.starts_with('.') || authority.ends_with('.') {
        return Err(NameError::NoAuthority);
    }
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            return Err(NameError::Uppercase);
        }
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | ':')) {
            return Err(NameError::BadChar(c));
        }
    }
    Ok(())
}

fn check_hex(hex: &str, lens: &[usize], want: &'static str) -> Result<(), NameError> {
    if lens.contains(&hex.len()) && hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(NameError::BadHex { want })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for n in [
            "iqn.2026-11.com.example:store1",
            "iqn.1993-08.org.debian:01:abcdef012345",
            "iqn.2001-04.com.example",
            "iqn.2026-11.org.xtgt:default",
            "eui.02004567A425678D",
            "naa.52004567BA64678D",
            "naa.62004567BA64678D0123456789ABCDEF",
        ] {
            assert_eq!(validate_iscsi_name(n), Ok(()), "{n}");
        }
    }

    #[test]
    fn invalid_names() {
        let cases: &[(&str, NameError)] = &[
            ("", NameError::Empty),
            ("store1", NameError::UnknownType),
            ("IQN.2026-11.com.example", NameError::UnknownType),
            ("iqn.26-11.com.example", NameError::BadDate),
            ("iqn.2026-13.com.example", NameError::BadDate),
            ("iqn.2026-00.com.example", NameError::BadDate),
            ("iqn.2026-1.com.example", NameError::BadDate),
            ("iqn.2026-11", NameError::BadDate),
            ("iqn.2026-11.", NameError::NoAuthority),
            ("iqn.2026-11.:x", NameError::NoAuthority),
            ("iqn.2026-11.com.Example:x", NameError::Uppercase),
            ("iqn.2026-11.com.example:a b", NameError::BadChar(' ')),
            ("iqn.2026-11.com.example:a_b", NameError::BadChar('_')),
            ("eui.0200", NameError::BadHex { want: "16" }),
            ("eui.02004567A425678G", NameError::BadHex { want: "16" }),
            (
                "naa.52004567BA64678",
                NameError::BadHex { want: "16 or 32" },
            ),
        ];
        for (n, e) in cases {
            assert_eq!(validate_iscsi_name(n).as_ref(), Err(e), "{n}");
        }
        let long = format!("iqn.2026-11.com.example:{}", "a".repeat(200));
        assert_eq!(
            validate_iscsi_name(&long),
            Err(NameError::TooLong(long.len()))
        );
    }

    #[test]
    fn never_panics_on_prefixes() {
        let n = "iqn.2026-11.com.example:store1";
        for i in 0..=n.len() {
            let _ = validate_iscsi_name(&n[..i]);
        }
        let _ = validate_iscsi_name("iqn.\u{e9}\u{e9}\u{e9}\u{e9}-\u{e9}");
    }
}
