//! A folder as the user sees it over WebDAV: a `PROPFIND` made through the server as
//! them, read back into entries. The page shows what any client is shown.

use dirdav_plugin::http::{Request, StatusCode, header};
use dirdav_plugin::xml::{self, Element, Name, ns};
use dirdav_plugin::{Body, DavError, Store};
use http_body_util::BodyExt;

/// What one member (or the folder itself) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Folder,
    Calendar,
    AddressBook,
    /// A scheduling inbox or outbox (RFC 6638): the server's, not to delete or fill.
    Inbox,
    Outbox,
    File,
}

/// One resource of a listing.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// As the server wrote it (percent-encoded, with the base path).
    pub(crate) href: String,
    /// The last segment of the href, decoded.
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) displayname: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) size: Option<u64>,
    pub(crate) modified: Option<String>,
    pub(crate) content_type: Option<String>,
    /// The user's privileges here (`DAV:current-user-privilege-set`), when the server
    /// reports them.
    pub(crate) privileges: Option<Vec<String>>,
    /// The principal the resource is the home of, when it is one (`DAV:principal-URL`).
    pub(crate) principal_url: Option<String>,
}

impl Entry {
    pub(crate) fn is_collection(&self) -> bool {
        self.kind != Kind::File
    }

    /// Whether the user holds a privilege here; without a privilege set (no access
    /// control), the server decides when asked.
    pub(crate) fn can(&self, privilege: &str) -> bool {
        let Some(held) = &self.privileges else {
            return true;
        };
        let implied: &[&str] = match privilege {
            "bind" | "unbind" | "write-content" | "write-properties" => &["write", "all"],
            "write" | "read" => &["all"],
            _ => &[],
        };
        held.iter()
            .any(|p| p == privilege || implied.contains(&p.as_str()))
    }
}

/// A folder and its members, folders first, then by name.
#[derive(Debug)]
pub(crate) struct Listing {
    pub(crate) this: Entry,
    pub(crate) members: Vec<Entry>,
}

/// What a page shows of the folder itself.
const THIS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:r="urn:ietf:params:xml:ns:carddav">
<d:prop><d:displayname/><d:resourcetype/><d:current-user-privilege-set/><c:calendar-description/><r:addressbook-description/></d:prop>
</d:propfind>"#;

/// What a page shows of each member: no privileges (deleting a member is the folder's
/// `unbind`), so that a large folder's answer stays small.
const MEMBERS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:displayname/><d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getcontenttype/></d:prop></d:propfind>"#;

/// At the root, also whose home each member is.
const ROOT_MEMBERS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:displayname/><d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getcontenttype/><d:principal-URL/></d:prop></d:propfind>"#;

/// Lists the collection at `href` as the store's principal sees it: the folder by
/// `PROPFIND Depth: 0`, its members by `Depth: 1`. A refusal (403, 404 …) comes back
/// as the server's error.
pub(crate) async fn list(store: &dyn Store, href: &str, root: bool) -> Result<Listing, DavError> {
    let this = propfind(store, href, "0", THIS)
        .await?
        .into_iter()
        .next()
        .ok_or_else(DavError::not_found)?;
    let body = if root { ROOT_MEMBERS } else { MEMBERS };
    let mut members: Vec<Entry> = propfind(store, href, "1", body)
        .await?
        .into_iter()
        .filter(|e| !same_href(&e.href, &this.href))
        .collect();
    members.sort_by_cached_key(|m| (!m.is_collection(), m.name.to_lowercase()));
    Ok(Listing { this, members })
}

/// Whether the collection at `href` shows the user any member.
pub(crate) async fn shows_anything(store: &dyn Store, href: &str) -> bool {
    let body = r#"<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>"#;
    match propfind(store, href, "1", body).await {
        Ok(entries) => entries.iter().any(|e| !same_href(&e.href, href)),
        Err(_) => false,
    }
}

async fn propfind(
    store: &dyn Store,
    href: &str,
    depth: &str,
    body: &'static str,
) -> Result<Vec<Entry>, DavError> {
    let request = Request::builder()
        .method("PROPFIND")
        .uri(href)
        .header("depth", depth)
        .header(header::CONTENT_TYPE, "application/xml; charset=utf-8")
        .body(Body::from(body))
        .map_err(|_| DavError::bad_request("not a path"))?;
    let response = store.request(request).await;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| DavError::internal("reading a listing failed").source(e))?
        .to_bytes();
    if status != StatusCode::MULTI_STATUS {
        let text = String::from_utf8_lossy(&bytes).trim().to_owned();
        return Err(DavError::new(status, text));
    }
    // A large folder's answer takes a while to read: off the async threads.
    dirdav_plugin::compute(move || {
        let limits = xml::Limits {
            max_depth: 64,
            max_elements: usize::MAX,
        };
        let document = xml::parse(&bytes, &limits)
            .map_err(|e| DavError::internal("a listing did not parse").source(e))?;
        Ok(responses(&document))
    })
    .await
}

fn responses(multistatus: &Element) -> Vec<Entry> {
    multistatus
        .elements()
        .filter(|e| e.name == Name::new(ns::DAV, "response"))
        .filter_map(entry)
        .collect()
}

fn entry(response: &Element) -> Option<Entry> {
    let href = response.child(&Name::new(ns::DAV, "href"))?.text();
    let mut props: Vec<&Element> = Vec::new();
    for propstat in response
        .elements()
        .filter(|e| e.name == Name::new(ns::DAV, "propstat"))
    {
        let ok = propstat
            .child(&Name::new(ns::DAV, "status"))
            .is_some_and(|s| s.text().contains(" 200 "));
        if let (true, Some(prop)) = (ok, propstat.child(&Name::new(ns::DAV, "prop"))) {
            props.extend(prop.elements());
        }
    }
    let prop = |ns: &str, local: &str| {
        props
            .iter()
            .find(|p| p.name.ns() == ns && p.name.local() == local)
    };
    let text = |ns: &str, local: &str| {
        prop(ns, local)
            .map(|p| p.text())
            .filter(|t| !t.trim().is_empty())
    };
    let types: Vec<&str> = prop(ns::DAV, "resourcetype")
        .map(|t| t.elements().map(|e| e.name.local()).collect())
        .unwrap_or_default();
    let kind = if types.contains(&"calendar") {
        Kind::Calendar
    } else if types.contains(&"addressbook") {
        Kind::AddressBook
    } else if types.contains(&"schedule-inbox") {
        Kind::Inbox
    } else if types.contains(&"schedule-outbox") {
        Kind::Outbox
    } else if types.contains(&"collection") {
        Kind::Folder
    } else {
        Kind::File
    };
    let privileges = prop(ns::DAV, "current-user-privilege-set").map(|set| {
        set.elements()
            .flat_map(|p| p.elements())
            .map(|p| p.name.local().to_owned())
            .collect()
    });
    let principal_url = prop(ns::DAV, "principal-URL")
        .and_then(|p| p.child(&Name::new(ns::DAV, "href")))
        .map(Element::text);
    Some(Entry {
        name: last_segment(&href),
        href,
        kind,
        displayname: text(ns::DAV, "displayname"),
        description: text(ns::CALDAV, "calendar-description")
            .or_else(|| text(ns::CARDDAV, "addressbook-description")),
        size: text(ns::DAV, "getcontentlength").and_then(|s| s.trim().parse().ok()),
        modified: text(ns::DAV, "getlastmodified"),
        content_type: text(ns::DAV, "getcontenttype"),
        privileges,
        principal_url,
    })
}

/// The decoded last segment of an href (`"Meeting notes"` for
/// `/shared/Meeting%20notes/`).
pub(crate) fn last_segment(href: &str) -> String {
    let path = path_of(href);
    let segment = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// The path of an href that may be an absolute URL.
pub(crate) fn path_of(href: &str) -> &str {
    match href.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
        None => href,
    }
}

fn same_href(a: &str, b: &str) -> bool {
    let decode = |h: &str| {
        percent_encoding::percent_decode_str(path_of(h).trim_end_matches('/'))
            .decode_utf8_lossy()
            .into_owned()
    };
    decode(a) == decode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multistatus_becomes_entries() {
        let answer = br#"<d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
<d:response><d:href>/alice/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype>
<d:current-user-privilege-set><d:privilege><d:all/></d:privilege></d:current-user-privilege-set>
<d:principal-URL><d:href>/alice/</d:href></d:principal-URL></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
<d:response><d:href>/alice/My%20cal/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype>
<d:displayname>Work</d:displayname></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
<d:propstat><d:prop><d:getcontentlength/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>
<d:response><d:href>/alice/a.txt</d:href><d:propstat><d:prop><d:resourcetype/><d:getcontentlength>12</d:getcontentlength>
<d:current-user-privilege-set><d:privilege><d:read/></d:privilege></d:current-user-privilege-set></d:prop>
<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"#;
        let document = xml::parse(answer, &xml::Limits::default()).unwrap();
        let entries = responses(&document);
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].principal_url.as_deref(), Some("/alice/"));
        assert!(entries[0].can("bind"));
        assert_eq!(entries[1].name, "My cal");
        assert_eq!(entries[1].kind, Kind::Calendar);
        assert_eq!(entries[1].displayname.as_deref(), Some("Work"));
        assert_eq!(entries[1].size, None);
        assert!(
            entries[1].can("unbind"),
            "no privilege set: the server decides"
        );
        assert_eq!(entries[2].kind, Kind::File);
        assert_eq!(entries[2].size, Some(12));
        assert!(!entries[2].can("write-content"));
        assert!(same_href("http://h/alice/My%20cal", "/alice/My cal/"));
        assert_eq!(last_segment("https://h:1/x/%C3%A9t%C3%A9.txt"), "été.txt");
    }
}
