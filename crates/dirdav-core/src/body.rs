//! Request bodies that may not stall: a client that stops sending mid-body is cut off
//! with 408 instead of holding its connection (and whatever the handler waits on)
//! forever.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use dirdav_plugin::DavError;
use dirdav_plugin::http::StatusCode;
use http_body::{Frame, SizeHint};

/// The body went quiet for longer than the server allows.
#[derive(Debug, thiserror::Error)]
#[error("the client sent nothing for {0:?} in the middle of the body")]
pub(crate) struct Stalled(Duration);

/// Wraps a body: once it has been waiting for data for `limit` without a byte
/// arriving, it yields [`Stalled`]. Time spent before the handler first reads does
/// not count; only silence while reading does.
pub(crate) struct StallTimeout {
    inner: Body,
    limit: Duration,
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl StallTimeout {
    pub(crate) fn wrap(inner: Body, limit: Duration) -> Body {
        Body::new(StallTimeout {
            inner,
            limit,
            waiting: None,
        })
    }
}

impl HttpBody for StallTimeout {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.waiting = None;
                Poll::Ready(frame)
            }
            Poll::Pending => {
                let limit = self.limit;
                let sleep = self
                    .waiting
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(Stalled(limit))))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The answer to a body that could not be read: 408 when the client went quiet, 400
/// when the connection broke or the framing was wrong.
pub(crate) fn body_error(e: &(dyn StdError + 'static)) -> DavError {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<Stalled>() {
            return DavError::new(StatusCode::REQUEST_TIMEOUT, c.to_string());
        }
        cause = c.source();
    }
    DavError::bad_request(format!("reading the body failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test(start_paused = true)]
    async fn a_body_that_goes_quiet_is_cut_off_with_408() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, axum::Error>>(1);
        let stream = http_body_util::StreamBody::new(tokio_stream_from(rx));
        let body = StallTimeout::wrap(Body::new(stream), Duration::from_secs(30));
        tx.send(Ok(Frame::data(Bytes::from_static(b"BEGIN:"))))
            .await
            .unwrap();
        let reader = tokio::spawn(async move { body.collect().await.map(|c| c.to_bytes()) });
        tokio::time::sleep(Duration::from_secs(20)).await;
        tx.send(Ok(Frame::data(Bytes::from_static(b"VCALENDAR"))))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(31)).await;
        let err = reader.await.unwrap().unwrap_err();
        assert_eq!(body_error(&err).status(), StatusCode::REQUEST_TIMEOUT);
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_but_steady_body_is_read_whole() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, axum::Error>>(1);
        let stream = http_body_util::StreamBody::new(tokio_stream_from(rx));
        let body = StallTimeout::wrap(Body::new(stream), Duration::from_secs(30));
        let reader = tokio::spawn(async move { body.collect().await.map(|c| c.to_bytes()) });
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(20)).await;
            tx.send(Ok(Frame::data(Bytes::from_static(b"x"))))
                .await
                .unwrap();
        }
        drop(tx);
        assert_eq!(reader.await.unwrap().unwrap(), "xxxxx");
    }

    /// A stream over a channel, without pulling in tokio-stream.
    fn tokio_stream_from<T>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> {
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
