//! OPTIONS (RFC 4918 §9.1 of RFC 7231, §10.1 of RFC 4918).

use axum::body::Body;
use axum::response::Response;
use dirdav_plugin::http::{HeaderValue, StatusCode, header};

/// 200 with `Allow` and an empty body: Thunderbird and GNOME refuse 204 here.
pub(crate) fn answer(allow: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(allow) {
        headers.insert(header::ALLOW, v);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    headers.insert("ms-author-via", HeaderValue::from_static("DAV"));
    response
}
