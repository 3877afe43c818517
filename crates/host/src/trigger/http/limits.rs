//! What one client may hold of the HTTP trigger: time for a request head, pauses within a
//! body, body size, and requests in flight. Small bodies are received whole before an
//! instance is taken (as nginx buffers them), so a slow client holds a socket, not a guest.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The bounds, each a `spin-lite up` option (see `main.rs` for names and defaults).
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// From a connection's opening, or its previous response, to a complete request head
    /// (so also how long an idle keep-alive connection stays open).
    pub head_timeout: Duration,
    /// The longest a request body may pause between two bytes.
    pub body_idle_timeout: Duration,
    /// The largest request body: a larger `Content-Length` is refused before a guest runs,
    /// a longer stream is cut off there.
    pub max_body: u64,
    /// Bodies up to this size are received before the guest is instantiated.
    pub buffered_body: usize,
    /// Public requests being handled at once; more are answered 503 with `Retry-After`.
    pub max_in_flight: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            head_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
            max_body: 16 << 20,
            buffered_body: 64 << 10,
            max_in_flight: 500,
        }
    }
}

/// Why a request body could not be received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFailure {
    TooLarge,
    Stalled,
    Broken,
}

impl From<BodyFailure> for wasmtime_wasi_http::Error {
    fn from(f: BodyFailure) -> Self {
        match f {
            BodyFailure::TooLarge => wasmtime_wasi_http::Error::HttpRequestBodySize(None),
            BodyFailure::Stalled => wasmtime_wasi_http::Error::ConnectionReadTimeout,
            BodyFailure::Broken => wasmtime_wasi_http::Error::ConnectionTerminated,
        }
    }
}

/// A request body bounded in size and in idle time; what was received ahead is served first.
pub struct GuardedBody<B> {
    ahead: Option<Bytes>,
    trailers: Option<HeaderMap>,
    rest: Option<B>,
    received: u64,
    max: u64,
    idle: Duration,
    /// Runs from when the reader starts waiting for a frame: only the client's pauses count.
    deadline: Pin<Box<Sleep>>,
    waiting: bool,
}

impl<B> GuardedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    pub fn new(body: B, limits: &HttpLimits) -> Self {
        GuardedBody {
            ahead: None,
            trailers: None,
            rest: Some(body),
            received: 0,
            max: limits.max_body,
            idle: limits.body_idle_timeout,
            deadline: Box::pin(tokio::time::sleep(limits.body_idle_timeout)),
            waiting: false,
        }
    }

    /// Receives up to `limit` bytes now; what follows is left to stream to the guest.
    pub async fn receive_ahead(&mut self, limit: usize) -> Result<(), BodyFailure> {
        let mut ahead = BytesMut::new();
        while ahead.len() < limit && self.trailers.is_none() {
            match std::future::poll_fn(|cx| self.poll_rest(cx)).await {
                None => {
                    self.rest = None;
                    break;
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => ahead.extend_from_slice(&data),
                    Err(frame) => self.trailers = frame.into_trailers().ok(),
                },
                Some(Err(failure)) => return Err(failure),
            }
        }
        if !ahead.is_empty() {
            self.ahead = Some(ahead.freeze());
        }
        Ok(())
    }

    fn poll_rest(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyFailure>>> {
        if self.rest.is_none() {
            return Poll::Ready(None);
        }
        if !self.waiting {
            let until = Instant::now() + self.idle;
            self.deadline.as_mut().reset(until);
            self.waiting = true;
        }
        let rest = self.rest.as_mut().expect("checked above");
        let polled = Pin::new(rest).poll_frame(cx);
        if polled.is_ready() {
            self.waiting = false;
        }
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.received += data.len() as u64;
                    if self.received > self.max {
                        self.rest = None;
                        return Poll::Ready(Some(Err(BodyFailure::TooLarge)));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(_))) => {
                self.rest = None;
                Poll::Ready(Some(Err(BodyFailure::Broken)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.rest = None;
                    Poll::Ready(Some(Err(BodyFailure::Stalled)))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(ahead) = self.ahead.take() {
            return Poll::Ready(Some(Ok(Frame::data(ahead))));
        }
        if let Some(trailers) = self.trailers.take() {
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        self.poll_rest(cx).map(|f| f.map(|r| r.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.ahead.is_none() && self.trailers.is_none() && self.rest.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let ahead = self.ahead.as_ref().map_or(0, |b| b.len() as u64);
        match &self.rest {
            None => SizeHint::with_exact(ahead),
            Some(rest) => {
                let mut hint = rest.size_hint();
                hint.set_lower(hint.lower() + ahead);
                if let Some(upper) = hint.upper() {
                    hint.set_upper(upper + ahead);
                }
                hint
            }
        }
    }
}

/// Parses `10s`, `500ms`, `2m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: expected a duration such as 10s, 500ms or 2m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("`{text}`: the unit must be ms, s or m")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};

    fn limits(max_body: u64, idle_ms: u64) -> HttpLimits {
        HttpLimits {
            max_body,
            body_idle_timeout: Duration::from_millis(idle_ms),
            ..HttpLimits::default()
        }
    }

    #[tokio::test]
    async fn a_small_body_is_received_whole_and_served_again() {
        let mut body =
            GuardedBody::new(Full::new(Bytes::from_static(b"hello")), &limits(100, 1000));
        body.receive_ahead(64).await.unwrap();
        assert!(body.rest.is_none(), "the whole body is in");
        assert_eq!(
            body.collect().await.unwrap().to_bytes(),
            Bytes::from_static(b"hello")
        );
    }

    #[tokio::test]
    async fn a_larger_body_streams_on_after_what_was_received() {
        let chunks = (0..10)
            .map(|i| Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(vec![i; 10]))));
        let stream = StreamBody::new(futures::stream::iter(chunks));
        let mut body = GuardedBody::new(stream, &limits(1000, 1000));
        body.receive_ahead(25).await.unwrap();
        assert_eq!(
            body.ahead.as_ref().unwrap().len(),
            30,
            "whole frames up to the limit"
        );
        let all = body.collect().await.unwrap().to_bytes();
        assert_eq!(all.len(), 100);
        assert_eq!(all[99], 9);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_cut_off() {
        let chunks = (0..10)
            .map(|_| Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(vec![0; 10]))));
        let mut body = GuardedBody::new(
            StreamBody::new(futures::stream::iter(chunks)),
            &limits(35, 1000),
        );
        assert_eq!(body.receive_ahead(1000).await, Err(BodyFailure::TooLarge));
    }

    #[tokio::test]
    async fn a_stalled_body_times_out() {
        let stalled = StreamBody::new(futures::stream::pending::<
            Result<Frame<Bytes>, std::convert::Infallible>,
        >());
        let mut body = GuardedBody::new(stalled, &limits(100, 50));
        let started = std::time::Instant::now();
        assert_eq!(body.receive_ahead(10).await, Err(BodyFailure::Stalled));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn durations_read_as_written() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5h").is_err());
    }
}
