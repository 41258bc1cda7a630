//! What a client sends a NATS server, written sans-IO into a `Vec<u8>`: `CONNECT`, `PUB`,
//! `HPUB` with headers, `SUB`, `UNSUB`, `PING`, `PONG`. Subjects and header fields are checked
//! (a space or a line break in them would break the protocol).

use crate::Error;

/// Credentials for `CONNECT` (never printed: `Debug` hides them).
#[derive(Clone, Default)]
pub enum Auth {
    /// None.
    #[default]
    None,
    /// A user and a password.
    UserPassword {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// A token.
    Token(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "None",
            Auth::UserPassword { .. } => "UserPassword(…)",
            Auth::Token(_) => "Token(…)",
        })
    }
}

fn bad(what: &str, value: &str) -> Error {
    Error::BadInput {
        reason: format!("NATS {what} '{value}': empty, or with a space or a line break").into(),
    }
}

/// A subject (or reply subject): not empty, no whitespace.
pub fn check_subject(s: &str) -> Result<(), Error> {
    if s.is_empty() || s.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(bad("subject", s));
    }
    Ok(())
}

/// `CONNECT {…}\r\n`: headers and no-responders on (JetStream needs both), not verbose.
pub fn connect(out: &mut Vec<u8>, auth: &Auth, name: &str, tls_required: bool) {
    let mut o = serde_json::json!({
        "verbose": false,
        "pedantic": false,
        "tls_required": tls_required,
        "name": name,
        "lang": "rust",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": 1,
        "headers": true,
        "no_responders": true,
    });
    match auth {
        Auth::None => {}
        Auth::UserPassword { user, password } => {
            o["user"] = user.as_str().into();
            o["pass"] = password.as_str().into();
        }
        Auth::Token(t) => o["auth_token"] = t.as_str().into(),
    }
    out.extend_from_slice(b"CONNECT ");
    out.extend_from_slice(o.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `PUB subject [reply] #bytes\r\npayload\r\n`. Nothing is written when an argument is refused.
pub fn publish(
    out: &mut Vec<u8>,
    subject: &str,
    reply: Option<&str>,
    payload: &[u8],
) -> Result<(), Error> {
    check_subject(subject)?;
    reply.map(check_subject).transpose()?;
    out.extend_from_slice(b"PUB ");
    out.extend_from_slice(subject.as_bytes());
    if let Some(r) = reply {
        out.push(b' ');
        out.extend_from_slice(r.as_bytes());
    }
    out.extend_from_slice(format!(" {}\r\n", payload.len()).as_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// `HPUB subject [reply] #header-bytes #total-bytes\r\nNATS/1.0\r\nName: value\r\n…\r\n\r\npayload\r\n`.
/// Nothing is written when an argument is refused.
pub fn publish_with_headers(
    out: &mut Vec<u8>,
    subject: &str,
    reply: Option<&str>,
    headers: &[(&str, &str)],
    payload: &[u8],
) -> Result<(), Error> {
    check_subject(subject)?;
    reply.map(check_subject).transpose()?;
    let mut block = b"NATS/1.0\r\n".to_vec();
    for (k, v) in headers {
        if k.is_empty() || k.contains([':', ' ', '\r', '\n']) || v.contains(['\r', '\n']) {
            return Err(bad("header", k));
        }
        block.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    block.extend_from_slice(b"\r\n");
    out.extend_from_slice(b"HPUB ");
    out.extend_from_slice(subject.as_bytes());
    if let Some(r) = reply {
        out.push(b' ');
        out.extend_from_slice(r.as_bytes());
    }
    out.extend_from_slice(
        format!(" {} {}\r\n", block.len(), block.len() + payload.len()).as_bytes(),
    );
    out.extend_from_slice(&block);
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// `SUB subject sid\r\n`.
pub fn subscribe(out: &mut Vec<u8>, subject: &str, sid: u64) -> Result<(), Error> {
    check_subject(subject)?;
    out.extend_from_slice(format!("SUB {subject} {sid}\r\n").as_bytes());
    Ok(())
}

/// `UNSUB sid [max]\r\n`.
pub fn unsubscribe(out: &mut Vec<u8>, sid: u64, max: Option<u64>) {
    match max {
        Some(m) => out.extend_from_slice(format!("UNSUB {sid} {m}\r\n").as_bytes()),
        None => out.extend_from_slice(format!("UNSUB {sid}\r\n").as_bytes()),
    }
}

/// `PING\r\n`.
pub fn ping(out: &mut Vec<u8>) {
    out.extend_from_slice(b"PING\r\n");
}

/// `PONG\r\n`.
pub fn pong(out: &mut Vec<u8>) {
    out.extend_from_slice(b"PONG\r\n");
}

#[cfg(test)]
mod tests {
    use super::super::parser::{Headers, Parser, ServerOp};
    use super::*;

    #[test]
    fn what_is_written_parses_back_as_the_server_would_deliver_it() {
        let mut out = Vec::new();
        publish_with_headers(
            &mut out,
            "gnip.powertrack.0",
            Some("_INBOX.a.1"),
            &[("Nats-Msg-Id", "activity:7")],
            b"{\"id\":7}",
        )
        .unwrap();
        // A server delivers HPUB as HMSG: the same arguments after the sid.
        let delivered = String::from_utf8(out).unwrap().replacen(
            "HPUB gnip.powertrack.0",
            "HMSG gnip.powertrack.0 9",
            1,
        );
        let mut got = Vec::new();
        Parser::new(1 << 20)
            .feed(delivered.as_bytes(), |op| {
                if let ServerOp::Msg {
                    headers,
                    payload,
                    reply,
                    ..
                } = op
                {
                    let h = Headers::parse(headers.unwrap()).unwrap();
                    got.push((
                        h.get("Nats-Msg-Id").map(str::to_owned),
                        payload.to_vec(),
                        reply.map(str::to_owned),
                    ));
                }
            })
            .unwrap();
        assert_eq!(
            got,
            vec![(
                Some("activity:7".into()),
                b"{\"id\":7}".to_vec(),
                Some("_INBOX.a.1".into())
            )]
        );
    }

    #[test]
    fn bad_subjects_and_headers_are_refused_and_credentials_stay_hidden() {
        let mut out = Vec::new();
        assert!(publish(&mut out, "a b", None, b"x").is_err());
        assert!(publish(&mut out, "", None, b"x").is_err());
        assert!(publish(&mut out, "a", Some("r\r\n"), b"x").is_err());
        assert!(
            publish_with_headers(&mut out, "a", None, &[("X", "v\r\nPUB evil 1")], b"").is_err()
        );
        assert!(subscribe(&mut out, "a\tb", 1).is_err());
        publish(&mut out, "a.b", None, b"xy").unwrap();
        assert_eq!(out, b"PUB a.b 2\r\nxy\r\n");
        let auth = Auth::UserPassword {
            user: "u".into(),
            password: "s3cret".into(),
        };
        assert!(!format!("{auth:?}").contains("s3cret"));
        let mut c = Vec::new();
        connect(&mut c, &auth, "gnip-stream", false);
        let json: serde_json::Value = serde_json::from_slice(&c[8..c.len() - 2]).unwrap();
        assert_eq!(
            (json["user"].as_str(), json["pass"].as_str()),
            (Some("u"), Some("s3cret"))
        );
        assert_eq!(
            (json["headers"].as_bool(), json["no_responders"].as_bool()),
            (Some(true), Some(true))
        );
    }
}
