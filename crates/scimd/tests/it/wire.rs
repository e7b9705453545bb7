//! HTTP/1.1 by hand over TCP, for what an HTTP client library will not do: stop half-way
//! through a request, hold a connection idle, read whatever comes back until the close.

use std::io::Read;
use std::time::Duration;

/// A raw TCP connection to `addr` (`host:port`), for what an HTTP client will not send.
pub fn connect(addr: &str) -> std::net::TcpStream {
    let s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    s
}

/// Everything the peer sends until it closes the connection (or stops for 60 s).
pub fn read_until_closed(s: &mut std::net::TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// A raw HTTP/1.1 response: its status and its body (after the blank line).
pub fn parse_raw(bytes: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(bytes);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Send `GET path` on a connection and read its answer, leaving the connection open
/// (keep-alive); the status.
pub fn get_keep_alive(s: &mut std::net::TcpStream, path: &str) -> u16 {
    use std::io::Write;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: scimd\r\n\r\n").as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return parse_raw(&got).0;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => panic!("the connection closed before its answer: {got:?}"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}
