//! vCard 3.0 (RFC 2426) ⇄ 4.0 (RFC 6350) conversion, for clients that ask for the
//! version they read (RFC 6352 §5.1.1, `address-data` with `version`). The mappings are
//! the ones RFC 6350 Appendix A lists, plus the habits of real clients: Apple's group
//! cards (`X-ADDRESSBOOKSERVER-KIND`/`-MEMBER` ⇄ `KIND`/`MEMBER`), inline photos
//! (`ENCODING=b;TYPE=JPEG` ⇄ `data:` URIs), `TYPE=PREF` ⇄ `PREF=1`, and birthdays
//! without a year (Apple's `X-APPLE-OMIT-YEAR` ⇄ `--MMDD`).

use dirdav_plugin::contentline::{fold_into, property_into};
use icalendar::parser::Component;

/// A vCard version the server reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V3,
    V4,
}

impl Version {
    /// The version named by a `VERSION` value or an `address-data` attribute.
    pub(crate) fn parse(text: &str) -> Option<Version> {
        match text.trim() {
            "3.0" => Some(Version::V3),
            "4.0" => Some(Version::V4),
            _ => None,
        }
    }
}

/// One content line of a card, as it will be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// The group prefix (`item1.`), if any, kept as written.
    pub(crate) group: Option<String>,
    /// The property name, upper-cased.
    pub(crate) name: String,
    pub(crate) params: Vec<(String, Option<String>)>,
    pub(crate) value: String,
}

impl Line {
    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| v.as_deref())
    }

    fn without(&mut self, key: &str) {
        self.params.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
    }

    fn set(&mut self, key: &str, value: String) {
        self.without(key);
        self.params.push((key.to_owned(), Some(value)));
    }

    /// The TYPE values, however they were written (`TYPE=a,b` or `TYPE=a;TYPE=b`).
    fn types(&self) -> Vec<String> {
        self.params
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("TYPE"))
            .filter_map(|(_, v)| v.as_deref())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect()
    }

    fn set_types(&mut self, types: &[String]) {
        self.without("TYPE");
        if !types.is_empty() {
            self.params.push(("TYPE".into(), Some(types.join(","))));
        }
    }
}

/// The lines of a parsed card, BEGIN and END left out.
pub(crate) fn lines(card: &Component<'_>) -> Vec<Line> {
    card.properties
        .iter()
        .map(|p| {
            let full = p.name.as_str();
            Line {
                group: full.rsplit_once('.').map(|(g, _)| g.to_owned()),
                name: crate::vcard::property_name(full),
                params: p
                    .params
                    .iter()
                    .map(|x| {
                        (
                            x.key.as_str().to_ascii_uppercase(),
                            x.val.as_ref().map(|v| v.as_str().to_owned()),
                        )
                    })
                    .collect(),
                value: p.val.as_str().to_owned(),
            }
        })
        .collect()
}

/// The card's lines written out, between BEGIN:VCARD and END:VCARD.
pub(crate) fn write(lines: &[Line]) -> String {
    let mut out = String::from("BEGIN:VCARD\r\n");
    for l in lines {
        let name = match &l.group {
            Some(g) => format!("{g}.{}", l.name),
            None => l.name.clone(),
        };
        let params = l.params.iter().map(|(k, v)| (k.as_str(), v.as_deref()));
        property_into(&mut out, &name, params, &l.value);
    }
    fold_into(&mut out, "END:VCARD");
    out
}

/// Properties that carry binary data inline or by URI.
const BINARY: [&str; 4] = ["PHOTO", "LOGO", "SOUND", "KEY"];

/// The media type of an inline value, from its 3.0 TYPE (`JPEG`, `image/png`).
fn media_type(property: &str, format: &str) -> String {
    if format.contains('/') {
        return format.to_ascii_lowercase();
    }
    let top = match property {
        "SOUND" => "audio",
        "KEY" => "application",
        _ => "image",
    };
    format!("{top}/{}", format.to_ascii_lowercase())
}

/// Converts a card's lines to the version asked for (a card already in that version
/// is returned as it is).
pub(crate) fn convert(lines: Vec<Line>, to: Version) -> Vec<Line> {
    let from = lines
        .iter()
        .find(|l| l.name == "VERSION")
        .and_then(|l| Version::parse(&l.value));
    if from == Some(to) {
        return lines;
    }
    match to {
        Version::V4 => to_v4(lines),
        Version::V3 => to_v3(lines),
    }
}

fn to_v4(lines: Vec<Line>) -> Vec<Line> {
    let mut out = Vec::new();
    for mut l in lines {
        l.without("CHARSET");
        match l.name.as_str() {
            "VERSION" => l.value = "4.0".into(),
            // Gone from 4.0 with nothing in their place.
            "NAME" | "PROFILE" | "MAILER" => continue,
            "X-ADDRESSBOOKSERVER-KIND" => l.name = "KIND".into(),
            "X-ADDRESSBOOKSERVER-MEMBER" => l.name = "MEMBER".into(),
            "GEO" => {
                if let Some((lat, lon)) = l.value.split_once(';') {
                    l.value = format!("geo:{},{}", lat.trim(), lon.trim());
                }
            }
            "BDAY" | "ANNIVERSARY" => {
                if let Some(year) = l.param("X-APPLE-OMIT-YEAR").map(str::to_owned) {
                    let digits: String = l.value.chars().filter(char::is_ascii_digit).collect();
                    if digits.len() == 8 && digits.starts_with(&year) {
                        l.value = format!("--{}", &digits[4..]);
                    }
                    l.without("X-APPLE-OMIT-YEAR");
                }
            }
            _ => {}
        }
        if BINARY.contains(&l.name.as_str()) {
            let encoded = l
                .param("ENCODING")
                .is_some_and(|e| e.eq_ignore_ascii_case("b") || e.eq_ignore_ascii_case("BASE64"));
            if encoded {
                let format = l.types().first().cloned().unwrap_or_else(|| "jpeg".into());
                l.value = format!(
                    "data:{};base64,{}",
                    media_type(&l.name, &format),
                    l.value.trim()
                );
                l.without("ENCODING");
                l.without("TYPE");
            } else if l
                .param("VALUE")
                .is_some_and(|v| v.eq_ignore_ascii_case("uri"))
            {
                l.without("VALUE");
            }
        }
        let mut types = l.types();
        if types.iter().any(|t| t.eq_ignore_ascii_case("PREF")) {
            types.retain(|t| !t.eq_ignore_ascii_case("PREF"));
            l.set("PREF", "1".into());
        }
        types.retain(|t| !t.eq_ignore_ascii_case("INTERNET"));
        if !BINARY.contains(&l.name.as_str()) {
            l.set_types(&types);
        }
        out.push(l);
    }
    out
}

/// Escapes a text value for a structured property's component.
fn component_text(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
}

fn to_v3(lines: Vec<Line>) -> Vec<Line> {
    let mut out = Vec::new();
    let has_n = lines.iter().any(|l| l.name == "N");
    for mut l in lines {
        l.without("ALTID");
        l.without("PID");
        match l.name.as_str() {
            "VERSION" => l.value = "3.0".into(),
            "KIND" => {
                if !l.value.trim().eq_ignore_ascii_case("group") {
                    continue;
                }
                l.name = "X-ADDRESSBOOKSERVER-KIND".into();
            }
            "MEMBER" => l.name = "X-ADDRESSBOOKSERVER-MEMBER".into(),
            "ANNIVERSARY" | "GENDER" => l.name = format!("X-{}", l.name),
            "GEO" => {
                if let Some((lat, lon)) = l
                    .value
                    .trim()
                    .strip_prefix("geo:")
                    .and_then(|v| v.split_once(','))
                {
                    l.value = format!("{lat};{}", lon.split(';').next().unwrap_or(lon));
                }
            }
            "BDAY" => {
                if let Some(day) = l.value.trim().strip_prefix("--")
                    && day.len() == 4
                    && day.chars().all(|c| c.is_ascii_digit())
                {
                    l.value = format!("1604-{}-{}", &day[..2], &day[2..]);
                    l.set("X-APPLE-OMIT-YEAR", "1604".into());
                }
            }
            _ => {}
        }
        if BINARY.contains(&l.name.as_str()) {
            let value = l.value.trim().to_owned();
            if let Some(rest) = value.strip_prefix("data:")
                && let Some((meta, data)) = rest.split_once(',')
                && let Some(mime) = meta.strip_suffix(";base64")
            {
                let format = mime.rsplit('/').next().unwrap_or(mime).to_ascii_uppercase();
                l.value = data.to_owned();
                l.without("MEDIATYPE");
                l.set("ENCODING", "b".into());
                l.set("TYPE", format);
            } else if value.contains(':') {
                l.set("VALUE", "uri".into());
            }
        }
        if let Some(pref) = l.param("PREF").map(str::to_owned) {
            l.without("PREF");
            if pref.trim() == "1" {
                let mut types = l.types();
                types.push("PREF".into());
                l.set_types(&types);
            }
        }
        let is_fn = l.name == "FN";
        let name_from_fn = (!has_n && is_fn).then(|| component_text(&l.value));
        out.push(l);
        // 3.0 requires N; a card without one gets FN as its family name.
        if let Some(family) = name_from_fn {
            out.push(Line {
                group: None,
                name: "N".into(),
                params: Vec::new(),
                value: format!("{family};;;;"),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use icalendar::parser::{read_calendar_simple, unfold};

    fn converted(card: &str, to: Version) -> String {
        let unfolded = unfold(card);
        let parsed = read_calendar_simple(&unfolded).unwrap();
        write(&convert(lines(&parsed[0]), to))
    }

    const V3: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Carol Díaz\r\nN:Díaz;Carol;;;\r\n\
EMAIL;TYPE=INTERNET,WORK,PREF:carol@example.com\r\nitem1.TEL;TYPE=CELL:+1 555 0100\r\n\
BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-12\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ\r\nEND:VCARD\r\n";

    #[test]
    fn three_to_four() {
        assert_eq!(
            converted(V3, Version::V4),
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c1\r\nFN:Carol Díaz\r\nN:Díaz;Carol;;;\r\n\
EMAIL;PREF=1;TYPE=WORK:carol@example.com\r\nitem1.TEL;TYPE=CELL:+1 555 0100\r\n\
BDAY:--0412\r\nPHOTO:data:image/jpeg;base64,/9j/4AAQ\r\nEND:VCARD\r\n"
        );
    }

    #[test]
    fn four_to_three_and_back() {
        let v4 = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:g\r\nFN:Friends\r\nKIND:group\r\n\
MEMBER:urn:uuid:c1\r\nEMAIL;PREF=1:friends@example.com\r\nEND:VCARD\r\n";
        let v3 = converted(v4, Version::V3);
        assert_eq!(
            v3,
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:g\r\nFN:Friends\r\nN:Friends;;;;\r\n\
X-ADDRESSBOOKSERVER-KIND:group\r\nX-ADDRESSBOOKSERVER-MEMBER:urn:uuid:c1\r\n\
EMAIL;TYPE=PREF:friends@example.com\r\nEND:VCARD\r\n"
        );
        let back = converted(&v3, Version::V4);
        assert!(back.contains("KIND:group\r\nMEMBER:urn:uuid:c1\r\nEMAIL;PREF=1:"));
        // The same version in and out: nothing changes.
        assert_eq!(converted(V3, Version::V3), converted(V3, Version::V3));
        assert!(converted(V3, Version::V3).contains("EMAIL;TYPE=INTERNET,WORK,PREF:"));
    }

    #[test]
    fn photos_by_uri_and_inline() {
        let v4 = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:p\r\nFN:P\r\nN:P;;;;\r\n\
PHOTO:data:image/png;base64,iVBORw0K\r\nLOGO:https://example.com/logo.png\r\nEND:VCARD\r\n";
        let v3 = converted(v4, Version::V3);
        assert!(
            v3.contains("PHOTO;ENCODING=b;TYPE=PNG:iVBORw0K\r\n"),
            "{v3}"
        );
        assert!(
            v3.contains("LOGO;VALUE=uri:https://example.com/logo.png\r\n"),
            "{v3}"
        );
    }
}
