use axum_core::body::Body;
use dirdav_xml::{Element, Name, XmlWriter, ns};
use http::{Response, StatusCode, header};

use crate::DavError;

const MULTISTATUS: Name = Name::new(ns::DAV, "multistatus");
const RESPONSE: Name = Name::new(ns::DAV, "response");
const HREF: Name = Name::new(ns::DAV, "href");
const PROPSTAT: Name = Name::new(ns::DAV, "propstat");
const PROP: Name = Name::new(ns::DAV, "prop");
const STATUS: Name = Name::new(ns::DAV, "status");
const RESPONSEDESCRIPTION: Name = Name::new(ns::DAV, "responsedescription");
const SYNC_TOKEN: Name = Name::new(ns::DAV, "sync-token");

/// Properties that share one status inside a `DAV:response` (RFC 4918 §14.22).
#[derive(Clone, Debug)]
pub struct PropStat {
    /// The status of every property in `props`.
    pub status: StatusCode,
    /// The property elements (empty elements for 404s and for `propname`).
    pub props: Vec<Element>,
    /// A precondition that failed, rendered as `DAV:error`.
    pub error: Option<Element>,
}

impl PropStat {
    /// Adds a found property to the 200 group of a response's propstats, creating the
    /// group when none was found yet (report data such as `calendar-data`).
    pub fn add_found(propstats: &mut Vec<PropStat>, prop: Element) {
        match propstats.iter_mut().find(|p| p.status == StatusCode::OK) {
            Some(ok) => ok.props.push(prop),
            None => propstats.insert(
                0,
                PropStat {
                    status: StatusCode::OK,
                    props: vec![prop],
                    error: None,
                },
            ),
        }
    }
}

/// The status line RFC 4918 §14.28 puts in `DAV:status`.
pub fn status_line(status: StatusCode) -> String {
    format!(
        "HTTP/1.1 {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
}

/// Writes a `207 Multi-Status` body, one response at a time, with the namespace
/// prefixes declared once on the root.
#[derive(Debug)]
pub struct Multistatus {
    w: XmlWriter,
}

impl Multistatus {
    /// Starts the document.
    pub fn new(prefixes: &[(&str, &str)]) -> Self {
        let mut w = XmlWriter::new(prefixes);
        w.start(&MULTISTATUS);
        Multistatus { w }
    }

    /// A response listing properties by status.
    pub fn propstats(&mut self, href: &str, propstats: &[PropStat]) {
        self.w.start(&RESPONSE);
        self.w.text_element(&HREF, href);
        for ps in propstats.iter().filter(|ps| !ps.props.is_empty()) {
            self.w.start(&PROPSTAT);
            self.w.start(&PROP);
            for p in &ps.props {
                self.w.element(p);
            }
            self.w.end();
            self.w.text_element(&STATUS, &status_line(ps.status));
            if let Some(e) = &ps.error {
                self.w.start(&crate::error::ERROR);
                self.w.element(e);
                self.w.end();
            }
            self.w.end();
        }
        self.w.end();
    }

    /// A response carrying only a status (a deleted member, a failed member of a
    /// DELETE), with the error's precondition when it names one.
    pub fn status(&mut self, href: &str, status: StatusCode, error: Option<&DavError>) {
        self.w.start(&RESPONSE);
        self.w.text_element(&HREF, href);
        self.w.text_element(&STATUS, &status_line(status));
        if let Some(condition) = error.and_then(DavError::condition_ref) {
            self.w.start(&crate::error::ERROR);
            self.w.element(condition);
            self.w.end();
        }
        if let Some(e) = error {
            self.w.text_element(&RESPONSEDESCRIPTION, e.message());
        }
        self.w.end();
    }

    /// The `DAV:sync-token` element of a sync-collection answer (RFC 6578 §6.2).
    pub fn sync_token(&mut self, token: &str) {
        self.w.text_element(&SYNC_TOKEN, token);
    }

    /// Finishes the document as a `207` response.
    pub fn into_response(self) -> Response<Body> {
        let mut response = Response::new(Body::from(self.w.finish()));
        *response.status_mut() = StatusCode::MULTI_STATUS;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/xml; charset=utf-8"),
        );
        response
    }
}
