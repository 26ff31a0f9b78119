//! XML for dirdav: `(namespace, local)` names, a small element tree, a hardened
//! namespace-aware reader and a deterministic writer. Nothing here knows HTTP.
//!
//! ```
//! use dirdav_xml::{parse, Limits, Name, ns, XmlWriter};
//!
//! let doc = parse(br#"<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>"#,
//!                 &Limits::default()).unwrap();
//! assert_eq!(doc.name, Name::new(ns::DAV, "propfind"));
//! let prop = doc.child(&Name::new(ns::DAV, "prop")).unwrap();
//! assert_eq!(prop.elements().next().unwrap().name.to_string(), "{DAV:}getetag");
//!
//! let mut w = XmlWriter::new(&[(ns::DAV, "d")]);
//! w.element(&doc);
//! assert!(String::from_utf8(w.finish()).unwrap().contains("<d:getetag/>"));
//! ```

mod element;
mod name;
mod reader;
mod writer;

pub use element::{Element, Node};
pub use name::Name;
pub use reader::{Limits, XmlError, parse};
pub use writer::{XmlWriter, is_xml_char};

/// Namespace URIs used across dirdav and its plugins.
pub mod ns {
    /// WebDAV, RFC 4918.
    pub const DAV: &str = "DAV:";
    /// CalDAV, RFC 4791.
    pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
    /// CardDAV, RFC 6352.
    pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
    /// Apple's calendarserver namespace (`getctag`, `email-address-set`).
    pub const CALENDARSERVER: &str = "http://calendarserver.org/ns/";
    /// Apple's iCal namespace (`calendar-color`, `calendar-order`).
    pub const APPLE_ICAL: &str = "http://apple.com/ns/ical/";
    /// The namespace bound to the reserved `xml` prefix (`xml:lang`).
    pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
}
