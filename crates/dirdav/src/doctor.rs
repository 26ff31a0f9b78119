//! `dirdav doctor`: does what a CalDAV/CardDAV client does when an account is added, one
//! step at a time, and says what it found and, where a step fails, why and what to fix.
//!
//! The steps follow RFC 6764 §6 and what iOS and DAVx5 do: the `.well-known` redirect,
//! OPTIONS and its DAV tokens, `current-user-principal`, the home sets, the collections
//! in the homes, and with `--write` a test item created and deleted in the first
//! calendar and address book. Given no URL, it first looks the server up as clients do
//! (RFC 6764 §6): the SRV records `_caldavs._tcp`/`_caldav._tcp` (and `carddav`) of the
//! user's domain, with `hickory-resolver`, and their `path=` TXT records. `https://`
//! is checked against the machine's trusted certificates, as a phone would (plus
//! `--ca-file` for a private CA), with rustls.

use std::time::Duration;

use bytes::Bytes;
use dirdav_xml::{Element, Limits, Name, ns};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;

/// What to check.
#[derive(Debug)]
pub(crate) struct Options {
    /// The server URL a user would type into a client: `http://host:port/` or with a path.
    /// Without one, the server is looked up in DNS as clients do (RFC 6764 §6).
    pub(crate) url: Option<String>,
    /// The domain to look up; by default the domain of the user's address.
    pub(crate) domain: Option<String>,
    /// The DNS server to ask instead of the system's (`/etc/resolv.conf`).
    pub(crate) dns_server: Option<std::net::SocketAddr>,
    pub(crate) user: String,
    pub(crate) password: String,
    /// Create and delete a test item in the first calendar and address book.
    pub(crate) write: bool,
    /// A PEM file of certificates to trust besides the system's (a private CA, or a
    /// self-signed server certificate).
    pub(crate) ca_file: Option<std::path::PathBuf>,
}

/// A server reached over HTTP or HTTPS.
struct Client {
    /// `host:port`, to connect to.
    address: String,
    /// The `Host` header.
    host: String,
    authorization: String,
    /// For `https://`: how to check the server's certificate, and the name it must
    /// carry.
    tls: Option<(
        tokio_rustls::TlsConnector,
        tokio_rustls::rustls::pki_types::ServerName<'static>,
    )>,
}

/// A URL taken apart: whether it is `https`, `host[:port]` and the path.
#[derive(Debug, PartialEq, Eq)]
struct Url {
    tls: bool,
    authority: String,
    path: String,
}

/// A response, read in full.
struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Splits `http(s)://host[:port]/path` into its parts.
fn split_url(url: &str) -> Result<Url, String> {
    let (tls, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(rest), _) => (false, rest),
        (_, Some(rest)) => (true, rest),
        _ => return Err(format!("{url} is not an http:// or https:// URL")),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("{url} names no host"));
    }
    Ok(Url {
        tls,
        authority: authority.to_owned(),
        path: path.to_owned(),
    })
}

/// The host of `host[:port]` or `[v6]:port`.
fn host_of(authority: &str) -> &str {
    match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    }
}

/// The certificates a client on this machine trusts (the system's), plus those of
/// `--ca-file`.
fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<tokio_rustls::TlsConnector, String> {
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    let mut pinned = Vec::new();
    if let Some(path) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect)
            .map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "--ca-file {}: no certificate in it",
                path.display()
            ));
        }
        for cert in certs {
            roots
                .add(cert.clone())
                .map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
            pinned.push(cert);
        }
    } else if added == 0 {
        return Err("this machine has no trusted certificates to check the server's with (install ca-certificates, or give --ca-file)".into());
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| format!("TLS setup: {e}"))?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(Pinned { webpki, pinned }))
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
}

/// The certificates a phone would trust (the machine's, and `--ca-file`'s as
/// authorities), and besides the very certificates `--ca-file` holds, as themselves, for
/// the names they carry: a self-signed certificate made with `openssl req -x509` says
/// CA:TRUE, which a strict check refuses as a server's own (`CaUsedAsEndEntity`) while
/// curl and browsers given that file accept it.
#[derive(Debug)]
struct Pinned {
    webpki: std::sync::Arc<tokio_rustls::rustls::client::WebPkiServerVerifier>,
    pinned: Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>,
}

impl tokio_rustls::rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &tokio_rustls::rustls::pki_types::CertificateDer<'_>,
        intermediates: &[tokio_rustls::rustls::pki_types::CertificateDer<'_>],
        server_name: &tokio_rustls::rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: tokio_rustls::rustls::pki_types::UnixTime,
    ) -> Result<tokio_rustls::rustls::client::danger::ServerCertVerified, tokio_rustls::rustls::Error>
    {
        use tokio_rustls::rustls::client::danger::ServerCertVerified;
        let checked = self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match checked {
            Err(e)
                if self
                    .pinned
                    .iter()
                    .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                // The certificate the user gave: trusted as itself, for its names.
                let parsed = tokio_rustls::rustls::server::ParsedCertificate::try_from(end_entity)
                    .map_err(|_| e.clone())?;
                tokio_rustls::rustls::client::verify_server_name(&parsed, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &tokio_rustls::rustls::pki_types::CertificateDer<'_>,
        dss: &tokio_rustls::rustls::DigitallySignedStruct,
    ) -> Result<
        tokio_rustls::rustls::client::danger::HandshakeSignatureValid,
        tokio_rustls::rustls::Error,
    > {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &tokio_rustls::rustls::pki_types::CertificateDer<'_>,
        dss: &tokio_rustls::rustls::DigitallySignedStruct,
    ) -> Result<
        tokio_rustls::rustls::client::danger::HandshakeSignatureValid,
        tokio_rustls::rustls::Error,
    > {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<tokio_rustls::rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// An HTTP/1.1 connection over a stream, plain or TLS, driven in its own task.
async fn http1<S>(
    stream: S,
    address: &str,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {address} failed: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

impl Client {
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<Reply, String> {
        let stream = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::net::TcpStream::connect(&self.address),
        )
        .await
        .map_err(|_| format!("connecting to {} timed out", self.address))?
        .map_err(|e| format!("cannot connect to {}: {e}", self.address))?;
        let mut sender = match &self.tls {
            None => http1(stream, &self.address).await?,
            Some((connector, name)) => {
                let stream = tokio::time::timeout(
                    Duration::from_secs(10),
                    connector.connect(name.clone(), stream),
                )
                .await
                .map_err(|_| format!("the TLS handshake with {} timed out", self.address))?
                .map_err(|e| {
                    format!(
                        "the TLS handshake with {} failed: {e}; a phone would refuse this server \
                         (for a private CA or a self-signed certificate, install it on the \
                         devices and give it here with --ca-file)",
                        self.address
                    )
                })?;
                http1(stream, &self.address).await?
            }
        };
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("Host", &self.host)
            .header("Authorization", &self.authorization)
            .header("User-Agent", "dirdav-doctor");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .map_err(|e| format!("cannot build a request for {path}: {e}"))?;
        let response = tokio::time::timeout(Duration::from_secs(30), sender.send_request(request))
            .await
            .map_err(|_| format!("{method} {path} timed out"))?
            .map_err(|e| format!("{method} {path} failed: {e}"))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, 16 << 20)
            .collect()
            .await
            .map_err(|e| format!("reading the answer to {method} {path} failed: {e}"))?
            .to_bytes();
        Ok(Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }

    /// A PROPFIND asking for these properties.
    async fn propfind(&self, path: &str, depth: &str, props: &str) -> Result<Reply, String> {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:propfind xmlns:d=\"DAV:\" \
             xmlns:c=\"urn:ietf:params:xml:ns:caldav\" xmlns:card=\"urn:ietf:params:xml:ns:carddav\">\
             <d:prop>{props}</d:prop></d:propfind>"
        );
        self.send(
            "PROPFIND",
            path,
            &[
                ("Depth", depth),
                ("Content-Type", "application/xml; charset=utf-8"),
            ],
            &body,
        )
        .await
    }
}

/// One `DAV:response` of a multistatus: its href and the properties found (200).
struct Found {
    href: String,
    props: Vec<Element>,
}

impl Found {
    fn prop(&self, ns: &'static str, local: &'static str) -> Option<&Element> {
        let name = Name::new(ns, local);
        self.props.iter().find(|p| p.name == name)
    }

    /// The text of the first `DAV:href` inside a property.
    fn href_in(&self, ns: &'static str, local: &'static str) -> Option<String> {
        let href = self.prop(ns, local)?.child(&Name::new(ns::DAV, "href"))?;
        Some(href.text().trim().to_owned())
    }
}

fn multistatus(reply: &Reply) -> Result<Vec<Found>, String> {
    let root = dirdav_xml::parse(&reply.body, &Limits::default())
        .map_err(|e| format!("the multistatus body is not well-formed XML: {e}"))?;
    let dav = |local: &'static str| Name::new(ns::DAV, local);
    if root.name != dav("multistatus") {
        return Err(format!("expected DAV:multistatus, got {}", root.name));
    }
    Ok(root
        .elements()
        .filter(|e| e.name == dav("response"))
        .map(|response| {
            let href = response
                .child(&dav("href"))
                .map(|h| h.text().trim().to_owned())
                .unwrap_or_default();
            let props = response
                .elements()
                .filter(|e| e.name == dav("propstat"))
                .filter(|ps| {
                    ps.child(&dav("status"))
                        .is_some_and(|s| s.text().contains(" 200 "))
                })
                .filter_map(|ps| ps.child(&dav("prop")))
                .flat_map(|prop| prop.elements().cloned())
                .collect();
            Found { href, props }
        })
        .collect())
}

/// The path of an href or `Location`, which may be an absolute URL.
fn path_of(href: &str) -> String {
    match href.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]).to_owned(),
        None => href.to_owned(),
    }
}

/// Prints the steps and counts the failures.
#[derive(Default)]
struct Report {
    failures: usize,
}

impl Report {
    fn ok(&mut self, step: &str, detail: &str) {
        println!("ok    {step}: {detail}");
    }

    fn warn(&mut self, step: &str, detail: &str, fix: &str) {
        println!("warn  {step}: {detail}\n      fix: {fix}");
    }

    fn fail(&mut self, step: &str, detail: &str, fix: &str) {
        self.failures += 1;
        println!("FAIL  {step}: {detail}\n      fix: {fix}");
    }
}

/// What a 401 or other refusal most likely means.
fn refusal(reply: &Reply, user: &str, path: &str) -> (String, String) {
    match reply.status {
        401 => (
            format!("the server refused the password of {user} (401)"),
            "check the user name and password; the server reads bcrypt entries of its htpasswd file only".into(),
        ),
        403 => (
            format!("{user} may not read {path} (403)"),
            "check the access rules for this user".into(),
        ),
        404 => (
            format!("nothing is served at {path} (404)"),
            "check the URL's path: a server started with --base-path answers only under that prefix".into(),
        ),
        s => (
            format!("{path} answered {s}"),
            "see the server's log for this request".into(),
        ),
    }
}

/// Where the SRV and TXT records of RFC 6764 §3 say a service is.
#[derive(Debug, PartialEq, Eq)]
struct Located {
    tls: bool,
    host: String,
    port: u16,
    /// The context path of a `path=` TXT record, if there is one.
    path: Option<String>,
}

impl Located {
    fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        let path = self.path.as_deref().unwrap_or("/");
        format!("{scheme}://{}:{}{path}", self.host, self.port)
    }
}

fn resolver(
    server: Option<std::net::SocketAddr>,
) -> Result<hickory_resolver::TokioResolver, String> {
    use hickory_resolver::config::{NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    let builder = match server {
        Some(at) => {
            let mut ns = NameServerConfig::udp(at.ip());
            for c in &mut ns.connections {
                c.port = at.port();
            }
            hickory_resolver::Resolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => hickory_resolver::Resolver::builder_tokio()
            .map_err(|e| format!("cannot read the system's DNS settings: {e}"))?,
    };
    let mut builder = builder;
    builder.options_mut().timeout = Duration::from_secs(3);
    builder.options_mut().attempts = 1;
    builder
        .build()
        .map_err(|e| format!("cannot set up DNS lookups: {e}"))
}

/// The SRV record clients pick for a service (`_caldavs` before `_caldav`, RFC 6764
/// §6): the lowest priority, then the highest weight; a target of "." says the
/// service is not offered. `Ok(None)` when neither name has a record.
async fn locate(
    resolver: &hickory_resolver::TokioResolver,
    service: &str,
    domain: &str,
) -> Result<Option<Located>, String> {
    use hickory_resolver::proto::rr::RData;
    for (tls, name) in [
        (true, format!("_{service}s._tcp.{domain}.")),
        (false, format!("_{service}._tcp.{domain}.")),
    ] {
        let lookup = match resolver.srv_lookup(name.as_str()).await {
            Ok(lookup) => lookup,
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => continue,
            Err(e) => return Err(format!("{name}: {e}")),
        };
        let best = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => Some(srv),
                _ => None,
            })
            .min_by_key(|srv| (srv.priority, std::cmp::Reverse(srv.weight)));
        let Some(srv) = best else { continue };
        let host = srv.target.to_utf8().trim_end_matches('.').to_owned();
        if host.is_empty() {
            continue;
        }
        let path = match resolver.txt_lookup(name.as_str()).await {
            Ok(txt) => txt.answers().iter().find_map(|r| match &r.data {
                RData::TXT(t) => t.txt_data.iter().find_map(|d| {
                    let text = String::from_utf8_lossy(d);
                    text.strip_prefix("path=").map(str::to_owned)
                }),
                _ => None,
            }),
            Err(_) => None,
        };
        return Ok(Some(Located {
            tls,
            host,
            port: srv.port,
            path,
        }));
    }
    Ok(None)
}

/// Step 0 without a URL: the SRV and TXT records of the user's domain, as a client
/// given only an address looks them up. Returns the URL to go on with.
async fn discover(options: &Options, report: &mut Report) -> Result<String, String> {
    let domain = match &options.domain {
        Some(d) => d.trim().trim_end_matches('.').to_owned(),
        None => options
            .user
            .rsplit_once('@')
            .map(|(_, d)| d.to_owned())
            .ok_or(
                "give --url, or --domain, or a user name that is an address (alice@example.com)",
            )?,
    };
    let resolver = resolver(options.dns_server)?;
    let mut first = None;
    for service in ["caldav", "carddav"] {
        let step = format!("DNS _{service}s/_{service}._tcp.{domain}");
        match locate(&resolver, service, &domain).await {
            Ok(Some(found)) => {
                let txt = if found.path.is_some() {
                    ""
                } else {
                    " (no path= TXT record: clients try /.well-known)"
                };
                report.ok(&step, &format!("{}{txt}", found.url()));
                first.get_or_insert(found);
            }
            Ok(None) => report.warn(
                &step,
                "no SRV record",
                &format!(
                    "publish the records `dirdav dns-records --domain {domain}` prints, or users must type the server's URL"
                ),
            ),
            Err(e) => report.fail(
                &step,
                &format!("the lookup failed: {e}"),
                "check that the DNS server answers (and --dns-server, if given)",
            ),
        }
    }
    match first {
        Some(found) => Ok(found.url()),
        None => {
            let url = format!("http://{domain}/");
            report.warn(
                "DNS",
                &format!("no service records: going on with {url}, as clients do"),
                "publish SRV and TXT records (dirdav dns-records)",
            );
            Ok(url)
        }
    }
}

/// Runs every step; `Ok(true)` when a client would succeed.
pub(crate) async fn run(options: &Options) -> Result<bool, String> {
    let mut report = Report::default();
    let url = match &options.url {
        Some(url) => url.clone(),
        None => discover(options, &mut report).await?,
    };
    let Url {
        tls,
        authority,
        path: start,
    } = split_url(&url)?;
    let host = host_of(&authority).to_owned();
    let address = if authority.ends_with(']') || !authority.contains(':') {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    } else {
        authority.clone()
    };
    let tls = match tls {
        false => None,
        true => {
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| format!("{host} is not a host name: {e}"))?;
            Some((tls_connector(options.ca_file.as_deref())?, name))
        }
    };
    use base64::Engine as _;
    let credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", options.user, options.password));
    let client = Client {
        host: authority,
        address,
        authorization: format!("Basic {credentials}"),
        tls,
    };
    let over_tls = client.tls.is_some();

    // 1. The well-known URLs (RFC 6764 §5), which clients given only a host name ask first.
    let mut context = start.clone();
    for service in ["caldav", "carddav"] {
        let step = format!("/.well-known/{service}");
        let reply = client
            .propfind(&step, "0", "<d:current-user-principal/>")
            .await?;
        match reply.status {
            301 | 302 | 303 | 307 | 308 => {
                let location = path_of(reply.header("location"));
                if over_tls && reply.header("location").starts_with("http://") {
                    report.fail(
                        &step,
                        &format!("redirects to plain {}", reply.header("location")),
                        "a phone would send the password unencrypted or give up: behind a TLS proxy, \
                         have it send X-Forwarded-Proto: https (and name it with --trusted-proxy)",
                    );
                } else if reply.status == 302 {
                    report.warn(
                        &step,
                        &format!("302 to {location}"),
                        "answer 301: TbSync does not follow a 302 here",
                    );
                } else {
                    report.ok(&step, &format!("{} to {location}", reply.status));
                }
                if start == "/" {
                    context = location;
                }
            }
            207 => report.ok(&step, "answered in place (207)"),
            status => report.fail(
                &step,
                &format!(
                    "{status}: clients given only the host name will not find the server"
                ),
                &format!(
                    "make /.well-known/{service} redirect (301) to the server's path, e.g. in the reverse proxy"
                ),
            ),
        }
    }

    // 2. OPTIONS: the DAV header says which protocols the server speaks.
    let reply = client.send("OPTIONS", &context, &[], "").await?;
    if reply.status / 100 != 2 {
        let (detail, fix) = refusal(&reply, &options.user, &context);
        report.fail("OPTIONS", &detail, &fix);
        return Ok(false);
    }
    let failures = report.failures;
    let dav = reply.header("dav").to_owned();
    let tokens: Vec<&str> = dav.split(',').map(str::trim).collect();
    for (token, what) in [
        ("1", "WebDAV"),
        ("calendar-access", "CalDAV"),
        ("addressbook", "CardDAV"),
    ] {
        if !tokens.contains(&token) {
            report.fail(
                "OPTIONS",
                &format!("the DAV header ({dav}) lacks {token}: clients will not use {what}"),
                "enable the plugin for it",
            );
        }
    }
    if report.failures == failures {
        report.ok("OPTIONS", &format!("DAV: {dav}"));
    }

    // 3. Who am I? (RFC 5397)
    let reply = client
        .propfind(&context, "0", "<d:current-user-principal/>")
        .await?;
    if reply.status != 207 {
        let (detail, fix) = refusal(&reply, &options.user, &context);
        report.fail("current-user-principal", &detail, &fix);
        return Ok(false);
    }
    let principal = multistatus(&reply)?
        .iter()
        .find_map(|f| f.href_in(ns::DAV, "current-user-principal"));
    let Some(principal) = principal.map(|p| path_of(&p)) else {
        report.fail(
            "current-user-principal",
            &format!("{context} does not name the user's principal"),
            "clients cannot find the calendars without it; is the discovery plugin on?",
        );
        return Ok(false);
    };
    report.ok("current-user-principal", &principal);

    // 4. The homes.
    let reply = client
        .propfind(
            &principal,
            "0",
            "<c:calendar-home-set/><card:addressbook-home-set/><d:displayname/>",
        )
        .await?;
    if reply.status != 207 {
        let (detail, fix) = refusal(&reply, &options.user, &principal);
        report.fail("home sets", &detail, &fix);
        return Ok(false);
    }
    let found = multistatus(&reply)?;
    let mut homes = Vec::new();
    for (namespace, local, kind) in [
        (ns::CALDAV, "calendar-home-set", "calendar"),
        (ns::CARDDAV, "addressbook-home-set", "addressbook"),
    ] {
        match found.iter().find_map(|f| f.href_in(namespace, local)) {
            Some(home) => {
                report.ok(local, &home);
                homes.push((path_of(&home), kind));
            }
            None => report.fail(
                local,
                &format!("the principal {principal} does not give one"),
                "clients will find no collections of this kind",
            ),
        }
    }

    // 5. The collections in each home.
    let mut first = Vec::new();
    for (home, kind) in homes {
        let reply = client
            .propfind(&home, "1", "<d:resourcetype/><d:displayname/>")
            .await?;
        if reply.status != 207 {
            let (detail, fix) = refusal(&reply, &options.user, &home);
            report.fail(&format!("{kind}s"), &detail, &fix);
            continue;
        }
        let ns = if kind == "calendar" {
            ns::CALDAV
        } else {
            ns::CARDDAV
        };
        let collections: Vec<(String, String)> = multistatus(&reply)?
            .iter()
            .filter(|f| {
                f.prop(ns::DAV, "resourcetype").is_some_and(|t| {
                    t.elements()
                        .any(|e| e.name.ns() == ns && e.name.local() == kind)
                })
            })
            .map(|f| {
                let name = f
                    .prop(ns::DAV, "displayname")
                    .map(|d| d.text())
                    .unwrap_or_default();
                (path_of(&f.href), name)
            })
            .collect();
        if collections.is_empty() {
            report.fail(
                &format!("{kind}s"),
                &format!("none in {home}"),
                "create one (MKCALENDAR or extended MKCOL), or let the server create the home",
            );
            continue;
        }
        let listed: Vec<String> = collections
            .iter()
            .map(|(path, name)| format!("{path} ({name})"))
            .collect();
        report.ok(&format!("{kind}s"), &listed.join(", "));
        first.push((collections[0].0.clone(), kind));
    }

    // 6. A test write and delete, when asked.
    if options.write {
        for (collection, kind) in first {
            write_and_delete(&client, &mut report, &collection, kind).await?;
        }
    }
    Ok(report.failures == 0)
}

async fn write_and_delete(
    client: &Client,
    report: &mut Report,
    collection: &str,
    kind: &str,
) -> Result<(), String> {
    let uid = format!("dirdav-doctor-{}", std::process::id());
    let (extension, content_type, body) = if kind == "calendar" {
        (
            "ics",
            "text/calendar; charset=utf-8",
            format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//dirdav//doctor//EN\r\nBEGIN:VEVENT\r\n\
                 UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260101T090000Z\r\n\
                 DTEND:20260101T100000Z\r\nSUMMARY:dirdav doctor test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            ),
        )
    } else {
        (
            "vcf",
            "text/vcard; charset=utf-8",
            format!(
                "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:dirdav doctor test\r\nN:test;doctor;;;\r\nEND:VCARD\r\n"
            ),
        )
    };
    let separator = if collection.ends_with('/') { "" } else { "/" };
    let path = format!("{collection}{separator}{uid}.{extension}");
    let step = format!("write to {collection}");
    let reply = client
        .send(
            "PUT",
            &path,
            &[("Content-Type", content_type), ("If-None-Match", "*")],
            &body,
        )
        .await?;
    if reply.status != 201 {
        let detail = format!(
            "PUT {path} answered {}: {}",
            reply.status,
            String::from_utf8_lossy(&reply.body).trim()
        );
        report.fail(
            &step,
            &detail,
            "clients will make this collection read-only; check permissions on the folder",
        );
        return Ok(());
    }
    let reply = client.send("DELETE", &path, &[], "").await?;
    if reply.status / 100 == 2 {
        report.ok(&step, &format!("created and deleted {path}"));
    } else {
        report.fail(
            &step,
            &format!("DELETE {path} answered {}", reply.status),
            &format!("remove {path} by hand"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let url = |tls: bool, authority: &str, path: &str| Url {
            tls,
            authority: authority.to_owned(),
            path: path.to_owned(),
        };
        assert_eq!(
            split_url("http://127.0.0.1:8008/dav/").unwrap(),
            url(false, "127.0.0.1:8008", "/dav/")
        );
        assert_eq!(
            split_url("http://example.com").unwrap(),
            url(false, "example.com", "/")
        );
        assert_eq!(
            split_url("https://example.com/").unwrap(),
            url(true, "example.com", "/")
        );
        assert!(split_url("ftp://x/").is_err());
        assert!(split_url("https:///x").is_err());
        assert_eq!(host_of("example.com:8443"), "example.com");
        assert_eq!(host_of("example.com"), "example.com");
        assert_eq!(host_of("[::1]:443"), "::1");
    }

    #[test]
    fn hrefs_lose_their_scheme_and_host() {
        assert_eq!(path_of("http://h:1/alice/"), "/alice/");
        assert_eq!(path_of("/alice/"), "/alice/");
        assert_eq!(path_of("http://h"), "/");
    }
}
