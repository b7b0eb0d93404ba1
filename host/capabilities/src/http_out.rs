//! Outbound HTTP (`wasi:http/outgoing-handler`) behind an allow-list.
//!
//! The check runs in the host's send hook, after the guest has built its
//! request and before any connection is made:
//!
//! 1. the request's `scheme://host:port` must match an entry of the
//!    deployment's `outbound` grant (deny by default);
//! 2. an IP literal only matches an entry that lists that IP;
//! 3. the host name is resolved and every address is checked: link-local,
//!    cloud metadata, unspecified, multicast and broadcast addresses are
//!    refused unless that address itself is listed.
//!
//! For plain `http` the connection then goes to the address that was checked.
//! For `https` the TLS stack connects by name (it needs the name for SNI and
//! certificate checks), so a DNS answer that changes between the check and the
//! connect is not caught; the certificate check still pins the name.
//!
//! The guest sees `HTTP-request-denied` (not on the list) or
//! `destination-IP-prohibited` (a forbidden address).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};
use wharf_spec::OriginPattern;

use crate::logging::LogSink;

/// A deployment's outbound allow-list, built once per version.
#[derive(Clone, Default)]
pub struct OutboundPolicy {
    allow: Arc<[OriginPattern]>,
    log: Option<LogSink>,
}

impl OutboundPolicy {
    /// A policy allowing exactly `allow` (already validated by the spec).
    pub fn new(allow: Vec<OriginPattern>, log: Option<LogSink>) -> Self {
        Self {
            allow: allow.into(),
            log,
        }
    }

    /// Whether the policy allows anything at all.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty()
    }

    fn listed(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.allow.iter().any(|p| p.matches(scheme, host, port))
    }

    fn listed_ip(&self, scheme: &str, ip: IpAddr, port: u16) -> bool {
        let host = ip.to_string();
        self.allow
            .iter()
            .any(|p| !p.host.starts_with("*.") && p.matches(scheme, &host, port))
    }

    fn deny(&self, why: &str) {
        if let Some(log) = &self.log {
            log.host(why);
        }
    }
}

/// Whether an address is refused unless explicitly listed: link-local (which
/// includes the 169.254.169.254 metadata service), other known metadata
/// endpoints, unspecified, multicast and broadcast.
pub fn is_forbidden_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                // Alibaba Cloud's metadata service.
                || v4 == Ipv4Addr::new(100, 100, 100, 200)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden_address(IpAddr::V4(v4));
            }
            (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.is_unspecified()
                || v6.is_multicast()
                // AWS's IPv6 metadata service.
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
        }
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        let _ = fut;
        let policy = self.clone();
        Box::new(async move {
            let uri = request.uri().clone();
            let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
            let Some(host) = uri
                .host()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
            else {
                return Err(Error::HttpRequestUriInvalid);
            };
            let port = uri
                .port_u16()
                .unwrap_or(if scheme == "https" { 443 } else { 80 });

            let literal = host.parse::<IpAddr>().ok();
            let allowed = match literal {
                Some(ip) => policy.listed_ip(&scheme, ip, port),
                None => policy.listed(&scheme, &host, port),
            };
            if !allowed {
                policy.deny(&format!(
                    "outbound request to {scheme}://{host}:{port} denied: not in the deployment's `outbound` grant"
                ));
                return Err(Error::HttpRequestDenied);
            }

            let addrs: Vec<IpAddr> = match literal {
                Some(ip) => vec![ip],
                None => match tokio::net::lookup_host((host.as_str(), port)).await {
                    Ok(addrs) => addrs.map(|a| a.ip()).collect(),
                    Err(_) => {
                        return Err(Error::DnsError {
                            rcode: Some("lookup failed".into()),
                            info_code: None,
                        });
                    }
                },
            };
            if addrs.is_empty() {
                return Err(Error::DestinationNotFound);
            }
            if let Some(bad) = addrs
                .iter()
                .find(|ip| is_forbidden_address(**ip) && !policy.listed_ip(&scheme, **ip, port))
            {
                policy.deny(&format!(
                    "outbound request to {scheme}://{host}:{port} denied: it resolves to {bad}, a link-local, metadata or otherwise forbidden address"
                ));
                return Err(Error::DestinationIpProhibited);
            }

            if scheme == "http" && literal.is_none() {
                // Connect to the address that was checked, not to whatever the
                // name resolves to a moment later. The Host header (set from
                // the original authority) is untouched.
                let ip = addrs[0];
                let authority = match ip {
                    IpAddr::V4(v4) => format!("{v4}:{port}"),
                    IpAddr::V6(v6) => format!("[{v6}]:{port}"),
                };
                let mut parts = uri.into_parts();
                parts.authority = authority.parse().ok();
                if let Ok(pinned) = http::Uri::from_parts(parts) {
                    *request.uri_mut() = pinned;
                }
            }

            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            use http_body_util::BodyExt;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        for ip in [
            "169.254.169.254",
            "169.254.1.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "100.100.100.200",
            "fe80::1",
            "::",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_forbidden_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "93.184.216.34",
            "::1",
            "2001:db8::1",
        ] {
            assert!(!is_forbidden_address(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn ip_literals_need_an_explicit_entry() {
        let policy = OutboundPolicy::new(
            vec![
                OriginPattern::parse("http://127.0.0.1:8000").unwrap(),
                OriginPattern::parse("https://*.example.com").unwrap(),
            ],
            None,
        );
        assert!(policy.listed_ip("http", "127.0.0.1".parse().unwrap(), 8000));
        assert!(!policy.listed_ip("http", "127.0.0.1".parse().unwrap(), 8001));
        assert!(!policy.listed_ip("https", "10.0.0.1".parse().unwrap(), 443));
        assert!(policy.listed("https", "api.example.com", 443));
    }
}
