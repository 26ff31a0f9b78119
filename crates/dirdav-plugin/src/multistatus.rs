use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum_core::body::Body;
use bytes::Bytes;
use dirdav_xml::{Element, Name, XmlWriter, ns};
use http::{Response, StatusCode, header};
use http_body::{Frame, SizeHint};

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

/// What a request asks of each resource's properties (RFC 4918 §14.20 and §9.1): named
/// properties (`DAV:prop`), `DAV:allprop` with the live ones `DAV:include` adds, or
/// their names alone (`DAV:propname`). PROPFIND and the multiget reports take any of
/// them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropQuery {
    /// Named properties.
    Prop(Vec<Name>),
    /// All dead properties and the live ones `allprop` includes, plus these.
    AllProp(Vec<Name>),
    /// Property names only.
    PropName,
}

impl PropQuery {
    /// The query a request's root element holds: its `DAV:prop`, `DAV:allprop` (with
    /// `DAV:include`) or `DAV:propname` child, if it has one.
    pub fn of(root: &Element) -> Option<PropQuery> {
        let names = |e: &Element| e.elements().map(|p| p.name.clone()).collect::<Vec<_>>();
        if let Some(prop) = root.child(&Name::new(ns::DAV, "prop")) {
            return Some(PropQuery::Prop(names(prop)));
        }
        if root.child(&Name::new(ns::DAV, "allprop")).is_some() {
            let include = root
                .child(&Name::new(ns::DAV, "include"))
                .map(names)
                .unwrap_or_default();
            return Some(PropQuery::AllProp(include));
        }
        root.child(&Name::new(ns::DAV, "propname"))
            .map(|_| PropQuery::PropName)
    }
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

/// The size of the pieces a long answer is kept in, under glibc's 128 KiB threshold
/// for allocating from the heap rather than mapping: an answer of 10,000 responses is
/// then a hundred such pieces, not one buffer of megabytes that, once freed, would
/// raise that threshold and leave each thread's heap holding as much.
const PIECE: usize = 32 * 1024;

/// Writes a `207 Multi-Status` body, one response at a time, with the namespace
/// prefixes declared once on the root. A long answer is kept as a list of pieces
/// of about 32 KiB and sent as such.
#[derive(Debug)]
pub struct Multistatus {
    w: XmlWriter,
    pieces: VecDeque<Bytes>,
    /// `Prefer: return=minimal` (or `Brief: t`) is honoured: 404 propstats are left out.
    minimal: bool,
}

impl Multistatus {
    /// Starts the document.
    pub fn new(prefixes: &[(&str, &str)]) -> Self {
        let mut w = XmlWriter::new(prefixes);
        w.start(&MULTISTATUS);
        Multistatus {
            w,
            pieces: VecDeque::new(),
            minimal: false,
        }
    }

    /// Honours the client's `Prefer: return=minimal` (or Apple's `Brief: t`), as
    /// [`DavRequest::minimal`](crate::DavRequest::minimal) says it was asked: the 404
    /// propstats are left out of every response (RFC 8144 §2.1), and the answer says
    /// `Preference-Applied: return=minimal`.
    #[must_use]
    pub fn minimal(mut self, on: bool) -> Self {
        self.minimal = on;
        self
    }

    /// After each response: sets the written bytes aside as a piece once there are
    /// enough of them.
    fn piece(&mut self) {
        if self.w.len() >= PIECE {
            self.pieces
                .push_back(Bytes::from(self.w.take(PIECE + PIECE / 4)));
        }
    }

    /// A response listing properties by status.
    pub fn propstats(&mut self, href: &str, propstats: &[PropStat]) {
        self.w.start(&RESPONSE);
        self.w.text_element(&HREF, href);
        let minimal = self.minimal;
        let shown = |ps: &&PropStat| {
            let hidden = minimal && ps.status == StatusCode::NOT_FOUND;
            !(ps.props.is_empty() || hidden)
        };
        if !propstats.iter().any(|ps| shown(&ps)) {
            // Nothing left to show (every property asked for is missing, and minimal
            // leaves those out): an empty 200 propstat keeps the response well-formed.
            self.w.start(&PROPSTAT);
            self.w.start(&PROP);
            self.w.end();
            self.w.text_element(&STATUS, &status_line(StatusCode::OK));
            self.w.end();
        }
        for ps in propstats.iter().filter(shown) {
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
        self.piece();
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
        self.piece();
    }

    /// The `DAV:sync-token` element of a sync-collection answer (RFC 6578 §6.2).
    pub fn sync_token(&mut self, token: &str) {
        self.w.text_element(&SYNC_TOKEN, token);
    }

    /// Finishes the document as a `207` response.
    pub fn into_response(self) -> Response<Body> {
        let Multistatus {
            w,
            mut pieces,
            minimal,
        } = self;
        let body = if pieces.is_empty() {
            Body::from(w.finish())
        } else {
            pieces.push_back(Bytes::from(w.finish()));
            let left = pieces.iter().map(|p| p.len() as u64).sum();
            Body::new(Pieces { pieces, left })
        };
        let mut response = Response::new(body);
        *response.status_mut() = StatusCode::MULTI_STATUS;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/xml; charset=utf-8"),
        );
        if minimal {
            Self::say_minimal(response.headers_mut());
        }
        response
    }

    /// Marks an answer as shaped by `Prefer: return=minimal` (or `Brief: t`):
    /// `Preference-Applied` and `Vary: Brief, Prefer` (RFC 7240 §3).
    pub fn say_minimal(headers: &mut http::HeaderMap) {
        headers.insert(
            header::VARY,
            http::HeaderValue::from_static("Brief, Prefer"),
        );
        headers.insert(
            "preference-applied",
            http::HeaderValue::from_static("return=minimal"),
        );
    }
}

/// A body sent as the pieces it was written in, with its length known up front (so the
/// answer still carries a `Content-Length`).
struct Pieces {
    pieces: VecDeque<Bytes>,
    left: u64,
}

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let piece = self.pieces.pop_front();
        if let Some(p) = &piece {
            self.left -= p.len() as u64;
        }
        Poll::Ready(piece.map(|p| Ok(Frame::data(p))))
    }

    fn is_end_stream(&self) -> bool {
        self.pieces.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}
