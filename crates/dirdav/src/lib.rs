//! dirdav as a library: the `dirdav` command with its shipped plugins ([`App`]), to
//! which a binary of your own adds plugins. The whole `main` of such a binary:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     dirdav::App::new().plugin(dirdav_hello::Hello).run()
//! }
//! ```
//!
//! The engine is [`dirdav_core`], the plugin API [`dirdav_plugin`].

mod app;
mod auth;
mod check;
mod config;
mod dns;
#[cfg(feature = "doctor")]
mod doctor;
mod listen;
mod metrics;
mod plugins;
mod tls;
mod users;

pub use app::App;
pub(crate) use app::WatchArg;
