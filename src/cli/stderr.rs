//! stderr for `stream`, `replay` and `recover`: every event one line, as text (the human
//! lines) or, with `--log-format json`, one JSON object a line with `ts`, `level`, `event`,
//! `partition`, `connection` and the event's fields — never a credential.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use gnip_stream::unversioned::protocol::time::rfc3339_ms;

static JSON: AtomicBool = AtomicBool::new(false);

/// How stderr lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human lines, `gnip-stream: …`.
    Text,
    /// One JSON object a line.
    Json,
}

impl LogFormat {
    /// `text` or `json`.
    pub fn parse(s: &str) -> Option<LogFormat> {
        match s {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// Sets the format for the rest of the process.
pub fn set_format(f: LogFormat) {
    JSON.store(f == LogFormat::Json, Ordering::SeqCst);
}

/// Whether lines are JSON (then nothing is redrawn in place).
pub fn is_json() -> bool {
    JSON.load(Ordering::SeqCst)
}

/// One event, built up and then written by [`Event::emit`].
#[derive(Debug)]
pub struct Event {
    level: &'static str,
    name: &'static str,
    who: Option<(u32, u8)>,
    fields: Vec<(&'static str, Value)>,
}

/// An event of `level` (`info`, `warn`, `error`) named `name`.
pub fn event(level: &'static str, name: &'static str) -> Event {
    Event {
        level,
        name,
        who: None,
        fields: Vec::new(),
    }
}

impl Event {
    /// Of partition `p` (0 when the stream has none), connection `c`.
    pub fn at(mut self, p: u32, c: u8) -> Self {
        self.who = Some((p, c));
        self
    }

    /// Of partition `p` as a whole.
    pub fn partition(mut self, p: u32) -> Self {
        self.who = Some((p, 0));
        self
    }

    /// A field.
    pub fn field(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.fields.push((key, value.into()));
        self
    }

    /// The JSON line (without its newline), keys in a fixed order (`ts` first); `text`
    /// becomes its `message`.
    pub fn json(&self, unix_ms: u64, text: &str) -> String {
        let (p, c) = match self.who {
            Some((p, 0)) => (Value::from(p), Value::Null),
            Some((p, c)) => (Value::from(p), Value::from(c)),
            None => (Value::Null, Value::Null),
        };
        let message = text.strip_prefix("gnip-stream: ").unwrap_or(text);
        let mut line = format!(
            "{{\"ts\":\"{}\",\"level\":\"{}\",\"event\":\"{}\",\"partition\":{p},\"connection\":{c}",
            rfc3339_ms(unix_ms),
            self.level,
            self.name
        );
        for (k, v) in self
            .fields
            .iter()
            .chain([&("message", Value::from(message))])
        {
            line.push_str(&format!(",{}:{v}", Value::from(*k)));
        }
        line.push('}');
        line
    }

    /// Writes the event in JSON logs only, `text` its message (the text logs already said
    /// it in their own lines).
    pub fn emit_json_only(self, text: &str) {
        if is_json() {
            self.emit(text);
        }
    }

    /// Writes the event: `text` as it is, or the JSON line with `text` as its message.
    pub fn emit(self, text: &str) {
        if is_json() {
            let line = self.json(gnip_stream::unversioned::clock::now_unix_ms(), text);
            let mut e = std::io::stderr().lock();
            let _ = writeln!(e, "{line}");
        } else {
            eprintln!("{}", printable(text));
        }
    }
}

/// `text` with its control characters (C0, DEL, C1) written as `\u{..}` escapes: a text log
/// line carries the service's words (system messages, error bodies), and a CR or an ANSI
/// escape from there must not rewrite a terminal or a log (JSON lines escape them anyway).
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Writes the archive's own log lines (`gnip_stream::sink::archive`: seals, write errors,
/// `--on-close` output) as events named `archive`, and the JetStream publisher's warnings (a
/// record skipped) as events named `jetstream`; other library logging stays off (the command
/// says connection events through its observer).
#[cfg(any(feature = "archive", feature = "jetstream"))]
struct LibraryLog;

#[cfg(any(feature = "archive", feature = "jetstream"))]
impl log::Log for LibraryLog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        (m.target().starts_with("gnip_stream::sink::archive") && m.level() <= log::Level::Info)
            || (m.target().starts_with("gnip_stream::sink::jetstream")
                && m.level() <= log::Level::Warn)
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let level = match r.level() {
            log::Level::Error => "error",
            log::Level::Warn => "warn",
            _ => "info",
        };
        let text = r.args().to_string();
        let name = if r.target().contains("jetstream") {
            "jetstream"
        } else {
            "archive"
        };
        event(level, name).emit(&format!("gnip-stream: {text}"));
    }

    fn flush(&self) {}
}

/// Installs [`LibraryLog`] (once; a second call does nothing): by `--archive`, and by
/// `--jetstream` and `publish`.
#[cfg(any(feature = "archive", feature = "jetstream"))]
pub fn log_library() {
    static LOGGER: LibraryLog = LibraryLog;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_line_has_the_common_keys_then_the_fields() {
        let e = event("warn", "disconnected")
            .at(3, 2)
            .field("reason", "stalled")
            .field("after_seconds", 35.5);
        let line = e.json(
            1_764_298_800_123,
            "gnip-stream: partition 3/2: disconnected (stalled)",
        );
        assert!(line.starts_with("{\"ts\":\"2025-11-28T03:00:00.123Z\",\"level\":\"warn\""));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ts"], "2025-11-28T03:00:00.123Z");
        assert_eq!(
            (v["level"].as_str(), v["event"].as_str()),
            (Some("warn"), Some("disconnected"))
        );
        assert_eq!(
            (v["partition"].as_u64(), v["connection"].as_u64()),
            (Some(3), Some(2))
        );
        assert_eq!(v["reason"], "stalled");
        assert_eq!(v["message"], "partition 3/2: disconnected (stalled)");
        let whole = event("info", "summary").json(0, "x");
        let v: Value = serde_json::from_str(&whole).unwrap();
        assert!(v["partition"].is_null() && v["connection"].is_null());
        assert!(!whole.contains('\n'));
    }

    #[test]
    fn formats_parse() {
        assert_eq!(LogFormat::parse("json"), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("text"), Some(LogFormat::Text));
        assert_eq!(LogFormat::parse("JSON"), None);
    }
}
