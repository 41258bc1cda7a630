//! The command's help texts: `gnip-stream --help` and each command's `--help`.

pub const MAIN_HELP: &str = "\
gnip-stream: a client for the X (Twitter) enterprise streams (PowerTrack, Decahose/Firehose, Replay)

usage:
  gnip-stream stream --url URL [options]
  gnip-stream stream --product powertrack|decahose|firehose|compliance --account NAME --label NAME [--host URL] [options]
  gnip-stream replay (--url URL | --product … --account … --label …) --from YYYYMMDDHHMM --to YYYYMMDDHHMM [options]
  gnip-stream recover (--url URL | --product … --account … --label …) --from DATE --to DATE [options]
  gnip-stream rules list|add|delete|validate|sync TARGET …   ('gnip-stream rules --help')
  gnip-stream demo [--seconds N] [--rate RECORDS_PER_S]
  gnip-stream simulate [--listen ADDR] [--rate N] [--corpus DIR] [--user U --password P]

Credentials come from GNIP_USERNAME and GNIP_PASSWORD. Records go to stdout as NDJSON; system
messages, connection events and statistics to stderr. 'gnip-stream COMMAND --help' for more.
Exit status: 0 normal end, 2 usage error, 3 authentication refused (401), 4 other
non-retryable failure (406, other 4xx, TLS verification), 5 rules rejected, 6 Replay or
Recovery incomplete.";

pub const STREAM_HELP: &str = "\
gnip-stream stream: stream a live product to stdout, reconnecting as the service documents

usage:
  gnip-stream stream --url URL [options]
  gnip-stream stream --product powertrack|decahose|firehose|compliance --account NAME --label NAME [--host URL] [options]

  --url URL              the stream URL (no query); the product is read from its path
  --product P            powertrack, decahose, firehose or compliance
  --account NAME         the account name in the URL
  --label NAME           the stream label in the URL
  --host URL             scheme and host instead of https://gnip-stream.twitter.com
";

pub const REPLAY_HELP: &str = "\
gnip-stream replay: replay a past range to stdout; ends when the service says it is complete

usage:
  gnip-stream replay (--url URL | --product … --account … --label … [--host URL]) --from YYYYMMDDHHMM --to YYYYMMDDHHMM [options]

  --from YYYYMMDDHHMM    start, UTC, inclusive
  --to YYYYMMDDHHMM      end, UTC, exclusive
  --window MINUTES       minutes per request (default 60): a longer range is requested as
                         consecutive windows, one at a time; each window's failed minutes and
                         unprocessed range are requested again once before the next
Progress on stderr (a redrawn line on a terminal, else a line every --stats-interval). Exit 6
when minutes still failed after their re-request (each listed on stderr).
";

pub const OPTIONS_HELP: &str = "
options:
  --partition N          repeatable; one connection (thread) per partition; default: every
                         partition of the product (none for --url unless given)
  --backfill-minutes N   1..5: on reconnects, backfillMinutes sized to the gap, capped at N
  --backfill-on-start N  stream: 1..5: backfill N minutes on the first connection too (a
                         restarted host closes its own gap; --dedupe-window or JetStream's
                         duplicate window removes the overlap downstream)
  --stall-timeout SECS   default 35; decimals allowed (0.5)
  --max-records N        exit 0 after N records in total
  --count                write no records; at exit print one line `records=N`
  --ca-file PEM          extra trusted root certificates
  --stats-interval SECS  a statistics line on stderr every SECS (0 = off; default 10 when
                         stderr is a terminal, else 0)
  --redundant N          stream: 1..4 connections per partition (default 1), each its own
                         thread, reconnects and backfill, under one connection-rate limit
  --no-dedupe            stream: hand out every copy (de-duplication is on with --redundant 2+
                         or --backfill-minutes)
  --dedupe-window N      stream: ids remembered per partition (default 1,000,000)
  --metrics-listen ADDR  serve GET /metrics (Prometheus text format) on ADDR, e.g.
                         127.0.0.1:9464 (docs/operations.md: the metrics)
  --log-format F         text (default) or json: every stderr event one JSON object a line
                         (ts, level, event, partition, connection, fields, message)
  --slow-reader-threshold S  warn when a partition's handler share stays above S (default 0.5)
  --slow-reader-period SECS  ... for SECS (default 60); again after it recovers and relapses
  --inflater NAME        miniz_oxide, or zlib-rs in a build with that feature (its default)

Credentials: GNIP_USERNAME and GNIP_PASSWORD (never flags).
stdout: every activity and compliance record as received, one per line.
stderr: system messages, connection events, statistics.
Exit status: 0 normal end (max-records, Replay completed, SIGINT/SIGTERM), 2 usage error,
3 authentication refused (401), 4 other non-retryable failure (406, other 4xx, TLS),
6 Replay/Recovery incomplete.";

pub const DEMO_HELP: &str = "\
gnip-stream demo: the whole client against the built-in simulator, offline

usage:
  gnip-stream demo [--seconds N] [--rate RECORDS_PER_S]

Starts the simulator on loopback and streams Decahose (2 partitions) from it through the full
client path (HTTP, gzip, partitions, the decoder) for N seconds (default 10) at RECORDS_PER_S
(default 500), with a live statistics line, a few sample records and a summary. Needs no
network, no credentials and no files (it serves ../shared/corpus when present, else generated
records).";

pub const SIMULATE_HELP: &str = "\
gnip-stream simulate: run the simulator alone, until interrupted

usage:
  gnip-stream simulate [--listen ADDR] [--rate N] [--corpus DIR] [--user U --password P]

  --listen ADDR    address to bind (default 127.0.0.1:0, a free port; the URL is printed)
  --rate N         records per second per stream (default 100), or 'max' for as fast as read
  --corpus DIR     serve the *.ndjson records of DIR (default ../shared/corpus when present,
                   else generated records)
  --user U         the one valid user (default demo); with --password P (default demo)";

pub const RULES_HELP: &str = "\
gnip-stream rules: manage a stream's PowerTrack rules (the Rules API)

usage:
  gnip-stream rules list     TARGET
  gnip-stream rules add      TARGET [--tag TAG] VALUE...  | TARGET --file FILE
  gnip-stream rules delete   TARGET VALUE...  | --id ID...  | --file FILE | --all
  gnip-stream rules validate TARGET VALUE...  | --file FILE
  gnip-stream rules sync     TARGET --file FILE [--dry-run]

TARGET: --url RULES_URL
      | --product powertrack|powertrack-replay --account A --label L [--host URL]
        (default host https://data-api.twitter.com;
         URL {host}/rules/{powertrack|powertrack-replay}/accounts/{A}/publishers/twitter/{L}.json)

  --tag TAG              the tag of the VALUEs added
  --file FILE            NDJSON, one {\"value\":…,\"tag\":…} a line (tag optional or null, id
                         ignored, blank lines skipped), or one document {\"rules\":[…]}; - = stdin
  --id ID                repeatable: delete by rule id
  --all                  delete every rule
  --dry-run              sync: print the plan (+ add, ~ retag, - delete) and send no write
  --ca-file PEM          trusted root certificates instead of Mozilla's
  --connect-timeout SECS default 30

list writes NDJSON to stdout: value, tag (null when absent), id (exact digits). A value already
a rule (add) or not a rule (delete) is success. Requests go one at a time, at most 5,000 rules
and 5,000,000 bytes each, 60 a minute; 429 waits Retry-After (else from 60 s), 5xx and network
errors back off from 1 s (at most 60 s) and send the same batch again.
Credentials: GNIP_USERNAME and GNIP_PASSWORD (never flags).
Exit status: 0 done, 2 usage, 3 authentication refused, 4 other non-retryable failure,
5 rules rejected (each on stderr with the service's message).";

pub const RECOVER_HELP: &str = "\
gnip-stream recover: Recovery of the last 24 hours on the realtime stream, to stdout

usage:
  gnip-stream recover (--url URL | --product … --account … --label … [--host URL]) --from DATE --to DATE [options]

  --from DATE            start, UTC: YYYYMMDDHHMM or ISO 8601 (2026-11-27T10:05:00Z)
  --to DATE              end, UTC, exclusive; both within the last 24 hours
One connection per partition (every partition of the product unless --partition names some),
each ending on \"Recovery Request Completed\"; a dropped one resumes from its last record's
minute without duplicates. Progress on stderr as for replay. Exit 6 when a partition did not
complete.
";

/// `stream`'s JetStream options (feature `jetstream`).
#[cfg(feature = "jetstream")]
pub const STREAM_JETSTREAM_HELP: &str = "
JetStream (this build has feature jetstream): records go to JetStream instead of stdout
  --jetstream URLS       comma-separated nats://host:port or tls://host:port, tried in turn;
                         credentials from NATS_USER/NATS_PASSWORD or NATS_TOKEN
  --subject TEMPLATE     default gnip.{product}.{partition} (partition 0 for PowerTrack)
  --nats-ca-file PEM     roots for tls:// (default: the system's CA bundle)
  --publish-window N     unacknowledged publishes at most (default 1024)
  --ack-timeout SECS     no ack within SECS: publish again, same Nats-Msg-Id (default 5)
  --queue N              records queued for the publisher (default 10000); full: the stream waits
  --drain-timeout SECS   at stop, wait up to SECS for the last acks (default 30); exit 7 if
                         any record is still unacknowledged
  --leases BUCKET        share the partitions with other hosts through leases in BUCKET
  --host-id NAME         this host's id in the leases (default: the host name)
  --lease-ttl SECS       must equal the bucket's max_age (default 30)
  --hosts-per-partition N  hosts streaming each partition at once (default 1)
Exit status 7: JetStream refused (no stream captures a subject, permission, payload too
large) or records unacknowledged at stop; 3 also when NATS refuses the credentials.";

/// Appended to the main help in a build with feature `jetstream`.
#[cfg(feature = "jetstream")]
pub const JETSTREAM_MAIN_HELP: &str = "

JetStream (this build has feature jetstream; exit status 7: JetStream refused, or records
unacknowledged at stop; 3 also when NATS refuses the credentials):
  gnip-stream stream … --jetstream URLS [--leases BUCKET …]   records into JetStream
  gnip-stream jetstream-init --jetstream URLS --stream NAME --subjects PATTERN [--lease-bucket B --lease-ttl SECS]
  gnip-stream publish --jetstream URLS --subject S [--file F]";

/// `jetstream-init --help`.
#[cfg(feature = "jetstream")]
pub const JETSTREAM_INIT_HELP: &str = "\
gnip-stream jetstream-init: create the JetStream stream (and the lease bucket) the records go to

usage:
  gnip-stream jetstream-init --jetstream URLS --stream NAME --subjects PATTERN
                             [--replicas 3] [--duplicate-window 10m] [--lease-bucket B --lease-ttl SECS]

  --subjects PATTERN     e.g. gnip.> (the default subjects are gnip.{product}.{partition})
  --replicas N           1..5 (default 3)
  --duplicate-window D   messages with the same Nats-Msg-Id within D are stored once (90s, 10m, 2h;
                         default 10m)
  --lease-bucket B       also a key-value bucket for leases: stream KV_B, subjects $KV.B.>,
  --lease-ttl SECS       one message per key, keys aging out after SECS
An existing stream with the same configuration is fine (exit 0); one configured otherwise is
exit 7. Credentials: NATS_USER/NATS_PASSWORD or NATS_TOKEN.";

/// `publish --help`.
#[cfg(feature = "jetstream")]
pub const PUBLISH_HELP: &str = "\
gnip-stream publish: publish NDJSON records (a file, or stdin) to a JetStream subject

usage:
  gnip-stream publish --jetstream URLS --subject S [--file F]
                      [--publish-window N] [--ack-timeout SECS] [--drain-timeout SECS]

Each line is one record, published as it is with the message id stream gives it
(activity:<id>, <kind>:<id>:<timestamp>, else a hash of the bytes); system messages are
skipped, lines that are not records are said on stderr and skipped. Exit 0 when every record
was acknowledged, 7 when JetStream refused or some were not acknowledged.";
