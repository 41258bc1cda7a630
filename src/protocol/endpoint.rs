//! The service's URLs, built and parsed in one place: stream and Replay paths, hosts, and the
//! query parameters the client sends and the simulator reads.

use super::product::Product;
use super::v2::products::V2Product;
use crate::Error;

/// The default stream host (also seen: `https://gnip-stream.x.com`).
pub const STREAM_HOST: &str = "https://gnip-stream.twitter.com";
/// The default Replay host.
pub const REPLAY_HOST: &str = "https://gnip-stream.gnip.com";

/// Query parameter: the partition of a volume stream, `1..=N`.
pub const PARAM_PARTITION: &str = "partition";
/// Query parameter: minutes of backfill on a (re)connect, `1..=5`.
pub const PARAM_BACKFILL: &str = "backfillMinutes";
/// Query parameter: Replay's start, `yyyyMMddHHmm`, inclusive.
pub const PARAM_FROM_DATE: &str = "fromDate";
/// Query parameter: Replay's end, `yyyyMMddHHmm`, exclusive.
pub const PARAM_TO_DATE: &str = "toDate";
/// Query parameter: Recovery's start on the realtime URL, ISO 8601.
pub const PARAM_START_TIME: &str = "startTime";
/// Query parameter: Recovery's end on the realtime URL, ISO 8601.
pub const PARAM_END_TIME: &str = "endTime";
/// How far back Recovery reaches.
pub const RECOVERY_MAX_AGE_SECS: i64 = 24 * 3600;
/// How far back Replay reaches (the last 5 days, as the reliability audit read the service's
/// terms): no Replay range can be longer.
pub const REPLAY_MAX_AGE_SECS: i64 = 5 * 24 * 3600;

/// Which kind of endpoint a path names: the first path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// A live stream: `/stream/…`.
    Stream,
    /// Replay: `/replay/…`.
    Replay,
}

impl Service {
    /// The path segment: `stream` or `replay`.
    pub fn segment(self) -> &'static str {
        match self {
            Service::Stream => "stream",
            Service::Replay => "replay",
        }
    }
}

/// A stream path: `/{stream|replay}/{product}/accounts/{account}/publishers/twitter/{label}.json`,
/// or an X API v2 stream's (`/2/tweets/sample10/stream`: no account, no label).
///
/// ```
/// use gnip_stream::unversioned::protocol::endpoint::{Service, StreamPath};
/// use gnip_stream::Product;
/// let p = StreamPath::parse("/stream/sample10/accounts/acme/publishers/twitter/prod.json").unwrap();
/// assert_eq!((p.service, p.product), (Service::Stream, Product::Decahose));
/// assert_eq!(p.to_path(), "/stream/sample10/accounts/acme/publishers/twitter/prod.json");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamPath {
    /// Stream or Replay.
    pub service: Service,
    /// The product named in the path.
    pub product: Product,
    /// The account name.
    pub account: String,
    /// The stream label.
    pub label: String,
}

impl StreamPath {
    /// A path for these parts.
    pub fn new(service: Service, product: Product, account: &str, label: &str) -> Self {
        StreamPath {
            service,
            product,
            account: account.to_owned(),
            label: label.to_owned(),
        }
    }

    /// Parses a path (no query); `None` when it is not a stream or Replay path. An X API v2
    /// stream path (`/2/tweets/firehose/stream`) has no account and no label.
    pub fn parse(path: &str) -> Option<StreamPath> {
        if let Some(p) = V2Product::from_path(path) {
            return Some(StreamPath::new(Service::Stream, Product::V2(p), "", ""));
        }
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let [
            kind,
            product,
            "accounts",
            account,
            "publishers",
            "twitter",
            file,
        ] = parts[..]
        else {
            return None;
        };
        let service = match kind {
            "stream" => Service::Stream,
            "replay" => Service::Replay,
            _ => return None,
        };
        let label = file.strip_suffix(".json")?;
        if account.is_empty() || label.is_empty() {
            return None;
        }
        let product = Product::from_path_name(product)?;
        if matches!(product, Product::V2(_)) {
            return None;
        }
        Some(StreamPath {
            service,
            product,
            account: account.to_owned(),
            label: label.to_owned(),
        })
    }

    /// The path, starting with `/`.
    pub fn to_path(&self) -> String {
        if let Product::V2(p) = self.product {
            return p.path().to_owned();
        }
        format!(
            "/{}/{}/accounts/{}/publishers/twitter/{}.json",
            self.service.segment(),
            self.product.path_name(),
            self.account,
            self.label
        )
    }

    /// The full URL on `host` (scheme and authority, e.g. [`STREAM_HOST`]).
    pub fn url(&self, host: &str) -> String {
        format!("{}{}", host.trim_end_matches('/'), self.to_path())
    }
}

/// Refuses to send credentials over plain `http://` to anything but loopback (the service's
/// credentials are a password or a token: they go over TLS, or stay on this machine).
///
/// ```
/// use gnip_stream::unversioned::protocol::endpoint::check_transport;
/// assert!(check_transport("https://gnip-stream.twitter.com/x", true).is_ok());
/// assert!(check_transport("http://127.0.0.1:8080/x", true).is_ok());
/// assert!(check_transport("http://example.com/x", true).is_err());
/// assert!(check_transport("http://localhost:x@evil.example/x", false).is_err()); // userinfo
/// ```
pub fn check_transport(url: &str, has_credentials: bool) -> Result<(), Error> {
    let Some(parts) = UrlParts::split(url) else {
        return Err(Error::BadInput {
            reason: format!("not a URL: {url}").into(),
        });
    };
    if parts.authority.contains('@') {
        // The URL is not echoed: what stands before the `@` is a password.
        return Err(Error::BadInput {
            reason: "a URL with credentials in it (user:password@host) is refused: give them in GNIP_USERNAME and GNIP_PASSWORD".into(),
        });
    }
    let host = parts.host();
    match parts.scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if !has_credentials => Ok(()),
        "http" => {
            if is_loopback(host) {
                Ok(())
            } else {
                Err(Error::InsecureTransport { host: host.into() })
            }
        }
        other => Err(Error::BadInput {
            reason: format!("unsupported URL scheme {other:?}: use https").into(),
        }),
    }
}

/// Whether `host` (a name or an address, IPv6 without brackets) is this machine: `localhost`,
/// `::1` or 127.0.0.0/8 (credentials may go there in the clear).
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host == "::1"
        || host
            .parse::<::core::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A URL cut into its parts, borrowed: `scheme://authority` + path + query (without `?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// The scheme, as written.
    pub scheme: &'a str,
    /// `host[:port]` (or `[v6]:port`).
    pub authority: &'a str,
    /// The path (`""` when there is none).
    pub path: &'a str,
    /// The query without `?` (`""` when there is none).
    pub query: &'a str,
}

impl<'a> UrlParts<'a> {
    /// Splits `url`; `None` when it has no `scheme://`. A `#fragment` is dropped (it is never
    /// sent, and http's `Uri` ends the authority there too: found by the `urls` fuzz target).
    pub fn split(url: &'a str) -> Option<UrlParts<'a>> {
        let (scheme, rest) = url.split_once("://")?;
        let rest = rest.split('#').next().unwrap_or_default();
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        Some(UrlParts {
            scheme,
            authority,
            path,
            query,
        })
    }

    /// The host alone: no port, no brackets around an IPv6 address.
    pub fn host(&self) -> &'a str {
        // As http and ureq read it: after the last `@` (userinfo is refused anyway).
        let authority = self.authority.rsplit('@').next().unwrap_or_default();
        if let Some(v6) = authority.strip_prefix('[') {
            v6.split(']').next().unwrap_or_default()
        } else {
            authority.split(':').next().unwrap_or_default()
        }
    }

    /// `scheme://authority`.
    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }
}

/// What a stream connection asks for: partition, backfill, Replay or Recovery range. A
/// dialect writes it as its query ([`Dialect::url`](super::dialect::Dialect::url)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamQuery {
    /// `partition=N` (volume streams; `None` for PowerTrack and Replay).
    pub partition: Option<u32>,
    /// `backfillMinutes=N`.
    pub backfill_minutes: Option<u8>,
    /// Replay's `fromDate` and `toDate` (seconds since the epoch; minutes are sent).
    pub replay: Option<(i64, i64)>,
    /// Recovery's `startTime` and `endTime` (seconds since the epoch, sent as ISO 8601).
    pub recovery: Option<(i64, i64)>,
}

/// A query parameter's raw (still percent-encoded) value.
pub fn raw_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_userinfo_are_refused_and_never_echoed() {
        for url in [
            "http://localhost:x@evil.example/stream/powertrack/accounts/a/publishers/twitter/l.json",
            "http://u:p@remote.example/x",
            "https://u:secret@gnip-stream.twitter.com/x",
            "http://u@127.0.0.1:8080/x",
        ] {
            for creds in [true, false] {
                match check_transport(url, creds) {
                    Err(Error::BadInput { reason }) => {
                        assert!(reason.contains("credentials in it"), "{reason}");
                        assert!(
                            !reason.contains("secret") && !reason.contains(":x@"),
                            "{reason}"
                        );
                    }
                    other => panic!("{url}: {other:?}"),
                }
            }
        }
        let p = UrlParts::split("http://a:b@host.example:81/x").unwrap();
        assert_eq!(p.host(), "host.example", "the host http would connect to");
    }

    #[test]
    fn credentials_never_go_over_plain_http_to_a_remote_host() {
        for ok in [
            "https://gnip-stream.twitter.com/x",
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://[::1]:9/x",
            "http://127.2.3.4/x",
        ] {
            assert!(check_transport(ok, true).is_ok(), "{ok}");
        }
        for bad in [
            "http://gnip-stream.twitter.com/x",
            "http://10.0.0.1/x",
            "http://[2001:db8::1]/x",
            "http://localhost.evil.com/x",
        ] {
            assert!(
                matches!(
                    check_transport(bad, true),
                    Err(Error::InsecureTransport { .. })
                ),
                "{bad}"
            );
        }
        assert!(
            check_transport("http://example.com/x", false).is_ok(),
            "no credentials, nothing to leak"
        );
        assert!(matches!(
            check_transport("ftp://x/y", true),
            Err(Error::BadInput { .. })
        ));
    }

    #[test]
    fn paths_round_trip_for_every_product_and_service() {
        for product in Product::ALL {
            for service in [Service::Stream, Service::Replay] {
                let p = StreamPath::new(service, product, "acme", "prod");
                assert_eq!(StreamPath::parse(&p.to_path()), Some(p.clone()));
            }
        }
        for bad in [
            "/stream/decahose/accounts/a/publishers/twitter/l.json",
            "/stream/sample10/accounts//publishers/twitter/l.json",
            "/stream/sample10/accounts/a/publishers/twitter/l",
            "/rules/powertrack/accounts/a/publishers/twitter/l.json",
            "/stream/sample10/accounts/a/publishers/twitter/l.json/x",
            "",
        ] {
            assert_eq!(StreamPath::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn urls_split_into_their_parts() {
        let u = UrlParts::split("https://gnip-stream.x.com:8443/stream/a?partition=1").unwrap();
        assert_eq!(
            (u.scheme, u.authority, u.path, u.query, u.host()),
            (
                "https",
                "gnip-stream.x.com:8443",
                "/stream/a",
                "partition=1",
                "gnip-stream.x.com"
            )
        );
        assert_eq!(UrlParts::split("http://[::1]:9/x").unwrap().host(), "::1");
        assert_eq!(UrlParts::split("http://h").unwrap().path, "");
        assert_eq!(UrlParts::split("no scheme"), None);
        // A fragment ends the authority (the urls fuzz target found the host read differently
        // from http's Uri).
        let f = UrlParts::split("https://h#x/y?q=1").unwrap();
        assert_eq!((f.authority, f.path, f.query, f.host()), ("h", "", "", "h"));
        let f = UrlParts::split("https://h/p?q=1#frag").unwrap();
        assert_eq!((f.path, f.query), ("/p", "q=1"));
    }

    #[test]
    fn raw_params_are_read_from_a_query() {
        assert_eq!(raw_param("a=1&partition=3", "partition"), Some("3"));
        assert_eq!(raw_param("flag&a=1", "flag"), Some(""));
        assert_eq!(raw_param("a=1", "b"), None);
    }
}
