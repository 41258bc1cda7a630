//! HTTP for every client of the service: the shared ureq agent (the read tick, the connect
//! timeout, TLS roots from the bundle, the system or a CA file), HTTP Basic credentials, the one
//! small JSON request the Rules and Connections APIs make, and how ureq's errors and reads map to
//! the service's endings.

use std::io::Read as _;

use base64::Engine as _;
use ureq::unversioned::transport::{ConnectProxyConnector, Connector as _, RustlsConnector};

use super::config::ClientConfig;
use super::handler::StopHandle;
use super::transport::{DialConnector, DialResolver, TickConnector};
use crate::Error;
use crate::core::gunzip_capped;
use crate::protocol::dialect::Auth;
use crate::protocol::endpoint::{UrlParts, is_loopback};
use crate::protocol::policy::Ending;

/// The `Authorization` header's value for HTTP Basic (`None` without a user). The result holds
/// the password: it goes in a header and nowhere else.
pub(crate) fn basic_auth(user: &str, password: &str) -> Option<String> {
    (!user.is_empty()).then(|| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {b64}")
    })
}

/// The `Authorization` header's value for `auth` (`None` without credentials): HTTP Basic of
/// `user:secret`, or the bearer token `secret`. It holds the secret: a header and nowhere else.
pub(crate) fn authorization(auth: Auth, user: &str, secret: &str) -> Option<String> {
    match auth {
        Auth::Basic => basic_auth(user, secret),
        Auth::Bearer => (!secret.is_empty()).then(|| format!("Bearer {secret}")),
    }
}

/// Where Linux distributions keep their CA bundle (Debian, Ubuntu and Alpine; Fedora and RHEL;
/// openSUSE; Alpine's and the BSDs' other name), tried in this order after `SSL_CERT_FILE`.
pub(crate) const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The certificates of a PEM file (at least one).
pub(crate) fn pem_certs(
    path: &std::path::Path,
) -> Result<Vec<ureq::tls::Certificate<'static>>, Error> {
    let bad = |why: String| Error::BadInput {
        reason: format!("CA file {}: {why}", path.display()).into(),
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let ureq::tls::PemItem::Certificate(c) = item.map_err(|e| bad(e.to_string()))? {
            certs.push(c);
        }
    }
    if certs.is_empty() {
        return Err(bad("no certificate in it".into()));
    }
    Ok(certs)
}

/// The roots of the first bundle of `candidates` that exists (a bundle that exists but cannot
/// be read or holds no certificate is an error, not skipped).
#[cfg_attr(feature = "bundled-roots", allow(dead_code))]
pub(crate) fn system_roots(
    candidates: &[std::path::PathBuf],
) -> Result<Vec<ureq::tls::Certificate<'static>>, Error> {
    match candidates.iter().find(|p| p.exists()) {
        Some(path) => pem_certs(path),
        None => Err(Error::Tls {
            message: format!(
                "no trusted root certificates: this build has none built in (feature bundled-roots) and no CA bundle was found ({}); install the ca-certificates package, set SSL_CERT_FILE, or pass --ca-file",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .into(),
        }),
    }
}

/// rustls with Mozilla's roots (feature `bundled-roots`) or the system's CA bundle, or only
/// the roots in a PEM file. Without bundled roots a missing system bundle is an error only
/// for an `https://` `url` (a plain loopback URL needs no roots).
pub(crate) fn tls_config(
    ca_file: Option<&std::path::Path>,
    url: &str,
) -> Result<ureq::tls::TlsConfig, Error> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(path) = ca_file {
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&pem_certs(path)?));
    } else if !cfg!(feature = "bundled-roots") {
        // A plain URL reads no bundle: parsed, the system's roots would hold 300 KB of heap
        // for as long as the client runs, for nothing.
        let roots = if url.starts_with("https://") {
            let candidates: Vec<std::path::PathBuf> = std::env::var_os("SSL_CERT_FILE")
                .map(std::path::PathBuf::from)
                .into_iter()
                .chain(SYSTEM_CA_BUNDLES.iter().map(std::path::PathBuf::from))
                .collect();
            system_roots(&candidates)?
        } else {
            Vec::new()
        };
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
    }
    Ok(tls.build())
}

/// ureq's write buffer per layer (TCP, and TLS above it): a request head (the stream sends no
/// body). ureq's default, 128 KiB, is zeroed when a connection opens, so all of it is resident.
/// Its read buffer keeps the default, 128 KiB: 64 KiB read 4% slower end to end.
const STREAM_OUTPUT_BUFFER: usize = 16 * 1024;

/// The HTTP agent every partition of a client shares: no decompression (our decoder inflates),
/// 4xx/5xx as responses, the connect timeout on each step of establishing a connection, the
/// read tick on body reads only ([`TickConnector`]), Mozilla's roots or the CA file's. Proxies
/// come from the environment (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`), ureq's default, except
/// for plain http to loopback ([`proxy_for`]).
pub(crate) fn agent(config: &ClientConfig, stop: &StopHandle) -> Result<ureq::Agent, Error> {
    let tls = tls_config(config.ca_file.as_deref(), &config.url)?;
    let ct = Some(config.connect_timeout);
    let cfg = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(ct)
        .timeout_send_request(ct)
        .timeout_recv_response(ct)
        .user_agent(format!("gnip-stream/{}", env!("CARGO_PKG_VERSION")))
        .tls_config(tls)
        .proxy(proxy_for(&config.url))
        .output_buffer_size(STREAM_OUTPUT_BUFFER)
        .build();
    // Half the stall timeout: a silent stream's stall is seen on time (its reads start at
    // its last byte), a quiet one wakes only for its heartbeats.
    let body_read = (config.stall_timeout / 2).max(config.read_tick);
    Ok(agent_of(cfg, config.read_tick, body_read, &stop.0))
}

/// The agent of every client (stream, rules, Connections) for `cfg`: ureq's default chain (a
/// CONNECT proxy if configured, TCP, rustls) with names looked up and TCP dialled a tick at a
/// time, and the tick layer on the socket, under TLS, so the handshake's reads are ticked too:
/// `stop` is seen within `tick` while establishing, and shuts an open socket down. A body is
/// read a tick at a time for its first 2 s, then `body_read` at a time.
pub(crate) fn agent_of(
    cfg: ureq::config::Config,
    tick: std::time::Duration,
    body_read: std::time::Duration,
    stop: &std::sync::Arc<super::wake::Sockets>,
) -> ureq::Agent {
    use std::sync::Arc;
    let connector = ()
        .chain(ConnectProxyConnector::default())
        .chain(DialConnector {
            tick,
            stop: Arc::clone(stop),
        })
        .chain(TickConnector {
            tick,
            body_read,
            stop: Arc::clone(stop),
        })
        .chain(RustlsConnector::default());
    let resolver = DialResolver {
        tick,
        stop: Arc::clone(stop),
    };
    ureq::Agent::with_parts(cfg, connector, resolver)
}

/// The proxy for `url`: the environment's (`ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY`, with
/// `NO_PROXY`), except for plain `http://` to loopback, which is never proxied: credentials
/// may go in the clear to this machine only, and a proxy would carry them off it (audit L2).
pub(crate) fn proxy_for(url: &str) -> Option<ureq::Proxy> {
    let direct = UrlParts::split(url)
        .is_some_and(|p| p.scheme.eq_ignore_ascii_case("http") && is_loopback(p.host()));
    if direct {
        None
    } else {
        ureq::Proxy::try_from_env()
    }
}

/// The answer to one small JSON request: its status, its `Retry-After` header, and its body
/// (inflated when it came gzip-encoded).
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// Sends one small JSON request of the Rules or Connections API (`body`, when given, is JSON) and
/// reads its answer whatever its status, at most `limit` bytes (read, and again inflated). It asks for gzip and inflates with
/// our own decoder (ureq never decompresses). One copy of the request code for every verb.
pub(crate) fn json_call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    auth: Option<&str>,
    body: Option<&[u8]>,
    limit: u64,
) -> Result<Answer, Error> {
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("Accept-Encoding", "gzip")
        .header("Accept", "application/json");
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let result = match body {
        Some(b) => req
            .header("Content-Type", "application/json")
            .body(b)
            .map(|r| agent.run(r)),
        None => req.body(()).map(|r| agent.run(r)),
    };
    let resp = result
        .map_err(|e| Error::BadInput {
            reason: format!("cannot make a request to {url}: {e}").into(),
        })?
        .map_err(|e| classify_ureq(e).1)?;
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = resp.status().as_u16();
    let retry_after = header("retry-after");
    let gzip = header("content-encoding").is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let mut raw = Vec::new();
    resp.into_body()
        .into_reader()
        .take(limit)
        .read_to_end(&mut raw)
        .map_err(|e| io_error(&e))?;
    if gzip {
        // The same bound after inflating: a gzip bomb is a clear error, not `limit` × 1,000.
        raw = gunzip_capped(&raw, usize::try_from(limit).unwrap_or(usize::MAX), true)?;
    }
    Ok(Answer {
        status,
        retry_after,
        body: raw,
    })
}

/// An I/O error as the crate's [`Error::Io`].
pub(crate) fn io_error(e: &std::io::Error) -> Error {
    Error::Io {
        kind: e.kind(),
        message: e.to_string().into(),
    }
}

/// How ureq's errors map to endings: certificate and TLS setup problems are final, timeouts and
/// everything else are network trouble to retry.
pub(crate) fn classify_ureq(e: ureq::Error) -> (Ending, Error) {
    let text = e.to_string();
    let tls_text =
        text.contains("certificate") || text.contains("InvalidCertificate") || text.contains("tls");
    match e {
        ureq::Error::Timeout(_) => (
            Ending::NetworkError,
            Error::Io {
                kind: std::io::ErrorKind::TimedOut,
                message: text.into(),
            },
        ),
        ureq::Error::Tls(_) | ureq::Error::Pem(_) | ureq::Error::Rustls(_) => (
            Ending::TlsFailure,
            Error::Tls {
                message: text.into(),
            },
        ),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData && tls_text => (
            Ending::TlsFailure,
            Error::Tls {
                message: text.into(),
            },
        ),
        ureq::Error::Io(io) => (Ending::NetworkError, io_error(&io)),
        other => (
            Ending::NetworkError,
            Error::Io {
                kind: std::io::ErrorKind::Other,
                message: other.to_string().into(),
            },
        ),
    }
}

pub(crate) fn is_read_tick(e: &std::io::Error) -> bool {
    // ureq reports its per-read timeout as an io::Error wrapping `ureq::Error::Timeout`.
    let wrapped = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ureq::Error>());
    matches!(wrapped, Some(ureq::Error::Timeout(_)))
        || matches!(
            e.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_ca_bundle_that_exists_gives_the_roots() {
        let dir = std::env::temp_dir().join(format!("gnip-roots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let (good, garbage, missing) = (
            dir.join("good.pem"),
            dir.join("bad.pem"),
            dir.join("no.pem"),
        );
        std::fs::write(&good, ck.cert.pem()).unwrap();
        std::fs::write(&garbage, "not a certificate\n").unwrap();
        let roots = system_roots(&[missing.clone(), good.clone(), garbage.clone()]).unwrap();
        assert_eq!(roots.len(), 1);
        // A bundle that exists but holds nothing is an error, not skipped.
        assert!(matches!(
            system_roots(&[garbage.clone(), good]),
            Err(Error::BadInput { .. })
        ));
        match system_roots(std::slice::from_ref(&missing)) {
            Err(Error::Tls { message }) => {
                assert!(
                    message.contains("no.pem") && message.contains("--ca-file"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
