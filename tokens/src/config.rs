//! Limits and timeouts of the token store, with their defaults.

use std::time::Duration;

/// Default inactivity timeout, used when POPULATE TOKEN asks for 0 (s).
pub const DEFAULT_INACTIVITY_TIMEOUT_SECS: u32 = 60;
/// Largest inactivity timeout we advertise and grant (s); larger requests
/// are clamped to it.
pub const MAX_INACTIVITY_TIMEOUT_SECS: u32 = 600;
/// Default bound on live tokens overall.
pub const DEFAULT_MAX_LIVE_TOKENS: usize = 262_144;
/// Default bound on the live tokens of one initiator.
pub const DEFAULT_MAX_TOKENS_PER_INITIATOR: usize = 131_072;
/// Default bound on the bytes represented by all live tokens (256 TiB).
pub const DEFAULT_MAX_BYTES_REPRESENTED: u128 = 1 << 48;
/// Default bound on remembered dead tokens (tombstones).
pub const DEFAULT_MAX_TOMBSTONES: usize = 65_536;

/// Store configuration. `Default` gives the constants above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Inactivity timeout granted when POPULATE TOKEN asks for 0.
    pub default_inactivity_timeout: Duration,
    /// Largest inactivity timeout granted (the advertised maximum).
    pub max_inactivity_timeout: Duration,
    /// Live tokens overall.
    pub max_live_tokens: usize,
    /// Live tokens per initiator name.
    pub max_tokens_per_initiator: usize,
    /// Sum of NUMBER OF BYTES REPRESENTED over live tokens.
    pub max_bytes_represented: u128,
    /// Dead tokens remembered for their exact error; the oldest is forgotten
    /// first (it then answers "unknown").
    pub max_tombstones: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            default_inactivity_timeout: Duration::from_secs(DEFAULT_INACTIVITY_TIMEOUT_SECS.into()),
            max_inactivity_timeout: Duration::from_secs(MAX_INACTIVITY_TIMEOUT_SECS.into()),
            max_live_tokens: DEFAULT_MAX_LIVE_TOKENS,
            max_tokens_per_initiator: DEFAULT_MAX_TOKENS_PER_INITIATOR,
            max_bytes_represented: DEFAULT_MAX_BYTES_REPRESENTED,
            max_tombstones: DEFAULT_MAX_TOMBSTONES,
        }
    }
}

impl StoreConfig {
    /// The timeout granted for a POPULATE TOKEN INACTIVITY TIMEOUT of
    /// `requested_secs`: 0 gives the default, more than the maximum gives
    /// the maximum.
    pub fn granted_timeout(&self, requested_secs: u32) -> Duration {
        if requested_secs == 0 {
            self.default_inactivity_timeout
                .min(self.max_inactivity_timeout)
        } else {
            Duration::from_secs(requested_secs.into()).min(self.max_inactivity_timeout)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_the_default_and_large_requests_are_clamped() {
        let c = StoreConfig::default();
        assert_eq!(c.granted_timeout(0), Duration::from_secs(60));
        assert_eq!(c.granted_timeout(1), Duration::from_secs(1));
        assert_eq!(c.granted_timeout(600), Duration::from_secs(600));
        assert_eq!(c.granted_timeout(601), Duration::from_secs(600));
        assert_eq!(c.granted_timeout(u32::MAX), Duration::from_secs(600));
    }
}
