//! A Replay stream: the range's records minute by minute, the completion message, and the
//! gzip member's end (a finite stream's trailer does arrive).

use super::streamer::{End, Streamer};
use crate::protocol::messages;
use crate::protocol::time;

impl Streamer<'_> {
    pub(super) fn replay(&mut self, from: i64, to: i64) -> Result<(), End> {
        self.start_body()?;
        let per_minute = u64::from(self.shared.config.replay_per_minute);
        let minutes = ((to - from) / 60) as u64;
        // Ids depend only on the minute and the place in it, so a re-request of part of a
        // range returns the same records with the same ids.
        let first_minute = (from / 60) as u64;
        let mut batch = Vec::with_capacity(64 * 1024);
        let mut sent = 0u64;
        let stops_at = self.replay_stops_at.filter(|&at| at > from && at < to);
        for j in 0..minutes * per_minute {
            if self.stopped() {
                return Err(End::Stopped);
            }
            self.stall_if_due()?;
            let minute = first_minute + j / per_minute;
            let minute_secs = (minute * 60) as i64;
            if stops_at.is_some_and(|at| minute_secs >= at) {
                break;
            }
            if self.replay_failed.contains(&minute_secs) {
                continue;
            }
            let g = minute * per_minute + j % per_minute;
            let secs = (minute * 60) as i64 + ((j % per_minute) * 60 / per_minute) as i64;
            self.shared.source.render(g, secs, &mut batch);
            batch.extend_from_slice(b"\r\n");
            self.records += 1;
            sent += 1;
            if batch.len() >= 64 * 1024
                || self.stall.is_some_and(|(after, _)| self.records >= after)
            {
                let b = std::mem::take(&mut batch);
                let r = self.send(&b);
                batch = b;
                batch.clear();
                r?;
            }
        }
        let failed: Vec<String> = self
            .replay_failed
            .iter()
            .filter(|&&m| m >= from && m < to && stops_at.is_none_or(|at| m < at))
            .map(|&m| format!("\"{}\"", time::iso8601(m)))
            .collect();
        let (message, extra) = match stops_at {
            Some(at) => (
                messages::REPLAY_FAILED,
                format!(
                    ",\"activity_count\":{sent},\"unprocessed_range\":{{\"fromDate\":\"{}\",\"toDate\":\"{}\"}}{}",
                    time::iso8601(at),
                    time::iso8601(to),
                    if failed.is_empty() {
                        String::new()
                    } else {
                        format!(",\"minutes_failed\":[{}]", failed.join(","))
                    }
                ),
            ),
            None if !failed.is_empty() => (
                messages::REPLAY_COMPLETED_WITH_ERRORS,
                format!(
                    ",\"activity_count\":{sent},\"minutes_failed\":[{}]",
                    failed.join(",")
                ),
            ),
            None => (
                messages::REPLAY_COMPLETED,
                format!(",\"activity_count\":{sent}"),
            ),
        };
        self.finish_job(batch, message, &extra)
    }
}
