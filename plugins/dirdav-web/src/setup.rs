//! The setup page (`/.web/setup`): what to enter on iOS/macOS, DAVx⁵ and Thunderbird,
//! the user's calendars and address books with their URLs, an Apple configuration
//! profile, and a QR code that opens the page on a phone.

use dirdav_plugin::http::{Response, StatusCode, header};
use dirdav_plugin::{Body, DavError, DavRequest, HandlerResult};

use crate::html::{Page, SEGMENT, escape};
use crate::listing::{self, Kind};
use crate::{Web, html_response, route_href, user_of};

/// Where the server is, as a client must be told.
struct Address {
    /// `https://nas.local:8443`.
    origin: String,
    scheme: &'static str,
    host: String,
    port: u16,
    /// The base href (`/` or `/dav/`).
    root: String,
}

impl Address {
    fn of(request: &DavRequest) -> Address {
        let origin =
            dirdav_plugin::origin(&request.parts).unwrap_or_else(|| "http://localhost".to_owned());
        let (scheme, authority) = origin.split_once("://").unwrap_or(("http", "localhost"));
        let scheme = if scheme == "https" { "https" } else { "http" };
        let default_port = if scheme == "https" { 443 } else { 80 };
        // `[::1]:8008`, `nas.local:8008`, `nas.local`.
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                (host.to_owned(), port.parse().unwrap_or(default_port))
            }
            _ => (authority.to_owned(), default_port),
        };
        Address {
            origin: format!("{scheme}://{authority}"),
            scheme,
            host,
            port,
            root: request.store.href_of("", true),
        }
    }

    /// The URL a client starts from: the server's root.
    fn server_url(&self) -> String {
        format!("{}{}", self.origin, self.root)
    }

    /// The host and port as Apple's account forms want them.
    fn host_and_port(&self) -> String {
        let default = if self.scheme == "https" { 443 } else { 80 };
        match self.port == default {
            true => self.host.clone(),
            false => format!("{}:{}", self.host, self.port),
        }
    }
}

/// GET `/.web/setup`.
pub(crate) async fn page(web: &Web, request: &DavRequest) -> HandlerResult {
    let user = user_of(request);
    let route = route_href(request);
    let address = Address::of(request);
    let token = web.token(&user).to_hex().to_string();
    let page = Page {
        user: &user,
        route: &route,
        root: &address.root,
        origin: &address.origin,
        token: &token,
    };
    let server = address.server_url();
    let setup_url = format!("{}{}/setup", address.origin, route);
    let shown_user = match user.as_str() {
        "" => "(none: this server does not ask)".to_owned(),
        u => u.to_owned(),
    };
    let mut body = String::from("<h1>Set up a device</h1>\n");
    body.push_str(&format!(
        "<dl id=\"account\"><dt>Server address</dt><dd><input readonly class=\"copy\" id=\"server-url\" value=\"{server}\"></dd>\
         <dt>User name</dt><dd id=\"user-name\">{user}</dd><dt>Password</dt><dd>your password for this server</dd></dl>\n",
        server = escape(&server),
        user = escape(&shown_user),
    ));
    if address.scheme != "https" {
        body.push_str(
            "<p class=\"note\" id=\"https-note\">This page was opened over plain HTTP. iPhones, iPads and Macs \
             send passwords only over HTTPS: serve dirdav with <code>--tls-cert</code>, or put a TLS proxy in front.</p>\n",
        );
    }
    body.push_str(&format!(
        "<h2>iPhone, iPad and Mac</h2>\n<p><a id=\"profile\" href=\"{route}/setup/dirdav.mobileconfig\" download>Download the \
         configuration profile</a>, then open it (on iOS: Settings → Profile Downloaded) and enter your password. \
         It adds a calendar and a contacts account.</p>\n<p>Or by hand: Settings → Calendar (or Contacts) → Accounts → \
         Add Account → Other → Add CalDAV (or CardDAV) Account, with server <code>{host}</code>, your user name and \
         password.</p>\n",
        route = escape(&route),
        host = escape(&address.host_and_port()),
    ));
    body.push_str(&format!(
        "<h2>Android (DAVx⁵)</h2>\n<p>Add an account → Login with URL and user name, with base URL \
         <code>{server}</code>. DAVx⁵ finds your calendars and address books.</p>\n\
         <h2>Thunderbird</h2>\n<p>Calendar: New Calendar → On the Network, with your user name and location \
         <code>{server}</code>, then Find Calendars. Contacts: New Address Book → Add CardDAV Address Book, \
         with the same location.</p>\n\
         <h2>On a phone</h2>\n<p>Scan this to open this page there:</p>\n<figure id=\"qr\">{qr}<figcaption>{setup}</figcaption></figure>\n",
        server = escape(&server),
        qr = qr_svg(&setup_url),
        setup = escape(&setup_url),
    ));
    if !user.is_empty() {
        let home = format!(
            "{}{}/",
            address.root,
            percent_encoding::utf8_percent_encode(&user, SEGMENT)
        );
        if let Ok(listing) = listing::list(&*request.store, &home, false).await {
            let collections: Vec<_> = listing
                .members
                .iter()
                .filter(|m| matches!(m.kind, Kind::Calendar | Kind::AddressBook))
                .collect();
            if !collections.is_empty() {
                body.push_str(
                    "<h2>Your calendars and address books</h2>\n<p>For a client that wants one URL per collection:</p>\n<ul id=\"collections\">\n",
                );
                for c in collections {
                    let url = format!("{}{}", address.origin, listing::path_of(&c.href));
                    let name = c.displayname.as_deref().unwrap_or(&c.name);
                    body.push_str(&format!(
                        "<li>{name}: <input readonly class=\"copy\" value=\"{url}\"></li>\n",
                        name = escape(name),
                        url = escape(&url),
                    ));
                }
                body.push_str("</ul>\n");
            }
        }
    }
    html_response(StatusCode::OK, page.layout("Set up a device", &body))
}

/// The QR code of a URL as inline SVG.
fn qr_svg(url: &str) -> String {
    match qrcode::QrCode::new(url.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build();
            // Inline in HTML: without the XML declaration.
            match svg.find("<svg") {
                Some(at) => svg[at..].to_owned(),
                None => svg,
            }
        }
        Err(_) => String::new(),
    }
}

/// GET `/.web/setup/dirdav.mobileconfig`: an Apple configuration profile with a CalDAV
/// and a CardDAV account for the user (no password: the device asks for it).
pub(crate) fn profile(web: &Web, request: &DavRequest) -> HandlerResult {
    let user = user_of(request);
    let address = Address::of(request);
    let principal = format!(
        "{}{}{}/",
        address.origin,
        address.root,
        percent_encoding::utf8_percent_encode(&user, SEGMENT)
    );
    let uuid = |what: &str| {
        let mut hasher = blake3::Hasher::new_keyed(&web.key);
        hasher.update(b"dirdav-web profile\0");
        hasher.update(format!("{user}\0{}\0{what}", address.origin).as_bytes());
        let h = hasher.finalize().to_hex();
        let h = h.as_str();
        // Shaped as a version 4 UUID, stable for this user and server, so that a
        // profile downloaded again replaces the installed one.
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
        .to_uppercase()
    };
    let identifier = {
        let mut parts: Vec<&str> = address.host.trim_matches(['[', ']']).split('.').collect();
        parts.reverse();
        let reversed: String = parts
            .join(".")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let user_part: String = user
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("{reversed}.dirdav.{user_part}")
    };
    let ssl = if address.scheme == "https" {
        "<true/>"
    } else {
        "<false/>"
    };
    let account = |kind: &str, label: &str| {
        let prefix = match kind {
            "caldav" => "CalDAV",
            _ => "CardDAV",
        };
        format!(
            "<dict>\n<key>{prefix}AccountDescription</key><string>{label}</string>\n\
             <key>{prefix}HostName</key><string>{host}</string>\n\
             <key>{prefix}Port</key><integer>{port}</integer>\n\
             <key>{prefix}PrincipalURL</key><string>{principal}</string>\n\
             <key>{prefix}UseSSL</key>{ssl}\n\
             <key>{prefix}Username</key><string>{user}</string>\n\
             <key>PayloadDescription</key><string>{label}</string>\n\
             <key>PayloadDisplayName</key><string>{label}</string>\n\
             <key>PayloadIdentifier</key><string>{identifier}.{kind}</string>\n\
             <key>PayloadType</key><string>com.apple.{kind}.account</string>\n\
             <key>PayloadUUID</key><string>{uuid}</string>\n\
             <key>PayloadVersion</key><integer>1</integer>\n</dict>\n",
            label = escape(&format!("{label} ({})", address.host)),
            host = escape(&address.host),
            port = address.port,
            principal = escape(&principal),
            user = escape(&user),
            identifier = escape(&identifier),
            uuid = uuid(kind),
        )
    };
    let plist = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n<dict>\n<key>PayloadContent</key>\n<array>\n{calendar}{contacts}</array>\n\
         <key>PayloadDescription</key><string>Calendars and contacts of {user} on {host}</string>\n\
         <key>PayloadDisplayName</key><string>dirdav ({host})</string>\n\
         <key>PayloadIdentifier</key><string>{identifier}</string>\n\
         <key>PayloadRemovalDisallowed</key><false/>\n\
         <key>PayloadType</key><string>Configuration</string>\n\
         <key>PayloadUUID</key><string>{uuid}</string>\n\
         <key>PayloadVersion</key><integer>1</integer>\n</dict>\n</plist>\n",
        calendar = account("caldav", "Calendars"),
        contacts = account("carddav", "Contacts"),
        user = escape(&user),
        host = escape(&address.host),
        identifier = escape(&identifier),
        uuid = uuid("profile"),
    );
    let file = match user.as_str() {
        "" => "dirdav.mobileconfig".to_owned(),
        u => format!(
            "{}-dirdav.mobileconfig",
            u.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
        ),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/x-apple-aspen-config")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        )
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(plist))
        .map_err(|e| DavError::internal("building the profile failed").source(e))
}
