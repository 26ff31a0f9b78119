//! Accepting connections: HTTP/1.1 with a deadline for request headers, a bounded
//! number of open connections, and a graceful stop.
//!
//! `axum::serve` has neither a header deadline nor a connection bound, so a client that
//! opens sockets and sends nothing (or a byte a minute) would hold file descriptors
//! until the process runs out. Here each connection has `idle` to send a request's
//! headers (and, through the core's body deadline, each part of its body); past the
//! bound, new connections wait in the kernel's backlog until one closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
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
}

/// Serves `app` on `listener` until `stopped` turns true, then lets requests under
/// way finish (idle connections close at once).
pub(crate) async fn serve<L>(
    mut listener: L,
    app: Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Each connection holds a receiver; the sender sees them all gone at the end.
    let (connections_done, connection_alive) = watch::channel(());
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stopped.wait_for(|s| *s) => break,
        };
        let (io, peer) = tokio::select! {
            connection = listener.accept() => connection,
            _ = stopped.wait_for(|s| *s) => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(Body::new))
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
            drop((permit, alive));
        });
    }
    drop(listener);
    drop(connection_alive);
    connections_done.closed().await;
}
