//! The `dirdav` command: its subcommands, and `serve`, which builds the server from the
//! settings, the shipped plugins and the [`App`]'s own, then listens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use clap::{Parser, Subcommand};
use dirdav_core::{Config, Server, Watch};
use dirdav_plugin::{Plugin, Principal};
use http::HeaderValue;
use tracing::Instrument;

use crate::auth::Auth;
use crate::config::{Settings, parse_size};
#[cfg(feature = "doctor")]
use crate::doctor;
use crate::{auth, check, dns, listen, metrics, plugins, tls, users};

/// dirdav: a WebDAV server for a plain directory tree.
///
/// Every folder under the root is a WebDAV collection and every file a resource, stored
/// byte for byte; a folder's settings and properties live in its `.dav.toml`.
#[derive(Debug, Parser)]
#[command(name = "dirdav", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How log lines are written: `text`, one line of `key=value` fields per event,
    /// or `json`, one JSON object per line for log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// The form of log lines (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a tree. With no options: `example-data/` on 127.0.0.1:8008 with the demo
    /// users of `example-data/.htpasswd`.
    Serve(Box<ServeArgs>),
    /// Print the DNS SRV and TXT records (RFC 6764) that let phones and desktop clients
    /// find the server from a user's address alone, ready for a zone file.
    DnsRecords(DnsArgs),
    /// Check a running server as a client would: the well-known redirect, OPTIONS,
    /// current-user-principal, the home sets and the collections, and with --write a test
    /// item created and deleted. The password comes from DIRDAV_PASSWORD, else a prompt.
    /// Exits non-zero when a client would fail.
    #[cfg(feature = "doctor")]
    Doctor(DoctorArgs),
    /// Check that a server on this machine answers (for container health checks and
    /// load balancers): a GET of its `/.well-known/caldav` over plain HTTP, which needs
    /// no password. Exits non-zero when it does not answer within five seconds, or
    /// answers with an error.
    Health(HealthArgs),
    /// Add, change and remove the users of the htpasswd file a server reads (it picks
    /// the change up without a restart). Passwords are read from standard input when it
    /// is not a terminal, else asked for twice.
    #[command(subcommand)]
    User(UserCommand),
    /// Read every calendar object and vCard of a tree, without a server, and name each
    /// one a client would be refused for writing now (RFC 5545, 4791, 6350), as
    /// `path:line: why`. Exits non-zero when there is one.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
struct HealthArgs {
    /// The server, as `serve` listens: address and port, and the base path if any.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8008/")]
    url: String,
}

/// `dirdav health`: the status line of a GET of `<url>.well-known/caldav`, or why none
/// came. Plain HTTP only (what a health check inside a container or behind a proxy
/// reaches).
fn health(url: &str) -> Result<u16, String> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are checked"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = format!("/{}", path.trim_end_matches('/'));
    let path = format!("{}/.well-known/caldav", path.trim_end_matches('/'));
    let address = std::net::ToSocketAddrs::to_socket_addrs(authority)
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let timeout = Duration::from_secs(5);
    let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)
        .map_err(|e| format!("{address}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("{address}: {e}"))?;
    let mut head = [0u8; 64];
    let n = stream
        .read(&mut head)
        .map_err(|e| format!("{address}: {e}"))?;
    let line = String::from_utf8_lossy(&head[..n]);
    line.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3)?.parse().ok())
        .ok_or_else(|| format!("{address}: not an HTTP answer"))
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// List the users, with how many passwords (app passwords) each has.
    List(UserFile),
    /// Add a user with a password.
    Add(UserName),
    /// Set a user's password; their other passwords (app passwords) are removed.
    Passwd(UserName),
    /// Give a user another password, for one device, and print it (an app password).
    App(UserName),
    /// Remove a user and their passwords (their files stay in the tree).
    Remove(UserName),
}

#[derive(Debug, clap::Args)]
struct UserName {
    /// The user's name (their home is the folder of that name).
    name: String,
    #[command(flatten)]
    file: UserFile,
}

#[derive(Debug, clap::Args)]
struct UserFile {
    /// The htpasswd file [default: the one `serve` would read: the config file's
    /// `htpasswd`, else ROOT/.htpasswd].
    #[arg(long, value_name = "FILE")]
    htpasswd: Option<PathBuf>,
    /// The `dirdav.toml` whose `htpasswd` (or `root`) names the file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The served tree, whose `.htpasswd` is the file [default: example-data].
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

impl UserFile {
    /// The file `serve` would read with the same options.
    fn path(&self) -> Result<PathBuf, String> {
        if let Some(path) = &self.htpasswd {
            return Ok(path.clone());
        }
        let settings = match &self.config {
            Some(path) => Settings::load(path).map_err(|e| e.to_string())?,
            None => Settings::default(),
        };
        if let Some(path) = settings.htpasswd {
            return Ok(path);
        }
        let root = self
            .root
            .clone()
            .or(settings.root)
            .unwrap_or_else(|| PathBuf::from("example-data"));
        Ok(root.join(".htpasswd"))
    }
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// The tree to read (by default `example-data/`, as `serve`).
    #[arg(long, value_name = "DIR", default_value = "example-data")]
    root: PathBuf,
}

#[cfg(feature = "doctor")]
#[derive(Debug, clap::Args)]
struct DoctorArgs {
    /// The server URL a user would give a client, e.g. http://127.0.0.1:8008/. Without
    /// it, the server is found through the DNS records of the user's domain (RFC 6764).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The domain whose SRV and TXT records to look up (by default the domain of an
    /// address given as --user).
    #[arg(long, value_name = "DOMAIN")]
    domain: Option<String>,
    /// The DNS server to ask, instead of the system's.
    #[arg(long, value_name = "IP:PORT")]
    dns_server: Option<std::net::SocketAddr>,
    /// The user to sign in as.
    #[arg(long, value_name = "NAME")]
    user: String,
    /// Also create and delete a test item in the first calendar and address book.
    #[arg(long)]
    write: bool,
    /// A PEM file of certificates to trust for https:// besides the system's (a private
    /// CA, or the server's self-signed certificate).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
}

/// The password for `doctor`: from `DIRDAV_PASSWORD`, else asked for on the terminal
/// (with echo off where `stty` can do that). Never from the command line, where other
/// users could read it.
#[cfg(feature = "doctor")]
fn doctor_password(user: &str) -> Result<String, String> {
    if let Ok(password) = std::env::var("DIRDAV_PASSWORD") {
        return Ok(password);
    }
    let password = users::prompt(&format!("Password for {user}: "))?;
    if password.is_empty() {
        return Err(
            "no password given: set DIRDAV_PASSWORD, or run doctor in a terminal to be asked"
                .to_owned(),
        );
    }
    Ok(password)
}

#[derive(Debug, clap::Args)]
struct DnsArgs {
    /// The domain of your users' addresses, e.g. example.com.
    #[arg(long, value_name = "DOMAIN")]
    domain: String,
    /// The host dirdav runs on [default: the domain].
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// The port clients connect to [default: 443 with --tls, 8008 without].
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
    /// Clients connect over TLS (publishes _caldavs and _carddavs).
    #[arg(long)]
    tls: bool,
    /// The URL prefix dirdav is served under, if not the root.
    #[arg(long, value_name = "PREFIX")]
    base_path: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Read settings from this TOML file (the same names as the flags; a flag overrides
    /// the file).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: Settings,
}

/// Drops `X-Forwarded-*` from peers that are not trusted proxies, so that what the
/// plugins read there was said by a proxy the operator named.
async fn forwarded_headers(
    axum::extract::State(trusted): axum::extract::State<Arc<Vec<std::net::IpAddr>>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    if !trusted.contains(&peer.ip().to_canonical()) {
        let headers = request.headers_mut();
        headers.remove("x-forwarded-proto");
        headers.remove("x-forwarded-host");
        headers.remove("x-forwarded-prefix");
    }
    next.run(request).await
}

/// The most threads doing file work at once.
const BLOCKING_THREADS: usize = 16;

/// glibc's tunables for dirdav's allocations, see [`with_malloc_tunables`].
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_TUNABLES: &str = "glibc.malloc.mmap_threshold=1048576";

/// Runs dirdav again with [`MALLOC_TUNABLES`] when `GLIBC_TUNABLES` is not set.
///
/// glibc maps a block of 128 KiB or more on its own and unmaps it when freed, but each
/// time it unmaps one it raises that threshold to the block's size (up to 32 MiB), and
/// the point at which a thread's heap gives memory back to twice that. After the first
/// large answer (a listing of 10,000 items is a few MiB of resources and XML), blocks
/// of that size come from the threads' heaps instead, which then keep what is freed:
/// measured after the benchmark's run at 10,000 events and 10,000 cards, 46.6 MiB
/// resident with the moving threshold, 34.3 MiB with it fixed. Fixed at 1 MiB rather
/// than the default 128 KiB, pages of a listing still come from the heap: listings
/// were 7–10% slower at 128 KiB and are not slower at 1 MiB (`tests/bench/compare.sh`,
/// crates/dirdav-core/decisions/memory.md). `mallopt` would fix it from inside, but is unsafe FFI,
/// which the workspace forbids; the tunable does it from outside and is read only at
/// startup, hence one `exec` of the same binary (same process id, arguments and open
/// descriptors) before anything else runs. Setting `GLIBC_TUNABLES` yourself (even
/// empty) turns this off.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn with_malloc_tunables() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return;
    }
    let mut args = std::env::args_os();
    let Some(arg0) = args.next() else {
        return;
    };
    // `exec` returns only when it failed; dirdav then runs as it is.
    let _failed = std::process::Command::new("/proc/self/exe")
        .arg0(arg0)
        .args(args)
        .env("GLIBC_TUNABLES", MALLOC_TUNABLES)
        .exec();
}

/// The `dirdav` command with the shipped plugins and any a binary of its own adds: the
/// whole of such a binary's `main` is
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     dirdav::App::new().plugin(dirdav_hello::Hello).run()
/// }
/// ```
///
/// `dirdav serve` then registers the added plugins after the shipped ones (which run as
/// the settings say: `plugins = [...]` and the per-plugin flags); every other subcommand
/// works as in `dirdav` itself.
#[must_use]
#[derive(Default)]
pub struct App {
    plugins: Vec<Box<dyn Plugin>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field(
                "plugins",
                &self.plugins.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl App {
    /// The `dirdav` command as shipped.
    pub fn new() -> App {
        App::default()
    }

    /// Adds a plugin to the server `serve` builds.
    pub fn plugin(mut self, plugin: impl Plugin) -> App {
        self.plugins.push(Box::new(plugin));
        self
    }

    /// Runs the command line of this process; the exit code says how it went.
    pub fn run(self) -> std::process::ExitCode {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        with_malloc_tunables();
        self.run_from(std::env::args_os())
    }

    /// Runs a command line given as the arguments (the first is the program's name),
    /// in this process as it is ([`App::run`] first restarts the process with glibc's
    /// allocator tuned, see `with_malloc_tunables`).
    pub fn run_from<I, T>(self, args: I) -> std::process::ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cli = Cli::parse_from(args);
        let _log_writer = init_logging(cli.log_format);
        // File work (reads, writes, fsync) goes to the blocking pool. A few threads keep
        // the disk busy; hundreds (tokio's default cap is 512) would each keep a malloc
        // arena of their own after a burst of writes, and memory with it.
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .max_blocking_threads(BLOCKING_THREADS)
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                eprintln!("dirdav: cannot start the runtime: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let result = match cli.command {
            Command::Serve(args) => runtime.block_on(serve(*args, self.plugins)),
            Command::DnsRecords(args) => {
                print!(
                    "{}",
                    dns::records(&dns::Service {
                        domain: args.domain,
                        host: args.host,
                        port: args.port,
                        tls: args.tls,
                        base_path: args.base_path,
                    })
                );
                Ok(())
            }
            Command::Health(args) => {
                return match health(&args.url) {
                    Ok(status) if status < 400 => std::process::ExitCode::SUCCESS,
                    Ok(status) => {
                        eprintln!("dirdav health: {} answered {status}", args.url);
                        std::process::ExitCode::FAILURE
                    }
                    Err(e) => {
                        eprintln!("dirdav health: {e}");
                        std::process::ExitCode::FAILURE
                    }
                };
            }
            Command::User(command) => {
                let (action, file) = match command {
                    UserCommand::List(file) => (users::Action::List, file),
                    UserCommand::Add(u) => (users::Action::Add(u.name), u.file),
                    UserCommand::Passwd(u) => (users::Action::Passwd(u.name), u.file),
                    UserCommand::App(u) => (users::Action::App(u.name), u.file),
                    UserCommand::Remove(u) => (users::Action::Remove(u.name), u.file),
                };
                let done = file.path().and_then(|path| {
                    users::run(&path, &action, users::read_password, bcrypt::DEFAULT_COST)
                        .map_err(|e| e.to_string())
                });
                return match done {
                    Ok(out) => {
                        print!("{out}");
                        std::process::ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("dirdav user: {e}");
                        std::process::ExitCode::FAILURE
                    }
                };
            }
            Command::Check(args) => {
                return match check::run(&args.root) {
                    Ok(report) => {
                        for (file, problem) in &report.problems {
                            println!("{}:{}: {}", file.display(), problem.line, problem.message);
                        }
                        eprintln!(
                            "dirdav check: {} calendar objects and vCards read, {} problems",
                            report.checked,
                            report.problems.len()
                        );
                        match report.problems.is_empty() {
                            true => std::process::ExitCode::SUCCESS,
                            false => std::process::ExitCode::FAILURE,
                        }
                    }
                    Err(e) => {
                        eprintln!("dirdav check: {e}");
                        std::process::ExitCode::FAILURE
                    }
                };
            }
            #[cfg(feature = "doctor")]
            Command::Doctor(args) => {
                let checked = doctor_password(&args.user).and_then(|password| {
                    runtime.block_on(doctor::run(&doctor::Options {
                        url: args.url,
                        domain: args.domain,
                        dns_server: args.dns_server,
                        user: args.user,
                        password,
                        write: args.write,
                        ca_file: args.ca_file,
                    }))
                });
                return match checked {
                    Ok(true) => std::process::ExitCode::SUCCESS,
                    Ok(false) => {
                        eprintln!("dirdav doctor: a client would fail; see FAIL above");
                        std::process::ExitCode::FAILURE
                    }
                    Err(e) => {
                        eprintln!("dirdav doctor: {e}");
                        std::process::ExitCode::FAILURE
                    }
                };
            }
        };
        match result {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("dirdav: {e}");
                std::process::ExitCode::FAILURE
            }
        }
    }
}

/// Why an address could not be listened on, with the address and what to do.
fn cannot_listen(addr: SocketAddr, option: &str, e: &std::io::Error) -> String {
    let hint = match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            " (another server, perhaps another dirdav, has that port: stop it, or choose \
             another port with {option})"
        ),
        std::io::ErrorKind::PermissionDenied => {
            format!(" (ports below 1024 need privileges: choose another with {option})")
        }
        std::io::ErrorKind::AddrNotAvailable => {
            format!(" (no interface of this machine has that address: see {option})")
        }
        _ => String::new(),
    };
    format!("cannot listen on {addr}: {e}{hint}")
}

async fn serve(
    args: ServeArgs,
    added: Vec<Box<dyn Plugin>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let file = match &args.config {
        Some(path) => Settings::load(path)?,
        None => Settings::default(),
    };
    // The one resolve step: flags over the file; the defaults are filled in below.
    let s = args.settings.over(file);
    let given = s.root.clone();
    let root = given
        .clone()
        .unwrap_or_else(|| PathBuf::from("example-data"));
    if !root.is_dir() {
        return Err(match given {
            Some(_) => format!("cannot serve {}: no such folder", root.display()),
            None => format!(
                "cannot serve the demo: no example-data/ folder in {}; run from the \
                 repository's root, or give the folder to serve with --root DIR",
                std::env::current_dir().map_or_else(|_| ".".into(), |d| d.display().to_string())
            ),
        }
        .into());
    }
    let listen = s
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8008)));
    let htpasswd = s
        .htpasswd
        .clone()
        .or_else(|| Some(root.join(".htpasswd")).filter(|p| p.is_file()));
    let mut config = Config::new(&root).base_path(s.base_path.as_deref().unwrap_or(""));
    if let Some(size) = &s.max_body {
        config = config.max_body(parse_size(size)?);
    }
    if let Some(size) = &s.max_property_size {
        config = config.max_property(usize::try_from(parse_size(size)?)?);
    }
    if let Some(size) = &s.max_settings_size {
        config = config.max_settings(usize::try_from(parse_size(size)?)?);
    }
    let idle = Duration::from_secs(s.idle_timeout.unwrap_or(30).max(1));
    config = config.body_timeout(idle);
    if let Some(n) = s.propfind_infinity_limit {
        config = config.max_propfind_infinity(n);
    }
    let state_dir = s.state_dir.clone().or_else(|| default_state_dir(&root));
    match &state_dir {
        Some(dir) => {
            tracing::info!(state_dir = %dir.display(), "index, sync log and locks");
            config = config.state_dir(dir.clone());
        }
        None => {
            tracing::warn!("no state directory: sync tokens and locks do not survive a restart")
        }
    }
    if let Some(watch) = s.watch {
        config = config.watch(match watch {
            WatchArg::Auto => Watch::Auto,
            WatchArg::OnRequest => Watch::OnRequest,
            WatchArg::Off => Watch::Off,
        });
    }
    if let Some(n) = s.sync_log_limit {
        config = config.sync_log_limit(n);
    }
    if let Some(n) = s.index_cache {
        config = config.index_cache(n);
    }

    // The users the server knows (the htpasswd file's and `[users]`), one list the
    // plugins share: the file is read again when it changes, and they follow.
    let known = dirdav_plugin::KnownUsers::new(s.users.keys().cloned());
    let users = match &htpasswd {
        Some(path) => Some(Arc::new(auth::UsersFile::open(
            path,
            s.users.keys().cloned().collect(),
            known.clone(),
        )?)),
        None => None,
    };
    let proxy_user = match s.trust_proxy_user.clone() {
        Some(name) => Some(
            http::HeaderName::try_from(name.as_str())
                .map_err(|_| format!("--trust-proxy-user: {name:?} is not a header name"))?,
        ),
        None => None,
    };
    let shipped = plugins::Shipped {
        settings: &s,
        known: &known,
        authenticated: users.is_some() || proxy_user.is_some(),
        state_dir: state_dir.as_deref(),
        root: &root,
    };
    let mut builder = shipped.register(Server::builder(config))?;
    for plugin in added {
        builder = builder.plugin(plugin);
    }
    let server = builder.build().await?;
    let mut app = server.router();
    let proxies_named = s.trusted_proxies.is_some();
    let trusted = Arc::new(s.trusted_proxies.unwrap_or_else(|| {
        vec![
            std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::Ipv6Addr::LOCALHOST.into(),
        ]
    }));
    let limits = listen::Limits {
        idle,
        max_connections: s.max_connections.unwrap_or(512),
        per_address: s.max_connections_per_address.unwrap_or(64),
    };
    let per_address = listen::PerAddress::new(limits.per_address, trusted.clone(), "connections");
    if users.is_some() || proxy_user.is_some() {
        match &users {
            Some(users) => tracing::info!(
                htpasswd = %users.path().display(),
                users = users.current().len(),
                "Basic authentication"
            ),
            None => tracing::info!("no htpasswd file: passwords are not accepted"),
        }
        if let Some(header) = &proxy_user {
            tracing::info!(%header, proxies = ?trusted, "users named by trusted proxies");
        }
        let auth = Auth {
            users: users.clone(),
            realm: HeaderValue::from_static("Basic realm=\"dirdav\", charset=\"UTF-8\""),
            dav_header: server.dav_header(),
            well_known: format!("{}/.well-known/", server.base_path()),
            throttle: Arc::default(),
            trusted: trusted.clone(),
            throttle_forwarded: proxies_named,
            proxy_user,
            known: known.clone(),
            strangers: Arc::default(),
            allow_plain: s.allow_plain_auth.unwrap_or(false),
        };
        app = app.layer(middleware::from_fn_with_state(auth, auth::require_user));
    } else {
        tracing::warn!("no htpasswd file: every request is anonymous and may write");
    }
    app = app.layer(middleware::from_fn_with_state(
        trusted.clone(),
        forwarded_headers,
    ));
    if s.metrics.unwrap_or(true) {
        let metrics = Metrics::install(&server, trusted.clone());
        app = app.layer(middleware::from_fn_with_state(metrics, metrics_endpoint));
    }
    app = app.layer(middleware::from_fn(access_log));

    app = app.layer(middleware::map_response(secure_headers));

    let mut certificate_kept = None;
    let tls = match (s.tls_cert, s.tls_key) {
        (Some(cert), Some(key)) => {
            let certificate = tls::Certificate::load(&cert, &key)?;
            certificate_kept = Some(certificate.clone());
            let addr = s
                .tls_listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8443)));
            let tcp = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| cannot_listen(addr, "--tls-listen", &e))?;
            let handshakes =
                listen::PerAddress::new(limits.per_address, trusted.clone(), "TLS handshakes");
            let listener = tls::TlsListener::new(tcp, certificate.acceptor()?, limits, handshakes)?;
            tracing::info!(
                url = %format!("https://{}{}/", axum::serve::Listener::local_addr(&listener)?, server.base_path()),
                cert = %cert.display(),
                "serving"
            );
            Some(listener)
        }
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| cannot_listen(listen, "--listen", &e))?;
    tracing::info!(
        url = %format!("http://{}{}/", listener.local_addr()?, server.base_path()),
        root = %server.root().display(),
        "serving"
    );
    reload_on_change_and_hangup(users, certificate_kept);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let https_app = app.clone();
    let https = async {
        let Some(listener) = tls else {
            return;
        };
        let app = https_app
            .layer(axum::Extension(dirdav_plugin::Tls))
            .layer(middleware::map_response(strict_transport));
        listen::serve(listener, app, limits, per_address.clone(), stopped.clone()).await;
    };
    // Answers are written as they are made: no waiting for Nagle's algorithm.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let http = listen::serve(listener, app, limits, per_address.clone(), stopped.clone());
    tokio::join!(http, https);
    tracing::info!("stopped");
    Ok(())
}

/// Writes one field of a log line with its control characters escaped (`\r` as
/// `\\r`), so that a value a client chose (an attendee's address, a path, a user
/// agent) cannot start a line of its own or colour the terminal: no forged log lines.
fn log_field(
    writer: &mut tracing_subscriber::fmt::format::Writer<'_>,
    field: &tracing::field::Field,
    value: &dyn std::fmt::Debug,
) -> std::fmt::Result {
    let text = format!("{value:?}");
    let clean = escape_controls(&text);
    match field.name() {
        "message" => write!(writer, "{clean}"),
        name => write!(writer, "{name}={clean}"),
    }
}

/// `text` with every control character written as its Rust escape.
fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect::<String>()
        .into()
}

/// Headers every answer carries: no MIME sniffing, no framing, no referrer, and for the
/// files of a tree opened in a browser, no scripts (an uploaded HTML file must not act
/// with the visitor's credentials on this origin). The web page's own pages set a
/// policy of their own (forms allowed, still no scripts), which is kept.
async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let page = headers.contains_key("content-security-policy");
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; sandbox",
        ),
    ] {
        if !(page && headers.contains_key(name)) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

/// Over HTTPS, tells browsers to keep to it (a year, as is usual).
async fn strict_transport(mut response: Response) -> Response {
    response.headers_mut().insert(
        "strict-transport-security",
        HeaderValue::from_static("max-age=31536000"),
    );
    response
}

/// `--watch` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum WatchArg {
    Auto,
    OnRequest,
    Off,
}

/// The platform's state directory, one folder per served root (its name and a hash of
/// its absolute path), so that two trees never share state.
fn default_state_dir(root: &std::path::Path) -> Option<PathBuf> {
    let base = dirs::state_dir().or_else(dirs::data_local_dir)?;
    let canonical = std::fs::canonicalize(root).ok()?;
    let name: String = canonical
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .chars()
                .filter(|c| c.is_alphanumeric() || "-_".contains(*c))
                .collect()
        })
        .unwrap_or_default();
    let hash = blake3::hash(canonical.to_string_lossy().as_bytes()).to_hex();
    Some(base.join("dirdav").join(format!("{name}-{}", &hash[..12])))
}

/// One log line per request, inside a span carrying the request id, so that anything
/// logged while answering it can be matched to it.
async fn access_log(request: Request, next: Next) -> Response {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let span = tracing::info_span!("request", id);
    let response = next.run(request).instrument(span.clone()).await;
    if let Some(requests) = REQUESTS.get() {
        requests.record(&method, response.status(), started.elapsed());
    }
    let user = response
        .extensions()
        .get::<Principal>()
        .map(|p| p.name.clone());
    // A refusal says why: the precondition or privilege, and the server's reason.
    let why = response.extensions().get::<dirdav_plugin::Refusal>();
    span.in_scope(|| match why {
        Some(why) => tracing::info!(
            %method,
            %path,
            status = response.status().as_u16(),
            ms = format_args!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
            user = %user.as_deref().unwrap_or("-"),
            why = %why,
        ),
        None => tracing::info!(
            %method,
            %path,
            status = response.status().as_u16(),
            ms = format_args!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
            user = %user.as_deref().unwrap_or("-"),
        ),
    });
    response
}

/// Set when metrics are on: what `access_log` counts every request into.
static REQUESTS: std::sync::OnceLock<metrics::Requests> = std::sync::OnceLock::new();

/// `GET /metrics`: the counters and the server whose gauges are read when asked.
#[derive(Clone)]
struct Metrics {
    server: dirdav_core::Server,
    trusted: Arc<Vec<std::net::IpAddr>>,
    path: String,
}

impl Metrics {
    fn install(server: &dirdav_core::Server, trusted: Arc<Vec<std::net::IpAddr>>) -> Metrics {
        let _ = REQUESTS.set(metrics::Requests::default());
        Metrics {
            server: server.clone(),
            trusted,
            path: format!("{}/metrics", server.base_path()),
        }
    }

    /// The text Prometheus reads, with the server's gauges as they are now.
    fn render(&self) -> String {
        REQUESTS
            .get()
            .map(|r| r.render(&self.server.stats()))
            .unwrap_or_default()
    }
}

/// Answers `GET <base>/metrics` to loopback and trusted proxies; everyone else's request
/// goes on as any other (a 404, or a file of that name in the tree).
async fn metrics_endpoint(
    axum::extract::State(metrics): axum::extract::State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical());
    let allowed = peer.is_some_and(|ip| ip.is_loopback() || metrics.trusted.contains(&ip));
    if request.method() != http::Method::GET || request.uri().path() != metrics.path || !allowed {
        return next.run(request).await;
    }
    let mut response = Response::new(axum::body::Body::from(metrics.render()));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Logs to standard error at `RUST_LOG`'s levels (info by default): as text with every
/// field's control characters escaped ([`log_field`]), or as JSON objects, one a line.
///
/// Lines are written by a thread of their own: a request formats its line and hands it
/// over, and never waits for the write to standard error (a pipe to journald or a
/// container runtime can be slow). None is dropped: when 4,096 lines wait, the next
/// waits too (the queue is allocated whole: the crate's default of 128,000 lines cost
/// 4 MiB of memory). The guard returned writes out what is left when it is dropped, at
/// exit.
fn init_logging(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(4_096)
        .thread_name("dirdav-log")
        .finish(std::io::stderr());
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    match format {
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter())
            .with_target(false)
            .with_writer(writer)
            .init(),
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_target(false)
            .fmt_fields(tracing_subscriber::field::MakeExt::delimited(
                tracing_subscriber::fmt::format::debug_fn(log_field),
                " ",
            ))
            .with_writer(writer)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    guard
}

/// How often the htpasswd file is looked at for changes (its metadata only).
const USERS_CHECK: Duration = Duration::from_secs(2);

/// Reads the htpasswd file again when it changes, and on SIGHUP the file and the TLS
/// certificate, logging what was reloaded. SIGHUP never stops the server (its default
/// action would, where nothing listens for it). `dirdav.toml` is read at start only.
fn reload_on_change_and_hangup(
    users: Option<Arc<auth::UsersFile>>,
    certificate: Option<Arc<tls::Certificate>>,
) {
    if let Some(users) = users.clone() {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(USERS_CHECK);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let users = users.clone();
                let _ = tokio::task::spawn_blocking(move || users.reload(false)).await;
            }
        });
    }
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: nothing is reloaded by it");
            return;
        };
        while hangups.recv().await.is_some() {
            tracing::info!(
                "SIGHUP: reloading users and the certificate (dirdav.toml is read at start only)"
            );
            if let Some(users) = users.clone() {
                let _ = tokio::task::spawn_blocking(move || users.reload(true)).await;
            }
            if let Some(certificate) = &certificate {
                certificate.reload_logged();
            }
        }
    });
}

/// Resolves on SIGINT or SIGTERM; the server then stops accepting and lets running
/// requests, writes included, finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing running requests");
}
