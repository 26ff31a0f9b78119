//! What a request says about how its client reached the server and what it wants back.

use http::request::Parts;
use http::{HeaderMap, header};

/// The scheme and host the client used (`https://dav.example.org`), from `Host`, or
/// from `X-Forwarded-Host` and `X-Forwarded-Proto` when a reverse proxy says how the
/// client reached it (the binary drops those headers from peers that are not trusted
/// proxies). On dirdav's own TLS listener ([`Tls`](crate::Tls)) the scheme is `https`.
/// `None` when no usable host was sent.
pub fn origin(parts: &Parts) -> Option<String> {
    let first = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let scheme = match first("x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        Some(_) => "http",
        None if parts.extensions.get::<crate::Tls>().is_some() => "https",
        None => "http",
    };
    let host = first("x-forwarded-host").or_else(|| first(header::HOST.as_str()))?;
    let valid = !host.contains(['/', ' ', '@', '\\', '?', '#', '"', '<', '>']);
    valid.then(|| format!("{scheme}://{host}"))
}

/// Whether a GET prefers an HTML page to whatever else the resource could answer
/// with: `Accept` names `text/html` explicitly (browsers do; DAV and calendar clients
/// do not) and names no other media type with a higher quality (`text/calendar`
/// first, as a calendar client might send, is not a browser). Wildcards do not count.
pub fn prefers_html(headers: &HeaderMap) -> bool {
    let mut html = None::<f32>;
    let mut others = 0.0f32;
    let ranges = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for range in ranges {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if media.eq_ignore_ascii_case("text/html") {
            html = Some(html.map_or(q, |h| h.max(q)));
        } else if !media.ends_with("/*") && !media.is_empty() {
            others = others.max(q);
        }
    }
    html.is_some_and(|h| h > 0.0 && h >= others)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, value.parse().unwrap());
        headers
    }

    #[test]
    fn browsers_prefer_html_and_calendar_clients_do_not() {
        let chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,\
                        image/avif,image/webp,*/*;q=0.8";
        assert!(prefers_html(&accept(chromium)));
        let firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(prefers_html(&accept(firefox)));
        assert!(!prefers_html(&accept("*/*")));
        assert!(!prefers_html(&HeaderMap::new()));
        assert!(!prefers_html(&accept("text/calendar, text/html;q=0.5")));
        assert!(!prefers_html(&accept("text/html;q=0")));
        assert!(prefers_html(&accept("TEXT/HTML; q=0.3, */*;q=0.9")));
    }

    #[test]
    fn the_origin_follows_a_trusted_proxy_and_refuses_odd_hosts() {
        let parts = |headers: &[(&str, &str)], tls: bool| {
            let mut request = http::Request::builder();
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let (mut parts, ()) = request.body(()).unwrap().into_parts();
            if tls {
                parts.extensions.insert(crate::Tls);
            }
            parts
        };
        let host = [("host", "nas.local:8008")];
        assert_eq!(
            origin(&parts(&host, false)).as_deref(),
            Some("http://nas.local:8008")
        );
        assert_eq!(
            origin(&parts(&host, true)).as_deref(),
            Some("https://nas.local:8008")
        );
        let proxied = [
            ("host", "127.0.0.1:8008"),
            ("x-forwarded-host", "dav.example.org"),
            ("x-forwarded-proto", "https"),
        ];
        assert_eq!(
            origin(&parts(&proxied, false)).as_deref(),
            Some("https://dav.example.org")
        );
        assert_eq!(origin(&parts(&[("host", "a/b")], false)), None);
        assert_eq!(origin(&parts(&[], false)), None);
    }
}
