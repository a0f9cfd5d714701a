//! The `[odx]` section: limits and timeouts of ODX copy offload (POPULATE
//! TOKEN / WRITE USING TOKEN), validated into [`OdxSettings`].
//!
//! Every key is optional; the defaults are the constants below (the same
//! values the token store and the copy manager use when built without a
//! configuration: `assemble` tests that they agree).

use super::{raw, size, Checker, ConfigError};
use std::time::Duration;

/// Live ROD tokens overall.
pub const DEFAULT_MAX_LIVE_TOKENS: u64 = 262_144;
/// Live ROD tokens of one initiator name.
pub const DEFAULT_MAX_TOKENS_PER_INITIATOR: u64 = 131_072;
/// Sum of the bytes the live tokens represent (256 TiB).
pub const DEFAULT_MAX_BYTES_REPRESENTED: u64 = 1 << 48;
/// Inactivity timeout of a POPULATE TOKEN that asks for 0 (seconds).
pub const DEFAULT_INACTIVITY_TIMEOUT_SECS: u32 = 60;
/// Largest inactivity timeout granted and advertised (seconds).
pub const DEFAULT_MAX_INACTIVITY_TIMEOUT_SECS: u32 = 600;
/// Work one WRITE USING TOKEN may do before it ends with COPY ABORTED,
/// DATA UNDERRUN and the blocks written (milliseconds).
pub const DEFAULT_WUT_BUDGET_MS: u64 = 1000;
/// How long the result of a POPULATE TOKEN / WRITE USING TOKEN is held for
/// RECEIVE ROD TOKEN INFORMATION when its list id is not reused (seconds).
pub const DEFAULT_RESULT_RETENTION_SECS: u64 = 300;

/// Bounds of the keys (inclusive).
pub const MAX_LIVE_TOKENS_LIMIT: u64 = 16_777_216;
pub const MAX_INACTIVITY_TIMEOUT_LIMIT_SECS: u32 = 86_400;
/// Windows gives up on a WRITE USING TOKEN after about 4 s
/// (CopyOffloadMaxTargetDuration): the budget stays well inside that.
pub const WUT_BUDGET_LIMIT_MS: u64 = 3000;
pub const RESULT_RETENTION_LIMIT_SECS: u64 = 86_400;

/// The validated `[odx]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdxSettings {
    pub max_live_tokens: u64,
    pub max_tokens_per_initiator: u64,
    pub max_bytes_represented: u64,
    pub default_inactivity_timeout_secs: u32,
    pub max_inactivity_timeout_secs: u32,
    pub write_using_token_budget: Duration,
    /// Any holder of a valid token may use it, even an initiator that may
    /// not use the token's source LU (default: refused with 0x26/0x15).
    pub allow_any_token_holder: bool,
    pub result_retention: Duration,
}

impl Default for OdxSettings {
    fn default() -> Self {
        Self {
            max_live_tokens: DEFAULT_MAX_LIVE_TOKENS,
            max_tokens_per_initiator: DEFAULT_MAX_TOKENS_PER_INITIATOR,
            max_bytes_represented: DEFAULT_MAX_BYTES_REPRESENTED,
            default_inactivity_timeout_secs: DEFAULT_INACTIVITY_TIMEOUT_SECS,
            max_inactivity_timeout_secs: DEFAULT_MAX_INACTIVITY_TIMEOUT_SECS,
            write_using_token_budget: Duration::from_millis(DEFAULT_WUT_BUDGET_MS),
            allow_any_token_holder: false,
            result_retention: Duration::from_secs(DEFAULT_RESULT_RETENTION_SECS),
        }
    }
}

/// `odx.KEY` must lie in `lo..=hi`.
fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    c: &Checker<'_>,
    key: &str,
    value: T,
    lo: T,
    hi: T,
    unit: &str,
) -> Result<T, ConfigError> {
    c.in_range(format!("odx.{key}"), value, lo, hi, unit)
}

pub(super) fn validate_odx(c: &Checker<'_>, ro: raw::RawOdx) -> Result<OdxSettings, ConfigError> {
    let d = OdxSettings::default();
    let max_live_tokens = in_range(
        c,
        "max_live_tokens",
        ro.max_live_tokens.unwrap_or(d.max_live_tokens),
        1,
        MAX_LIVE_TOKENS_LIMIT,
        " tokens",
    )?;
    let max_tokens_per_initiator = in_range(
        c,
        "max_tokens_per_initiator",
        ro.max_tokens_per_initiator
            .unwrap_or(d.max_tokens_per_initiator.min(max_live_tokens)),
        1,
        max_live_tokens,
        " tokens (at most odx.max_live_tokens)",
    )?;
    let max_bytes_represented = match ro.max_bytes_represented {
        None => d.max_bytes_represented,
        Some(raw::SizeValue::Bytes(n)) => n,
        Some(raw::SizeValue::Text(s)) => size::parse_size(&s)
            .map_err(|e| c.err("odx.max_bytes_represented", format!("{s:?}: {e}")))?,
    };
    if max_bytes_represented == 0 {
        return Err(c.err(
            "odx.max_bytes_represented",
            "0 bytes; expected a positive size such as \"256TiB\"",
        ));
    }
    let max_inactivity_timeout_secs = in_range(
        c,
        "max_inactivity_timeout_secs",
        ro.max_inactivity_timeout_secs
            .unwrap_or(d.max_inactivity_timeout_secs),
        1,
        MAX_INACTIVITY_TIMEOUT_LIMIT_SECS,
        " seconds",
    )?;
    let default_inactivity_timeout_secs = in_range(
        c,
        "default_inactivity_timeout_secs",
        ro.default_inactivity_timeout_secs.unwrap_or(
            d.default_inactivity_timeout_secs
                .min(max_inactivity_timeout_secs),
        ),
        1,
        max_inactivity_timeout_secs,
        " seconds (at most odx.max_inactivity_timeout_secs)",
    )?;
    let budget_ms = in_range(
        c,
        "write_using_token_budget_ms",
        ro.write_using_token_budget_ms
            .unwrap_or(DEFAULT_WUT_BUDGET_MS),
        1,
        WUT_BUDGET_LIMIT_MS,
        " milliseconds (Windows gives up on a WRITE USING TOKEN after about 4 s)",
    )?;
    let retention_secs = in_range(
        c,
        "result_retention_secs",
        ro.result_retention_secs
            .unwrap_or(DEFAULT_RESULT_RETENTION_SECS),
        1,
        RESULT_RETENTION_LIMIT_SECS,
        " seconds",
    )?;
    Ok(OdxSettings {
        max_live_tokens,
        max_tokens_per_initiator,
        max_bytes_represented,
        default_inactivity_timeout_secs,
        max_inactivity_timeout_secs,
        write_using_token_budget: Duration::from_millis(budget_ms),
        allow_any_token_holder: ro.allow_any_token_holder.unwrap_or(false),
        result_retention: Duration::from_secs(retention_secs),
    })
}
