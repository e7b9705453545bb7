//! The client's address: the TCP peer's, unless the peer is a configured trusted proxy, in
//! which case `X-Forwarded-For` is walked right to left past trusted proxies and the first
//! address that is not one is the client (the algorithm of nginx's `real_ip_recursive`).
//! Allowed networks, the token endpoint's per-address limit and the logs all use it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use scimd_core::Cidr;

use crate::AppState;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The address a request came from, after trusted proxies; in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The client address of a request from `peer` carrying `headers`. Each proxy appends the
/// address it heard from, so only the entries right of the last untrusted hop are
/// trustworthy; everything left of it is whatever the client chose to send.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    // Several X-Forwarded-For headers are one list, in order (RFC 9110 §5.3).
    let entries: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        // An entry that is no address ends the walk at the proxy that forwarded it.
        let Some(ip) = parse_entry(entry) else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// `1.2.3.4`, `2001:db8::1`, or either with a port (`1.2.3.4:5678`, `[2001:db8::1]:443`),
/// as some load balancers write them.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// Resolve the client address once per request, put it in the extensions and in the
/// request's log span.
pub async fn resolve(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let ip = client_ip(peer.ip(), req.headers(), &state.trusted_proxies);
    tracing::Span::current().record("client", tracing::field::display(ip));
    req.extensions_mut().insert(ClientAddr(ip));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().filter_map(|c| c.parse().ok()).collect()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                FORWARDED_FOR,
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
            );
        }
        h
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let h = xff(&["203.0.113.9"]);
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &cidrs(&["10.0.0.0/8"])),
            ip("198.51.100.1")
        );
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"));
    }

    #[test]
    fn the_walk_stops_at_the_first_untrusted_hop_from_the_right() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        // The client claims 1.1.1.1; the outer proxy 10.0.0.7 saw 203.0.113.9.
        let h = xff(&["1.1.1.1, 203.0.113.9", "10.0.0.7"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &h, &trusted), ip("203.0.113.9"));
        let only_proxies = xff(&["10.0.0.9, 10.0.0.8"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &only_proxies, &trusted), ip("10.0.0.9"));
    }

    #[test]
    fn ports_are_dropped_and_garbage_ends_the_walk() {
        let trusted = cidrs(&["127.0.0.1"]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &xff(&["203.0.113.9:4711"]), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &xff(&["[2001:db8::5]:443"]), &trusted),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), &xff(&["unknown"]), &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(client_ip(ip("127.0.0.1"), &HeaderMap::new(), &trusted), ip("127.0.0.1"));
    }
}
