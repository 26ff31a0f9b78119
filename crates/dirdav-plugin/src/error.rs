use std::borrow::Cow;
use std::fmt;

use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use dirdav_xml::{Element, Name, XmlWriter, ns};
use http::{StatusCode, header};

/// `DAV:error`, the root of a precondition body (RFC 4918 §16).
pub const ERROR: Name = Name::new(ns::DAV, "error");

/// Every failure that becomes a response: a status, an optional precondition element
/// rendered inside `DAV:error` (RFC 4918 §16, RFC 4791 §1.3), a message for the log and
/// an optional source.
///
/// ```
/// use dirdav_plugin::{DavError, xml::{Name, ns}};
/// use dirdav_plugin::http::StatusCode;
///
/// let e = DavError::forbidden("too deep").condition(Name::new(ns::DAV, "propfind-finite-depth"));
/// assert_eq!(e.status(), StatusCode::FORBIDDEN);
/// assert!(e.body().unwrap().contains("<d:propfind-finite-depth/>"));
/// ```
#[must_use]
pub struct DavError(Box<Inner>);

/// Boxed so that `Result<T, DavError>` stays one pointer wide on the happy path.
struct Inner {
    status: StatusCode,
    condition: Option<Element>,
    message: Cow<'static, str>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl DavError {
    /// An error with this status and no precondition.
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        DavError(Box::new(Inner {
            status,
            condition: None,
            message: message.into(),
            source: None,
        }))
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 404 Not Found.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not found")
    }

    /// 405 Method Not Allowed.
    pub fn method_not_allowed(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, message)
    }

    /// 409 Conflict.
    pub fn conflict(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 412 Precondition Failed.
    pub fn precondition_failed(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, message)
    }

    /// 415 Unsupported Media Type.
    pub fn unsupported_media_type(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }

    /// 500 Internal Server Error; the message is logged, never sent.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// Names the precondition or postcondition that failed (an empty element).
    pub fn condition(self, name: Name) -> Self {
        self.condition_element(Element::new(name))
    }

    /// The failed condition with detail content, e.g. `CALDAV:no-uid-conflict` holding
    /// the `DAV:href` of the resource that already has the UID.
    pub fn condition_element(mut self, element: Element) -> Self {
        self.0.condition = Some(element);
        self
    }

    /// Attaches the underlying error, for the log.
    pub fn source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The failed condition, if one is named.
    pub fn condition_ref(&self) -> Option<&Element> {
        self.0.condition.as_ref()
    }

    /// The message for the log.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The `DAV:error` document, when a condition is named.
    pub fn body(&self) -> Option<String> {
        let condition = self.0.condition.as_ref()?;
        let mut w = XmlWriter::new(&[(ns::DAV, "d")]);
        w.start(&ERROR);
        w.element(condition);
        String::from_utf8(w.finish()).ok()
    }
}

impl fmt::Debug for DavError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DavError")
            .field("status", &self.0.status)
            .field(
                "condition",
                &self.0.condition.as_ref().map(|c| c.name.to_string()),
            )
            .field("message", &self.0.message)
            .field("source", &self.0.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl fmt::Display for DavError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0.status.as_u16(), self.0.message)?;
        if let Some(c) = &self.0.condition {
            write!(f, " ({})", c.name)?;
        }
        if let Some(s) = &self.0.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DavError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source.as_deref().map(|s| s as _)
    }
}

impl From<dirdav_xml::XmlError> for DavError {
    fn from(e: dirdav_xml::XmlError) -> Self {
        DavError::bad_request(e.to_string())
    }
}

/// Why a request was refused, put into the extensions of the response a [`DavError`]
/// makes (a 4xx): its condition's name, if any, and its message. The access log names
/// it (`why=`); clients see only the status and the condition element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal(pub std::sync::Arc<str>);

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl IntoResponse for DavError {
    fn into_response(self) -> Response {
        let mut builder = Response::builder().status(self.0.status);
        if self.0.status.is_client_error() {
            let why = match &self.0.condition {
                Some(c) => format!("{}: {}", c.name.local(), self.0.message),
                None => self.0.message.to_string(),
            };
            builder = builder.extension(Refusal(why.into()));
        }
        let body = match self.body() {
            Some(xml) => {
                builder = builder.header(header::CONTENT_TYPE, "application/xml; charset=utf-8");
                Body::from(xml)
            }
            None if self.0.status.is_server_error() => Body::empty(),
            None => {
                builder = builder.header(header::CONTENT_TYPE, "text/plain; charset=utf-8");
                Body::from(format!("{}\n", self.0.message))
            }
        };
        builder
            .body(body)
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }
}
