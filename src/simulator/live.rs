//! A live stream: records published at the configured rate, backfill, heartbeats, the
//! redundancy limit's forced disconnect, and the pre-compressed block for full speed.

use std::thread;
use std::time::{Duration, Instant};

use super::config::Rate;
use super::feed::RecordSource;
use super::http;
use super::route::Route;
use super::rule_book::filter_into;
use super::state::{Shared, TICK, lock};
use super::streamer::{End, Streamer};
use crate::core::{GzipEncoder, Level, MINIMAL_HEADER};
use crate::protocol::messages;
use crate::protocol::product::Product;
use crate::protocol::v2::problems as v2_problems;

/// Global records published by `at` (`g < due` are out).
pub(super) fn due(shared: &Shared, at: Instant) -> u64 {
    match shared.config.rate {
        Rate::PerSecond(r) if r > 0.0 => (shared.elapsed_at(at).as_secs_f64() * r) as u64,
        _ => 0,
    }
}

/// Live record `g` rendered as it is sent: published at `start + g / rate` (at the start when
/// there is no rate). The one place that says when a record was published, so that
/// [`Simulator::record`] and the streams agree byte for byte.
pub(super) fn render_live(shared: &Shared, product: Product, g: u64, out: &mut Vec<u8>) {
    let secs = match shared.config.rate {
        Rate::PerSecond(r) if r > 0.0 => shared.started_secs + (g as f64 / r) as i64,
        _ => shared.started_secs,
    };
    match product {
        Product::V2(p) => shared.v2_feed().render(p.family(), g, secs, out),
        _ => shared.source.render(g, secs, out),
    }
}

/// The block [`Rate::Unlimited`] repeats: 2,000 records, each sync-flushed, raw deflate from a
/// fresh compressor, so its back-references stay inside it and it can follow itself.
pub(super) fn unlimited_block(source: &RecordSource, level: u8, secs: i64) -> Vec<u8> {
    block_of(level, |g, line| source.render(g, secs, line))
}

fn block_of(level: u8, render: impl Fn(u64, &mut Vec<u8>)) -> Vec<u8> {
    let mut enc = GzipEncoder::new(level);
    let mut wire = Vec::new();
    let mut line = Vec::new();
    for g in 0..2000 {
        line.clear();
        render(g, &mut line);
        line.extend_from_slice(b"\r\n");
        enc.write_flush(&line, &mut wire);
    }
    wire.split_off(MINIMAL_HEADER.len())
}

/// The block [`Rate::Unlimited`] repeats for `product`, gzip (raw deflate, as
/// [`unlimited_block`]) or plain: made once per record family and encoding.
fn block_for(shared: &Shared, product: Product, gzip: bool) -> std::sync::Arc<Vec<u8>> {
    let family = match product {
        Product::V2(p) => Some(p.family()),
        _ => None,
    };
    let secs = shared.started_secs;
    let mut blocks = lock(&shared.blocks);
    let block = blocks.entry((family, gzip)).or_insert_with(|| {
        let render = |g: u64, line: &mut Vec<u8>| match family {
            Some(f) => shared.v2_feed().render(f, g, secs, line),
            None => shared.source.render(g, secs, line),
        };
        std::sync::Arc::new(if gzip {
            block_of(shared.config.level, render)
        } else {
            let mut plain = Vec::new();
            for g in 0..2000 {
                render(g, &mut plain);
                plain.extend_from_slice(b"\r\n");
            }
            plain
        })
    });
    std::sync::Arc::clone(block)
}

impl Streamer<'_> {
    pub(super) fn live(
        &mut self,
        route: &Route,
        partition: u32,
        backfill_minutes: u32,
        over_limit: bool,
    ) -> Result<(), End> {
        let config = &self.shared.config;
        let opened = Instant::now();
        if config.rate == Rate::Unlimited {
            // Fast path: the gzip header, then the same pre-compressed block again and again
            // (or the plain block, for an identity body).
            let gnip = !matches!(route.product, Product::V2(_));
            let block = match (&self.shared.unlimited_block, gnip && !self.identity) {
                (Some(b), true) => std::sync::Arc::new(b.clone()),
                _ => block_for(self.shared, route.product, !self.identity),
            };
            if !self.identity {
                self.send_body(&MINIMAL_HEADER)?;
            }
            loop {
                if self.stopped() {
                    return Err(End::Stopped);
                }
                self.send_body(&block)?;
                while self.pending.len() > block.len() {
                    if self.stopped() {
                        return Err(End::Stopped);
                    }
                    self.flush_pending()?;
                }
            }
        }
        self.start_body()?;
        let rate = match config.rate {
            Rate::PerSecond(r) if r > 0.0 => r,
            _ => 0.0,
        };
        let parts = u64::from(route.product.partitions().unwrap_or(1));
        let lane = u64::from(partition.saturating_sub(1));
        let from = self
            .shared
            .elapsed_at(opened)
            .saturating_sub(Duration::from_secs(60 * u64::from(backfill_minutes)));
        let g0 = match config.rate {
            Rate::PerSecond(r) if r > 0.0 => (from.as_secs_f64() * r) as u64,
            _ => 0,
        };
        // The first record of this partition at or after g0.
        let mut g = g0 + (lane + parts - g0 % parts) % parts;
        let mut last_send = Instant::now();
        let mut batch = Vec::with_capacity(64 * 1024);
        let mut scratch = Vec::new();
        loop {
            if self.stopped() {
                return Err(End::Stopped);
            }
            self.take_disruptions()?;
            if self.force_disconnect
                || (over_limit && opened.elapsed() >= config.force_disconnect_after)
            {
                let m = if self.v2 {
                    v2_problems::disconnect_line(
                        "OperationalDisconnect",
                        "This stream has been disconnected for operational reasons.",
                    )
                } else {
                    messages::system_message(
                        Level::Error,
                        &messages::forced_disconnect(config.redundant_connections),
                        self.shared.now_secs(),
                        "",
                    )
                };
                self.send(format!("{m}\r\n").as_bytes())?;
                self.write_raw(http::LAST_CHUNK)?;
                self.close();
                return Ok(());
            }
            self.stall_if_due()?;
            let now = Instant::now();
            let published = due(self.shared, now);
            // A PowerTrack stream with rules delivers only what matches them; without rules
            // the simulator delivers everything (README: the simulator).
            let rules = if route.product == Product::PowerTrack {
                lock(&self.shared.rules).powertrack(&route.account, &route.label)
            } else {
                None
            };
            batch.clear();
            // A redundant connection sends what is due in batches of its own random size.
            let cap = self
                .jitter
                .as_mut()
                .map_or(usize::MAX, |r| 1 + r.below(16) as usize);
            let mut in_batch = 0;
            while g < published && batch.len() < 256 * 1024 && in_batch < cap {
                in_batch += 1;
                match &rules {
                    None => render_live(self.shared, route.product, g, &mut batch),
                    Some(rules) => {
                        scratch.clear();
                        render_live(self.shared, route.product, g, &mut scratch);
                        if !filter_into(&scratch, rules, &mut batch) {
                            g += parts;
                            continue;
                        }
                    }
                }
                batch.extend_from_slice(b"\r\n");
                g += parts;
                self.records += 1;
                if self.stall.is_some_and(|(after, _)| self.records >= after)
                    || self.drop_mid_record == Some(self.records)
                {
                    break;
                }
            }
            if self.drop_mid_record == Some(self.records) {
                let b = std::mem::take(&mut batch);
                self.send(&b)?;
                // Half of the next record's compressed bytes, then the socket goes.
                let mut next = Vec::new();
                render_live(self.shared, route.product, g, &mut next);
                next.extend_from_slice(b"\r\n");
                self.wire.clear();
                self.enc.write_flush(&next, &mut self.wire);
                let half = self.wire[..self.wire.len() / 2].to_vec();
                self.drop_after = Some(self.body_bytes + half.len() as u64);
                return self.send_body(&half);
            }
            if !batch.is_empty() {
                let b = std::mem::take(&mut batch);
                let r = self.send(&b);
                batch = b;
                r?;
                last_send = Instant::now();
                continue;
            }
            if !self.pending.is_empty() {
                self.flush_pending()?;
            }
            if last_send.elapsed() >= config.heartbeat {
                self.send(b"\r\n")?;
                last_send = Instant::now();
                continue;
            }
            // Sleep until the next record of this partition, the heartbeat, or a tick.
            let next_at = if rate > 0.0 {
                self.shared
                    .instant_of(Duration::from_secs_f64(g as f64 / rate))
            } else {
                now + TICK
            };
            let wake = next_at.min(last_send + config.heartbeat);
            thread::sleep(wake.saturating_duration_since(Instant::now()).min(TICK));
        }
    }
}
