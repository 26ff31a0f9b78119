//! The ceiling for GET throughput on this machine: an axum server that answers every
//! request with the same bytes from memory, no routing, no index, no disk. The
//! comparison benchmark (`tests/bench/compare.sh`) runs it under the same load
//! generator as dirdav, so that dirdav's GET figure reads as a fraction of it.
//!
//! ```sh
//! cargo run --release -p dirdav-core --example bare_get -- FILE PORT
//! ```

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(file), Some(port)) = (args.next(), args.next()) else {
        return Err("usage: bare_get FILE PORT".into());
    };
    let bytes = Bytes::from(std::fs::read(file)?);
    let app = axum::Router::new().fallback(move || {
        let bytes = bytes.clone();
        async move {
            (
                [
                    (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
                    (header::ETAG, "\"bare\""),
                ],
                bytes,
            )
                .into_response()
        }
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], port.parse::<u16>()?));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
