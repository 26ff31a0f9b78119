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
    /// The text to look for, already folded by the collation.
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
    pub(crate) name: std::borrow::Cow<'a, str>,
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
        value: fold(&e.text(), collation),
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

/// Case-insensitive ASCII comparison without folding into a new string: the common
/// case (ASCII names and addresses) of both caseless collations.
fn ascii_caseless(value: &str, needle: &str, how: MatchType) -> bool {
    let (v, n) = (value.as_bytes(), needle.as_bytes());
    match how {
        MatchType::Equals => v.eq_ignore_ascii_case(n),
        MatchType::StartsWith => v.len() >= n.len() && v[..n.len()].eq_ignore_ascii_case(n),
        MatchType::EndsWith => v.len() >= n.len() && v[v.len() - n.len()..].eq_ignore_ascii_case(n),
        MatchType::Contains => {
            n.is_empty() || v.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
        }
    }
}

fn text_matches(tm: &TextMatch, value: &str) -> bool {
    let t = tm.value.as_str();
    let found = if tm.collation != Collation::Octet && value.is_ascii() && t.is_ascii() {
        ascii_caseless(value, t, tm.match_type)
    } else {
        let v = fold(value, tm.collation);
        match tm.match_type {
            MatchType::Equals => v == t,
            MatchType::Contains => v.contains(t),
            MatchType::StartsWith => v.starts_with(t),
            MatchType::EndsWith => v.ends_with(t),
        }
    };
    found != tm.negate
}

/// What the filter looks at in one property: a parsed card's, or a summary's field.
pub(crate) trait PropView {
    /// The property name, upper case.
    fn name(&self) -> &str;
    fn value(&self) -> &str;
    /// The values of a parameter, one per occurrence (vCard 3 repeats `TYPE=`);
    /// summaries keep none.
    fn param(&self, name: &str) -> Vec<&str>;
}

impl PropView for Prop<'_> {
    fn name(&self) -> &str {
        &self.name
    }
    fn value(&self) -> &str {
        self.value
    }
    fn param(&self, name: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A summary field: (name, value).
impl PropView for (&str, &str) {
    fn name(&self) -> &str {
        self.0
    }
    fn value(&self) -> &str {
        self.1
    }
    fn param(&self, _: &str) -> Vec<&str> {
        Vec::new()
    }
}

impl<P: PropView> PropView for &P {
    fn name(&self) -> &str {
        (*self).name()
    }
    fn value(&self) -> &str {
        (*self).value()
    }
    fn param(&self, name: &str) -> Vec<&str> {
        (*self).param(name)
    }
}

fn prop_matches<P: PropView>(pf: &PropFilter, props: impl Iterator<Item = P>) -> bool {
    let mut found = props.filter(|p| p.name() == pf.name).peekable();
    if pf.not_defined {
        return found.peek().is_none();
    }
    found.any(|p| {
        let mut tests = pf
            .texts
            .iter()
            .map(|tm| text_matches(tm, p.value()))
            // A repeated parameter (`TYPE=internet;TYPE=work`) matches when any of
            // its occurrences does (RFC 6352 §10.5.2).
            .chain(pf.params.iter().map(|pm| {
                let values = p.param(&pm.name);
                match (values.is_empty(), pm.not_defined) {
                    (true, not_defined) => not_defined,
                    (false, true) => false,
                    (false, false) => pm
                        .text
                        .as_ref()
                        .is_none_or(|tm| values.iter().any(|v| text_matches(tm, v))),
                }
            }));
        if pf.any {
            pf.texts.is_empty() && pf.params.is_empty() || tests.any(|t| t)
        } else {
            tests.all(|t| t)
        }
    })
}

/// Evaluates the filter over a card's properties (or a summary's fields).
pub(crate) fn matches<P: PropView>(
    filter: &Filter,
    props: &(impl Iterator<Item = P> + Clone),
) -> bool {
    if filter.props.is_empty() {
        return true;
    }
    let mut tests = filter
        .props
        .iter()
        .map(|pf| prop_matches(pf, props.clone()));
    if filter.any {
        tests.any(|t| t)
    } else {
        tests.all(|t| t)
    }
}

/// Evaluates the filter over a summary's fields, without copying them.
pub(crate) fn matches_summary(filter: &Filter, summary: &Summary) -> bool {
    matches(filter, &summary.fields.iter())
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
        let f = |x: &str| matches(&filter(x), &props().iter());
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
        // ASCII values take the comparison that folds nothing; the answers are the same.
        for (how, needle, expect) in [
            ("equals", "CAROL@EXAMPLE.COM", true),
            ("contains", "L@Ex", true),
            ("starts-with", "carol@", true),
            ("ends-with", ".COM", true),
            ("ends-with", "carol@example.com.", false),
            ("starts-with", "xcarol", false),
            ("contains", "", true),
        ] {
            for collation in ["i;ascii-casemap", "i;unicode-casemap"] {
                assert_eq!(
                    f(&format!(
                        r#"><C:prop-filter name="EMAIL"><C:text-match match-type="{how}" collation="{collation}">{needle}</C:text-match></C:prop-filter>"#
                    )),
                    expect,
                    "{how} {needle} {collation}"
                );
            }
        }
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
