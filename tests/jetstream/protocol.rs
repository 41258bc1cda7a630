//! The client against real servers: acks and duplicate acks, a refusal (payload too large,
//! with `"seq":0`: skipped), no stream for a subject, the server's PINGs answered, a reconnect to
//! another node with everything unacknowledged sent again, TLS with a test CA, credentials
//! refused (exit 3) and accepted.

use std::sync::Arc;
use std::time::Duration;

use gnip_stream::Error;
use gnip_stream::core::Record;
use gnip_stream::sink::jetstream::{
    Ensured, Message, NatsConnection, NatsOptions, Publisher, PublisherConfig, ensure_stream,
};
use gnip_stream::testing::nats_cluster::NatsCluster;
use gnip_stream::unversioned::nats::api::{self, StreamSpec};
use gnip_stream::unversioned::nats::encode::Auth;
use gnip_stream::unversioned::nats::servers::parse_servers;

use crate::cli;
use crate::harness::*;

fn message(subject: &Arc<str>, json: &str) -> Message {
    Message::of_record(subject, &Record::new(json.as_bytes())).unwrap()
}

fn options(urls: &str) -> NatsOptions {
    NatsOptions {
        servers: parse_servers(urls).unwrap(),
        auth: Auth::None,
        ca_file: None,
        connect_timeout: Duration::from_secs(2),
        name: "test".into(),
        allow_plaintext: false,
    }
}

/// Stream GNIP on `gnip.>` with `replicas`; the connection that made it.
fn create_gnip(cluster: &NatsCluster, replicas: u32) -> NatsConnection {
    let mut c = cluster.connect().unwrap();
    let spec = StreamSpec::records("GNIP", "gnip.>", replicas, 60_000_000_000);
    ensure_stream(&mut c, &spec, Duration::from_secs(10)).unwrap();
    c
}

fn tweet(id: u64) -> String {
    format!(
        r#"{{"created_at":"Sat Nov 28 05:00:00 +0000 2026","id":{id},"id_str":"{id}","text":"t"}}"#
    )
}

#[test]
fn acks_duplicates_and_a_refused_payload() {
    let _s = serial();
    let Some(cluster) = cluster_or_skip("acks_duplicates", 1, "", Auth::None) else {
        return;
    };
    let mut c = cluster.connect().unwrap();
    let spec = StreamSpec::records("GNIP", "gnip.>", 1, 60_000_000_000);
    assert_eq!(
        ensure_stream(&mut c, &spec, Duration::from_secs(5)).unwrap(),
        Ensured::Created
    );
    assert_eq!(
        ensure_stream(&mut c, &spec, Duration::from_secs(5)).unwrap(),
        Ensured::Existed
    );
    let other = StreamSpec::records("GNIP", "gnip.x.>", 1, 60_000_000_000);
    let e = ensure_stream(&mut c, &other, Duration::from_secs(5)).unwrap_err();
    assert!(e.to_string().contains("another configuration"), "{e}");
    // A stream that refuses anything over 64 bytes: an error ack with "seq":0.
    let small = br#"{"name":"SMALL","subjects":["small.>"],"storage":"memory","num_replicas":1,"max_msg_size":64}"#;
    let (h, p) = c
        .request(
            "$JS.API.STREAM.CREATE.SMALL",
            &[],
            small,
            Duration::from_secs(5),
        )
        .unwrap();
    api::reply(h.as_deref(), &p).unwrap();

    let subject: Arc<str> = "gnip.powertrack.0".into();
    let p = Publisher::start(
        PublisherConfig::new(options(&cluster.urls_from(0))),
        &[subject.to_string()],
    )
    .unwrap();
    let q = p.queue().unwrap();
    for m in [tweet(1), tweet(1), tweet(2)] {
        q.send(message(&subject, &m)).unwrap();
    }
    drop(q);
    let r = p.finish(Duration::from_secs(10));
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(
        (
            r.unacknowledged,
            r.stats.taken,
            r.stats.delivered,
            r.stats.duplicates
        ),
        (0, 3, 3, 1)
    );
    assert_eq!(cluster.stream_state("GNIP").unwrap().0, 2);
    let stored = cluster.read_stream("GNIP").unwrap();
    assert_eq!(stored[0].msg_id.as_deref(), Some("activity:1"));
    assert_eq!(stored[0].data, tweet(1).as_bytes());

    let small: Arc<str> = "small.x".into();
    let p = Publisher::start(
        PublisherConfig::new(options(&cluster.urls_from(0))),
        &[small.to_string()],
    )
    .unwrap();
    let q = p.queue().unwrap();
    q.send(message(&small, &tweet(3))).unwrap();
    drop(q);
    let r = p.finish(Duration::from_secs(10));
    // Refused for its size alone (audit M2): passed over, counted, and nothing left waiting.
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(
        (r.unacknowledged, r.stats.taken, r.stats.skipped),
        (0, 1, 1)
    );
    assert_eq!(r.stats.delivered, 0);
}

#[test]
fn no_stream_for_the_subject_exits_7_naming_it() {
    let _s = serial();
    let Some(cluster) = cluster_or_skip("no_stream", 1, "", Auth::None) else {
        return;
    };
    let dir = scratch("nostream");
    let file = dir.join("in.ndjson");
    std::fs::write(&file, tweet(1)).unwrap();
    let out = publish(&cluster.urls_from(0), "nowhere.x", &file, &[], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{err}");
    assert!(
        err.contains("no stream captures subject 'nowhere.x'"),
        "{err}"
    );
    // The stream command checks before it connects to the service at all.
    let mut c = cli::bin();
    c.env("GNIP_USERNAME", "u").env("GNIP_PASSWORD", "p").args([
        "stream",
        "--url",
        "http://127.0.0.1:9/stream/firehose/accounts/a/publishers/twitter/l.json",
        "--partition",
        "3",
        "--jetstream",
        &cluster.urls_from(0),
    ]);
    let out = cli::run(c, Duration::from_secs(20));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{err}");
    assert!(err.contains("'gnip.firehose.3'"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_servers_pings_are_answered_while_idle() {
    let _s = serial();
    let Some(cluster) = cluster_or_skip(
        "pings",
        1,
        "ping_interval: \"250ms\"\nping_max: 1\n",
        Auth::None,
    ) else {
        return;
    };
    create_gnip(&cluster, 1);
    let subject: Arc<str> = "gnip.powertrack.0".into();
    let p = Publisher::start(
        PublisherConfig::new(options(&cluster.urls_from(0))),
        &[subject.to_string()],
    )
    .unwrap();
    // Twelve of the server's PINGs come and go; one unanswered would end the connection.
    std::thread::sleep(Duration::from_secs(3));
    let q = p.queue().unwrap();
    q.send(message(&subject, &tweet(1))).unwrap();
    drop(q);
    let r = p.finish(Duration::from_secs(10));
    assert_eq!(
        (r.unacknowledged, r.stats.delivered, r.stats.reconnects),
        (0, 1, 0)
    );
}

#[test]
fn a_lost_node_means_the_next_one_and_everything_unacknowledged_again() {
    let _s = serial();
    let Some(mut cluster) = cluster_or_skip("reconnect", 3, "", Auth::None) else {
        return;
    };
    create_gnip(&cluster, 3);
    let subject: Arc<str> = "gnip.powertrack.0".into();
    let mut config = PublisherConfig::new(options(&cluster.urls_from(0)));
    config.ack_timeout = Duration::from_secs(2);
    let p = Publisher::start(config, &[subject.to_string()]).unwrap();
    let q = p.queue().unwrap();
    for id in 1..=500 {
        q.send(message(&subject, &tweet(id))).unwrap();
    }
    // The publisher's server (the first of its list) dies with publishes in flight.
    cluster.kill(0);
    for id in 501..=1000 {
        q.send(message(&subject, &tweet(id))).unwrap();
    }
    drop(q);
    let r = p.finish(Duration::from_secs(30));
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!((r.unacknowledged, r.stats.delivered), (0, 1000));
    assert!(r.stats.reconnects >= 1, "{:?}", r.stats);
    let stored = cluster.read_stream("GNIP").unwrap();
    let mut ids: Vec<String> = stored.iter().filter_map(|m| m.msg_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((stored.len(), ids.len()), (1000, 1000), "each once");
}

#[test]
fn tls_with_a_test_ca() {
    let _s = serial();
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let dir = scratch("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let tls = format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n}}\n",
        cert.display(),
        key.display()
    );
    let Some(cluster) = cluster_with_ca("tls", 1, &tls, Auth::None, Some(cert.clone())) else {
        return;
    };
    let mut c = cluster.connect().unwrap();
    assert!(c.info().tls_required);
    ensure_stream(
        &mut c,
        &StreamSpec::records("GNIP", "gnip.>", 1, 60_000_000_000),
        Duration::from_secs(5),
    )
    .unwrap();
    let url = format!("tls://127.0.0.1:{}", cluster.ports()[0]);
    let subject: Arc<str> = "gnip.powertrack.0".into();
    let mut o = options(&url);
    o.ca_file = Some(cert.clone());
    let p = Publisher::start(PublisherConfig::new(o), &[subject.to_string()]).unwrap();
    let q = p.queue().unwrap();
    q.send(message(&subject, &tweet(1))).unwrap();
    drop(q);
    assert_eq!(p.finish(Duration::from_secs(10)).stats.delivered, 1);
    // Another CA: the certificate is refused, a TLS error (not retried).
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let other_pem = dir.join("other.pem");
    std::fs::write(&other_pem, other.cert.pem()).unwrap();
    let mut o = options(&url);
    o.ca_file = Some(other_pem.clone());
    match Publisher::start(PublisherConfig::new(o), &[subject.to_string()]) {
        Err(Error::Tls { .. }) => {}
        other => panic!("{other:?}"),
    }
    // The command: --nats-ca-file.
    let file = dir.join("in.ndjson");
    std::fs::write(&file, format!("{}\n{}\n", tweet(2), tweet(3))).unwrap();
    let ca = ["--nats-ca-file", cert.to_str().unwrap()];
    let out = publish(&url, "gnip.powertrack.0", &file, &ca, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(cluster.stream_state("GNIP").unwrap().0, 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn credentials_refused_exit_3_and_are_never_printed() {
    let _s = serial();
    let auth = Auth::UserPassword {
        user: "gnip".into(),
        password: "s3cret-pw".into(),
    };
    let Some(cluster) = cluster_or_skip(
        "credentials",
        1,
        "authorization {\n  user: gnip\n  password: s3cret-pw\n}\n",
        auth,
    ) else {
        return;
    };
    create_gnip(&cluster, 1);
    let dir = scratch("auth");
    let file = dir.join("in.ndjson");
    std::fs::write(&file, tweet(1)).unwrap();
    let urls = cluster.urls_from(0);
    let publish = |env: &[(&str, &str)]| publish(&urls, "gnip.powertrack.0", &file, &[], env);
    for env in [
        &[("NATS_USER", "gnip"), ("NATS_PASSWORD", "wrong-pw")][..],
        &[][..],
        &[("NATS_TOKEN", "wrong-token")][..],
    ] {
        let out = publish(env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{env:?}: {err}");
        assert!(err.contains("Authorization Violation"), "{err}");
        assert!(
            !err.contains("wrong-pw") && !err.contains("wrong-token"),
            "{err}"
        );
    }
    let out = publish(&[("NATS_USER", "gnip"), ("NATS_PASSWORD", "s3cret-pw")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
    assert_eq!(cluster.stream_state("GNIP").unwrap().0, 1);
    // A half-given pair is a usage error.
    let out = publish(&[("NATS_USER", "gnip")]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bytes_sent_in_the_clear_before_the_tls_upgrade_are_not_read_as_the_servers() {
    use std::io::{Read, Write};
    let tls = crate::tls::test_ca();
    let ca = crate::tls::ca_file(&tls, "nats-cleartext-tail");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Arc::clone(&tls.server);
    let server = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        // Audit L1: an on-path attacker appends an unterminated -ERR to the plaintext INFO.
        tcp.write_all(
            b"INFO {\"server_id\":\"x\",\"headers\":true,\"tls_required\":true,\"max_payload\":1048576}\r\n-ERR 'Authorization Violation",
        )
        .unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut s = rustls::StreamOwned::new(conn, tcp);
        let (mut got, mut buf) = (Vec::new(), [0u8; 4096]);
        while !got.windows(6).any(|w| w == b"PING\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        s.write_all(b"PONG\r\n").unwrap();
        s.flush().unwrap();
        std::thread::sleep(Duration::from_millis(300));
    });
    let opts = NatsOptions {
        servers: parse_servers(&format!("tls://127.0.0.1:{port}")).unwrap(),
        auth: Auth::None,
        ca_file: Some(ca),
        connect_timeout: Duration::from_secs(5),
        name: "test".into(),
        allow_plaintext: false,
    };
    let c = NatsConnection::connect(&opts, 0);
    assert!(c.is_ok(), "{:?}", c.err());
    drop(c);
    server.join().unwrap();
}

#[test]
fn nats_credentials_are_not_sent_in_the_clear_off_loopback_unless_allowed() {
    use gnip_stream::sink::jetstream::NatsOptions;
    // Audit M3. The command refuses before any connection (exit 2, the server named).
    for (cmd, more) in [
        ("publish", &["--subject", "gnip.x"][..]),
        (
            "jetstream-init",
            &["--stream", "S", "--subjects", "gnip.>"][..],
        ),
    ] {
        let mut c = cli::bin();
        c.args([cmd, "--jetstream", "nats://10.0.0.5:4222"])
            .args(more)
            .env("NATS_USER", "u")
            .env("NATS_PASSWORD", "p")
            .env_remove("NATS_TOKEN")
            .stdin(std::process::Stdio::null());
        let out = cli::run(c, Duration::from_secs(20));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains("refusing to send NATS credentials in the clear to nats://10.0.0.5:4222"),
            "{cmd}: {err}"
        );
        assert!(!err.contains("\"p\"") && !err.contains(":p"), "{err}");
    }
    // The library the same; allowed, the server is named for the warning; no credentials, or
    // loopback, or tls://: nothing to refuse.
    let mut o = options("nats://10.0.0.5:4222");
    o.auth = Auth::Token("t".into());
    assert!(NatsConnection::connect(&o, 0).is_err_and(|e| e.to_string().contains("in the clear")));
    o.allow_plaintext = true;
    assert_eq!(o.check_transport().unwrap().map(|s| s.port), Some(4222));
    for urls in ["nats://127.0.0.1:4222", "tls://10.0.0.5:4222"] {
        let mut o: NatsOptions = options(urls);
        o.auth = Auth::Token("t".into());
        assert!(o.check_transport().unwrap().is_none(), "{urls}");
    }
    assert!(
        options("nats://10.0.0.5:4222")
            .check_transport()
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_drain_reconnecting_to_servers_that_never_answer_ends_at_its_deadline() {
    // Audit L9: each address of each server got a fresh connect timeout, so a drain that was
    // reconnecting overran its deadline by servers × addresses × the timeout.
    let _s = serial();
    let test = "drain_during_reconnect";
    let Some(mut cluster) = cluster_or_skip(test, 1, "", Auth::None) else {
        return;
    };
    let (Some((dead1, _f1)), Some((dead2, _f2))) = (
        crate::net::unanswering_listener(test),
        crate::net::unanswering_listener(test),
    ) else {
        return;
    };
    create_gnip(&cluster, 1);
    let subject: Arc<str> = "gnip.powertrack.0".into();
    let urls = format!(
        "{},nats://{},nats://{}",
        cluster.urls_from(0),
        dead1.local_addr().unwrap(),
        dead2.local_addr().unwrap()
    );
    let mut opts = options(&urls);
    opts.connect_timeout = Duration::from_secs(5);
    let mut config = PublisherConfig::new(opts);
    config.ack_timeout = Duration::from_secs(2);
    let p = Publisher::start(config, &[subject.to_string()]).unwrap();
    let q = p.queue().unwrap();
    for id in 1..=100 {
        q.send(message(&subject, &tweet(id))).unwrap();
    }
    // The only live server dies: the publisher goes on to the two that never answer.
    cluster.kill(0);
    for id in 101..=200 {
        q.send(message(&subject, &tweet(id))).unwrap();
    }
    drop(q);
    std::thread::sleep(Duration::from_millis(500));
    let t = std::time::Instant::now();
    let r = p.finish(Duration::from_secs(1));
    let took = t.elapsed();
    assert!(
        took < Duration::from_millis(1_000 + 700),
        "the drain overran its 1 s: {took:?}"
    );
    assert!(r.unacknowledged > 0, "{r:?}");
}

#[test]
fn the_queue_holds_no_more_bytes_than_its_bound_while_nats_is_away() {
    // Audit L8: the queue was bounded in records only, so 10,000 records of 1 MiB could wait
    // in it. Now `queue_bytes` bounds it too; a record larger than the bound goes alone.
    let _s = serial();
    let Some(mut cluster) = cluster_or_skip("queue_bytes", 1, "", Auth::None) else {
        return;
    };
    create_gnip(&cluster, 1);
    let subject: Arc<str> = "gnip.powertrack.0".into();
    let mut config = PublisherConfig::new(options(&cluster.urls_from(0)));
    config.window = 1;
    config.queue = 10_000;
    config.queue_bytes = 64 << 10;
    let p = Publisher::start(config, &[subject.to_string()]).unwrap();
    cluster.kill(0);
    let padded = |id: u64| {
        let pad = "x".repeat(10_000);
        format!(
            r#"{{"created_at":"Sat Nov 28 05:00:00 +0000 2026","id":{id},"id_str":"{id}","text":"{pad}"}}"#
        )
    };
    let q = p.queue().unwrap();
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sender = {
        let (q, subject, sent) = (q.clone(), Arc::clone(&subject), Arc::clone(&sent));
        std::thread::spawn(move || {
            for id in 1..=50 {
                if q.send(message(&subject, &padded(id))).is_err() {
                    break;
                }
                sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    // 64 KiB holds six records of 10 KB, one more is in the window (of 1), the eighth waits.
    let accepted = sent.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(accepted, 7, "records accepted with 64 KiB of room");
    assert_eq!(q.snapshot().in_flight, 1);
    // A stop ends the waiting sender; the record it was refused is not counted as taken.
    p.close_queue();
    sender.join().unwrap();
    drop(q);
    let r = p.finish(Duration::from_millis(200));
    assert_eq!((r.stats.taken, r.unacknowledged), (7, 7));
}

#[test]
fn a_record_larger_than_the_queue_bound_goes_alone() {
    let _s = serial();
    let Some(cluster) = cluster_or_skip("queue_bytes_alone", 1, "", Auth::None) else {
        return;
    };
    create_gnip(&cluster, 1);
    let subject: Arc<str> = "gnip.powertrack.0".into();
    let mut config = PublisherConfig::new(options(&cluster.urls_from(0)));
    config.queue_bytes = 1_000;
    let p = Publisher::start(config, &[subject.to_string()]).unwrap();
    let q = p.queue().unwrap();
    let big = format!(
        r#"{{"created_at":"Sat Nov 28 05:00:00 +0000 2026","id":9,"id_str":"9","text":"{}"}}"#,
        "y".repeat(5_000)
    );
    for m in [tweet(8), big.clone(), tweet(10)] {
        q.send(message(&subject, &m)).unwrap();
    }
    drop(q);
    let r = p.finish(Duration::from_secs(10));
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!((r.stats.delivered, r.unacknowledged), (3, 0));
    let stored = cluster.read_stream("GNIP").unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[1].data, big.as_bytes());
}
