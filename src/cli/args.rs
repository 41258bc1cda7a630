//! Reading the command line: a small cursor over the arguments (long flags with their value
//! separate or after `=`, `--` ending the options, positionals) and the value checks every
//! command shares. Why no argument-parsing crate: README, dependency table.

use std::time::Duration;

use gnip_stream::Product;

/// A usage error: one line, and the command whose help to point at.
#[derive(Debug)]
pub struct Usage {
    pub message: String,
    pub command: &'static str,
}

pub fn usage(command: &'static str, message: impl Into<String>) -> Usage {
    Usage {
        message: message.into(),
        command,
    }
}

/// One argument as the cursor reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg<'a> {
    /// `--name` or `-h` (a value after `=` waits for [`Args::value`]).
    Flag(&'a str),
    /// Anything else, and everything after `--`.
    Positional(&'a str),
}

/// A cursor over one command's arguments.
pub struct Args<'a> {
    command: &'static str,
    rest: std::slice::Iter<'a, String>,
    /// The flag just read and the value written after its `=`, not yet taken.
    inline: Option<(&'a str, &'a str)>,
    only_positionals: bool,
}

impl<'a> Args<'a> {
    pub fn new(command: &'static str, args: &'a [String]) -> Self {
        Args {
            command,
            rest: args.iter(),
            inline: None,
            only_positionals: false,
        }
    }

    /// The command whose arguments these are (for usage messages).
    pub fn command(&self) -> &'static str {
        self.command
    }

    /// The next argument, or `None` at the end. A flag given `=value` whose value was not taken
    /// is an error: that flag takes no value.
    pub fn next(&mut self) -> Result<Option<Arg<'a>>, Usage> {
        if let Some((flag, _)) = self.inline.take() {
            return Err(usage(self.command, format!("{flag} takes no value")));
        }
        let Some(raw) = self.rest.next() else {
            return Ok(None);
        };
        if self.only_positionals {
            return Ok(Some(Arg::Positional(raw)));
        }
        if raw == "--" {
            self.only_positionals = true;
            return self.next();
        }
        if raw.starts_with("--") {
            if let Some((flag, value)) = raw.split_once('=') {
                self.inline = Some((flag, value));
                return Ok(Some(Arg::Flag(flag)));
            }
            return Ok(Some(Arg::Flag(raw)));
        }
        if raw == "-h" || raw == "-V" {
            return Ok(Some(Arg::Flag(raw)));
        }
        Ok(Some(Arg::Positional(raw)))
    }

    /// The value of the flag just read: after its `=`, else the next argument.
    pub fn value(&mut self, flag: &str) -> Result<&'a str, Usage> {
        if let Some((_, v)) = self.inline.take() {
            return Ok(v);
        }
        self.rest
            .next()
            .map(String::as_str)
            .ok_or_else(|| usage(self.command, format!("{flag} needs a value")))
    }

    /// The flag's value as a number.
    pub fn number<T: std::str::FromStr>(&mut self, flag: &str) -> Result<T, Usage> {
        let v = self.value(flag)?;
        number(self.command, flag, v)
    }

    /// The flag's value as a decimal number ([`decimal`]).
    pub fn decimal(&mut self, flag: &str) -> Result<f64, Usage> {
        let v = self.value(flag)?;
        decimal(self.command, flag, v)
    }

    /// The flag's value as a number in `range` ("'{n}' must be {lo} to {hi}" otherwise).
    pub fn number_in<T>(
        &mut self,
        flag: &str,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, Usage>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        let n: T = self.number(flag)?;
        if !range.contains(&n) {
            return Err(usage(
                self.command,
                format!("{flag}: '{n}' must be {} to {}", range.start(), range.end()),
            ));
        }
        Ok(n)
    }

    /// The flag's value as seconds (decimals allowed; zero only when `zero_ok`).
    pub fn seconds(&mut self, flag: &str, zero_ok: bool) -> Result<Duration, Usage> {
        let v = self.value(flag)?;
        // Not a number is said the same way as a number out of range.
        let s = decimal(self.command, flag, v).unwrap_or(f64::NAN);
        if !s.is_finite() || s < 0.0 || (s == 0.0 && !zero_ok) || s > 1e7 {
            return Err(usage(
                self.command,
                format!("{flag}: '{v}' is not a usable number of seconds"),
            ));
        }
        Ok(Duration::from_secs_f64(s))
    }

    /// The flag's value as a duration: an integer and a unit `s`, `m`, `h` or `d` (`10s`,
    /// `5m`, `1h`, `1d`), at least `min`.
    #[cfg(any(feature = "archive", feature = "simulator"))]
    pub fn duration(&mut self, flag: &str, min: Duration) -> Result<Duration, Usage> {
        let v = self.value(flag)?;
        parse_duration(v)
            .filter(|d| *d >= min)
            .ok_or_else(|| {
                usage(
                    self.command,
                    format!(
                        "{flag}: '{v}' is not a duration of at least {}s: an integer and a unit s, m, h or d (10s, 5m, 1h, 1d)",
                        min.as_secs()
                    ),
                )
            })
    }

    /// The flag's value as a size in bytes: an integer with an optional `k`, `M` or `G`
    /// (1024-based), at least `min`.
    #[cfg(feature = "archive")]
    pub fn bytes(&mut self, flag: &str, min: u64) -> Result<u64, Usage> {
        let v = self.value(flag)?;
        parse_bytes(v).filter(|b| *b >= min).ok_or_else(|| {
            usage(
                self.command,
                format!(
                    "{flag}: '{v}' is not a size of at least {min} bytes: an integer with an optional k, M or G (4k, 64M, 1G)"
                ),
            )
        })
    }

    /// The flag's value as a size in bytes (an integer with an optional `k`, `M` or `G`) in
    /// `min..=max`.
    #[cfg(feature = "jetstream")]
    pub fn bytes_in(&mut self, flag: &str, min: u64, max: u64) -> Result<u64, Usage> {
        let v = self.value(flag)?;
        parse_bytes(v)
            .filter(|b| (min..=max).contains(b))
            .ok_or_else(|| {
                usage(
                    self.command,
                    format!(
                        "{flag}: '{v}' is not a size from {min} to {max} bytes: an integer with an optional k, M or G (64k, 64M, 1G)"
                    ),
                )
            })
    }

    /// An error for an argument this command does not know.
    pub fn unknown(&self, arg: Arg<'_>) -> Usage {
        match arg {
            Arg::Flag(f) => usage(self.command, format!("unknown option '{f}'")),
            Arg::Positional(p) => usage(self.command, format!("unexpected argument '{p}'")),
        }
    }
}

/// Where a command's stream (or its rules) is: a URL, or a product, account and label (on
/// `host`, when given).
#[derive(Debug, Clone)]
pub enum Target<P> {
    Url(String),
    Named {
        product: P,
        account: String,
        label: String,
        host: Option<String>,
    },
}

/// The target of `--url`, or of `--product`/`--account`/`--label` with `--host`, checked:
/// one or the other, whole; `missing` says what to give when neither is.
pub fn target<P>(
    command: &'static str,
    url: Option<String>,
    product: Option<P>,
    account: Option<String>,
    label: Option<String>,
    host: Option<String>,
    missing: &str,
) -> Result<Target<P>, Usage> {
    match (url, product, account, label) {
        (Some(u), None, None, None) => {
            if host.is_some() {
                return Err(usage(command, "--host goes with --product, not with --url"));
            }
            Ok(Target::Url(u))
        }
        (None, Some(product), Some(account), Some(label)) => Ok(Target::Named {
            product,
            account,
            label,
            host,
        }),
        (Some(_), ..) => Err(usage(
            command,
            "give either --url or --product/--account/--label, not both",
        )),
        (None, ..) => Err(usage(command, format!("missing the {missing}"))),
    }
}

pub fn number<T: std::str::FromStr>(
    command: &'static str,
    flag: &str,
    v: &str,
) -> Result<T, Usage> {
    v.parse()
        .map_err(|_| usage(command, format!("{flag}: '{v}' is not a valid number")))
}

/// A decimal number, `12`, `0.5`, `.25` or `3.`, of at most 15 digits: what the flags that take
/// fractions accept (seconds, shares). Not `str::parse::<f64>`: its exact algorithm brings 13 KB
/// of tables into the edge build for values a few digits long, which 15 digits hold exactly.
pub fn decimal(command: &'static str, flag: &str, v: &str) -> Result<f64, Usage> {
    let bad = || usage(command, format!("{flag}: '{v}' is not a valid number"));
    let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
    let all = whole.bytes().chain(frac.bytes());
    if whole.len() + frac.len() == 0 || whole.len() + frac.len() > 15 {
        return Err(bad());
    }
    let mut digits = 0u64;
    for b in all {
        if !b.is_ascii_digit() {
            return Err(bad());
        }
        digits = digits * 10 + u64::from(b - b'0');
    }
    // Both are below 2^53, so each is exact and the quotient is correctly rounded.
    Ok(digits as f64 / 10u64.pow(frac.len() as u32) as f64)
}

pub fn product(command: &'static str, v: &str) -> Result<Product, Usage> {
    match v {
        "powertrack" => Ok(Product::PowerTrack),
        "decahose" | "sample10" => Ok(Product::Decahose),
        "firehose" => Ok(Product::Firehose),
        "compliance" => Ok(Product::Compliance),
        _ => Err(usage(
            command,
            format!("--product: '{v}' is not one of powertrack, decahose, firehose, compliance"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &[&str]) -> Result<Vec<(Arg<'static>, Option<String>)>, String> {
        let owned: Vec<String> = s.iter().map(|x| x.to_string()).collect();
        let owned: &'static [String] = Box::leak(owned.into_boxed_slice());
        let mut a = Args::new("t", owned);
        let mut out = Vec::new();
        while let Some(arg) = a.next().map_err(|u| u.message)? {
            let v = match arg {
                Arg::Flag("--v") => Some(a.value("--v").map_err(|u| u.message)?.to_owned()),
                _ => None,
            };
            out.push((arg, v));
        }
        Ok(out)
    }

    #[test]
    fn flags_values_and_positionals() {
        assert_eq!(
            all(&["--v", "1", "--v=2", "--flag", "pos", "--", "--v", "-x"]).unwrap(),
            vec![
                (Arg::Flag("--v"), Some("1".into())),
                (Arg::Flag("--v"), Some("2".into())),
                (Arg::Flag("--flag"), None),
                (Arg::Positional("pos"), None),
                (Arg::Positional("--v"), None),
                (Arg::Positional("-x"), None),
            ]
        );
        assert_eq!(all(&["--v=a=b"]).unwrap()[0].1.as_deref(), Some("a=b"));
        assert_eq!(all(&["--flag=1"]).unwrap_err(), "--flag takes no value");
        assert_eq!(all(&["--v"]).unwrap_err(), "--v needs a value");
        assert_eq!(
            all(&["-h", "-"]).unwrap(),
            vec![(Arg::Flag("-h"), None), (Arg::Positional("-"), None)]
        );
    }

    #[test]
    fn decimals_are_what_parse_makes_of_them_or_a_usage_error() {
        for v in [
            "0",
            "12",
            "0.5",
            ".25",
            "3.",
            "1.5",
            "0.1",
            "0.3",
            "2.675",
            "1234567.891",
            "0.000001",
            "999999999999999",
            "0.12345678901234",
        ] {
            assert_eq!(
                decimal("t", "--f", v).unwrap(),
                v.parse::<f64>().unwrap(),
                "{v}"
            );
        }
        for v in [
            "",
            ".",
            "-1",
            "+1",
            "1e3",
            "1.2.3",
            " 1",
            "1 ",
            "0x10",
            "inf",
            "NaN",
            "1_000",
            "1234567890123456",
        ] {
            let e = decimal("t", "--f", v).unwrap_err();
            assert_eq!(e.message, format!("--f: '{v}' is not a valid number"));
        }
    }
}

/// `10s`, `5m`, `1h`, `1d` (at most 10 years).
#[cfg(any(feature = "archive", feature = "simulator"))]
pub fn parse_duration(v: &str) -> Option<Duration> {
    let unit = match v.as_bytes().last()? {
        b's' => 1,
        b'm' => 60,
        b'h' => 3600,
        b'd' => 86_400,
        _ => return None,
    };
    let n: u64 = v[..v.len() - 1].parse().ok()?;
    n.checked_mul(unit)
        .filter(|s| *s <= 3650 * 86_400)
        .map(Duration::from_secs)
}

/// `4096`, `4k`, `64M`, `1G` (1024-based; at most 1 TiB).
#[cfg(any(feature = "archive", feature = "jetstream"))]
pub fn parse_bytes(v: &str) -> Option<u64> {
    let (digits, unit) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 1u64 << 10),
        b'M' => (&v[..v.len() - 1], 1 << 20),
        b'G' => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    let n: u64 = digits.parse().ok()?;
    n.checked_mul(unit).filter(|b| *b <= 1 << 40)
}

#[cfg(all(test, feature = "archive"))]
mod size_tests {
    use super::*;

    #[test]
    fn durations_and_sizes_take_a_unit() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d"), Some(Duration::from_secs(86_400)));
        for bad in [
            "",
            "s",
            "10",
            "1.5h",
            "-1m",
            "10x",
            "1 h",
            "99999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes("4k"), Some(4096));
        assert_eq!(parse_bytes("64M"), Some(64 << 20));
        assert_eq!(parse_bytes("1G"), Some(1 << 30));
        for bad in ["", "k", "1.5G", "-4k", "4 k", "1T", "99999999999G"] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
        }
    }
}
