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
//! every slot; connections past that are closed at once. And when every slot is taken
//! (slow senders from many places), a new connection takes the place of the one that
//! has waited longest without a request under way (still sending its headers, or idle
//! between requests): a client with a complete request is served at once, whoever
//! holds the other slots.

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

/// The open connections, to find the one to close when all slots are taken.
#[derive(Debug, Default)]
struct Open {
    next: std::sync::atomic::AtomicU64,
    connections: std::sync::Mutex<std::collections::HashMap<u64, Arc<Connection>>>,
}

/// One open connection: whether a request is under way on it (from its headers to the
/// end of its answer), since when it has had none, and the signal that closes it.
#[derive(Debug)]
struct Connection {
    busy: AtomicBool,
    idle_since: std::sync::Mutex<std::time::Instant>,
    close: tokio::sync::Notify,
}

impl Open {
    fn table(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<u64, Arc<Connection>>> {
        self.connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a new connection; returns its number and its state.
    fn add(&self) -> (u64, Arc<Connection>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            busy: AtomicBool::new(false),
            idle_since: std::sync::Mutex::new(std::time::Instant::now()),
            close: tokio::sync::Notify::new(),
        });
        self.table().insert(id, connection.clone());
        (id, connection)
    }

    fn remove(&self, id: u64) {
        self.table().remove(&id);
    }

    /// Tells the connection that has waited longest without a request under way to
    /// close; false when every connection has one.
    fn close_longest_waiting(&self) -> bool {
        let table = self.table();
        let oldest = table
            .values()
            .filter(|c| !c.busy.load(Ordering::Acquire))
            .min_by_key(|c| {
                *c.idle_since
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            });
        match oldest {
            Some(c) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }
}

impl Connection {
    /// A request arrived (its headers are complete).
    fn start(&self) {
        self.busy.store(true, Ordering::Release);
    }

    /// Its answer has been sent (or abandoned).
    fn done(&self) {
        *self
            .idle_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = std::time::Instant::now();
        self.busy.store(false, Ordering::Release);
    }

    /// Resolves when the connection is told to close while no request is under way.
    async fn closed(&self) {
        loop {
            self.close.notified().await;
            if !self.busy.load(Ordering::Acquire) {
                return;
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
    let open = Arc::new(Open::default());
    // Each connection holds a receiver; the sender sees them all gone at the end.
    let (connections_done, connection_alive) = watch::channel(());
    let mut full = false;
    loop {
        let (io, peer) = tokio::select! {
            connection = listener.accept() => connection,
            _ = stopped.wait_for(|s| *s) => break,
        };
        let Some(counted) = per_address.enter(peer.ip()) else {
            drop(io);
            continue;
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if !full {
                    tracing::warn!(
                        limit = limits.max_connections,
                        "the most connections allowed are open; the longest waiting without a request makes room"
                    );
                }
                full = true;
                // Make room: the connection waiting longest without a request closes.
                // When every one has a request under way, the new one waits.
                open.close_longest_waiting();
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
        let (id, state) = open.add();
        let app = app.clone();
        let serving = state.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            serving.start();
            let finished = Finished(serving.clone());
            request.extensions_mut().insert(ConnectInfo(peer));
            let (request, read) = Tracked::wrap(request);
            let answer = app.clone().oneshot(request);
            async move {
                let response = answer.await?;
                // The request counts as under way until its answer's body is sent.
                let mut response = response.map(|inner| {
                    Body::new(Answer {
                        inner,
                        _finished: finished,
                    })
                });
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
        let open = open.clone();
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
                () = state.closed() => {
                    tracing::debug!(%peer, "closed to make room for a new connection");
                    Ok(())
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            open.remove(id);
            drop((permit, counted, alive));
        });
    }
    drop(listener);
    drop(connection_alive);
    connections_done.closed().await;
}

/// Marks a connection's request done when dropped (its answer sent or abandoned).
struct Finished(Arc<Connection>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.done();
    }
}

/// An answer's body, which marks its request done once it has been sent.
struct Answer {
    inner: Body,
    _finished: Finished,
}

impl hyper::body::Body for Answer {
    type Data = hyper::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
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
