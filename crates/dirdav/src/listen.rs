//! Accepting connections: HTTP/1.1 with a deadline for request headers, a bounded
//! number of open connections, and a graceful stop.
//!
//! `axum::serve` has neither a header deadline nor a connection bound, so a client that
//! opens sockets and sends nothing (or a byte a minute) would hold file descriptors
//! until the process runs out. Here each connection has `idle` to send a request's
//! headers (and, through the core's body deadline, each part of its body); past the
//! bound, new connections wait in the kernel's backlog until one closes. One address
//! may hold at most `per_address` of them (trusted proxies excepted, since every
//! client behind one shares its address), so slow senders from one place cannot take
//! every slot; connections past that are closed at once.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, header};
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// How connections are bounded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// How long a connection may take to send a request's headers, idle keep-alive
    /// time included.
    pub(crate) idle: Duration,
    /// The most connections open at once.
    pub(crate) max_connections: usize,
    /// The most connections open at once from one address (trusted proxies excepted).
    pub(crate) per_address: usize,
}

/// Counts the connections (or TLS handshakes) each address holds.
#[derive(Debug)]
pub(crate) struct PerAddress {
    /// Per address: how many it holds, and whether its hitting the limit was logged
    /// (once until it drops below again, so that an attack does not flood the log).
    open: std::sync::Mutex<std::collections::HashMap<IpAddr, (usize, bool)>>,
    limit: usize,
    exempt: Arc<Vec<IpAddr>>,
    what: &'static str,
}

/// One connection counted against its address; uncounted when dropped.
#[derive(Debug)]
pub(crate) struct Counted {
    table: Arc<PerAddress>,
    address: Option<IpAddr>,
}

impl PerAddress {
    /// A table allowing `limit` of `what` (connections, handshakes) per address.
    pub(crate) fn new(limit: usize, exempt: Arc<Vec<IpAddr>>, what: &'static str) -> Arc<Self> {
        Arc::new(PerAddress {
            open: std::sync::Mutex::default(),
            limit: limit.max(1),
            exempt,
            what,
        })
    }

    /// Counts one more for `address`, or `None` (logged) when it holds its limit.
    pub(crate) fn enter(self: &Arc<Self>, address: IpAddr) -> Option<Counted> {
        if self.exempt.contains(&address) {
            return Some(Counted {
                table: Arc::clone(self),
                address: None,
            });
        }
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (count, warned) = open.entry(address).or_default();
        if *count >= self.limit {
            if !*warned {
                tracing::warn!(
                    %address,
                    limit = self.limit,
                    "an address holds the most {} allowed from one address; closing new ones",
                    self.what
                );
                *warned = true;
            }
            return None;
        }
        *count += 1;
        Some(Counted {
            table: Arc::clone(self),
            address: Some(address),
        })
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let Some(address) = self.address else {
            return;
        };
        let mut open = self
            .table
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((count, warned)) = open.get_mut(&address) {
            *count -= 1;
            if *count < self.table.limit / 2 {
                *warned = false;
            }
            if *count == 0 {
                open.remove(&address);
            }
        }
    }
}

/// Serves `app` on `listener` until `stopped` turns true, then lets requests under
/// way finish (idle connections close at once).
pub(crate) async fn serve<L>(
    mut listener: L,
    app: Router,
    limits: Limits,
    per_address: Arc<PerAddress>,
    mut stopped: watch::Receiver<bool>,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Each connection holds a receiver; the sender sees them all gone at the end.
    let (connections_done, connection_alive) = watch::channel(());
    let mut full = false;
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if !full {
                    tracing::warn!(
                        limit = limits.max_connections,
                        "the most connections allowed are open; new ones wait"
                    );
                }
                full = true;
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    _ = stopped.wait_for(|s| *s) => break,
                }
            }
        };
        if permits.available_permits() > limits.max_connections / 2 {
            full = false;
        }
        let (io, peer) = tokio::select! {
            connection = listener.accept() => connection,
            _ = stopped.wait_for(|s| *s) => break,
        };
        let Some(counted) = per_address.enter(peer.ip()) else {
            drop(io);
            continue;
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let (request, read) = Tracked::wrap(request);
            let answer = app.clone().oneshot(request);
            async move {
                let mut response = answer.await?;
                if !read.load(Ordering::Acquire) {
                    // An answer given before the body was read (a refused PUT): hyper
                    // closes such a connection, so say so, or a client that keeps its
                    // connections sends its next request into a closing socket.
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let mut stop = stopped.clone();
        let alive = connection_alive.clone();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.idle)
                .keep_alive(true);
            let connection = builder.serve_connection(TokioIo::new(io), service);
            tokio::pin!(connection);
            let stopping = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopping => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop((permit, counted, alive));
        });
    }
    drop(listener);
    drop(connection_alive);
    connections_done.closed().await;
}

/// A request body that records when it has been read to its end (or was empty).
struct Tracked {
    inner: Incoming,
    read: Arc<AtomicBool>,
}

impl Tracked {
    /// The request with its body tracked, and the flag that turns true at its end.
    fn wrap(request: hyper::Request<Incoming>) -> (hyper::Request<Body>, Arc<AtomicBool>) {
        let read = Arc::new(AtomicBool::new(request.body().is_end_stream()));
        let flag = Arc::clone(&read);
        let request = request.map(|inner| Body::new(Tracked { inner, read: flag }));
        (request, read)
    }
}

impl hyper::body::Body for Tracked {
    type Data = hyper::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.read.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
