//! MKCALENDAR (RFC 4791 §5.3.1): a new calendar collection, with the properties the
//! request sets, in one step.

use dirdav_plugin::http::{Response, StatusCode};
use dirdav_plugin::xml::{Limits, Name, ns, parse};
use dirdav_plugin::{Body, DavError, DavRequest, HandlerResult, NewCollection};

use crate::{COMP, KIND, SUPPORTED_COMPONENTS, cal};

const MKCALENDAR: Name = cal("mkcalendar");
const SET: Name = Name::new(ns::DAV, "set");
const PROP: Name = Name::new(ns::DAV, "prop");

pub(crate) async fn mkcalendar(request: DavRequest) -> HandlerResult {
    if request.resource.is_some() {
        return Err(DavError::method_not_allowed("the resource already exists")
            .condition(Name::new(ns::DAV, "resource-must-be-null")));
    }
    let parent_path = dirdav_plugin::path::parent(&request.path);
    let parent = request
        .store
        .resource(parent_path)
        .filter(|p| p.is_collection)
        .ok_or_else(|| DavError::conflict("the parent collection does not exist"))?;
    if parent.kind() == Some(KIND) {
        return Err(
            DavError::forbidden("calendars cannot be nested in calendars")
                .condition(cal("calendar-collection-location-ok")),
        );
    }
    let mut lists = Vec::new();
    let mut props = Vec::new();
    if !request.body.iter().all(u8::is_ascii_whitespace) {
        let root = parse(&request.body, &Limits::default())?;
        if root.name != MKCALENDAR {
            return Err(DavError::bad_request("expected CALDAV:mkcalendar"));
        }
        for prop in root
            .elements()
            .filter(|e| e.name == SET)
            .flat_map(|s| s.elements().filter(|e| e.name == PROP))
        {
            for element in prop.elements() {
                if element.name == SUPPORTED_COMPONENTS {
                    let names: Vec<String> = element
                        .elements()
                        .filter(|c| c.name == COMP)
                        .filter_map(|c| c.get_attr(&Name::new("", "name")))
                        .map(str::to_ascii_uppercase)
                        .collect();
                    lists.push((crate::COMPONENTS.map(str::to_owned).to_vec(), names));
                } else {
                    props.push(element.clone());
                }
            }
        }
    }
    request
        .store
        .make_collection(NewCollection {
            path: &request.path,
            kind: Some(KIND),
            lists,
            props,
            method: "MKCALENDAR",
            principal: request.principal.as_ref(),
        })
        .await?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}
