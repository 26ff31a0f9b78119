//! REPORT (RFC 3253 §3.6): dispatched by the body's root element to the plugin that
//! registered it.

use std::sync::Arc;

use axum::response::Response;
use bytes::Bytes;
use dirdav_plugin::xml::{Limits, Name, ns, parse};
use dirdav_plugin::{DavError, Resource};

use crate::server::{Ctx, Inner};

const SUPPORTED_REPORT: Name = Name::new(ns::DAV, "supported-report");

pub(crate) async fn report(
    srv: &Arc<Inner>,
    ctx: Ctx,
    resource: Option<Resource>,
    body: Bytes,
) -> Result<Response, DavError> {
    let resource = resource.ok_or_else(DavError::not_found)?;
    let root = parse(&body, &Limits::default())?;
    let report = srv
        .registry
        .reports
        .get(&root.name)
        .filter(|r| (r.item.applies)(&resource))
        .ok_or_else(|| {
            DavError::forbidden(format!("report {} is not supported here", root.name))
                .condition(SUPPORTED_REPORT)
        })?;
    let handler = report.item.handler.clone();
    let depth = ctx.depth()?;
    let mut request = srv.plugin_request(ctx.parts, body, ctx.key, ctx.principal);
    request.resource = Some(resource);
    request.depth = depth;
    handler.call(request).await
}
