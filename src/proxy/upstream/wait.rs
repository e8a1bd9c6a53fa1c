//! Waiting on the upstream without being held hostage by it.
//!
//! While a session waits for its upstream (connect, send, reply), three other things can
//! end the wait: a revocation (or, in an exhaust stream, a drain), the client going away,
//! and the reply deadline. A fast reply, the common case, costs what it did before this
//! existed: the stop flag (lock-free) and one timer pushed later (lock-free in tokio).
//! Only a wait that outlasts [`PATIENCE`] computes its real deadline and also watches the
//! client's socket.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bson::RawDocument;
use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::time::{Instant, Sleep};

use crate::proxy::io::Stream;
use crate::proxy::state::handle::SessionHandle;
use crate::proxy::state::signal::Stop;

/// How long a wait runs on the cheap path before it watches the client too.
pub const PATIENCE: Duration = Duration::from_millis(250);

/// Client bytes held while waiting (a next message sent early); beyond this the wait
/// stops reading the client, so a client cannot grow the buffer during a long stream.
const EARLY_INPUT_CAP: usize = 64 * 1024;

/// Longest `maxTimeMS` honoured when extending the deadline (a day; beyond it the
/// configured timeout alone applies to a nonsense value).
const MAX_TIME_CAP_MS: u64 = 86_400_000;

/// How a watched wait ended.
#[derive(Debug)]
pub enum Waited<T> {
    Done(T),
    /// Revoked, or closed at the end of a drain that ran out of time.
    Revoked,
    /// A drain began and this wait was one the drain does not finish (an exhaust stream).
    Drained,
    /// The client closed its side (or its socket failed).
    ClientGone,
    /// The deadline passed; the wait lasted this long.
    TimedOut(Duration),
}

/// The deadline for a forwarded command's reply: the cluster's timeout, plus the
/// command's own `maxTimeMS` (a getMore's is its await time), so a long operation that
/// bounds itself keeps its time. Pure: the caller passes both.
pub fn reply_limit(base: Duration, max_time_ms: Option<u64>) -> Duration {
    let extra = max_time_ms.unwrap_or(0).min(MAX_TIME_CAP_MS);
    base + Duration::from_millis(extra)
}

/// A command's `maxTimeMS`, read as mongod reads it (any numeric type; negatives and
/// non-numbers contribute nothing here, the upstream judges them).
pub fn max_time_ms(body: &RawDocument) -> Option<u64> {
    let v = body.get("maxTimeMS").ok().flatten()?;
    let ms = match v {
        bson::RawBsonRef::Int32(n) => i64::from(n),
        bson::RawBsonRef::Int64(n) => n,
        bson::RawBsonRef::Double(f) if f.is_finite() => f as i64,
        _ => return None,
    };
    u64::try_from(ms).ok()
}

/// What a wait watches besides the upstream: borrowed from the session.
pub struct Watch<'a> {
    pub client: &'a mut Stream,
    /// The client's read buffer: bytes read while waiting stay there for the next message.
    pub buf: &'a mut BytesMut,
    pub handle: &'a SessionHandle,
    pub timer: Pin<&'a mut Sleep>,
}

impl Watch<'_> {
    /// Runs `fut` until it completes or something above ends the wait. `limit` is asked
    /// only once the wait is slow; `drain_ends` makes a drain end it (exhaust streams).
    pub async fn wait<F: Future>(
        mut self,
        fut: F,
        limit: impl FnOnce() -> Duration,
        drain_ends: bool,
    ) -> Waited<F::Output> {
        // A stream of replies that are always ready must still see a revocation.
        match self.handle.raised() {
            Some(Stop::Revoked) => return Waited::Revoked,
            Some(Stop::Drain) if drain_ends => return Waited::Drained,
            _ => {}
        }
        tokio::pin!(fut);
        // Most waits end at the first poll (a send with room in the socket, a reply
        // already buffered): no clock read, no timer.
        let first = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
        if let Poll::Ready(out) = first {
            return Waited::Done(out);
        }
        let start = Instant::now();
        self.timer.as_mut().reset(start + PATIENCE);
        tokio::select! {
            biased;
            out = &mut fut => return Waited::Done(out),
            stop = stop_wait(self.handle, drain_ends) => return stopped(stop),
            _ = self.timer.as_mut() => {}
        }
        let limit = limit();
        self.timer.as_mut().reset(start + limit);
        let mut client_open = self.buf.len() < EARLY_INPUT_CAP;
        loop {
            tokio::select! {
                biased;
                out = &mut fut => return Waited::Done(out),
                stop = stop_wait(self.handle, drain_ends) => return stopped(stop),
                _ = self.timer.as_mut() => return Waited::TimedOut(limit),
                gone = client_gone(self.client, self.buf), if client_open => {
                    if gone {
                        return Waited::ClientGone;
                    }
                    // The client sent its next message early: keep it, stop reading.
                    client_open = false;
                }
            }
        }
    }
}

async fn stop_wait(handle: &SessionHandle, drain_ends: bool) -> Stop {
    if drain_ends {
        handle.stopped().await
    } else {
        handle.revoked().await
    }
}

fn stopped<T>(stop: Stop) -> Waited<T> {
    match stop {
        Stop::Revoked => Waited::Revoked,
        Stop::Drain => Waited::Drained,
    }
}

/// Reads what the client sends while it waits: true on EOF or a socket error.
async fn client_gone(client: &mut Stream, buf: &mut BytesMut) -> bool {
    if buf.capacity() == buf.len() {
        buf.reserve(1024);
    }
    !matches!(client.read_buf(buf).await, Ok(n) if n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    #[test]
    fn the_deadline_adds_the_commands_own_time() {
        let base = Duration::from_secs(120);
        assert_eq!(reply_limit(base, None), base);
        assert_eq!(
            reply_limit(base, Some(5_000)),
            Duration::from_secs(125),
            "maxTimeMS extends the wait"
        );
        assert_eq!(
            reply_limit(base, Some(u64::MAX)),
            base + Duration::from_millis(MAX_TIME_CAP_MS),
            "capped"
        );
    }

    #[test]
    fn max_time_ms_reads_every_numeric_type() {
        let cases = [
            (rawdoc! {"find": "c", "maxTimeMS": 10}, Some(10)),
            (rawdoc! {"find": "c", "maxTimeMS": 10_i64}, Some(10)),
            (rawdoc! {"find": "c", "maxTimeMS": 10.7}, Some(10)),
            (rawdoc! {"find": "c", "maxTimeMS": -1}, None),
            (rawdoc! {"find": "c", "maxTimeMS": "10"}, None),
            (rawdoc! {"find": "c", "maxTimeMS": f64::NAN}, None),
            (rawdoc! {"find": "c"}, None),
        ];
        for (doc, want) in cases {
            assert_eq!(max_time_ms(&doc), want, "{doc:?}");
        }
    }
}
