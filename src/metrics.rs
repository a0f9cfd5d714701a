//! The Prometheus exporter: installs the global `metrics` recorder; its
//! text rendering is served at `GET /metrics` by [`http`].
//!
//! The layers record through the `metrics` facade; names are listed in
//! [`describe`] and in the README.

mod http;

pub use http::serve;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Bucket upper bounds (seconds) of `xtgt_command_duration_seconds`: from
/// 25 µs (a cached read on loopback) to 10 s (a stalled backend).
pub const COMMAND_DURATION_BUCKETS: [f64; 16] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 1.0, 2.5, 10.0,
];

/// Install the Prometheus recorder as the global `metrics` recorder.
pub fn install() -> Result<PrometheusHandle, String> {
    let handle = builder()?.install_recorder().map_err(|e| e.to_string())?;
    describe();
    metrics::gauge!("xtgt_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}

/// The exporter's configuration: histogram buckets.
fn builder() -> Result<PrometheusBuilder, String> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("xtgt_command_duration_seconds".to_string()),
            &COMMAND_DURATION_BUCKETS,
        )
        .map_err(|e| e.to_string())
}

/// HELP texts for every metric the layers emit.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!("xtgt_build_info", "xtgt version (value is always 1)");
    describe_gauge!("xtgt_sessions", "Open iSCSI sessions per target");
    describe_counter!("xtgt_logins_total", "Login attempts by result");
    describe_counter!("xtgt_pdu_rejects_total", "Reject PDUs sent, by reason");
    describe_counter!("xtgt_commands_total", "SCSI commands executed, by opcode");
    describe_counter!(
        "xtgt_read_bytes_total",
        Unit::Bytes,
        "Bytes read by initiators, per target and LUN"
    );
    describe_counter!(
        "xtgt_write_bytes_total",
        Unit::Bytes,
        "Bytes written by initiators, per target and LUN"
    );
    describe_counter!(
        "xtgt_scsi_errors_total",
        "CHECK CONDITION responses, by sense key"
    );
    describe_counter!(
        "xtgt_reservation_conflicts_total",
        "RESERVATION CONFLICT responses, by opcode"
    );
    describe_histogram!(
        "xtgt_command_duration_seconds",
        Unit::Seconds,
        "SCSI command execution time, by opcode"
    );
    describe_counter!(
        "xtgt_copy_bytes_total",
        Unit::Bytes,
        "Bytes moved by the copy manager (EXTENDED COPY, WRITE USING TOKEN), by method (native, emulated)"
    );
    describe_counter!(
        "xtgt_copy_commands_total",
        "Copy commands received, by type"
    );
    describe_gauge!(
        "xtgt_copies_in_flight",
        "Copy operations running now (foreground and background), by kind (extended_copy, populate_token, write_using_token)"
    );
    describe_gauge!(
        "xtgt_copies_running",
        "Copy operations (EXTENDED COPY, WRITE USING TOKEN) admitted by the copy scheduler, by receiving LU"
    );
    describe_gauge!(
        "xtgt_copies_queued",
        "Copy operations waiting for their turn (concurrency limits), by receiving LU"
    );
    describe_counter!(
        "xtgt_copy_grant_wait_microseconds_total",
        "Time copy chunks waited for their grant from the copy scheduler (microseconds)"
    );
    describe_counter!(
        "xtgt_copy_foreground_delayed_total",
        "Initiator reads and writes that started while copy chunks were in flight on their backing domain"
    );
    describe_counter!(
        "xtgt_copy_foreground_delayed_microseconds_total",
        "Service time of those reads and writes (microseconds)"
    );
    describe_counter!(
        "xtgt_copy_refusals_total",
        "Copies refused with INSUFFICIENT RESOURCES (queue of waiting copies full), by the limit that held them (global, per_lu, per_initiator)"
    );
    describe_gauge!("xtgt_rod_tokens", "Live ROD tokens (ODX)");
    describe_counter!(
        "xtgt_rod_token_events_total",
        "ROD token events: created, used, revoked, expired, deleted, cancelled, refused (store full)"
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every metric of the README's table, with its type column.
    fn documented() -> Vec<(String, String)> {
        let mut out = Vec::new();
        for row in include_str!("../README.md").lines() {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let (Some(names), Some(kind)) = (cells.get(1), cells.get(2)) else {
                continue;
            };
            if !names.starts_with("`xtgt_") {
                continue;
            }
            for name in names.split(',') {
                out.push((name.trim().trim_matches('`').to_string(), kind.to_string()));
            }
        }
        out
    }

    #[test]
    fn every_documented_metric_has_a_help_text() {
        let metrics = documented();
        assert!(metrics.len() >= 12, "README table not found: {metrics:?}");
        let recorder = builder().unwrap().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            for (name, kind) in &metrics {
                match kind.as_str() {
                    "counter" => metrics::counter!(name.clone()).increment(1),
                    "gauge" => metrics::gauge!(name.clone()).set(1.0),
                    "histogram" => metrics::histogram!(name.clone()).record(1.0),
                    other => panic!("{name}: unknown type {other}"),
                }
            }
        });
        let text = handle.render();
        for (name, kind) in &metrics {
            assert!(
                text.contains(&format!("\n# HELP {name} "))
                    || text.starts_with(&format!("# HELP {name} ")),
                "{name} has no HELP line:\n{text}"
            );
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name} is not a {kind}:\n{text}"
            );
        }
    }
}
