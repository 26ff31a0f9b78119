//! `dirdav dns-records`: the SRV and TXT records of RFC 6764 §3 that let clients find
//! the server from a domain name alone, as lines to paste into a zone file.

/// What the records describe.
#[derive(Debug, Clone)]
pub(crate) struct Service {
    /// The domain users have addresses in (`example.com`).
    pub(crate) domain: String,
    /// The host serving dirdav (`dav.example.com`); the domain itself by default.
    pub(crate) host: Option<String>,
    /// The port; 443 with TLS, 8008 without, by default.
    pub(crate) port: Option<u16>,
    /// Whether clients reach the server over TLS (`_caldavs`, `_carddavs`).
    pub(crate) tls: bool,
    /// The context path, when the server is not at the root (`/dav`).
    pub(crate) base_path: Option<String>,
}

fn absolute(name: &str) -> String {
    let name = name.trim().trim_end_matches('.');
    format!("{name}.")
}

/// The zone file lines.
pub(crate) fn records(s: &Service) -> String {
    let domain = absolute(&s.domain);
    let host = absolute(s.host.as_deref().unwrap_or(&s.domain));
    let port = s.port.unwrap_or(if s.tls { 443 } else { 8008 });
    let suffix = if s.tls { "s" } else { "" };
    let path = s
        .base_path
        .as_deref()
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
        .map(|p| format!("/{p}/"));
    let mut out = format!(
        "; CalDAV and CardDAV service records for {domain} (RFC 6764), served by dirdav at {}://{}:{port}{}\n",
        if s.tls { "https" } else { "http" },
        host.trim_end_matches('.'),
        path.as_deref().unwrap_or("/")
    );
    for service in ["caldav", "carddav"] {
        out.push_str(&format!(
            "_{service}{suffix}._tcp.{domain} 3600 IN SRV 0 1 {port} {host}\n"
        ));
        if let Some(path) = &path {
            out.push_str(&format!(
                "_{service}{suffix}._tcp.{domain} 3600 IN TXT \"path={path}\"\n"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(tls: bool) -> Service {
        Service {
            domain: "example.com".into(),
            host: None,
            port: None,
            tls,
            base_path: None,
        }
    }

    #[test]
    fn plain_records_point_at_the_default_port() {
        assert_eq!(
            records(&service(false)),
            "; CalDAV and CardDAV service records for example.com. (RFC 6764), served by dirdav at http://example.com:8008/\n\
_caldav._tcp.example.com. 3600 IN SRV 0 1 8008 example.com.\n\
_carddav._tcp.example.com. 3600 IN SRV 0 1 8008 example.com.\n"
        );
    }

    #[test]
    fn tls_host_port_and_path() {
        let s = Service {
            host: Some("dav.example.com.".into()),
            port: Some(8443),
            base_path: Some("/dav".into()),
            ..service(true)
        };
        assert_eq!(
            records(&s),
            "; CalDAV and CardDAV service records for example.com. (RFC 6764), served by dirdav at https://dav.example.com:8443/dav/\n\
_caldavs._tcp.example.com. 3600 IN SRV 0 1 8443 dav.example.com.\n\
_caldavs._tcp.example.com. 3600 IN TXT \"path=/dav/\"\n\
_carddavs._tcp.example.com. 3600 IN SRV 0 1 8443 dav.example.com.\n\
_carddavs._tcp.example.com. 3600 IN TXT \"path=/dav/\"\n"
        );
        assert_eq!(
            records(&service(true)).lines().nth(1),
            Some("_caldavs._tcp.example.com. 3600 IN SRV 0 1 443 example.com.")
        );
        let root = Service {
            base_path: Some("/".into()),
            ..service(false)
        };
        assert!(
            !records(&root).contains("TXT"),
            "no path record for the root"
        );
    }
}
