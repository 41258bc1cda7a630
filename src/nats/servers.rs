//! Where and what to publish, sans-IO: the server list (`nats://` and `tls://` host:port,
//! comma-separated), the server's `INFO`, and the subject template (`gnip.{product}.{partition}`).

use serde_json::Value;

use super::encode::check_subject;
use crate::Error;

/// The default subject template.
pub const DEFAULT_SUBJECT: &str = "gnip.{product}.{partition}";
/// NATS's default port.
pub const DEFAULT_PORT: u16 = 4222;

/// One server of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `tls://`: TLS from the first byte of the protocol (the client upgrades after `INFO`).
    pub tls: bool,
}

/// The first server of `servers` that credentials would reach in the clear: `nats://` (a
/// server's `INFO` may ask for TLS, but it comes in the clear and an on-path attacker can
/// clear the flag) to anything but loopback. `None`: credentials go over TLS or stay here.
pub fn plaintext_server(servers: &[Server]) -> Option<&Server> {
    servers
        .iter()
        .find(|s| !s.tls && !crate::protocol::endpoint::is_loopback(&s.host))
}

impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "tls" } else { "nats" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

fn bad(reason: String) -> Error {
    Error::BadInput {
        reason: reason.into(),
    }
}

/// Parses `nats://a:4222,tls://b:4223` (the port defaults to 4222; a bare `host:port` is
/// `nats://`). At least one; no user info (credentials come from the environment).
pub fn parse_servers(list: &str) -> Result<Vec<Server>, Error> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (tls, rest) = if let Some(r) = item.strip_prefix("tls://") {
            (true, r)
        } else if let Some(r) = item.strip_prefix("nats://") {
            (false, r)
        } else if item.contains("://") {
            return Err(bad(format!(
                "NATS server '{item}': the scheme must be nats:// or tls://"
            )));
        } else {
            (false, item)
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('@') {
            return Err(bad(format!(
                "NATS server '{item}': no credentials in the URL (NATS_USER/NATS_PASSWORD or NATS_TOKEN)"
            )));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, p) = v6
                .split_once(']')
                .ok_or_else(|| bad(format!("NATS server '{item}': unclosed '['")))?;
            (h, p.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => p
                .parse()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| bad(format!("NATS server '{item}': '{p}' is not a port")))?,
        };
        if host.is_empty() || host.contains(['/', ' ']) {
            return Err(bad(format!("NATS server '{item}': no host")));
        }
        out.push(Server {
            host: host.to_owned(),
            port,
            tls,
        });
    }
    if out.is_empty() {
        return Err(bad("no NATS server given (nats://host:port,…)".into()));
    }
    Ok(out)
}

/// What a server's `INFO` says that the client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// Its id.
    pub server_id: String,
    /// The largest payload (headers included) it accepts.
    pub max_payload: usize,
    /// It speaks headers (JetStream needs them).
    pub headers: bool,
    /// It requires TLS.
    pub tls_required: bool,
    /// It requires credentials.
    pub auth_required: bool,
}

impl ServerInfo {
    /// Parses the JSON of an `INFO` line.
    pub fn parse(json: &[u8]) -> Result<ServerInfo, Error> {
        let v: Value =
            serde_json::from_slice(json).map_err(|e| bad(format!("NATS INFO is not JSON: {e}")))?;
        let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        Ok(ServerInfo {
            server_id: v
                .get("server_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            max_payload: v
                .get("max_payload")
                .and_then(Value::as_u64)
                .map_or(1 << 20, |n| {
                    usize::try_from(n).map_or(super::parser::MAX_PAYLOAD_CAP, |n| {
                        n.min(super::parser::MAX_PAYLOAD_CAP)
                    })
                }),
            headers: flag("headers"),
            tls_required: flag("tls_required"),
            auth_required: flag("auth_required"),
        })
    }
}

/// A subject template: literal text with `{product}` and `{partition}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTemplate(String);

impl SubjectTemplate {
    /// Checks a template: only those two placeholders, and a valid subject once filled.
    pub fn parse(template: &str) -> Result<Self, Error> {
        let stripped = template.replace("{product}", "").replace("{partition}", "");
        if stripped.contains(['{', '}']) {
            return Err(bad(format!(
                "subject template '{template}': only {{product}} and {{partition}} can be filled in"
            )));
        }
        let t = SubjectTemplate(template.to_owned());
        let sample = t.subject("powertrack", 0);
        check_subject(&sample)?;
        if sample.contains(['*', '>']) {
            return Err(bad(format!(
                "subject template '{template}': a wildcard cannot be published to"
            )));
        }
        Ok(t)
    }

    /// The subject for `product` (the URL's product segment) and `partition` (0 for
    /// PowerTrack).
    pub fn subject(&self, product: &str, partition: u32) -> String {
        self.0
            .replace("{product}", product)
            .replace("{partition}", &partition.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_clear_are_found_off_loopback_only() {
        let s =
            parse_servers("nats://127.0.0.1:4222,nats://localhost:1,tls://10.0.0.5:4222").unwrap();
        assert_eq!(plaintext_server(&s), None);
        let s = parse_servers("tls://10.0.0.6:4222,nats://10.0.0.5:4222").unwrap();
        assert_eq!(
            plaintext_server(&s).map(|s| s.host.as_str()),
            Some("10.0.0.5")
        );
    }

    #[test]
    fn server_lists() {
        let s = parse_servers("nats://127.0.0.1:4222, tls://nats.example:7422,localhost").unwrap();
        assert_eq!(
            s.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec![
                "nats://127.0.0.1:4222",
                "tls://nats.example:7422",
                "nats://localhost:4222"
            ]
        );
        assert!(s[1].tls && !s[0].tls);
        assert_eq!(parse_servers("nats://[::1]:5000").unwrap()[0].host, "::1");
        for (bad, says) in [
            ("", "no NATS server"),
            ("http://a:1", "scheme"),
            ("nats://u:p@a:1", "no credentials"),
            ("nats://a:x", "not a port"),
            ("nats://:4222", "no host"),
        ] {
            let e = parse_servers(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn info_and_templates() {
        let i = ServerInfo::parse(
            br#"{"server_id":"N1","max_payload":1048576,"headers":true,"jetstream":true}"#,
        )
        .unwrap();
        assert_eq!(
            (i.max_payload, i.headers, i.tls_required),
            (1 << 20, true, false)
        );
        assert!(ServerInfo::parse(b"{").is_err());
        let t = SubjectTemplate::parse(DEFAULT_SUBJECT).unwrap();
        assert_eq!(t.subject("firehose", 17), "gnip.firehose.17");
        assert_eq!(t.subject("powertrack", 0), "gnip.powertrack.0");
        assert!(SubjectTemplate::parse("gnip.{label}").is_err());
        assert!(SubjectTemplate::parse("gnip .{product}").is_err());
        assert!(SubjectTemplate::parse("gnip.>").is_err());
        assert!(SubjectTemplate::parse("gnip.all").is_ok());
    }
}
