//! The forms' posts: upload (`PUT` per file, streamed), new folder (`MKCOL`), delete
//! (`DELETE`, after a confirmation page). Each checks the user's form token and the
//! post's `Origin`, then asks the server as the user; success goes back to the folder
//! (303), a refusal becomes a page saying why.

use bytes::Bytes;
use dirdav_plugin::http::{Request, Response, StatusCode, header};
use dirdav_plugin::{Body, DavError, DavRequest, HandlerResult};
use http_body_util::BodyExt;

use crate::html::{Page, SEGMENT, error_page, escape, explain, explained_page};
use crate::{Web, html_response, route_href, user_of};

/// The largest form without files (new folder, delete) read.
const SMALL_FORM: usize = 64 * 1024;

/// Refuses a post from another site: its `Origin`, when sent, must be this server's,
/// and its token must be the user's.
fn check_origin(request: &DavRequest) -> Result<(), DavError> {
    let Some(sent) = request.parts.headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let ours = dirdav_plugin::origin(&request.parts);
    match (sent.to_str().ok(), ours.as_deref()) {
        (Some(sent), Some(ours)) if sent.eq_ignore_ascii_case(ours) => Ok(()),
        _ => Err(DavError::forbidden("the form was sent from another site")),
    }
}

fn check_token(web: &Web, request: &DavRequest, token: Option<&str>) -> Result<(), DavError> {
    match token {
        Some(t) if web.token_holds(&user_of(request), t) => Ok(()),
        _ => Err(DavError::forbidden(
            "the form is out of date or was not sent from this server's page: reload the page and try again",
        )),
    }
}

/// A folder href from a form: an absolute path on this server ending in `/`. Not
/// `//other.site/` nor `/\other.site/` (which browsers read as another host): the
/// answer redirects there.
fn folder_href(value: Option<&str>) -> Result<String, DavError> {
    match value {
        Some(v)
            if v.starts_with('/')
                && !v.starts_with("//")
                && v.ends_with('/')
                && !v.contains(['?', '#', '\\'])
                && !v.chars().any(char::is_control) =>
        {
            Ok(v.to_owned())
        }
        _ => Err(DavError::bad_request("the form names no folder")),
    }
}

/// A name a person typed or a browser sent for a file: its last path segment (some
/// browsers send a whole path), neither empty nor `.`/`..`.
fn clean_name(name: &str) -> Option<&str> {
    let name = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    (!name.is_empty() && name != "." && name != ".." && !name.contains('\0')).then_some(name)
}

fn see_other(location: &str) -> HandlerResult {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .header(header::CONTENT_LENGTH, 0)
        .body(Body::empty())
        .map_err(|_| DavError::bad_request("not a path"))
}

/// Sends a request as the user; its status and the body's text when it failed.
async fn ask(request: &DavRequest, inner: Request<Body>) -> (StatusCode, String) {
    let response = request.store.request(inner).await;
    let status = response.status();
    if status.is_success() {
        return (status, String::new());
    }
    let text = match response.into_body().collect().await {
        Ok(bytes) => String::from_utf8_lossy(&bytes.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    (status, text)
}

fn refused(request: &DavRequest, e: &DavError) -> HandlerResult {
    error_page(request, e.status(), e.message())
}

async fn small_form(request: &mut DavRequest) -> Result<Vec<(String, String)>, DavError> {
    let body = request
        .stream
        .take()
        .map(dirdav_plugin::Stream::into_body)
        .unwrap_or_else(Body::empty);
    let bytes = http_body_util::Limited::new(body, SMALL_FORM)
        .collect()
        .await
        .map_err(|_| DavError::new(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large"))?
        .to_bytes();
    Ok(form_urlencoded::parse(&bytes).into_owned().collect())
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// POST `/.web/mkdir`: `token`, `to` (the folder's href), `name`.
pub(crate) async fn mkdir(web: &Web, mut request: DavRequest) -> HandlerResult {
    let fields = match checked_form(web, &mut request).await {
        Ok(fields) => fields,
        Err(e) => return refused(&request, &e),
    };
    let to = match folder_href(field(&fields, "to")) {
        Ok(to) => to,
        Err(e) => return refused(&request, &e),
    };
    let Some(name) = field(&fields, "name").and_then(clean_name) else {
        return error_page(&request, StatusCode::BAD_REQUEST, "a folder needs a name");
    };
    if name.contains(['/', '\\']) {
        return error_page(
            &request,
            StatusCode::BAD_REQUEST,
            "a folder name has no slashes",
        );
    }
    let target = format!(
        "{to}{}/",
        percent_encoding::utf8_percent_encode(name, SEGMENT)
    );
    act(&request, "MKCOL", &target, &to).await
}

/// POST `/.web/delete`: `token`, `target` (an href), `back` (the folder to return to),
/// and `confirm=yes` once the person has confirmed on the page this answers without it.
pub(crate) async fn delete(web: &Web, mut request: DavRequest) -> HandlerResult {
    let fields = match checked_form(web, &mut request).await {
        Ok(fields) => fields,
        Err(e) => return refused(&request, &e),
    };
    let (Some(target), Ok(back)) = (
        field(&fields, "target"),
        folder_href(field(&fields, "back")),
    ) else {
        return error_page(
            &request,
            StatusCode::BAD_REQUEST,
            "the form names nothing to delete",
        );
    };
    if !target.starts_with('/') || target.contains(['?', '#']) {
        return error_page(
            &request,
            StatusCode::BAD_REQUEST,
            "the form names nothing to delete",
        );
    }
    if field(&fields, "confirm") != Some("yes") {
        return confirm_page(web, &request, target, &back);
    }
    act(&request, "DELETE", target, &back).await
}

/// A bodiless request as the user (`MKCOL`, `DELETE`), then back to the folder `back`
/// (303), or a page saying why not.
async fn act(request: &DavRequest, method: &str, target: &str, back: &str) -> HandlerResult {
    let Ok(inner) = Request::builder()
        .method(method)
        .uri(target)
        .body(Body::empty())
    else {
        return error_page(request, StatusCode::BAD_REQUEST, "not a path");
    };
    match ask(request, inner).await {
        (status, _) if status.is_success() => see_other(back),
        (status, text) => error_page(request, status, &text),
    }
}

async fn checked_form(
    web: &Web,
    request: &mut DavRequest,
) -> Result<Vec<(String, String)>, DavError> {
    check_origin(request)?;
    let fields = small_form(request).await?;
    check_token(web, request, field(&fields, "token"))?;
    Ok(fields)
}

fn confirm_page(web: &Web, request: &DavRequest, target: &str, back: &str) -> HandlerResult {
    let user = user_of(request);
    let route = route_href(request);
    let root = request.store.href_of("", true);
    let token = web.token(&user).to_hex().to_string();
    let page = Page {
        user: &user,
        route: &route,
        root: &root,
        origin: "",
        token: &token,
    };
    let name = crate::listing::last_segment(target);
    let what = match target.ends_with('/') {
        true => "the folder and everything in it",
        false => "the file",
    };
    let body = format!(
        "<h1>Delete {name}?</h1>\n<p>This deletes {what} for everyone who sees it.</p>\n\
         <form id=\"confirm\" method=\"post\" action=\"{route}/delete\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <input type=\"hidden\" name=\"target\" value=\"{target}\">\
         <input type=\"hidden\" name=\"back\" value=\"{back}\">\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button type=\"submit\">Delete</button></form> <a href=\"{back}\">Cancel</a>\n",
        name = escape(&name),
        route = escape(&route),
        token = escape(&token),
        target = escape(target),
        back = escape(back),
    );
    html_response(
        StatusCode::OK,
        page.layout(&format!("Delete {name}"), &body),
    )
}

/// POST `/.web/upload` (`multipart/form-data`): `token` and `to` first, then files.
/// Each file is streamed into a `PUT` of its own as it arrives; files of the same name
/// are replaced, as a PUT replaces.
pub(crate) async fn upload(web: &Web, mut request: DavRequest) -> HandlerResult {
    match upload_files(web, &mut request).await {
        Ok((to, failures)) if failures.is_empty() => see_other(&to),
        Ok((_, failures)) => {
            let status = failures[0].1;
            let detail = failures
                .iter()
                .map(|(name, status, text)| format!("{name}: {}", explain(*status, text)))
                .collect::<Vec<_>>()
                .join("; ");
            explained_page(&request, status, &detail)
        }
        Err(e) => refused(&request, &e),
    }
}

type Failure = (String, StatusCode, String);

async fn upload_files(
    web: &Web,
    request: &mut DavRequest,
) -> Result<(String, Vec<Failure>), DavError> {
    check_origin(request)?;
    let content_type = request
        .parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| DavError::bad_request("an upload is sent as multipart/form-data"))?;
    let body = request
        .stream
        .take()
        .map(dirdav_plugin::Stream::into_body)
        .unwrap_or_else(Body::empty);
    let limits = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .for_field("token", 1024)
            .for_field("to", 16 * 1024),
    );
    let mut multipart =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, limits);
    let bad = |e: multer::Error| DavError::bad_request(format!("the upload was cut short: {e}"));
    let mut token = None;
    let mut to = None;
    let mut failures = Vec::new();
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("token") => token = Some(field.text().await.map_err(bad)?),
            Some("to") => to = Some(folder_href(Some(&field.text().await.map_err(bad)?))?),
            Some("file") => {
                check_token(web, request, token.as_deref())?;
                let folder = to
                    .clone()
                    .ok_or_else(|| DavError::bad_request("the form names no folder"))?;
                let sent = field.file_name().unwrap_or_default().to_owned();
                let Some(name) = clean_name(&sent).map(str::to_owned) else {
                    // No file chosen: browsers send an empty part without a name.
                    continue;
                };
                let media = field.content_type().map(ToString::to_string);
                let target = format!(
                    "{folder}{}",
                    percent_encoding::utf8_percent_encode(&name, SEGMENT)
                );
                let (status, text) = put_field(request, &target, media, &mut field).await?;
                if !status.is_success() {
                    failures.push((name, status, text));
                }
            }
            _ => {}
        }
    }
    check_token(web, request, token.as_deref())?;
    let to = to.ok_or_else(|| DavError::bad_request("the form names no folder"))?;
    Ok((to, failures))
}

/// Streams one file of a form into a `PUT`: the field's chunks go through a channel
/// into the body of the request the server answers meanwhile.
async fn put_field(
    request: &DavRequest,
    target: &str,
    media: Option<String>,
    field: &mut multer::Field<'_>,
) -> Result<(StatusCode, String), DavError> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let mut put = Request::builder().method("PUT").uri(target);
    if let Some(media) = media.filter(|m| m != "application/octet-stream") {
        put = put.header(header::CONTENT_TYPE, media);
    }
    let put = put
        .body(Body::from_stream(stream))
        .map_err(|_| DavError::bad_request("not a file name"))?;
    let feed = async move {
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if sender.send(Ok(chunk)).await.is_err() {
                        // The server answered before reading it all (a refusal).
                        return Ok::<_, multer::Error>(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    let _ = sender.send(Err(std::io::Error::other(e.to_string()))).await;
                    return Err(e);
                }
            }
        }
    };
    let (answer, fed) = tokio::join!(ask(request, put), feed);
    fed.map_err(|e| DavError::bad_request(format!("the upload was cut short: {e}")))?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_browsers_are_cleaned() {
        assert_eq!(clean_name("report.pdf"), Some("report.pdf"));
        assert_eq!(clean_name("C:\\Users\\me\\report.pdf"), Some("report.pdf"));
        assert_eq!(clean_name("a/b/../c.txt"), Some("c.txt"));
        assert_eq!(clean_name(""), None);
        assert_eq!(clean_name(".."), None);
        assert_eq!(clean_name("dir/"), None);
    }

    #[test]
    fn folder_hrefs_from_forms_are_paths_of_folders() {
        assert!(folder_href(Some("/alice/docs/")).is_ok());
        assert!(folder_href(Some("/alice/docs")).is_err());
        assert!(folder_href(Some("http://evil/")).is_err());
        assert!(folder_href(Some("//evil.example/")).is_err());
        assert!(folder_href(Some("/\\evil.example/")).is_err());
        assert!(folder_href(Some("/a/\r\nx/")).is_err());
        assert!(folder_href(Some("/a/?x/")).is_err());
        assert!(folder_href(None).is_err());
    }
}
