//! Address book queries (RFC 6352 §10.5): the filter grammar and its evaluation over a
//! card's properties. Filters that name only summarized properties, without parameter
//! tests, are answered from the index's summaries: no card is read.

use dirdav_plugin::xml::{Element, Name};
use dirdav_plugin::{DavError, Summary};

use crate::card;
use crate::vcard::SUMMARY_FIELDS;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Collation {
    AsciiCasemap,
    Octet,
    UnicodeCasemap,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MatchType {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

/// `CARDDAV:text-match`.
#[derive(Clone, Debug)]
struct TextMatch {
    value: String,
    collation: Collation,
    match_type: MatchType,
    negate: bool,
}

/// `CARDDAV:param-filter`.
#[derive(Clone, Debug)]
struct ParamFilter {
    name: String,
    not_defined: bool,
    text: Option<TextMatch>,
}

/// `CARDDAV:prop-filter`.
#[derive(Clone, Debug)]
struct PropFilter {
    name: String,
    any: bool,
    not_defined: bool,
    texts: Vec<TextMatch>,
    params: Vec<ParamFilter>,
}

/// `CARDDAV:filter`.
#[derive(Clone, Debug)]
pub(crate) struct Filter {
    any: bool,
    props: Vec<PropFilter>,
}

/// One property of a card: name (upper case), value, parameters.
pub(crate) struct Prop<'a> {
    pub(crate) name: String,
    pub(crate) value: &'a str,
    pub(crate) params: Vec<(String, String)>,
}

fn attr<'e>(e: &'e Element, name: &str) -> Option<&'e str> {
    e.get_attr(&Name::owned("", name))
}

fn is_any(e: &Element) -> Result<bool, DavError> {
    match attr(e, "test").unwrap_or("anyof") {
        "anyof" => Ok(true),
        "allof" => Ok(false),
        other => Err(DavError::bad_request(format!("invalid test {other:?}"))),
    }
}

fn text_match(e: &Element) -> Result<TextMatch, DavError> {
    let collation = match attr(e, "collation").unwrap_or("i;unicode-casemap") {
        "i;ascii-casemap" => Collation::AsciiCasemap,
        "i;octet" => Collation::Octet,
        "i;unicode-casemap" => Collation::UnicodeCasemap,
        other => {
            return Err(
                DavError::forbidden(format!("unsupported collation {other}"))
                    .condition(card("supported-collation")),
            );
        }
    };
    let match_type = match attr(e, "match-type").unwrap_or("contains") {
        "equals" => MatchType::Equals,
        "contains" => MatchType::Contains,
        "starts-with" => MatchType::StartsWith,
        "ends-with" => MatchType::EndsWith,
        other => {
            return Err(DavError::bad_request(format!(
                "invalid match-type {other:?}"
            )));
        }
    };
    Ok(TextMatch {
        value: e.text(),
        collation,
        match_type,
        negate: attr(e, "negate-condition") == Some("yes"),
    })
}

fn name_of(e: &Element) -> Result<String, DavError> {
    attr(e, "name")
        .map(|n| n.trim().to_ascii_uppercase())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| DavError::forbidden("a filter needs a name").condition(card("valid-filter")))
}

/// Parses `CARDDAV:filter`.
pub(crate) fn parse_filter(filter: &Element) -> Result<Filter, DavError> {
    let mut props = Vec::new();
    for pf in filter.elements().filter(|e| e.name == card("prop-filter")) {
        let mut params = Vec::new();
        for p in pf.elements().filter(|e| e.name == card("param-filter")) {
            params.push(ParamFilter {
                name: name_of(p)?,
                not_defined: p.child(&card("is-not-defined")).is_some(),
                text: p.child(&card("text-match")).map(text_match).transpose()?,
            });
        }
        props.push(PropFilter {
            name: name_of(pf)?,
            any: is_any(pf)?,
            not_defined: pf.child(&card("is-not-defined")).is_some(),
            texts: pf
                .elements()
                .filter(|e| e.name == card("text-match"))
                .map(text_match)
                .collect::<Result<_, _>>()?,
            params,
        });
    }
    Ok(Filter {
        any: is_any(filter)?,
        props,
    })
}

impl Filter {
    /// True when the summaries hold everything this filter looks at.
    pub(crate) fn summary_suffices(&self) -> bool {
        self.props
            .iter()
            .all(|p| p.params.is_empty() && SUMMARY_FIELDS.contains(&p.name.as_str()))
    }
}

fn fold(s: &str, c: Collation) -> String {
    match c {
        Collation::Octet => s.to_owned(),
        Collation::AsciiCasemap => s.to_ascii_lowercase(),
        Collation::UnicodeCasemap => s.to_lowercase(),
    }
}

fn text_matches(tm: &TextMatch, value: &str) -> bool {
    let (v, t) = (fold(value, tm.collation), fold(&tm.value, tm.collation));
    let found = match tm.match_type {
        MatchType::Equals => v == t,
        MatchType::Contains => v.contains(&t),
        MatchType::StartsWith => v.starts_with(&t),
        MatchType::EndsWith => v.ends_with(&t),
    };
    found != tm.negate
}

fn prop_matches(pf: &PropFilter, props: &[Prop<'_>]) -> bool {
    let mut found = props.iter().filter(|p| p.name == pf.name).peekable();
    if pf.not_defined {
        return found.peek().is_none();
    }
    found.any(|p| {
        let mut tests =
            pf.texts
                .iter()
                .map(|tm| text_matches(tm, p.value))
                .chain(pf.params.iter().map(|pm| {
                    let value = p
                        .params
                        .iter()
                        .find(|(k, _)| *k == pm.name)
                        .map(|(_, v)| v.as_str());
                    match value {
                        None => pm.not_defined,
                        Some(_) if pm.not_defined => false,
                        Some(v) => pm.text.as_ref().is_none_or(|tm| text_matches(tm, v)),
                    }
                }));
        if pf.any {
            pf.texts.is_empty() && pf.params.is_empty() || tests.any(|t| t)
        } else {
            tests.all(|t| t)
        }
    })
}

/// Evaluates the filter over a card's properties.
pub(crate) fn matches(filter: &Filter, props: &[Prop<'_>]) -> bool {
    if filter.props.is_empty() {
        return true;
    }
    let mut tests = filter.props.iter().map(|pf| prop_matches(pf, props));
    if filter.any {
        tests.any(|t| t)
    } else {
        tests.all(|t| t)
    }
}

/// A summary's fields as properties.
pub(crate) fn summary_props(summary: &Summary) -> Vec<Prop<'_>> {
    summary
        .fields
        .iter()
        .map(|(n, v)| Prop {
            name: n.clone(),
            value: v,
            params: Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dirdav_plugin::xml::{Limits, parse};

    fn filter(xml: &str) -> Filter {
        let doc = format!(r#"<C:filter xmlns:C="urn:ietf:params:xml:ns:carddav" {xml}</C:filter>"#);
        parse_filter(&parse(doc.as_bytes(), &Limits::default()).unwrap()).unwrap()
    }

    fn props() -> Vec<Prop<'static>> {
        vec![
            Prop {
                name: "FN".into(),
                value: "Carol Díaz",
                params: vec![],
            },
            Prop {
                name: "EMAIL".into(),
                value: "carol@example.com",
                params: vec![("TYPE".into(), "WORK".into())],
            },
        ]
    }

    #[test]
    fn text_matching() {
        let f = |x: &str| matches(&filter(x), &props());
        assert!(f(r#">"#), "an empty filter matches everything");
        assert!(f(
            r#"><C:prop-filter name="FN"><C:text-match>díaz</C:text-match></C:prop-filter>"#
        ));
        assert!(!f(
            r#"><C:prop-filter name="FN"><C:text-match collation="i;octet">díaz</C:text-match></C:prop-filter>"#
        ));
        assert!(f(
            r#"><C:prop-filter name="FN"><C:text-match match-type="starts-with">carol</C:text-match></C:prop-filter>"#
        ));
        assert!(!f(
            r#"><C:prop-filter name="FN"><C:text-match match-type="equals">carol</C:text-match></C:prop-filter>"#
        ));
        assert!(f(
            r#"><C:prop-filter name="EMAIL"><C:text-match match-type="ends-with">@example.com</C:text-match></C:prop-filter>"#
        ));
        assert!(f(
            r#"><C:prop-filter name="TEL"><C:is-not-defined/></C:prop-filter>"#
        ));
        assert!(!f(
            r#"><C:prop-filter name="FN"><C:text-match negate-condition="yes">carol</C:text-match></C:prop-filter>"#
        ));
        assert!(f(
            r#"><C:prop-filter name="EMAIL"><C:param-filter name="TYPE"><C:text-match>work</C:text-match></C:param-filter></C:prop-filter>"#
        ));
        assert!(f(
            r#" test="anyof"><C:prop-filter name="FN"><C:text-match>nobody</C:text-match></C:prop-filter><C:prop-filter name="EMAIL"/>"#
        ));
        assert!(!f(
            r#" test="allof"><C:prop-filter name="FN"><C:text-match>nobody</C:text-match></C:prop-filter><C:prop-filter name="EMAIL"/>"#
        ));
    }

    #[test]
    fn summaries_suffice_for_plain_field_filters() {
        assert!(
            filter(r#"><C:prop-filter name="FN"><C:text-match>x</C:text-match></C:prop-filter>"#)
                .summary_suffices()
        );
        assert!(
            !filter(r#"><C:prop-filter name="ADR"><C:text-match>x</C:text-match></C:prop-filter>"#)
                .summary_suffices()
        );
        assert!(
            !filter(
                r#"><C:prop-filter name="EMAIL"><C:param-filter name="TYPE"/></C:prop-filter>"#
            )
            .summary_suffices()
        );
    }
}
