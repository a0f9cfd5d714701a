//! The `/metrics` HTTP endpoint: hyper's HTTP/1.1 server on a listener
//! that xtgt bound itself, so the address in the banner is the bound one
//! (port 0 included). Bounded: a request head of at most 8 KiB, read within
//! 5 s; a connection lives at most 10 s and serves one request; at most 16
//! connections at once (more are closed unanswered).

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// hyper's smallest allowed read buffer; it bounds the request head.
const MAX_REQUEST_HEAD: usize = 8192;
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: usize = 16;
/// How often the recorder's upkeep (histogram maintenance) runs.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);
/// Pause after a failed accept (e.g. out of file descriptors) so that the
/// loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The Prometheus text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serve `GET /metrics` on `listener` until `shutdown`; also runs the
/// recorder's upkeep every 5 s.
pub async fn serve(listener: TcpListener, handle: PrometheusHandle, shutdown: CancellationToken) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut upkeep = tokio::time::interval(UPKEEP_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = upkeep.tick() => handle.run_upkeep(),
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::debug!("metrics endpoint: accept failed: {e}");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                // Over the limit: drop the connection rather than queue it.
                let Ok(permit) = limit.clone().try_acquire_owned() else { continue };
                let handle = handle.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let response = answer(req.method(), req.uri().path(), || handle.render());
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let connection = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEAD_TIMEOUT)
                        .max_buf_size(MAX_REQUEST_HEAD)
                        .keep_alive(false)
                        .serve_connection(TokioIo::new(stream), service);
                    // A timeout or an HTTP error only ends this connection.
                    let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
                });
            }
        }
    }
}

/// The response to `method path`; `render` produces the metrics text and
/// is called only for `/metrics`. hyper leaves out the body of a HEAD
/// response itself.
fn answer(method: &Method, path: &str, render: impl FnOnce() -> String) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, String::new());
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match path {
        "/metrics" => text(StatusCode::OK, render()),
        "/" => text(StatusCode::OK, "xtgt: metrics at /metrics\n".to_string()),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found; try /metrics\n".to_string(),
        ),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
    r
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
