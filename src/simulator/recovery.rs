//! A Recovery stream: one partition's share of the live feed published in `[from, to)`, as fast
//! as it is read, then "Recovery Request Completed" and the end of the body.

use std::time::Instant;

use super::config::Rate;
use super::live::render_live;
use super::route::Route;
use super::streamer::{End, Streamer};
use crate::protocol::messages;

impl Streamer<'_> {
    pub(super) fn recovery(
        &mut self,
        route: &Route,
        partition: u32,
        from: i64,
        to: i64,
    ) -> Result<(), End> {
        self.start_body()?;
        // Record g was published at `started_secs + g / rate`: the g of a time.
        let rate = match self.shared.config.rate {
            Rate::PerSecond(r) if r > 0.0 => r,
            _ => 0.0,
        };
        let g_at = |t: i64| ((t - self.shared.started_secs).max(0) as f64 * rate).ceil() as u64;
        let parts = u64::from(route.product.partitions().unwrap_or(1));
        let lane = u64::from(partition.saturating_sub(1));
        let (g0, g_end) = (
            g_at(from),
            g_at(to).min(super::live::due(self.shared, Instant::now())),
        );
        let mut g = g0 + (lane + parts - g0 % parts) % parts;
        let mut batch = Vec::with_capacity(64 * 1024);
        let mut sent = 0u64;
        while g < g_end {
            if self.stopped() {
                return Err(End::Stopped);
            }
            self.stall_if_due()?;
            render_live(self.shared, route.product, g, &mut batch);
            batch.extend_from_slice(b"\r\n");
            g += parts;
            self.records += 1;
            sent += 1;
            if batch.len() >= 64 * 1024 {
                let b = std::mem::take(&mut batch);
                let r = self.send(&b);
                batch = b;
                batch.clear();
                r?;
            }
        }
        if self.v2 {
            // X API v2 sends no completion message: the body ends (x-api-v2.md §2.5).
            return self.finish_body(batch);
        }
        self.finish_job(
            batch,
            messages::RECOVERY_COMPLETED,
            &format!(",\"activity_count\":{sent}"),
        )
    }
}
