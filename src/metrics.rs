//! The Prometheus exporter: installs the global `metrics` recorder and
//! serves its text rendering at `GET /metrics` over a minimal HTTP/1.1
//! listener (bounded: a request head of at most 8 KiB, read within 5 s,
//! at most 16 connections at once).
//!
//! The layers record through the `metrics` facade; names are listed in
//! [`describe`] and in the README.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Bucket upper bounds (seconds) of `xtgt_command_duration_seconds`: from
/// 25 µs (a cached read on loopback) to 10 s (a stalled backend).
pub const COMMAND_DURATION_BUCKETS: [f64; 16] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 1.0, 2.5, 10.0,
];

const MAX_REQUEST_HEAD: usize = 8192;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CONNECTIONS: usize = 16;

/// Install the Prometheus recorder as the global `metrics` recorder.
pub fn install() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("xtgt_command_duration_seconds".to_string()),
            &COMMAND_DURATION_BUCKETS,
        )
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    describe();
    metrics::gauge!("xtgt_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
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
    describe_histogram!(
        "xtgt_command_duration_seconds",
        Unit::Seconds,
        "SCSI command execution time, by opcode"
    );
}

/// Serve `GET /metrics` on `listener` until `shutdown`; also runs the
/// recorder's upkeep (histogram maintenance) every 5 s.
pub async fn serve(listener: TcpListener, handle: PrometheusHandle, shutdown: CancellationToken) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut upkeep = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = upkeep.tick() => handle.run_upkeep(),
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                // Over the limit: drop the connection rather than queue it.
                let Ok(permit) = limit.clone().try_acquire_owned() else { continue };
                let handle = handle.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let _ = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, &handle)).await;
                });
            }
        }
    }
}

/// Read one request head and answer it; the connection is then closed.
async fn answer(mut stream: TcpStream, handle: &PrometheusHandle) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        if head.len() >= MAX_REQUEST_HEAD {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "",
                false,
            )
            .await;
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let body = handle.render();
            respond(&mut stream, "200 OK", &body, method == "HEAD").await
        }
        ("GET" | "HEAD", "/") => {
            respond(
                &mut stream,
                "200 OK",
                "xtgt: metrics at /metrics\n",
                method == "HEAD",
            )
            .await
        }
        ("GET" | "HEAD", _) => {
            respond(
                &mut stream,
                "404 Not Found",
                "not found; try /metrics\n",
                false,
            )
            .await
        }
        _ => respond(&mut stream, "405 Method Not Allowed", "", false).await,
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    body: &str,
    head_only: bool,
) -> std::io::Result<()> {
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes()).await?;
    if !head_only {
        stream.write_all(body.as_bytes()).await?;
    }
    stream.shutdown().await
}
