//! Human sizes: `512`, `4096B`, `64KiB`, `1 GiB`, `2TiB`, `10MB` (decimal).

/// Binary and decimal units, longest suffix first so `KiB` wins over `B`.
const UNITS: [(&str, u64); 9] = [
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("b", 1),
];

/// What [`parse_size`] accepts, for error messages.
pub const SIZE_HELP: &str =
    "expected a number of bytes with an optional unit: B, KiB, MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000), e.g. \"1GiB\"";

/// Parse a size into bytes. Units are case-insensitive.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits_end = t
        .char_indices()
        .find(|(_, ch)| !ch.is_ascii_digit())
        .map_or(t.len(), |(i, _)| i);
    let (num, unit) = t.split_at(digits_end);
    if num.is_empty() {
        return Err(SIZE_HELP.to_string());
    }
    let n: u64 = num
        .parse()
        .map_err(|_| format!("number too large; {SIZE_HELP}"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let mult = if unit.is_empty() {
        1
    } else {
        UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, m)| *m)
            .ok_or_else(|| format!("unknown unit {unit:?}; {SIZE_HELP}"))?
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("too large; {SIZE_HELP}"))
}

/// Format bytes in the largest binary unit that divides them exactly.
pub fn format_size(bytes: u64) -> String {
    for (unit, m) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes >= m && bytes.is_multiple_of(m) {
            return format!("{}{unit}", bytes / m);
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_size("64mib"), Ok(64 << 20));
        assert_eq!(parse_size("2TiB"), Ok(2 << 40));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("3KB"), Ok(3000));
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "GiB",
            "1.5GiB",
            "-1",
            "1 XB",
            "1GiBs",
            "99999999999999999999",
            "16777216TiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_size(1 << 30), "1GiB");
        assert_eq!(format_size(1536), "1536B");
        assert_eq!(format_size(3 << 20), "3MiB");
        assert_eq!(format_size(0), "0B");
    }
}
