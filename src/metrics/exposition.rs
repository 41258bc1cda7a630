//! The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` lines, then the
//! family's samples with escaped label values. Writes into a `String`; no IO.

use std::fmt::Write;

/// The content type a scrape response carries.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (reset when the process restarts); its name ends in `_total`.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// Writes families one after another; every sample of a family follows its header.
#[derive(Debug)]
pub struct Exposition<'a> {
    out: &'a mut String,
}

impl<'a> Exposition<'a> {
    /// Appends to `out`.
    pub fn new(out: &'a mut String) -> Self {
        Exposition { out }
    }

    /// Starts the family `name` with its help text.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        escape(self.out, help, false);
        let _ = write!(self.out, "\n# TYPE {name} {kind}\n");
    }

    /// Families of one sample each, all with `labels`: `(name, kind, help, value)`, each name
    /// after `prefix`.
    pub fn singles(
        &mut self,
        prefix: &str,
        labels: &[(&str, &str)],
        families: &[(&str, Kind, &str, f64)],
    ) {
        let mut name = String::with_capacity(64);
        for &(n, kind, help, value) in families {
            name.clear();
            name.push_str(prefix);
            name.push_str(n);
            self.family(&name, kind, help);
            self.sample(&name, labels, value);
        }
    }

    /// One sample of the family just started.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                escape(self.out, v, true);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        if value.is_nan() {
            self.out.push_str("NaN");
        } else if value.is_infinite() {
            self.out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
        } else if value.fract() == 0.0 && value.abs() < 1e15 {
            let _ = write!(self.out, "{}", value as i64);
        } else if value.abs() >= 1e15 || value.abs() < 1e-4 {
            let _ = write!(self.out, "{value:e}");
        } else {
            let _ = write!(self.out, "{value}");
        }
        self.out.push('\n');
    }
}

/// Appends `text` with `\\` and newlines escaped (and `"` too in a label value, `quotes`).
fn escape(out: &mut String, text: &str, quotes: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_text_format() {
        let mut s = String::new();
        let mut e = Exposition::new(&mut s);
        e.family("x_total", Kind::Counter, "A \\ help\nline.");
        e.sample("x_total", &[("a", "q\"uo\\te\n"), ("b", "2")], 3.0);
        e.sample("x_total", &[], 0.25);
        e.family("y", Kind::Gauge, "Y.");
        e.sample("y", &[], f64::NAN);
        e.sample("y", &[], f64::INFINITY);
        e.sample("y", &[], -1.5e300);
        e.sample("y", &[], 0.00001);
        assert_eq!(
            s,
            "# HELP x_total A \\\\ help\\nline.\n# TYPE x_total counter\n\
             x_total{a=\"q\\\"uo\\\\te\\n\",b=\"2\"} 3\nx_total 0.25\n\
             # HELP y Y.\n# TYPE y gauge\ny NaN\ny +Inf\n\
             y -1.5e300\ny 1e-5\n"
        );
    }
}
