//! The command's help texts: `gnip-stream --help`, and each command's `--help` from its head,
//! the options block its flag table writes ([`flags::help`](super::flags::help)) and its foot.

pub const MAIN_HELP: &str = "\
gnip-stream: a client for the X (Twitter) enterprise streams (PowerTrack, Decahose/Firehose, Replay)

usage:
  gnip-stream stream --url URL [options]
  gnip-stream stream --product powertrack|decahose|firehose|compliance --account NAME --label NAME [--host URL] [options]
  gnip-stream replay (--url URL | --product … --account … --label …) --from YYYYMMDDHHMM --to YYYYMMDDHHMM [options]
  gnip-stream recover (--url URL | --product … --account … --label …) --from DATE --to DATE [options]
  gnip-stream rules list|add|delete|validate|sync TARGET …   ('gnip-stream rules --help')
  gnip-stream demo [--seconds N] [--rate RECORDS_PER_S]
  gnip-stream simulate [--listen ADDR] [--rate N] [--corpus DIR] [--user U --password P] [--clock-back DURATION]

Credentials come from GNIP_USERNAME and GNIP_PASSWORD. Records go to stdout as NDJSON; system
messages, connection events and statistics to stderr. 'gnip-stream COMMAND --help' for more.
Exit status: 0 normal end, 2 usage error, 3 authentication refused (401), 4 other
non-retryable failure (406, other 4xx, TLS verification), 5 rules rejected, 6 Replay or
Recovery incomplete.";

/// A command's help around its options block.
pub struct Page {
    /// What it does and how it is called.
    pub head: &'static str,
    /// What follows the options (may be empty).
    pub foot: &'static str,
}

const STREAM_OUTPUT: &str = "
Credentials: GNIP_USERNAME and GNIP_PASSWORD (never flags).
stdout: every activity and compliance record as received, one per line.
stderr: system messages, connection events, statistics.
Exit status: 0 normal end (max-records, Replay completed, SIGINT/SIGTERM), 2 usage error,
3 authentication refused (401), 4 other non-retryable failure (406, other 4xx, TLS),
6 Replay/Recovery incomplete.";

pub const STREAM: Page = Page {
    head: "\
gnip-stream stream: stream a live product to stdout, reconnecting as the service documents

usage:
  gnip-stream stream --url URL [options]
  gnip-stream stream --product powertrack|decahose|firehose|compliance --account NAME --label NAME [--host URL] [options]
",
    foot: STREAM_OUTPUT,
};

pub const REPLAY: Page = Page {
    head: "\
gnip-stream replay: replay a past range to stdout; ends when the service says it is complete

usage:
  gnip-stream replay (--url URL | --product … --account … --label … [--host URL]) --from YYYYMMDDHHMM --to YYYYMMDDHHMM [options]
",
    foot: "
Progress on stderr (a redrawn line on a terminal, else a line every --stats-interval). Exit 6
when minutes still failed after their re-request (each listed on stderr).
Credentials: GNIP_USERNAME and GNIP_PASSWORD (never flags).",
};

pub const RECOVER: Page = Page {
    head: "\
gnip-stream recover: Recovery of the last 24 hours on the realtime stream, to stdout

usage:
  gnip-stream recover (--url URL | --product … --account … --label … [--host URL]) --from DATE --to DATE [options]
",
    foot: "
One connection per partition (every partition of the product unless --partition names some),
each ending on \"Recovery Request Completed\"; a dropped one resumes from its last record's
minute without duplicates. Progress on stderr as for replay. Exit 6 when a partition did not
complete.
Credentials: GNIP_USERNAME and GNIP_PASSWORD (never flags).",
};

#[cfg(feature = "simulator")]
pub const DEMO: Page = Page {
    head: "\
gnip-stream demo: the whole client against the built-in simulator, offline

usage:
  gnip-stream demo [--seconds N] [--rate RECORDS_PER_S]
",
    foot: "
Starts the simulator on loopback and streams Decahose (2 partitions) from it through the full
client path (HTTP, gzip, partitions, the decoder), with a live statistics line, a few sample
records and a summary. Needs no network, no credentials and no files (it serves
../shared/corpus when present, else generated records).",
};

#[cfg(feature = "simulator")]
pub const SIMULATE: Page = Page {
    head: "\
gnip-stream simulate: run the simulator alone, until interrupted

usage:
  gnip-stream simulate [--listen ADDR] [--rate N] [--corpus DIR] [--user U --password P] [--clock-back DURATION]
",
    foot: "",
};

pub const RULES: Page = Page {
    head: "\
gnip-stream rules: manage a stream's PowerTrack rules (the Rules API)

usage:
  gnip-stream rules list     TARGET
  gnip-stream rules add      TARGET [--tag TAG] VALUE...  | TARGET --file FILE
  gnip-stream rules delete   TARGET VALUE...  | --id ID...  | --file FILE | --all
  gnip-stream rules validate TARGET VALUE...  | --file FILE
  gnip-stream rules sync     TARGET --file FILE [--dry-run] [--allow-empty]

TARGET: --url RULES_URL
      | --product powertrack|powertrack-replay --account A --label L [--host URL]
        (URL {host}/rules/{powertrack|powertrack-replay}/accounts/{A}/publishers/twitter/{L}.json)
",
    foot: "
list writes NDJSON to stdout: value, tag (null when absent), id (exact digits). A value already
a rule (add) or not a rule (delete) is success. Requests go one at a time, at most 5,000 rules
and 5,000,000 bytes each, 60 a minute; 429 waits Retry-After (else from 60 s), 5xx and network
errors back off from 1 s (at most 60 s) and send the same batch again.
Credentials: GNIP_USERNAME and GNIP_PASSWORD (never flags).
Exit status: 0 done, 2 usage, 3 authentication refused, 4 other non-retryable failure,
5 rules rejected (each on stderr with the service's message).",
};

/// `connections --help`.
#[cfg(feature = "connections")]
pub const CONNECTIONS: Page = Page {
    head: "\
gnip-stream connections: list or kill an App's X API v2 stream connections (the Connections API)

usage:
  gnip-stream connections list [--api v2] [--host URL] [--status active|inactive|all]
  gnip-stream connections kill [--api v2] [--host URL] (--all | --endpoint NAME | --uuid UUID [--uuid UUID]...)
",
    foot: "
list writes one JSON object a line per connection (every page), as the service describes it:
id, endpoint_name, client_ip, connected_at, and for a closed one disconnected_at and
disconnect_reason. kill prints `killed N, failed M`. Use it when a stream is refused with 429
TooManyConnections: stale connections count against the limit until they time out.
Credentials: X_BEARER_TOKEN (never a flag). X API v2 only: --api gnip is a usage error.
Exit status: 0 done (kill: no failed kill), 2 usage, 3 authentication refused, 4 any other
failure (kill: a kill failed).",
};

/// The archive section of `stream --help` (feature `archive`).
#[cfg(feature = "archive")]
pub const STREAM_ARCHIVE: Page = Page {
    head: "
Archive: records go into files under DIR instead of stdout
",
    foot: "Files: {product}-p{N}-{YYYYMMDDTHHMMSSZ}[-n].ndjson[.gz], written as a hidden .part and
sealed (fsync, rename) at the window's end, at the size limit, and at a clean stop; a restart
seals what a crash left and asks for its gap (see docs/archive.md).",
};

/// `stream`'s JetStream options' heading and foot (feature `jetstream`).
#[cfg(feature = "jetstream")]
pub const STREAM_JETSTREAM: Page = Page {
    head: "
JetStream (this build has feature jetstream): records go to JetStream instead of stdout
",
    foot: "Exit status 7: JetStream refused (no stream captures a subject, permission, payload too
large) or records unacknowledged at stop; 3 also when NATS refuses the credentials.",
};

/// Appended to the main help in a build with feature `jetstream`.
#[cfg(feature = "jetstream")]
pub const JETSTREAM_MAIN_HELP: &str = "

JetStream (this build has feature jetstream; exit status 7: JetStream refused, or records
unacknowledged at stop; 3 also when NATS refuses the credentials):
  gnip-stream stream … --jetstream URLS [--leases BUCKET …]   records into JetStream
  gnip-stream jetstream-init --jetstream URLS --stream NAME --subjects PATTERN [--lease-bucket B --lease-ttl SECS]
  gnip-stream publish --jetstream URLS --subject S [--file F]";

#[cfg(feature = "jetstream")]
pub const JETSTREAM_INIT: Page = Page {
    head: "\
gnip-stream jetstream-init: create the JetStream stream (and the lease bucket) the records go to

usage:
  gnip-stream jetstream-init --jetstream URLS --stream NAME --subjects PATTERN
                             [--replicas 3] [--duplicate-window 10m] [--lease-bucket B --lease-ttl SECS]
",
    foot: "
An existing stream with the same configuration is fine (exit 0); one configured otherwise is
exit 7. Credentials: NATS_USER/NATS_PASSWORD or NATS_TOKEN.",
};

#[cfg(feature = "jetstream")]
pub const PUBLISH: Page = Page {
    head: "\
gnip-stream publish: publish NDJSON records (a file, or stdin) to a JetStream subject

usage:
  gnip-stream publish --jetstream URLS --subject S [--file F]
                      [--publish-window N] [--ack-timeout SECS] [--drain-timeout SECS]
",
    foot: "
Each line is one record, published as it is with the message id stream gives it
(activity:<id>, <kind>:<id>:<timestamp>, else a hash of the bytes); system messages are
skipped, lines that are not records are said on stderr and skipped. Exit 0 when every record
was acknowledged, 7 when JetStream refused or some were not acknowledged.",
};
