//! REPORT (RFC 3253 §3.6): dispatched by the body's root element to the plugin that
//! registered it.

use dirdav_plugin::xml::{Limits, Name, ns, parse};
use dirdav_plugin::{DavError, Resource, SharedHandler};

use crate::context::Inner;

const SUPPORTED_REPORT: Name = Name::new(ns::DAV, "supported-report");

/// The handler of the report the body names, when one applies to `resource`; else 403
/// with `DAV:supported-report`.
pub(crate) fn handler_for(
    srv: &Inner,
    resource: &Resource,
    body: &[u8],
) -> Result<SharedHandler, DavError> {
    let root = parse(body, &Limits::default())?;
    let report = srv
        .registry
        .reports
        .get(&root.name)
        .filter(|r| (r.item.applies)(resource))
        .ok_or_else(|| {
            DavError::forbidden(format!("report {} is not supported here", root.name))
                .condition(SUPPORTED_REPORT)
        })?;
    Ok(report.item.handler.clone())
}
