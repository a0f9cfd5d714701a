//! The configuration of the ODX token commands: the advertised limits,
//! the token store's bounds, the per-WRITE USING TOKEN work budget, the
//! authorization switch and how long results are held. `Default` gives
//! what a copy manager without configuration uses.

use super::limits::OdxLimits;
use std::time::Duration;
use tokens::StoreConfig;

/// Configuration of POPULATE TOKEN / WRITE USING TOKEN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OdxConfig {
    /// What VPD 0x8F advertises and the parsers enforce; its inactivity
    /// timeouts are also the token store's (one source for both).
    pub limits: OdxLimits,
    /// Live tokens overall.
    pub max_live_tokens: usize,
    /// Live tokens per initiator name.
    pub max_tokens_per_initiator: usize,
    /// Bytes represented by all live tokens.
    pub max_bytes_represented: u128,
    /// Dead tokens remembered for their exact error.
    pub max_tombstones: usize,
    /// Work one WRITE USING TOKEN does at most before it stops short with
    /// COPY ABORTED, COPY TARGET DEVICE DATA UNDERRUN (Windows gives up on
    /// a command after about 4 s).
    pub max_wut_duration: Duration,
    /// Bytes one WRITE USING TOKEN copies at most (`None`: only the time
    /// budget applies).
    pub max_wut_bytes: Option<u64>,
    /// Any holder of a valid token may use it; by default the requester
    /// must also be allowed to use the token's source LU (the EXTENDED COPY
    /// rule, 0x26/0x15 otherwise).
    pub allow_any_token_holder: bool,
    /// How long a finished POPULATE TOKEN / WRITE USING TOKEN result is
    /// held for RECEIVE ROD TOKEN INFORMATION.
    pub result_retention: Duration,
    /// Results held at most (the oldest finished one goes first).
    pub max_results: usize,
}

impl Default for OdxConfig {
    fn default() -> Self {
        let store = StoreConfig::default();
        Self {
            limits: OdxLimits::default(),
            max_live_tokens: store.max_live_tokens,
            max_tokens_per_initiator: store.max_tokens_per_initiator,
            max_bytes_represented: store.max_bytes_represented,
            max_tombstones: store.max_tombstones,
            max_wut_duration: Duration::from_secs(1),
            max_wut_bytes: None,
            allow_any_token_holder: false,
            result_retention: Duration::from_secs(300),
            max_results: 16384,
        }
    }
}

impl OdxConfig {
    /// The token store's configuration: the bounds above and the
    /// inactivity timeouts of [`OdxConfig::limits`].
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            default_inactivity_timeout: Duration::from_secs(
                self.limits.default_inactivity_timeout_secs.into(),
            ),
            max_inactivity_timeout: Duration::from_secs(
                self.limits.max_inactivity_timeout_secs.into(),
            ),
            max_live_tokens: self.max_live_tokens,
            max_tokens_per_initiator: self.max_tokens_per_initiator,
            max_bytes_represented: self.max_bytes_represented,
            max_tombstones: self.max_tombstones,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_config_takes_the_advertised_timeouts() {
        let c = OdxConfig {
            limits: OdxLimits {
                default_inactivity_timeout_secs: 7,
                max_inactivity_timeout_secs: 70,
                ..OdxLimits::default()
            },
            max_live_tokens: 3,
            ..OdxConfig::default()
        };
        let s = c.store_config();
        assert_eq!(s.default_inactivity_timeout, Duration::from_secs(7));
        assert_eq!(s.max_inactivity_timeout, Duration::from_secs(70));
        assert_eq!(s.max_live_tokens, 3);
        assert_eq!(OdxConfig::default().store_config(), StoreConfig::default());
        assert_eq!(
            OdxConfig::default().max_wut_duration,
            Duration::from_secs(1)
        );
        assert!(!OdxConfig::default().allow_any_token_holder);
    }
}
