//! The blocking X API v2 Connections API client: list an App's stream connections (every
//! page), and kill them all, by endpoint, or by uuid (x-api-v2.md §1.2).

use std::path::PathBuf;
use std::time::Duration;

use super::http::{json_call, proxy_for, tls_config};
use crate::Error;
use crate::protocol::endpoint::check_transport;
use crate::protocol::policy::DEFAULT_CONNECT_TIMEOUT;
use crate::protocol::v2::connections::{self, Kill, Status};
use crate::protocol::v2::problems;
use crate::protocol::v2::products::V2_HOST;

/// The most bytes read of one answer.
const MAX_RESPONSE: u64 = 16 << 20;
/// The most pages followed (100 connections each).
const MAX_PAGES: usize = 1000;

/// A Connections API client.
///
/// ```no_run
/// use gnip_stream::client::ConnectionsClient;
/// use gnip_stream::unversioned::protocol::v2::connections::{Kill, Status};
/// let c = ConnectionsClient::new("https://api.x.com", "TOKEN", None)?;
/// for line in c.list(Status::Active)? { println!("{line}"); }
/// let (killed, failed) = c.kill(&Kill::Endpoint("sample10_stream"))?;
/// # let _ = (killed, failed);
/// # Ok::<(), gnip_stream::Error>(())
/// ```
pub struct ConnectionsClient {
    host: String,
    token: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for ConnectionsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionsClient")
            .field("host", &self.host)
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl ConnectionsClient {
    /// A client for `host` (scheme and authority; [`V2_HOST`] is the service) with a bearer
    /// token; the token never goes over plain `http://` off loopback.
    pub fn new(host: &str, token: &str, ca_file: Option<PathBuf>) -> Result<Self, Error> {
        let host = host.trim_end_matches('/').to_owned();
        check_transport(&format!("{host}/"), true)?;
        let cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(DEFAULT_CONNECT_TIMEOUT))
            .timeout_global(Some(Duration::from_secs(60)))
            .user_agent(format!("gnip-stream/{}", env!("CARGO_PKG_VERSION")))
            .tls_config(tls_config(ca_file.as_deref(), &host)?)
            .proxy(proxy_for(&format!("{host}/")))
            .build();
        Ok(ConnectionsClient {
            host,
            token: token.to_owned(),
            // Nothing stops it but its timeouts; the same agent as every other client.
            agent: super::http::agent_of(
                cfg,
                Duration::from_millis(250),
                Duration::from_millis(250),
                &std::sync::Arc::default(),
            ),
        })
    }

    /// The default host's client.
    pub fn default_host(token: &str) -> Result<Self, Error> {
        Self::new(V2_HOST, token, None)
    }

    /// Every connection with `status`, each one JSON object, following every page.
    pub fn list(&self, status: Status) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let body = self.send(
                "GET",
                &connections::list_path(status, token.as_deref()),
                None,
            )?;
            let page = connections::parse_page(&body).map_err(bad)?;
            out.extend(page.connections);
            match page.next_token {
                Some(t) if Some(&t) != token.as_ref() => token = Some(t),
                _ => return Ok(out),
            }
        }
        Ok(out)
    }

    /// Kills connections: `(killed, failed)`.
    pub fn kill(&self, what: &Kill) -> Result<(u64, u64), Error> {
        let (path, body) = what.request();
        let answer = self.send("DELETE", &path, body.as_deref())?;
        connections::parse_kill(&answer).map_err(bad)
    }

    /// One request; a non-2xx answer is [`Error::Http`] with the problem's text.
    fn send(&self, method: &str, path: &str, body: Option<&str>) -> Result<Vec<u8>, Error> {
        let url = format!("{}{path}", self.host);
        let auth = format!("Bearer {}", self.token);
        let answer = json_call(
            &self.agent,
            method,
            &url,
            Some(&auth),
            body.map(str::as_bytes),
            MAX_RESPONSE,
        )?;
        if !(200..300).contains(&answer.status) {
            return Err(Error::Http {
                status: answer.status,
                message: problems::error_message(answer.status, &answer.body).into(),
            });
        }
        Ok(answer.body)
    }
}

fn bad(why: String) -> Error {
    Error::BadInput {
        reason: format!("the Connections API answered something unexpected: {why}").into(),
    }
}
