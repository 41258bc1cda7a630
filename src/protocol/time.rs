//! UTC calendar arithmetic and the service's timestamp formats, without a time crate.
//!
//! Replay dates (`yyyyMMddHHmm`), system-message `sent` times (ISO 8601 with `+00:00`), native
//! `created_at` (`Tue Jul 18 23:25:04 +0000 2017`) and Activity Streams `postedTime`
//! (`2017-07-18T23:25:04.000Z`). Times are whole seconds since the Unix epoch, UTC. Nothing here
//! reads the clock: callers pass the time in (the IO shell reads it, in `clock.rs`).

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number from [`days_from_civil`]: (year, month 1..=12, day 1..=31).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn split(secs: i64) -> (i64, u32, u32, i64, i64, i64) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]; // 1970-01-01 was a Thursday

/// Parses a Replay date, `yyyyMMddHHmm` (UTC), into seconds since the epoch.
pub fn parse_replay_date(s: &str) -> Option<i64> {
    if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    let (y, mo, d, h, mi) = (n(0..4)?, n(4..6)?, n(6..8)?, n(8..10)?, n(10..12)?);
    if !(1..=12).contains(&mo) || d == 0 || h > 23 || mi > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    // Reject 31 February and the like: the date must survive the round trip.
    if civil_from_days(days) != (i64::from(y), mo, d) {
        return None;
    }
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60)
}

/// Formats seconds since the epoch as a Replay date, `yyyyMMddHHmm` (seconds dropped).
pub fn replay_date(secs: i64) -> String {
    let (y, m, d, h, mi, _) = split(secs);
    format!("{y:04}{m:02}{d:02}{h:02}{mi:02}")
}

/// ISO 8601 with `Z`, as Recovery's `startTime` / `endTime` take it: `2017-01-11T18:12:52Z`
/// (no `+` to escape in a query).
pub fn iso8601_z(secs: i64) -> String {
    let (y, m, d, h, mi, s) = split(secs);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// ISO 8601 as in system messages' `sent`: `2017-01-11T18:12:52+00:00`.
pub fn iso8601(secs: i64) -> String {
    let (y, m, d, h, mi, s) = split(secs);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}+00:00")
}

/// Activity Streams `postedTime`: `2017-07-18T23:25:04.000Z`.
pub fn posted_time(secs: i64) -> String {
    let (y, m, d, h, mi, s) = split(secs);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.000Z")
}

/// RFC 3339 in UTC with milliseconds, as log lines carry it: `2026-11-28T03:00:00.123Z`.
pub fn rfc3339_ms(unix_ms: u64) -> String {
    let (y, m, d, h, mi, s) = split((unix_ms / 1000) as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
        unix_ms % 1000
    )
}

/// Native `created_at`: `Tue Jul 18 23:25:04 +0000 2017`.
pub fn created_at(secs: i64) -> String {
    let (y, m, d, h, mi, s) = split(secs);
    let wd = WEEKDAYS[secs.div_euclid(86_400).rem_euclid(7) as usize];
    format!(
        "{wd} {} {d:02} {h:02}:{mi:02}:{s:02} +0000 {y:04}",
        MONTHS[m as usize - 1]
    )
}

/// Parses a record timestamp in any of the service's formats: native `created_at`, Activity
/// Streams `postedTime`, or ISO 8601 with an offset of `+00:00` / `Z`.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d, h, mi, sec) = if b.get(4) == Some(&b'-') {
        (
            num(0..4)?,
            num(5..7)?,
            num(8..10)?,
            num(11..13)?,
            num(14..16)?,
            num(17..19)?,
        )
    } else {
        // "Tue Jul 18 23:25:04 +0000 2017"
        let mo = MONTHS.iter().position(|m| s.get(4..7) == Some(m))? as u32 + 1;
        if s.get(20..25) != Some("+0000") {
            return None;
        }
        (
            num(26..30)?,
            mo,
            num(8..10)?,
            num(11..13)?,
            num(14..16)?,
            num(17..19)?,
        )
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(sec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        let t = parse_replay_date("201701011815").unwrap();
        assert_eq!(iso8601(t), "2017-01-01T18:15:00+00:00");
        assert_eq!(replay_date(t), "201701011815");
        let t = parse_timestamp("Tue Jul 18 23:25:04 +0000 2017").unwrap();
        assert_eq!(created_at(t), "Tue Jul 18 23:25:04 +0000 2017");
        assert_eq!(posted_time(t), "2017-07-18T23:25:04.000Z");
        assert_eq!(rfc3339_ms(t as u64 * 1000 + 7), "2017-07-18T23:25:04.007Z");
        assert_eq!(parse_timestamp("2017-07-18T23:25:04.000Z"), Some(t));
        assert_eq!(parse_timestamp("2017-07-18T23:25:04+00:00"), Some(t));
    }

    #[test]
    fn every_day_for_800_years_round_trips() {
        for days in -200_000..100_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn bad_replay_dates_are_refused() {
        for bad in [
            "",
            "20170101181",
            "2017010118155",
            "201713011815",
            "201702301815",
            "201701012415",
            "2017010118x5",
            "201701011860",
        ] {
            assert_eq!(parse_replay_date(bad), None, "{bad}");
        }
        assert_eq!(parse_timestamp("Tue Xyz 18 23:25:04 +0000 2017"), None);
        assert_eq!(parse_timestamp("garbage"), None);
    }
}
