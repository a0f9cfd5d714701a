//! The configuration as serde reads it: every key optional, so that a
//! missing key is reported by validation with its key path.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub server: Option<RawServer>,
    pub log: Option<String>,
    pub targets: Option<Vec<RawTarget>>,
    pub odx: Option<RawOdx>,
    pub reservations: Option<RawReservations>,
    pub copy: Option<RawCopy>,
}

/// `[reservations]`: where APTPL state files go.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReservations {
    pub dir: Option<String>,
}

/// `[copy]`: the copy scheduler and copy quotas (see `copy.rs`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCopy {
    pub foreground_share: Option<f64>,
    pub foreground_window_ms: Option<u64>,
    pub chunk_size: Option<SizeValue>,
    pub chunk_size_foreground: Option<SizeValue>,
    pub native_piece: Option<SizeValue>,
    pub max_copies: Option<u32>,
    pub max_copies_per_lu: Option<u32>,
    pub max_copies_per_initiator: Option<u32>,
    pub max_queued: Option<u32>,
    pub max_bytes_per_copy: Option<SizeValue>,
    pub max_bytes_in_flight: Option<SizeValue>,
    pub max_chunks_in_flight: Option<u32>,
    pub aging_ms: Option<u64>,
    pub odx_priority: Option<u8>,
    /// A name or a nice value: "idle", "batch", "normal", 0..=19.
    pub cpu_priority: Option<SizeValue>,
    /// CPUs reserved for copy threads: `[2, 3]`, `"2-3"` or `2`.
    pub cpus: Option<CpuListValue>,
}

/// A CPU list: numbers, or the text form taskset and /sys use ("0-3,6").
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "expected a CPU number, a list of them such as [2, 3], or a string such as \"2-3,6\""
)]
pub(super) enum CpuListValue {
    One(u64),
    List(Vec<u64>),
    Text(String),
}

/// `[odx]`: ODX token limits and timeouts (see `odx.rs`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOdx {
    pub max_live_tokens: Option<u64>,
    pub max_tokens_per_initiator: Option<u64>,
    pub max_bytes_represented: Option<SizeValue>,
    pub default_inactivity_timeout_secs: Option<u32>,
    pub max_inactivity_timeout_secs: Option<u32>,
    pub write_using_token_budget_ms: Option<u64>,
    pub allow_any_token_holder: Option<bool>,
    pub result_retention_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub listen: Option<OneOrMany>,
    pub metrics_listen: Option<String>,
    pub portal_group_tag: Option<u16>,
    pub nop_interval_secs: Option<u64>,
    pub nop_timeout_secs: Option<u64>,
    pub queue_depth: Option<u32>,
    pub max_recv_data_segment_length: Option<u32>,
}

/// `listen = "a:p"` or `listen = ["a:p", ...]`.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "expected an address such as \"127.0.0.1:3260\" or a list of them"
)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    pub iqn: Option<String>,
    pub alias: Option<String>,
    pub allowed_initiators: Option<Vec<String>>,
    pub chap: Option<RawChap>,
    pub mutual_chap: Option<RawChap>,
    pub luns: Option<Vec<RawLun>>,
    /// SET TARGET PORT GROUPS allowed (see `alua.rs`).
    pub explicit_alua: Option<bool>,
    pub port_groups: Option<Vec<RawPortGroup>>,
}

/// `[[targets.port_groups]]`: one target port group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPortGroup {
    /// Wider than the field, so that 0 and 70000 are our range errors.
    pub id: Option<u32>,
    pub state: Option<String>,
    pub portals: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChap {
    pub user: Option<String>,
    pub secret: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLun {
    pub lun: Option<u64>,
    pub backend: Option<String>,
    pub path: Option<String>,
    pub size: Option<SizeValue>,
    pub block_size: Option<u32>,
    pub read_only: Option<bool>,
    pub physical_block_size: Option<u32>,
    pub removable: Option<bool>,
}

/// `size = 1048576` or `size = "1GiB"`.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "expected a size in bytes (not negative) or a string such as \"1GiB\""
)]
pub(super) enum SizeValue {
    Bytes(u64),
    Text(String),
}
