//! A Replay stream: the range's records minute by minute, the completion message, and the
//! gzip member's end (a finite stream's trailer does arrive).

use std::time::{Duration, Instant};

use super::http;
use super::streamer::{End, Streamer};
use crate::core::Level;
use crate::protocol::messages;

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
        for j in 0..minutes * per_minute {
            if self.stopped() {
                return Err(End::Stopped);
            }
            self.stall_if_due()?;
            let minute = first_minute + j / per_minute;
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
        let done = messages::system_message(
            Level::Info,
            messages::REPLAY_COMPLETED,
            crate::clock::now_secs(),
            &format!(",\"activity_count\":{sent}"),
        );
        batch.extend_from_slice(done.as_bytes());
        batch.extend_from_slice(b"\r\n");
        self.send(&batch)?;
        // A finite stream: the member ends (deflate final block, CRC-32, ISIZE), then the body.
        self.wire.clear();
        self.enc.finish(&mut self.wire);
        let tail = std::mem::take(&mut self.wire);
        self.send_body(&tail)?;
        self.write_raw(http::LAST_CHUNK)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.pending.is_empty() && Instant::now() < deadline {
            self.flush_pending()?;
        }
        Ok(())
    }
}
