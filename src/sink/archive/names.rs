//! The archive's file names, pure: windows aligned to UTC multiples of the rotation period,
//! `{prefix}-p{N}-{YYYYMMDDTHHMMSSZ}[-{n}].ndjson[.gz]` for a sealed file, the same with a
//! leading `.` and a trailing `.part` while it is written, and the partition read back from
//! either.

use crate::protocol::time::civil_from_days;

/// The suffix of a file being written.
pub const PART: &str = ".part";

/// The start of the window `now` falls in: the latest UTC multiple of `every` seconds (from
/// the epoch) at or before it.
///
/// ```
/// use gnip_stream::sink::archive::window_start;
/// assert_eq!(window_start(7_265, 3_600), 7_200);
/// assert_eq!(window_start(7_200, 3_600), 7_200);
/// assert_eq!(window_start(-1, 60), -60);
/// ```
pub fn window_start(now: i64, every: i64) -> i64 {
    now.div_euclid(every.max(1)) * every.max(1)
}

/// `YYYYMMDDTHHMMSSZ` of `secs`.
pub fn compact_utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The partition as a name writes it: `p{N}`, or `all` for a stream without partitions (0).
pub fn partition_tag(partition: u32) -> String {
    if partition == 0 {
        "all".into()
    } else {
        format!("p{partition}")
    }
}

/// A partition's state files' stem: `{prefix}-p{N}` (or `-all`).
pub fn stem(prefix: &str, partition: u32) -> String {
    format!("{prefix}-{}", partition_tag(partition))
}

/// A sealed file's name: `{prefix}-{p}-{start}[-{n}].ndjson[.gz]` (`n` 0 writes no suffix).
pub fn sealed_name(prefix: &str, partition: u32, start: i64, n: u32, gzip: bool) -> String {
    let mut name = format!(
        "{prefix}-{}-{}",
        partition_tag(partition),
        compact_utc(start)
    );
    if n > 0 {
        name.push_str(&format!("-{n}"));
    }
    name.push_str(if gzip { ".ndjson.gz" } else { ".ndjson" });
    name
}

/// The name a sealed file has while it is written: hidden, and `.part` at the end.
pub fn part_name(sealed: &str) -> String {
    format!(".{sealed}{PART}")
}

/// The sealed name a `.part` file will get, if `name` is one of ours.
pub fn sealed_of_part(name: &str) -> Option<&str> {
    let sealed = name.strip_prefix('.')?.strip_suffix(PART)?;
    (sealed.ends_with(".ndjson") || sealed.ends_with(".ndjson.gz")).then_some(sealed)
}

/// The partition a sealed (or `.part`) name was written for: the `p{N}`/`all` after the
/// prefix (the prefix has no `-p` of its own: it is a product's name).
pub fn partition_of(name: &str, prefix: &str) -> Option<u32> {
    let name = sealed_of_part(name).unwrap_or(name);
    let rest = name.strip_prefix(prefix)?.strip_prefix('-')?;
    let tag = rest.split('-').next()?;
    if tag == "all" {
        return Some(0);
    }
    tag.strip_prefix('p')?.parse().ok().filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_product_partition_window_and_suffix() {
        // 2026-12-04T19:00:00Z
        let t = 1_796_410_800;
        assert_eq!(compact_utc(t), "20261204T190000Z");
        assert_eq!(compact_utc(t + 3_723), "20261204T200203Z");
        assert_eq!(
            sealed_name("decahose", 2, t, 0, false),
            "decahose-p2-20261204T190000Z.ndjson"
        );
        assert_eq!(
            sealed_name("powertrack", 0, t, 3, true),
            "powertrack-all-20261204T190000Z-3.ndjson.gz"
        );
        let part = part_name("decahose-p2-20261204T190000Z.ndjson.gz");
        assert_eq!(part, ".decahose-p2-20261204T190000Z.ndjson.gz.part");
        assert_eq!(
            sealed_of_part(&part),
            Some("decahose-p2-20261204T190000Z.ndjson.gz")
        );
        assert_eq!(sealed_of_part("decahose-p2.ndjson"), None);
        assert_eq!(sealed_of_part(".other.part"), None);
        assert_eq!(partition_of(&part, "decahose"), Some(2));
        assert_eq!(
            partition_of("powertrack-all-20261204T190000Z-3.ndjson", "powertrack"),
            Some(0)
        );
        assert_eq!(partition_of("firehose-p20-x.ndjson", "firehose"), Some(20));
        assert_eq!(partition_of("firehose-p20-x.ndjson", "decahose"), None);
        assert_eq!(partition_of("firehose-p0-x.ndjson", "firehose"), None);
    }

    #[test]
    fn windows_align_to_utc_multiples_of_the_period() {
        let t = 1_796_410_800 + 1_234; // 19:20:34
        assert_eq!(compact_utc(window_start(t, 3600)), "20261204T190000Z");
        assert_eq!(compact_utc(window_start(t, 600)), "20261204T192000Z");
        assert_eq!(compact_utc(window_start(t, 10)), "20261204T192030Z");
        assert_eq!(compact_utc(window_start(t, 86_400)), "20261204T000000Z");
        // 7 minutes: multiples from the epoch, not from the hour.
        assert_eq!(window_start(t, 420) % 420, 0);
    }
}
