use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::{Element, Name, Node, ns};

/// Bounds on what [`parse`] accepts, so that no body can exhaust the server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The deepest element nesting accepted.
    pub max_depth: usize,
    /// The most elements accepted in one document.
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_elements: 100_000,
        }
    }
}

/// Why a document was refused. Every variant is the client's fault and becomes a 400.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// The bytes are not well-formed, namespace-valid XML.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// The document has a DOCTYPE; entity declarations are refused outright.
    #[error("DOCTYPE is not allowed in request bodies")]
    Doctype,
    /// Nesting deeper than [`Limits::max_depth`].
    #[error("XML nested deeper than {0} elements")]
    TooDeep(usize),
    /// More elements than [`Limits::max_elements`].
    #[error("XML has more than {0} elements")]
    TooLarge(usize),
    /// No root element.
    #[error("XML document has no root element")]
    Empty,
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

/// Parses a whole document into its root [`Element`], resolving namespaces.
///
/// Refuses a DOCTYPE (so no entity expansion can happen), prefixes that are not
/// declared, `xmlns:p=""` (not allowed in XML 1.0 namespaces), and documents past
/// `limits`. Comments and processing instructions are dropped; text is kept as is.
pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    let mut count = 0usize;
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(malformed)?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if root.is_some() {
                    return Err(malformed("content after the root element"));
                }
                count += 1;
                if count > limits.max_elements {
                    return Err(XmlError::TooLarge(limits.max_elements));
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep(limits.max_depth));
                }
                let element = element_from(&reader, start)?;
                if matches!(event, Event::Start(_)) {
                    stack.push(element);
                } else {
                    close(element, &mut stack, &mut root);
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| malformed("unmatched end tag"))?;
                close(element, &mut stack, &mut root);
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(c) => {
                push_text(&mut stack, &c.into_inner())?;
            }
            Event::GeneralRef(r) => {
                let text = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(malformed)?
                        .ok_or_else(|| malformed("invalid character reference"))?
                        .to_string()
                } else {
                    let name = r.xml10_content();
                    quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| malformed(format!("undefined entity &{name};")))?
                        .to_string()
                };
                push_text(&mut stack, &text)?;
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(malformed("unexpected end of document"));
    }
    root.ok_or(XmlError::Empty)
}

fn close(element: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(element)),
        None => *root = Some(element),
    }
}

/// Refuses characters XML 1.0 does not allow, raw or as references (`&#1;`).
fn xml_chars_only(text: &str) -> Result<(), XmlError> {
    match text.chars().find(|c| !crate::is_xml_char(*c)) {
        Some(c) => Err(malformed(format!(
            "character U+{:04X} is not allowed in XML 1.0",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    xml_chars_only(text)?;
    match stack.last_mut() {
        Some(parent) => {
            if let Some(Node::Text(prev)) = parent.children.last_mut() {
                prev.push_str(text);
            } else {
                parent.children.push(Node::Text(text.to_owned()));
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(malformed("text outside the root element")),
    }
}

fn resolved_ns(result: ResolveResult<'_>) -> Result<String, XmlError> {
    match result {
        ResolveResult::Bound(ns) => Ok(ns.into_inner().to_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(prefix) => Err(malformed(format!("undeclared prefix {prefix:?}"))),
    }
}

fn element_from(reader: &NsReader<&[u8]>, start: &BytesStart<'_>) -> Result<Element, XmlError> {
    let resolver = reader.resolver();
    let (ns_result, local) = resolver.resolve_element(start.name());
    let ns = resolved_ns(ns_result)?;
    let local = local.into_inner();
    let mut element = Element::new(Name::owned(ns, local));
    for attr in start.attributes() {
        let attr = attr.map_err(malformed)?;
        let key = attr.key;
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(malformed)?;
        if key.as_ref() == "xmlns" {
            continue;
        }
        if let Some(prefix) = key.as_ref().strip_prefix("xmlns:") {
            if value.is_empty() {
                return Err(malformed(format!(
                    "prefix {:?} bound to an empty namespace",
                    prefix
                )));
            }
            continue;
        }
        let name = if let Some(local) = key.as_ref().strip_prefix("xml:") {
            Name::owned(ns::XML, local)
        } else {
            let (ns_result, local) = resolver.resolve_attribute(key);
            let ns = resolved_ns(ns_result)?;
            Name::owned(ns, local.into_inner())
        };
        xml_chars_only(&value)?;
        element.attrs.push((name, value.into_owned()));
    }
    Ok(element)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Element, XmlError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn resolves_prefixes_and_default_namespace() {
        let e = p(
            r#"<propfind xmlns="DAV:" xmlns:x="urn:x"><prop><x:a/><b xmlns=""/></prop></propfind>"#,
        )
        .unwrap();
        let prop = e.child(&Name::new("DAV:", "prop")).unwrap();
        let names: Vec<String> = prop.elements().map(|e| e.name.to_string()).collect();
        assert_eq!(names, ["{urn:x}a", "{}b"]);
    }

    #[test]
    fn resolves_entities_and_keeps_text() {
        let e = p("<a xmlns='urn:a'>x &amp; &#x10000; <![CDATA[<y>]]></a>").unwrap();
        assert_eq!(e.text(), "x & \u{10000} <y>");
    }

    #[test]
    fn keeps_xml_lang_and_attributes() {
        let e = p(r#"<a xmlns="urn:a" xml:lang="en" k="v"/>"#).unwrap();
        assert_eq!(e.get_attr(&Name::new(ns::XML, "lang")), Some("en"));
        assert_eq!(e.get_attr(&Name::new("", "k")), Some("v"));
    }

    #[test]
    fn refuses_doctype() {
        let r = p(r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>"#);
        assert!(matches!(r, Err(XmlError::Doctype)), "{r:?}");
    }

    #[test]
    fn refuses_malformed_documents() {
        for bad in [
            "<a><b></a>",
            "<a>",
            "",
            "<a/><b/>",
            "<x:a/>",
            r#"<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>"#,
            "<a>&nope;</a>",
            "text",
            "<a>&#1;</a>",
            "<a>&#x1F;</a>",
            "<a>\u{1}</a>",
            "<a>\u{ffff}</a>",
            "<a k='\u{8}'/>",
            "<a k='&#12;'/>",
        ] {
            assert!(p(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn bounds_depth_and_size() {
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(matches!(p(&deep), Err(XmlError::TooDeep(64))));
        let wide = format!("<a>{}</a>", "<b/>".repeat(10));
        let limits = Limits {
            max_depth: 8,
            max_elements: 5,
        };
        assert!(matches!(
            parse(wide.as_bytes(), &limits),
            Err(XmlError::TooLarge(5))
        ));
    }
}
