//! The endpoint over real TCP: status lines, headers and bodies byte for
//! byte, one request per connection, the head size bound, shutdown.

use super::*;
use metrics_exporter_prometheus::PrometheusBuilder;
use std::io::{Read, Write};
use std::net::SocketAddr;

struct Endpoint {
    addr: SocketAddr,
    handle: PrometheusHandle,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// An endpoint on 127.0.0.1:0 whose recorder (not the global one) holds
/// `xtgt_test_total 3`.
async fn endpoint() -> Endpoint {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("xtgt_test_total").increment(3);
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(listener, handle.clone(), shutdown.clone()));
    Endpoint {
        addr,
        handle,
        shutdown,
        task,
    }
}

/// Send `request` as is and read until the server closes the connection.
async fn exchange(addr: SocketAddr, request: Vec<u8>) -> String {
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(&request).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    })
    .await
    .unwrap()
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
}

/// Split a response into its head lines (without the date, which varies)
/// and its body.
fn split(response: &str) -> (Vec<&str>, &str) {
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let lines = head
        .split("\r\n")
        .filter(|l| !l.starts_with("date: "))
        .collect();
    (lines, body)
}

#[tokio::test]
async fn get_metrics_answers_the_rendering_and_closes() {
    let e = endpoint().await;
    let expected = e.handle.render();
    assert!(expected.contains("\nxtgt_test_total 3\n"), "{expected}");
    let response = exchange(e.addr, get("/metrics")).await;
    let (head, body) = split(&response);
    let length = format!("content-length: {}", expected.len());
    assert_eq!(
        head,
        [
            "HTTP/1.1 200 OK",
            "content-type: text/plain; version=0.0.4; charset=utf-8",
            "connection: close",
            length.as_str(),
        ]
    );
    assert_eq!(body, expected);
}

#[tokio::test]
async fn http_1_0_request_is_answered() {
    let e = endpoint().await;
    let request = b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n".to_vec();
    let response = exchange(e.addr, request).await;
    assert!(response.starts_with("HTTP/1.0 200 OK\r\n"), "{response}");
    assert_eq!(split(&response).1, e.handle.render());
}

#[tokio::test]
async fn query_string_is_ignored() {
    let e = endpoint().await;
    let response = exchange(e.addr, get("/metrics?x=1")).await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert_eq!(split(&response).1, e.handle.render());
}

#[tokio::test]
async fn head_has_no_body() {
    let e = endpoint().await;
    let request = b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    let response = exchange(e.addr, request).await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert_eq!(split(&response).1, "");
}

#[tokio::test]
async fn root_and_unknown_paths() {
    let e = endpoint().await;
    let response = exchange(e.addr, get("/")).await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert_eq!(split(&response).1, "xtgt: metrics at /metrics\n");
    let response = exchange(e.addr, get("/nothing")).await;
    assert!(
        response.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{response}"
    );
    assert_eq!(split(&response).1, "not found; try /metrics\n");
}

#[tokio::test]
async fn other_methods_get_405_with_allow() {
    let e = endpoint().await;
    let request = b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".to_vec();
    let response = exchange(e.addr, request).await;
    let (head, body) = split(&response);
    assert_eq!(head.first(), Some(&"HTTP/1.1 405 Method Not Allowed"));
    assert!(head.contains(&"allow: GET, HEAD"), "{response}");
    assert_eq!(body, "");
}

#[tokio::test]
async fn oversized_request_head_gets_431() {
    let e = endpoint().await;
    let filler = "a".repeat(MAX_REQUEST_HEAD);
    let request = format!("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}\r\n\r\n");
    let response = exchange(e.addr, request.into_bytes()).await;
    assert!(
        response.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{response}"
    );
}

#[tokio::test]
async fn shutdown_stops_serving_and_releases_the_port() {
    let e = endpoint().await;
    e.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), e.task)
        .await
        .unwrap()
        .unwrap();
    let refused = std::net::TcpStream::connect(e.addr).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}
