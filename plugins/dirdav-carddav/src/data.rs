//! `CARDDAV:address-data` in REPORT requests (RFC 6352 §10.4): the card as stored,
//! unless the request asks for a vCard version other than the card's (converted,
//! RFC 6352 §5.1.1) or for some of its properties only (`prop`, with `novalue`).

use dirdav_plugin::DavError;
use dirdav_plugin::xml::{Element, Name};

use crate::convert::{Line, Version, convert, lines, write};
use crate::{ADDRESS_DATA, card, vcard};

/// How address data is to be returned.
#[derive(Debug, Clone, Default)]
pub(crate) struct DataRequest {
    version: Option<Version>,
    /// The properties asked for, each with whether to leave out its value; `None`: all.
    props: Option<Vec<(String, bool)>>,
}

fn attr<'e>(e: &'e Element, name: &str) -> Option<&'e str> {
    e.get_attr(&Name::owned("", name))
}

/// Reads the `address-data` element of a request's `DAV:prop`, if it asks for one.
/// A media type other than vCard, or a version other than 3.0 and 4.0, is refused
/// with `supported-address-data`.
pub(crate) fn requested(prop: Option<&Element>) -> Result<Option<DataRequest>, DavError> {
    let Some(element) = prop.and_then(|p| p.child(&ADDRESS_DATA)) else {
        return Ok(None);
    };
    let content_type = attr(element, "content-type").unwrap_or("text/vcard").trim();
    let unsupported = |what: String| {
        DavError::forbidden(format!(
            "address data is served as text/vcard 3.0 or 4.0, not {what}"
        ))
        .condition(card("supported-address-data"))
    };
    if !content_type.eq_ignore_ascii_case("text/vcard")
        && !content_type.eq_ignore_ascii_case("text/x-vcard")
    {
        return Err(unsupported(content_type.to_owned()));
    }
    let version = match attr(element, "version") {
        None => None,
        Some(v) => Some(Version::parse(v).ok_or_else(|| unsupported(format!("version {v}")))?),
    };
    let props = if element.child(&card("allprop")).is_some() {
        None
    } else {
        let named: Vec<(String, bool)> = element
            .elements()
            .filter(|e| e.name == card("prop"))
            .filter_map(|e| {
                let name = attr(e, "name")?.trim().to_ascii_uppercase();
                Some((name, attr(e, "novalue") == Some("yes")))
            })
            .collect();
        (!named.is_empty()).then_some(named)
    };
    Ok(Some(DataRequest { version, props }))
}

/// The card's data as requested; `Err` with a reason when the stored card cannot be
/// read, so that it cannot be converted or narrowed
/// (`supported-address-data-conversion`).
pub(crate) fn render(request: &DataRequest, bytes: &[u8]) -> Result<Element, String> {
    let text = String::from_utf8_lossy(bytes);
    if request.version.is_none() && request.props.is_none() {
        return Ok(Element::with_text(ADDRESS_DATA, text));
    }
    let mut card_lines: Vec<Line> = vcard::with_card(&text, lines)
        .map_err(|e| format!("the stored card is unreadable: {e:?}"))?;
    if let Some(version) = request.version {
        card_lines = convert(card_lines, version);
    }
    if let Some(props) = &request.props {
        card_lines = card_lines
            .into_iter()
            .filter_map(|mut l| {
                let novalue = props.iter().find(|(n, _)| *n == l.name)?.1;
                if novalue {
                    l.value.clear();
                }
                Some(l)
            })
            .collect();
    }
    Ok(Element::with_text(ADDRESS_DATA, write(&card_lines)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dirdav_plugin::xml::{Limits, parse};

    fn request(inner: &str) -> Result<Option<DataRequest>, DavError> {
        let doc = format!(
            "<D:prop xmlns:D=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:carddav\">{inner}</D:prop>"
        );
        requested(Some(&parse(doc.as_bytes(), &Limits::default()).unwrap()))
    }

    const CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nNICKNAME:me\r\nUID:34222-232@example.com\r\n\
FN:Cyrus Daboo\r\nN:Daboo;Cyrus;;;\r\nEMAIL:daboo@example.com\r\nTEL;TYPE=WORK:+1 555 0101\r\nEND:VCARD\r\n";

    fn rendered(inner: &str, card: &str) -> String {
        render(&request(inner).unwrap().unwrap(), card.as_bytes())
            .unwrap()
            .text()
    }

    #[test]
    fn the_stored_card_unless_narrowed() {
        assert_eq!(rendered("<C:address-data/>", CARD), CARD);
        assert_eq!(
            rendered(
                "<C:address-data version=\"3.0\"><C:allprop/></C:address-data>",
                CARD
            ),
            CARD
        );
        assert_eq!(
            rendered(
                "<C:address-data><C:prop name=\"fn\"/><C:prop name=\"TEL\" novalue=\"yes\"/></C:address-data>",
                CARD
            ),
            "BEGIN:VCARD\r\nFN:Cyrus Daboo\r\nTEL;TYPE=WORK:\r\nEND:VCARD\r\n"
        );
        assert!(
            rendered(
                "<C:address-data content-type=\"text/vcard\" version=\"4.0\"/>",
                CARD
            )
            .starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\n")
        );
    }

    #[test]
    fn unsupported_types_and_unreadable_cards() {
        for bad in [
            "<C:address-data content-type=\"application/vcard+json\"/>",
            "<C:address-data version=\"2.1\"/>",
        ] {
            let error = format!("{:?}", request(bad).unwrap_err());
            assert!(error.contains("supported-address-data"), "{error}");
        }
        let wants_v4 = request("<C:address-data version=\"4.0\"/>")
            .unwrap()
            .unwrap();
        assert!(render(&wants_v4, b"not a card").is_err());
        // Nothing to convert or narrow: the bytes are passed on as they are.
        let plain = request("<C:address-data/>").unwrap().unwrap();
        assert_eq!(render(&plain, b"not a card").unwrap().text(), "not a card");
    }
}
