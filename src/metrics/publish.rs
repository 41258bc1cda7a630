//! The JetStream publisher's figures (feature `jetstream`), sans-IO: the snapshot and its
//! metric families, appended to the stream's own.

use super::exposition::{Exposition, Kind};
use super::render::PREFIX;

/// The publisher's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishSnapshot {
    /// Records waiting in the queue between the stream handlers and the publisher.
    pub queue_depth: u64,
    /// Records published and not yet acknowledged (the window).
    pub in_flight: u64,
    /// Records taken from the service for publishing.
    pub taken: u64,
    /// Records JetStream acknowledged (duplicates included).
    pub delivered: u64,
    /// Acknowledgements that said `duplicate` (stored earlier: by another host, or a backfill
    /// overlap).
    pub duplicates: u64,
    /// Publishes sent again (no ack in time, no responders, 503, after a reconnect).
    pub resends: u64,
    /// Reconnects to NATS (a server lost, the next one in the list).
    pub reconnects: u64,
    /// Connected to a NATS server now.
    pub connected: bool,
    /// Records not published because no NATS server can take them: with their headers over
    /// the server's `max_payload` (each logged with its key and size; the stream goes on).
    pub skipped: u64,
}

/// Appends the publisher's families (`gnip_stream_jetstream_*`) for `product`.
pub fn render_publish(s: &PublishSnapshot, product: &str, out: &mut String) {
    Exposition::new(out).singles(
        PREFIX,
        &[("product", product)],
        &[
            (
                "jetstream_queue_depth",
                Kind::Gauge,
                "Records queued between the stream and the JetStream publisher.",
                s.queue_depth as f64,
            ),
            (
                "jetstream_in_flight",
                Kind::Gauge,
                "Records published to JetStream and not yet acknowledged.",
                s.in_flight as f64,
            ),
            (
                "jetstream_acks_total",
                Kind::Counter,
                "Records JetStream acknowledged (duplicates included).",
                s.delivered as f64,
            ),
            (
                "jetstream_duplicates_total",
                Kind::Counter,
                "Acknowledgements saying the record was stored before (same Nats-Msg-Id).",
                s.duplicates as f64,
            ),
            (
                "jetstream_resends_total",
                Kind::Counter,
                "Publishes sent again (ack timeout, no responders, 503, reconnect).",
                s.resends as f64,
            ),
            (
                "jetstream_reconnects_total",
                Kind::Counter,
                "Reconnects to NATS.",
                s.reconnects as f64,
            ),
            (
                "jetstream_skipped_total",
                Kind::Counter,
                "Records not published: with headers over the NATS server's max_payload, or refused by JetStream for themselves alone (over the stream's max_msg_size).",
                s.skipped as f64,
            ),
            (
                "jetstream_connected",
                Kind::Gauge,
                "1 while connected to a NATS server.",
                f64::from(u8::from(s.connected)),
            ),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_rendered() {
        let mut out = String::new();
        render_publish(
            &PublishSnapshot {
                queue_depth: 3,
                duplicates: 2,
                connected: true,
                skipped: 1,
                ..PublishSnapshot::default()
            },
            "decahose",
            &mut out,
        );
        assert!(out.contains("# TYPE gnip_stream_jetstream_queue_depth gauge\n"));
        assert!(out.contains("gnip_stream_jetstream_queue_depth{product=\"decahose\"} 3\n"));
        assert!(out.contains("gnip_stream_jetstream_duplicates_total{product=\"decahose\"} 2\n"));
        assert!(out.contains("gnip_stream_jetstream_connected{product=\"decahose\"} 1\n"));
        assert!(out.contains("gnip_stream_jetstream_skipped_total{product=\"decahose\"} 1\n"));
        assert_eq!(out.matches("# TYPE").count(), 8);
    }
}
