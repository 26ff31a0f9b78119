use quick_xml::escape::{escape, partial_escape};

use crate::{Element, Name, Node, ns};

/// Writes XML deterministically: the namespaces given to [`XmlWriter::new`] are
/// declared once on the root element with their stable prefixes; any other namespace
/// (a client's dead property, say) is declared where it is used.
#[derive(Debug)]
pub struct XmlWriter {
    out: Vec<u8>,
    prefixes: Vec<(String, String)>,
    /// The default namespace in force at each open element, for names outside `prefixes`.
    defaults: Vec<String>,
    open: Vec<Name>,
}

impl XmlWriter {
    /// A writer whose root declares each `(namespace, prefix)` pair.
    pub fn new(prefixes: &[(&str, &str)]) -> Self {
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        XmlWriter {
            out,
            prefixes: prefixes
                .iter()
                .map(|(n, p)| ((*n).to_owned(), (*p).to_owned()))
                .collect(),
            defaults: vec![String::new()],
            open: Vec::new(),
        }
    }

    fn prefix(&self, ns: &str) -> Option<&str> {
        self.prefixes
            .iter()
            .find(|(n, _)| n == ns)
            .map(|(_, p)| p.as_str())
    }

    /// Writes `<name` and the declarations it needs; returns the default namespace in
    /// force inside it.
    fn open_tag(&mut self, name: &Name) -> String {
        let current = self.defaults.last().cloned().unwrap_or_default();
        self.out.push(b'<');
        let inner_default = match self.prefix(name.ns()) {
            Some(p) if !name.ns().is_empty() => {
                let tag = format!("{p}:{}", name.local());
                self.out.extend_from_slice(tag.as_bytes());
                current
            }
            _ => {
                self.out.extend_from_slice(name.local().as_bytes());
                if name.ns() != current {
                    self.out.extend_from_slice(b" xmlns=\"");
                    self.out.extend_from_slice(escape(name.ns()).as_bytes());
                    self.out.push(b'"');
                }
                name.ns().to_owned()
            }
        };
        if self.open.is_empty() {
            let decls: Vec<String> = self
                .prefixes
                .iter()
                .map(|(n, p)| format!(" xmlns:{p}=\"{}\"", escape(n.as_str())))
                .collect();
            self.out.extend_from_slice(decls.concat().as_bytes());
        }
        inner_default
    }

    /// Opens an element; close it with [`XmlWriter::end`].
    pub fn start(&mut self, name: &Name) {
        let inner = self.open_tag(name);
        self.out.push(b'>');
        self.defaults.push(inner);
        self.open.push(name.clone());
    }

    /// Closes the innermost open element.
    pub fn end(&mut self) {
        if let Some(name) = self.open.pop() {
            self.defaults.pop();
            self.out.extend_from_slice(b"</");
            self.write_qname(&name);
            self.out.push(b'>');
        }
    }

    fn write_qname(&mut self, name: &Name) {
        match self.prefix(name.ns()) {
            Some(p) if !name.ns().is_empty() => {
                let tag = format!("{p}:{}", name.local());
                self.out.extend_from_slice(tag.as_bytes());
            }
            _ => self.out.extend_from_slice(name.local().as_bytes()),
        }
    }

    /// Writes an empty element.
    pub fn empty(&mut self, name: &Name) {
        if self.open.is_empty() {
            self.start(name);
            self.end();
            return;
        }
        self.open_tag(name);
        self.out.extend_from_slice(b"/>");
    }

    /// A writer without the XML declaration, for storing one element on its own.
    pub fn fragment() -> Self {
        XmlWriter {
            out: Vec::new(),
            prefixes: Vec::new(),
            defaults: vec![String::new()],
            open: Vec::new(),
        }
    }

    /// Writes an element holding only text.
    pub fn text_element(&mut self, name: &Name, text: &str) {
        self.start(name);
        self.text(text);
        self.end();
    }

    /// Writes escaped character data.
    pub fn text(&mut self, text: &str) {
        self.out.extend_from_slice(partial_escape(text).as_bytes());
    }

    /// Writes a whole element tree.
    pub fn element(&mut self, element: &Element) {
        let inner = self.open_tag(&element.name);
        let mut extra = 0;
        for (name, value) in &element.attrs {
            self.out.push(b' ');
            if name.ns() == ns::XML {
                self.out.extend_from_slice(b"xml:");
            } else if !name.ns().is_empty() {
                let prefix = match self.prefix(name.ns()) {
                    Some(p) => p.to_owned(),
                    None => {
                        extra += 1;
                        let p = format!("a{extra}");
                        let decl = format!("xmlns:{p}=\"{}\" ", escape(name.ns()));
                        self.out.extend_from_slice(decl.as_bytes());
                        p
                    }
                };
                self.out.extend_from_slice(prefix.as_bytes());
                self.out.push(b':');
            }
            let attr = format!("{}=\"{}\"", name.local(), escape(value.as_str()));
            self.out.extend_from_slice(attr.as_bytes());
        }
        if element.children.is_empty() {
            self.out.extend_from_slice(b"/>");
            return;
        }
        self.out.push(b'>');
        self.defaults.push(inner);
        self.open.push(element.name.clone());
        for child in &element.children {
            match child {
                Node::Element(e) => self.element(e),
                Node::Text(t) => self.text(t),
            }
        }
        self.end();
    }

    /// Closes every open element and returns the document.
    pub fn finish(mut self) -> Vec<u8> {
        while !self.open.is_empty() {
            self.end();
        }
        if self.out.starts_with(b"<?xml") {
            self.out.push(b'\n');
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, parse};

    fn round_trip(src: &str) -> Element {
        let e = parse(src.as_bytes(), &Limits::default()).unwrap();
        let mut w = XmlWriter::new(&[("DAV:", "d")]);
        w.element(&e);
        let out = w.finish();
        let again = parse(&out, &Limits::default()).unwrap();
        assert_eq!(e, again, "{}", String::from_utf8_lossy(&out));
        again
    }

    #[test]
    fn foreign_namespaces_survive_a_round_trip() {
        round_trip(
            r#"<d:a xmlns:d="DAV:" xmlns:x="urn:x"><x:b><c xmlns="urn:c"><e xmlns=""/></c></x:b>t&lt;</d:a>"#,
        );
        round_trip(r#"<x:a xmlns:x="urn:x" xmlns:y="urn:y" y:k="v&quot;" xml:lang="de"/>"#);
    }

    #[test]
    fn root_declares_prefixes_once() {
        let mut w = XmlWriter::new(&[("DAV:", "d"), ("urn:ietf:params:xml:ns:caldav", "cal")]);
        w.start(&Name::new("DAV:", "multistatus"));
        w.empty(&Name::new("DAV:", "href"));
        w.empty(&Name::new("urn:ietf:params:xml:ns:caldav", "calendar"));
        let s = String::from_utf8(w.finish()).unwrap();
        assert_eq!(
            s,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:multistatus xmlns:d=\"DAV:\" \
             xmlns:cal=\"urn:ietf:params:xml:ns:caldav\"><d:href/><cal:calendar/></d:multistatus>\n"
        );
    }
}
