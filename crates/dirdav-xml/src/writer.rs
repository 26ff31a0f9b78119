use quick_xml::escape::{escape, partial_escape};

use crate::{Element, Name, Node, ns};

/// Whether XML 1.0 can carry `c` (its `Char` production, for a Rust `char`).
pub fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// A byte that may begin a character XML cannot carry: a control other than tab, LF
/// and CR, or 0xEF (the lead byte of U+FFFE and U+FFFF, and of many allowed ones).
fn suspect_byte(b: u8) -> bool {
    (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0xEF
}

/// Whether `bytes` hold a [`suspect_byte`]: eight bytes at a time, since every text of
/// every answer passes here. A word with a byte below 0x20 or equal to 0xEF (the
/// classic has-less-than and has-zero tests, which may also flag a clean word, never
/// miss a flagged one) is looked at byte by byte.
fn suspect(bytes: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        let x = u64::from_le_bytes(eight);
        let low = x.wrapping_sub(0x20 * LO) & !x & HI;
        let y = x ^ (0xEF * LO);
        let ef = y.wrapping_sub(LO) & !y & HI;
        if (low | ef) != 0 && word.iter().copied().any(suspect_byte) {
            return true;
        }
    }
    words.remainder().iter().copied().any(suspect_byte)
}

/// `text` with the characters XML 1.0 cannot carry replaced by U+FFFD; borrowed when
/// there are none (the common case, decided by a scan of the bytes).
fn xml_chars(text: &str) -> std::borrow::Cow<'_, str> {
    if !suspect(text.as_bytes()) || text.chars().all(is_xml_char) {
        return text.into();
    }
    text.chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{fffd}' })
        .collect::<String>()
        .into()
}

/// Writes XML deterministically: the namespaces given to [`XmlWriter::new`] are
/// declared once on the root element with their stable prefixes; any other namespace
/// (a client's dead property, say) is declared where it is used.
///
/// Answers of thousands of responses go through here, so names and attributes are
/// written straight into the buffer, and the default namespace is saved only by the
/// elements that change it.
#[derive(Debug)]
pub struct XmlWriter {
    out: Vec<u8>,
    prefixes: Vec<(String, String)>,
    /// The default namespace in force, for names outside `prefixes`.
    default_ns: String,
    /// The open elements, each with the default namespace to restore when it closes,
    /// if it changed it.
    open: Vec<(Name, Option<String>)>,
    /// True for a document (begun with the XML declaration, ended with a newline),
    /// false for a fragment.
    document: bool,
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
            default_ns: String::new(),
            open: Vec::new(),
            document: true,
        }
    }

    /// The prefix bound to a namespace, as an index into `prefixes`.
    fn prefix_of(&self, ns: &str) -> Option<usize> {
        if ns.is_empty() {
            return None;
        }
        self.prefixes.iter().position(|(n, _)| n == ns)
    }

    /// Writes `prefix:local`, or `local` for a name without a prefix.
    fn write_qname(&mut self, name: &Name) {
        if let Some(i) = self.prefix_of(name.ns()) {
            self.out.extend_from_slice(self.prefixes[i].1.as_bytes());
            self.out.push(b':');
        }
        self.out.extend_from_slice(name.local().as_bytes());
    }

    /// Writes `<name` and the declarations it needs; returns the default namespace to
    /// restore when the element closes, if it changed it.
    fn open_tag(&mut self, name: &Name) -> Option<String> {
        self.out.push(b'<');
        self.write_qname(name);
        let mut restore = None;
        if self.prefix_of(name.ns()).is_none() && name.ns() != self.default_ns {
            self.out.extend_from_slice(b" xmlns=\"");
            self.out.extend_from_slice(escape(name.ns()).as_bytes());
            self.out.push(b'"');
            restore = Some(std::mem::replace(
                &mut self.default_ns,
                name.ns().to_owned(),
            ));
        }
        if self.open.is_empty() {
            for (n, p) in &self.prefixes {
                self.out.extend_from_slice(b" xmlns:");
                self.out.extend_from_slice(p.as_bytes());
                self.out.extend_from_slice(b"=\"");
                self.out.extend_from_slice(escape(n.as_str()).as_bytes());
                self.out.push(b'"');
            }
        }
        restore
    }

    /// Opens an element; close it with [`XmlWriter::end`].
    pub fn start(&mut self, name: &Name) {
        let restore = self.open_tag(name);
        self.out.push(b'>');
        self.open.push((name.clone(), restore));
    }

    /// Closes the innermost open element.
    pub fn end(&mut self) {
        if let Some((name, restore)) = self.open.pop() {
            self.out.extend_from_slice(b"</");
            self.write_qname(&name);
            self.out.push(b'>');
            if let Some(previous) = restore {
                self.default_ns = previous;
            }
        }
    }

    /// Writes an empty element.
    pub fn empty(&mut self, name: &Name) {
        if self.open.is_empty() {
            self.start(name);
            self.end();
            return;
        }
        let restore = self.open_tag(name);
        self.out.extend_from_slice(b"/>");
        if let Some(previous) = restore {
            self.default_ns = previous;
        }
    }

    /// A writer without the XML declaration, for storing one element on its own.
    pub fn fragment() -> Self {
        XmlWriter {
            out: Vec::new(),
            prefixes: Vec::new(),
            default_ns: String::new(),
            open: Vec::new(),
            document: false,
        }
    }

    /// Writes an element holding only text.
    pub fn text_element(&mut self, name: &Name, text: &str) {
        self.start(name);
        self.text(text);
        self.end();
    }

    /// Writes escaped character data. Characters XML 1.0 cannot carry at all, not even
    /// as references (controls other than tab, LF and CR; U+FFFE; U+FFFF), are written
    /// as U+FFFD, so that one item holding them cannot make a whole answer ill-formed.
    pub fn text(&mut self, text: &str) {
        self.out
            .extend_from_slice(partial_escape(xml_chars(text).as_ref()).as_bytes());
    }

    /// Writes a whole element tree.
    pub fn element(&mut self, element: &Element) {
        let restore = self.open_tag(&element.name);
        let mut extra = 0;
        for (name, value) in &element.attrs {
            self.out.push(b' ');
            if name.ns() == ns::XML {
                self.out.extend_from_slice(b"xml:");
            } else if !name.ns().is_empty() {
                match self.prefix_of(name.ns()) {
                    Some(i) => self.out.extend_from_slice(self.prefixes[i].1.as_bytes()),
                    None => {
                        extra += 1;
                        let decl = format!("xmlns:a{extra}=\"{}\" a{extra}", escape(name.ns()));
                        self.out.extend_from_slice(decl.as_bytes());
                    }
                }
                self.out.push(b':');
            }
            self.out.extend_from_slice(name.local().as_bytes());
            self.out.extend_from_slice(b"=\"");
            self.out
                .extend_from_slice(escape(xml_chars(value).as_ref()).as_bytes());
            self.out.push(b'"');
        }
        if element.children.is_empty() {
            self.out.extend_from_slice(b"/>");
            if let Some(previous) = restore {
                self.default_ns = previous;
            }
            return;
        }
        self.out.push(b'>');
        self.open.push((element.name.clone(), restore));
        for child in &element.children {
            match child {
                Node::Element(e) => self.element(e),
                Node::Text(t) => self.text(t),
            }
        }
        self.end();
    }

    /// How many bytes are written and not yet taken.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// True when nothing is written that was not taken.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Takes what is written so far, to send it before the document is finished; the
    /// writer goes on with an empty buffer of `capacity` bytes. Every tag is written
    /// whole, so the bytes taken end on a tag boundary.
    pub fn take(&mut self, capacity: usize) -> Vec<u8> {
        std::mem::replace(&mut self.out, Vec::with_capacity(capacity))
    }

    /// Closes every open element and returns the document (what was not taken of it).
    pub fn finish(mut self) -> Vec<u8> {
        while !self.open.is_empty() {
            self.end();
        }
        if self.document {
            self.out.push(b'\n');
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, parse};

    #[test]
    fn taken_pieces_make_up_the_document() {
        let name = Name::new(ns::DAV, "href");
        let mut whole = XmlWriter::new(&[("DAV:", "d")]);
        let mut pieces = XmlWriter::new(&[("DAV:", "d")]);
        let mut taken = Vec::new();
        for w in [&mut whole, &mut pieces] {
            w.start(&Name::new(ns::DAV, "multistatus"));
        }
        for i in 0..5 {
            whole.text_element(&name, &format!("/{i}"));
            pieces.text_element(&name, &format!("/{i}"));
            taken.extend(pieces.take(16));
            assert!(pieces.is_empty());
        }
        taken.extend(pieces.finish());
        assert_eq!(
            String::from_utf8(taken).unwrap(),
            String::from_utf8(whole.finish()).unwrap()
        );
    }

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
    fn the_word_scan_finds_what_the_byte_scan_finds() {
        let mut samples = vec![
            String::new(),
            "/bench/cal/000001-some-longer-name.ics".to_owned(),
            "BEGIN:VCALENDAR\r\nSUMMARY:tab\there\r\n".repeat(3),
            "ÿïð€\u{feff}\u{fffd}".to_owned(),
        ];
        for bad in ['\u{0}', '\u{1}', '\u{1f}', '\u{b}', '\u{fffe}', '\u{ffff}'] {
            for at in 0..17 {
                let mut s: String = "é".repeat(at / 2) + &"a".repeat(at % 2);
                s.push(bad);
                s.push_str("tail text after it");
                samples.push(s);
            }
        }
        for s in &samples {
            assert_eq!(suspect(s.as_bytes()), s.bytes().any(suspect_byte), "{s:?}");
        }
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced() {
        let mut w = XmlWriter::new(&[("DAV:", "d")]);
        let mut e = Element::new(Name::new("DAV:", "a"));
        e.attrs.push((Name::new("", "k"), "v\u{1}".into()));
        e.children.push(Node::Text(
            "bell\u{7} tab\t crlf\r\n \u{ffff} é\u{fffd}".into(),
        ));
        w.element(&e);
        let out = w.finish();
        let again = parse(&out, &Limits::default()).unwrap();
        assert_eq!(
            again.text(),
            "bell\u{fffd} tab\t crlf\r\n \u{fffd} é\u{fffd}"
        );
        assert_eq!(again.get_attr(&Name::new("", "k")), Some("v\u{fffd}"));
        assert!(matches!(
            xml_chars("plain é text\r\n"),
            std::borrow::Cow::Borrowed(_)
        ));
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
