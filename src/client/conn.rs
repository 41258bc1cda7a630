//! One connection attempt, IO only: the GET with ureq, its status mapped to an ending, then
//! the body read with the per-read tick (stop checks, stall counting) and fed to the frame
//! decoder, whose events go to [`Dispatch`]. What the bytes and messages mean is asked of
//! `core` and `protocol`.

use std::io::Read;
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    ConnectProxyConnector, Connector as _, RustlsConnector, TcpConnector,
};

use super::api::{ClientEvent, StopHandle};
use super::config::ClientConfig;
use super::dispatch::Dispatch;
use super::stats::PartitionStats;
use super::transport::TickConnector;
use super::worker::{Partition, ReplayProgress};
use crate::Error;
use crate::core::{FrameDecoder, GzipDecoder};
use crate::protocol::endpoint::UrlParts;
use crate::protocol::messages;
use crate::protocol::policy::Ending;

/// What one connection attempt reported back to the loop.
pub(crate) struct Attempt {
    pub ending: Ending,
    pub error: Option<Error>,
    /// Whether any body byte arrived.
    pub delivered: bool,
}

/// Refuses to send credentials over plain `http://` to anything but loopback.
pub(crate) fn check_transport(url: &str, has_credentials: bool) -> Result<(), Error> {
    let Some(parts) = UrlParts::split(url) else {
        return Err(Error::BadInput {
            reason: format!("not a URL: {url}").into(),
        });
    };
    let host = parts.host();
    match parts.scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if !has_credentials => Ok(()),
        "http" => {
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host == "::1"
                || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
            if loopback {
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

/// The `Authorization` header's value for HTTP Basic (`None` without a user). The result holds
/// the password: it goes in a header and nowhere else.
pub(crate) fn basic_auth(user: &str, password: &str) -> Option<String> {
    (!user.is_empty()).then(|| {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {b64}")
    })
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
        let candidates: Vec<std::path::PathBuf> = std::env::var_os("SSL_CERT_FILE")
            .map(std::path::PathBuf::from)
            .into_iter()
            .chain(SYSTEM_CA_BUNDLES.iter().map(std::path::PathBuf::from))
            .collect();
        let roots = match system_roots(&candidates) {
            Ok(roots) => roots,
            Err(e) if url.starts_with("https://") => return Err(e),
            Err(_) => Vec::new(),
        };
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
    }
    Ok(tls.build())
}

/// The HTTP agent every partition of a client shares: no decompression (our decoder inflates),
/// 4xx/5xx as responses, the connect timeout on each step of establishing a connection, the
/// read tick on body reads only ([`TickConnector`]), Mozilla's roots or the CA file's. Proxies
/// come from the environment (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`), ureq's default.
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
        .build();
    // ureq's default chain (a CONNECT proxy if configured, TCP, rustls), with the tick layer on
    // the socket, under TLS, so the handshake's reads are ticked too.
    let connector = ()
        .chain(ConnectProxyConnector::default())
        .chain(TcpConnector::default())
        .chain(TickConnector {
            tick: config.read_tick,
            stop: std::sync::Arc::clone(&stop.0),
        })
        .chain(RustlsConnector::default());
    Ok(ureq::Agent::with_parts(
        cfg,
        connector,
        DefaultResolver::default(),
    ))
}

fn io_error(e: &std::io::Error) -> Error {
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

fn is_read_tick(e: &std::io::Error) -> bool {
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

/// One connection: request, status, stream until it ends.
pub(crate) fn attempt(
    p: &Partition,
    url: &str,
    decoder: &mut FrameDecoder,
    last_byte: &mut Option<Instant>,
    replay: &mut ReplayProgress,
) -> Attempt {
    let fail = |ending, error| Attempt {
        ending,
        error: Some(error),
        delivered: false,
    };
    let mut req = p
        .agent
        .get(url)
        .header("Accept-Encoding", "gzip")
        .header("Connection", "keep-alive")
        .header("Accept", "application/json");
    if let Some(auth) = basic_auth(&p.config.user, &p.config.password) {
        req = req.header("Authorization", auth);
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(e) => {
            let (ending, error) = classify_ureq(e);
            return fail(ending, error);
        }
    };
    // The head is the response's first bytes: a stall is counted from here.
    *last_byte = Some(Instant::now());
    let status = resp.status().as_u16();
    if status != 200 {
        let gzip = resp
            .headers()
            .get("content-encoding")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let message = error_message(resp.into_body().into_reader(), gzip);
        return fail(
            Ending::Http(status),
            Error::Http {
                status,
                message: message.into(),
            },
        );
    }
    p.event(ClientEvent::Connected);
    decoder.reset();
    stream(
        p,
        resp.into_body().into_reader(),
        decoder,
        last_byte,
        replay,
    )
}

/// The service's message from an error body, read for at most 2 s and 64 KiB.
fn error_message(mut body: impl Read, gzip: bool) -> String {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(2);
    while raw.len() < 64 * 1024 && Instant::now() < deadline {
        match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if is_read_tick(&e) => {}
            Err(_) => break,
        }
    }
    if gzip {
        let mut plain = Vec::new();
        if GzipDecoder::new()
            .decode(&raw, |b| plain.extend_from_slice(b))
            .is_ok()
        {
            raw = plain;
        }
    }
    messages::error_message(&raw)
}

/// Reads the body until it ends, stalls, breaks, or the client stops.
fn stream(
    p: &Partition,
    mut body: impl Read,
    decoder: &mut FrameDecoder,
    last_byte: &mut Option<Instant>,
    replay: &mut ReplayProgress,
) -> Attempt {
    let mut sink = Dispatch::new(p, replay);
    let mut buf = vec![0u8; 16 * 1024];
    let mut idle = Duration::ZERO;
    let mut delivered = false;
    let tick = p.config.read_tick;
    let done = |ending, error, delivered| Attempt {
        ending,
        error,
        delivered,
    };
    let closing = |sink: &Dispatch<'_>| {
        if sink.closing {
            Ending::ForcedDisconnect
        } else {
            Ending::Dropped
        }
    };
    loop {
        if p.stop.is_stopped() {
            decoder.reset();
            return done(Ending::Stopped, None, delivered);
        }
        match body.read(&mut buf) {
            Ok(0) => {
                let end = decoder.finish(|e| {
                    let _ = sink.on(e);
                });
                let ending = if sink.completed {
                    Ending::ReplayCompleted
                } else {
                    closing(&sink)
                };
                // A live body always ends inside its gzip member (Truncated): that is no error.
                let error = end
                    .err()
                    .filter(|e| *e != Error::Truncated && ending != Ending::ReplayCompleted);
                return done(ending, error, delivered);
            }
            Ok(n) => {
                delivered = true;
                idle = Duration::ZERO;
                *last_byte = Some(Instant::now());
                PartitionStats::add(&p.stats.conn(p.connection).bytes_wire, n as u64);
                let before = decoder.bytes_out();
                let fed = decoder.feed_until(&buf[..n], |e| sink.on(e));
                if std::mem::take(&mut sink.any_record) {
                    p.stats
                        .last_record_unix_ms
                        .store(crate::clock::now_unix_ms(), Ordering::Relaxed);
                }
                PartitionStats::add(
                    &p.stats.conn(p.connection).bytes_inflated,
                    decoder.bytes_out().saturating_sub(before),
                );
                if sink.stop {
                    // The handler asked, at that record: the whole client stops, and nothing
                    // after it (even from the same read) is handed out.
                    p.stop.stop();
                    decoder.reset();
                    return done(Ending::Stopped, None, delivered);
                }
                if let Err(e) = fed {
                    decoder.reset();
                    return done(Ending::CorruptStream, Some(e), delivered);
                }
                if sink.completed {
                    decoder.reset();
                    return done(Ending::ReplayCompleted, None, delivered);
                }
            }
            Err(e) if is_read_tick(&e) => {
                idle += tick;
                if idle >= p.config.stall_timeout {
                    if decoder.reset().is_some() {
                        PartitionStats::add(&p.stats.incomplete, 1);
                    }
                    return done(Ending::Stalled, Some(Error::Stalled { idle }), delivered);
                }
            }
            Err(e) => {
                if decoder.reset().is_some() {
                    PartitionStats::add(&p.stats.incomplete, 1);
                }
                return done(closing(&sink), Some(io_error(&e)), delivered);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
