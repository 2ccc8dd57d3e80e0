//! The client's address, decided once per request.
//!
//! Without `TRUSTED_PROXIES` the client is the TCP peer and forwarding
//! headers are ignored (anybody can write them). When the peer is one of
//! the trusted networks (a load balancer, a reverse proxy), the client is
//! the rightmost hop of `Forwarded` (RFC 7239, its `for=` parameters) or,
//! without it, of `X-Forwarded-For`, that is not itself trusted: each
//! proxy appends the address it received the request from, so hops to the
//! left of the first untrusted one may be forged by the client.
//!
//! [`layer`] stores the answer as a [`ClientIp`] extension; the rate
//! limits, the portal's pages, the request's log span and the audit log all
//! read that one value.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::HeaderMap,
    middleware::Next,
    response::Response,
};
use ipnet::IpNet;

use crate::AppState;

/// The client's address as [`layer`] decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Middleware: puts the request's [`ClientIp`] into its extensions (when
/// the connection's peer is known, which it is for every TCP connection)
/// and scopes the audit log's client address to the request.
pub async fn layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let Some(peer) = peer else {
        return next.run(request).await;
    };
    let client = resolve(peer, request.headers(), &state.data.settings.trusted_proxies);
    request.extensions_mut().insert(ClientIp(client));
    tracing::Span::current().record("client", tracing::field::display(client));
    service::audit::with_client_address(client, next.run(request)).await
}

/// The client address of a request from `peer` with `headers`, believing
/// forwarding headers only from `trusted` networks.
#[must_use]
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let hops = forwarded_hops(headers);
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(address) = hop else {
            // An unreadable hop (`unknown`, an obfuscated name) ends what can
            // be known: the last proxy that wrote a readable one is the client.
            return client;
        };
        client = canonical(*address);
        if !is_trusted(client, trusted) {
            return client;
        }
    }
    client
}

fn is_trusted(address: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&address))
}

/// An IPv4-mapped IPv6 address (`::ffff:192.0.2.7`, what a dual-stack
/// socket reports for IPv4 peers) as the IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

/// The hops the proxies recorded, leftmost (the original client, as far as
/// anybody claims) first; `None` for a hop that is not an address.
/// `Forwarded` wins when present; every line of the header counts, in order.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all(axum::http::header::FORWARDED)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|line| line.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_node(value.trim().trim_matches('"')))
                })
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .map(parse_node)
        .collect()
}

/// One hop: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711` or a bare `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(address);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    node.parse::<SocketAddr>().ok().map(|addr| addr.ip())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("net")).collect()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    #[test]
    fn without_trusted_proxies_the_headers_are_ignored() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=203.0.113.9")]);
        assert_eq!(resolve(ip("10.0.0.5"), &h, &[]), ip("10.0.0.5"));
        // A peer outside the trusted networks is not believed either.
        assert_eq!(
            resolve(ip("198.51.100.1"), &h, &nets(&["10.0.0.0/8"])),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client forged the first hop; the balancer appended the real one.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.7")]);
        assert_eq!(resolve(ip("10.0.0.5"), &h, &trusted), ip("203.0.113.9"));
        // Several header lines are one list.
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(resolve(ip("10.0.0.5"), &h, &trusted), ip("203.0.113.9"));
        // Only trusted hops: the leftmost is the client.
        let h = headers(&[("x-forwarded-for", "10.1.1.1, 10.2.2.2")]);
        assert_eq!(resolve(ip("10.0.0.5"), &h, &trusted), ip("10.1.1.1"));
        // No header: the proxy itself.
        assert_eq!(resolve(ip("10.0.0.5"), &HeaderMap::new(), &trusted), ip("10.0.0.5"));
        // An unreadable hop stops the walk at the last readable one.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, garbage, 10.0.0.7")]);
        assert_eq!(resolve(ip("10.0.0.5"), &h, &trusted), ip("10.0.0.7"));
    }

    #[test]
    fn forwarded_wins_and_its_nodes_parse_with_ports_and_brackets() {
        let trusted = nets(&["10.0.0.0/8", "fd00::/8"]);
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.1"),
            (
                "forwarded",
                r#"for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711""#,
            ),
        ]);
        assert_eq!(resolve(ip("10.0.0.5"), &h, &trusted), ip("2001:db8:cafe::17"));
        let h = headers(&[("forwarded", r#"for="192.0.2.60:8080";proto=https"#)]);
        assert_eq!(resolve(ip("fd00::1"), &h, &trusted), ip("192.0.2.60"));
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(resolve(ip("10.0.0.5"), &h, &trusted), ip("10.0.0.5"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            resolve(ip("::ffff:10.0.0.5"), &h, &nets(&["10.0.0.0/8"])),
            ip("203.0.113.9")
        );
        assert_eq!(resolve(ip("::ffff:192.0.2.1"), &h, &[]), ip("192.0.2.1"));
    }
}
