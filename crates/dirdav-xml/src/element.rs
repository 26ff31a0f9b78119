use crate::Name;

/// A node of an element's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data, with entities resolved.
    Text(String),
}

/// An XML element with resolved names, as read from a request body or stored as a
/// dead property value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// The element's expanded name.
    pub name: Name,
    /// Attributes other than namespace declarations, in document order.
    pub attrs: Vec<(Name, String)>,
    /// Child elements and text, in document order.
    pub children: Vec<Node>,
}

impl Element {
    /// An empty element.
    pub fn new(name: Name) -> Self {
        Element {
            name,
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// An element holding only `text`.
    pub fn with_text(name: Name, text: impl Into<String>) -> Self {
        let mut e = Element::new(name);
        e.children.push(Node::Text(text.into()));
        e
    }

    /// Appends a child element and returns `self`, for building values.
    #[must_use]
    pub fn child_element(mut self, child: Element) -> Self {
        self.children.push(Node::Element(child));
        self
    }

    /// Sets an attribute and returns `self`.
    #[must_use]
    pub fn attr(mut self, name: Name, value: impl Into<String>) -> Self {
        self.attrs.retain(|(n, _)| *n != name);
        self.attrs.push((name, value.into()));
        self
    }

    /// The value of an attribute.
    pub fn get_attr(&self, name: &Name) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Child elements, skipping text.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element with this name.
    pub fn child(&self, name: &Name) -> Option<&Element> {
        self.elements().find(|e| e.name == *name)
    }

    /// All text directly inside this element, concatenated.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// True when the element has child elements.
    pub fn has_elements(&self) -> bool {
        self.elements().next().is_some()
    }
}
