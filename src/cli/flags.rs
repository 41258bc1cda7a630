//! Flags declared once: each command's flags are a table of [`Flag`]s — name, value, default,
//! help line, the commands that take it, and how its value is read — from which the parser
//! reads the arguments and `--help` writes the options block (docs/command.md holds the same
//! blocks, and a test keeps them equal).

use super::args::{Arg, Args, Usage};

/// One flag of a command whose arguments are gathered into a `T`.
pub struct Flag<T> {
    /// `--name`.
    pub name: &'static str,
    /// What its value is called in the help (`SECS`, `N`), or `None` for a switch.
    pub value: Option<&'static str>,
    /// Its default as the help shows it, from the same constant the parser starts from.
    pub default: Option<fn() -> String>,
    /// One line (or a few) of help.
    pub help: &'static str,
    /// The commands of the table that take it (empty: all of them).
    pub only: &'static [&'static str],
    /// Reads the flag (and its value, from `Args`) into `T`.
    pub set: fn(&mut T, &mut Args<'_>, &'static str) -> Result<(), Usage>,
}

impl<T> Flag<T> {
    fn takes(&self, command: &str) -> bool {
        self.only.is_empty() || self.only.contains(&command)
    }
}

/// A second table over a part of the first one's `T` (e.g. `stream`'s JetStream flags over
/// its `JetStreamArgs`): the flags, and where in `T` they write.
pub type Part<'t, T, U> = (&'t [Flag<U>], fn(&mut T) -> &mut U);

/// A table over a part of `T`, whatever the part's type: what [`read`] takes besides the
/// command's own table.
pub trait More<T> {
    /// Reads `flag` into `into` if the table has it for `command` (`None`: not one of its own).
    fn try_read(
        &self,
        into: &mut T,
        it: &mut Args<'_>,
        flag: &str,
        command: &str,
    ) -> Option<Result<(), Usage>>;
}

impl<T, U> More<T> for Part<'_, T, U> {
    fn try_read(
        &self,
        into: &mut T,
        it: &mut Args<'_>,
        flag: &str,
        command: &str,
    ) -> Option<Result<(), Usage>> {
        let (table, part) = self;
        let f = table.iter().find(|x| x.name == flag && x.takes(command))?;
        Some((f.set)(part(into), it, f.name))
    }
}

/// What a parse loop found besides flags.
pub enum Parsed<'a> {
    /// All arguments read.
    Done,
    /// `-h` or `--help`.
    Help,
    /// A positional argument (only where `positionals` allows them).
    Positional(&'a str),
}

/// The width the help wraps at, and the column its text starts in.
const WIDTH: usize = 96;
const COLUMN: usize = 25;

/// Reads `command`'s arguments from `it` into `into` through `table`, and `more` (tables over
/// parts of `into`, e.g. the archive and JetStream flags of `stream`). Stops at
/// `--help` and at a positional argument when `positionals`, else a positional is an error.
pub fn read<'a, T>(
    it: &mut Args<'a>,
    command: &str,
    table: &[Flag<T>],
    into: &mut T,
    more: &[&dyn More<T>],
    positionals: bool,
) -> Result<Parsed<'a>, Usage> {
    while let Some(arg) = it.next()? {
        let f = match arg {
            Arg::Flag("-h" | "--help") => return Ok(Parsed::Help),
            Arg::Positional(p) if positionals => return Ok(Parsed::Positional(p)),
            Arg::Positional(_) => return Err(it.unknown(arg)),
            Arg::Flag(f) => f,
        };
        if let Some(flag) = table.iter().find(|x| x.name == f && x.takes(command)) {
            (flag.set)(into, it, flag.name)?;
            continue;
        }
        match more.iter().find_map(|m| m.try_read(into, it, f, command)) {
            Some(r) => r?,
            None => return Err(it.unknown(arg)),
        }
    }
    Ok(Parsed::Done)
}

/// The options block of `command`'s help (`None`: every flag of the table): a line (or a few,
/// wrapped) per flag.
pub fn help<T>(table: &[Flag<T>], command: Option<&str>) -> String {
    let mut out = String::new();
    for flag in table.iter().filter(|f| command.is_none_or(|c| f.takes(c))) {
        let mut head = format!("  {}", flag.name);
        if let Some(v) = flag.value {
            head.push(' ');
            head.push_str(v);
        }
        let mut text = flag.help.to_owned();
        if let Some(d) = flag.default {
            text.push_str(&format!(" (default {})", d()));
        }
        let mut line = if head.len() + 2 <= COLUMN {
            format!("{head:<COLUMN$}")
        } else {
            format!("{head}  ")
        };
        let mut first = true;
        for word in text.split(' ') {
            if !first && line.len() + 1 + word.len() > WIDTH {
                out.push_str(line.trim_end());
                out.push('\n');
                line = " ".repeat(COLUMN);
                first = true;
            }
            if !first {
                line.push(' ');
            }
            line.push_str(word);
            first = false;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A duration's seconds as the help writes them (`35`, `0.25`).
pub fn secs(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

/// A count with thousands separators (`1,000,000`).
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct T {
        n: u32,
        on: bool,
    }

    const TABLE: &[Flag<T>] = &[
        Flag {
            name: "--n",
            value: Some("N"),
            default: Some(|| count(1_000_000)),
            help: "a number that is explained at some length so that the help line has to wrap onto a second line",
            only: &[],
            set: |t, it, f| {
                t.n = it.number(f)?;
                Ok(())
            },
        },
        Flag {
            name: "--on",
            value: None,
            default: None,
            help: "a switch, for b only",
            only: &["b"],
            set: |t, _, _| {
                t.on = true;
                Ok(())
            },
        },
    ];

    fn run(command: &'static str, args: &[&str]) -> Result<T, String> {
        let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut it = Args::new(command, &owned);
        let mut t = T::default();
        read(&mut it, command, TABLE, &mut t, &[], false).map_err(|u| u.message)?;
        Ok(t)
    }

    #[test]
    fn the_table_reads_the_flags_its_command_takes() {
        let t = run("b", &["--n", "7", "--on"]).unwrap();
        assert_eq!((t.n, t.on), (7, true));
        assert_eq!(run("a", &["--on"]).unwrap_err(), "unknown option '--on'");
        assert_eq!(run("a", &["x"]).unwrap_err(), "unexpected argument 'x'");
        assert_eq!(
            run("a", &["--n", "x"]).unwrap_err(),
            "--n: 'x' is not a valid number"
        );
    }

    #[test]
    fn the_help_comes_from_the_table() {
        assert_eq!(
            help(TABLE, Some("b")),
            "  --n N                  a number that is explained at some length so that the help line has to\n                         wrap onto a second line (default 1,000,000)\n  --on                   a switch, for b only\n"
        );
        assert!(!help(TABLE, Some("a")).contains("--on"));
        assert_eq!(secs(std::time::Duration::from_millis(250)), "0.25");
        assert_eq!(secs(std::time::Duration::from_secs(35)), "35");
    }
}
