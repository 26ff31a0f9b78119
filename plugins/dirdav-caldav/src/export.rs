//! GET on a calendar: the whole calendar as one `text/calendar`, for subscriptions and
//! exports. Each item's components are copied as written (folded lines included);
//! time zone definitions appear once. The ETag follows the collection's sync token, so
//! it changes whenever the calendar does.

use dirdav_plugin::http::{HeaderValue, Response, StatusCode, header};
use dirdav_plugin::{Body, DavError, DavRequest, HandlerResult};

/// The components directly inside an item's VCALENDAR, as text: (name, block, TZID).
fn blocks(text: &str) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut current: Option<(String, String, Option<String>)> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end_matches(['\r', '\n']);
        let upper = trimmed.to_ascii_uppercase();
        if let Some(name) = upper.strip_prefix("BEGIN:") {
            depth += 1;
            if depth == 2 {
                current = Some((name.trim().to_owned(), String::new(), None));
            }
        }
        if depth >= 2
            && let Some((_, block, tzid)) = current.as_mut()
        {
            block.push_str(trimmed);
            block.push_str("\r\n");
            if depth == 2 && upper.starts_with("TZID:") {
                *tzid = Some(trimmed[5..].trim().to_owned());
            }
        }
        if upper.starts_with("END:") {
            if depth == 2
                && let Some(done) = current.take()
            {
                out.push(done);
            }
            depth = depth.saturating_sub(1);
        }
    }
    out
}

pub(crate) async fn export(request: DavRequest) -> HandlerResult {
    let calendar = request.resource.ok_or_else(DavError::not_found)?;
    let items: Vec<_> = request
        .store
        .members(&calendar.path)
        .into_iter()
        .filter(|r| !r.is_collection)
        .collect();
    let (validators, fresh) =
        dirdav_plugin::export_validators(&request.parts.headers, &calendar, &items);
    let mut response = Response::new(Body::empty());
    response.headers_mut().extend(validators);
    if fresh {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(response);
    }
    let mut zones: Vec<String> = Vec::new();
    let mut timezones = String::new();
    let mut components = String::new();
    for item in items {
        let bytes = request.store.read(&item.path).await?;
        for (name, block, tzid) in blocks(&String::from_utf8_lossy(&bytes)) {
            if name == "VTIMEZONE" {
                let id = tzid.unwrap_or_default();
                if !zones.contains(&id) {
                    zones.push(id);
                    timezones.push_str(&block);
                }
            } else {
                components.push_str(&block);
            }
        }
    }
    let name = calendar
        .collection
        .string_at(&["displayname"])
        .unwrap_or(calendar.name())
        .replace(['\r', '\n'], " ");
    let text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//dirdav//dirdav {}//EN\r\nX-WR-CALNAME:{name}\r\n{timezones}{components}END:VCALENDAR\r\n",
        env!("CARGO_PKG_VERSION")
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    let file = format!(
        "attachment; filename=\"{}.ics\"",
        calendar.name().replace('"', "")
    );
    if let Ok(v) = HeaderValue::from_str(&file) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    *response.body_mut() = Body::from(text);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_components_as_written() {
        let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY:long\r\n line\r\nBEGIN:VALARM\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let b = blocks(text);
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0].0.as_str(), b[0].2.as_deref()),
            ("VTIMEZONE", Some("Europe/Berlin"))
        );
        assert_eq!(
            b[1].1,
            "BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:long\r\n line\r\nBEGIN:VALARM\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n"
        );
        assert_eq!(b[1].2, None, "a TZID inside a component is not the block's");
    }
}
