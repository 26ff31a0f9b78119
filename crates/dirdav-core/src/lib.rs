//! dirdav's engine: a WebDAV class 1 server (RFC 4918) over a directory tree.
//!
//! The core resolves request paths against an in-memory [index](crate) of the tree,
//! runs the class 1 methods, answers the live properties of RFC 4918 §15 and keeps
//! dead properties in each folder's `.dav.toml`. Everything else (CalDAV, CardDAV,
//! discovery, access control) comes from [plugins](dirdav_plugin::Plugin) registered
//! on the [`ServerBuilder`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use dirdav_core::{Config, Server};
//!
//! let server = Server::builder(Config::new("example-data").base_path("/dav"))
//!     .plugin(dirdav_hello::Hello)
//!     .build()
//!     .await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8008").await?;
//! axum::serve(listener, server.router()).await?;
//! # Ok(()) }
//! ```

mod beneath;
mod body;
mod builder;
mod compat;
mod conditions;
mod config;
mod context;
mod deadcache;
mod dispatch;
mod dotfile;
mod homes;
mod index;
mod merged;
mod methods;
mod path;
mod props;
mod reconcile;
mod refresh;
mod server;
mod settle;
mod shares;
mod state;
mod storage;
mod store;
mod sync;
mod uploads;
mod views;
mod viewstate;
mod watch;

pub use builder::ServerBuilder;
pub use config::{BuildError, Config, Watch};
pub use server::{Server, Stats};
