//! The plugin API seen from the outside: every kind of contribution reaches clients.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use dirdav_core::Server;
use dirdav_plugin::http::StatusCode;
use dirdav_plugin::xml::{Element, Name};
use dirdav_plugin::{DavError, LiveProperty, Multistatus, Plugin, PropStat, Registrar};

const NS: &str = "urn:test";
const SUMMARY: Name = Name::new(NS, "summary");
const ECHO: Name = Name::new(NS, "echo");
const STORED: Name = Name::new(NS, "timezone");
const UID: Name = Name::new(NS, "uid");

/// A plugin using every hook, as a calendar plugin would.
#[derive(Default)]
struct Everything {
    events: Arc<Mutex<Vec<String>>>,
}

impl Plugin for Everything {
    fn name(&self) -> &'static str {
        "everything"
    }

    fn register(&self, r: &mut Registrar<'_>) {
        let events = self.events.clone();
        r.namespace(NS, "t")
            .compliance("test-access")
            .collection_kind("calendar", vec![Name::new(NS, "calendar")])
            .property(LiveProperty::computed(SUMMARY, |ctx| {
                ctx.resource
                    .is_item_of("calendar")
                    .then(|| Element::with_text(SUMMARY, ctx.resource.name()))
            }))
            .property(LiveProperty::stored(STORED, &["test", "timezone"]))
            .property(LiveProperty::computed(UID, |ctx| {
                let uid = ctx.resource.summary.as_ref()?.uid.clone()?;
                Some(Element::with_text(UID, uid))
            }))
            .summarizer("calendar", |bytes| dirdav_plugin::Summary {
                uid: String::from_utf8_lossy(bytes)
                    .lines()
                    .find_map(|l| l.strip_prefix("UID:").map(|u| u.trim().to_owned())),
                ..Default::default()
            })
            .report(
                ECHO,
                |res| res.is_collection_of("calendar"),
                |req: dirdav_plugin::DavRequest| async move {
                    let members = req.store.members(&req.path);
                    let mut ms = Multistatus::new(&req.store.prefixes());
                    for m in members {
                        let bytes = req.store.read(&m.path).await?;
                        let prop = Element::with_text(
                            SUMMARY,
                            String::from_utf8_lossy(&bytes).lines().count().to_string(),
                        );
                        ms.propstats(
                            &m.href,
                            &[PropStat {
                                status: StatusCode::OK,
                                props: vec![prop],
                                error: None,
                            }],
                        );
                    }
                    Ok(ms.into_response())
                },
            )
            .method("MKTEST", |req: dirdav_plugin::DavRequest| async move {
                Err(DavError::forbidden(format!("no MKTEST on {}", req.path))
                    .condition(Name::new(NS, "nope")))
            })
            .write_check("calendar", |w| {
                if w.body.starts_with(b"BEGIN:VCALENDAR") {
                    Ok(())
                } else {
                    Err(DavError::forbidden("not iCalendar").condition(Name::new(
                        "urn:ietf:params:xml:ns:caldav",
                        "valid-calendar-data",
                    )))
                }
            })
            .after_write(move |e| {
                let dest = e
                    .destination
                    .as_deref()
                    .map(|d| format!(" -> {d}"))
                    .unwrap_or_default();
                let line = format!("{} {}{dest}: {}", e.method, e.target, e.paths.join(","));
                events.lock().unwrap().push(line);
            })
            .before_method(|m| {
                if m.path.starts_with("docs") && m.method.as_str() == "DELETE" {
                    Err(DavError::forbidden("docs are permanent"))
                } else {
                    Ok(())
                }
            })
            .member_filter(|res, principal, _| {
                !(res.path == "docs" && principal.is_none_or(|p| &*p.name != "alice"))
            })
            .public_route(
                "/.well-known/test",
                |_req: dirdav_plugin::DavRequest| async move {
                    let mut response =
                        dirdav_plugin::http::Response::new(dirdav_plugin::Body::empty());
                    *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
                    response
                        .headers_mut()
                        .insert("location", "/".parse().unwrap());
                    Ok(response)
                },
            );
    }
}

async fn server(fx: &Fixture) -> (Server, Arc<Mutex<Vec<String>>>) {
    let plugin = Everything::default();
    let events = plugin.events.clone();
    let srv = Server::builder(fx.config())
        .plugin(plugin)
        .build()
        .await
        .unwrap();
    (srv, events)
}

#[tokio::test]
async fn registrations_show_in_headers_and_properties() {
    let fx = Fixture::new();
    let (srv, _) = server(&fx).await;
    let r = req("OPTIONS", "/alice/calendar/").send(&srv).await;
    assert_eq!(r.header("dav"), Some("1, 3, extended-mkcol, test-access"));
    assert_eq!(
        r.header("allow"),
        Some("OPTIONS, GET, HEAD, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, MKCOL, REPORT, MKTEST")
    );
    let r = req("OPTIONS", "/docs/readme.txt").send(&srv).await;
    assert!(
        !r.header("allow").unwrap().contains("REPORT"),
        "no report applies to a plain file"
    );

    let body = r#"<propfind xmlns="DAV:"><prop><resourcetype/><supported-report-set/><summary xmlns="urn:test"/></prop></propfind>"#;
    let r = req("PROPFIND", "/alice/calendar/")
        .header("depth", "1")
        .header("brief", "t")
        .body(body)
        .send(&srv)
        .await;
    assert_eq!(
        r.body,
        format!(
            "{XML_HEAD}<d:multistatus xmlns:d=\"DAV:\" xmlns:cs=\"http://calendarserver.org/ns/\" xmlns:t=\"urn:test\">\
<d:response><d:href>/alice/calendar/</d:href><d:propstat><d:prop>\
<d:resourcetype><d:collection/><t:calendar/></d:resourcetype>\
<d:supported-report-set><d:supported-report><d:report><d:sync-collection/></d:report></d:supported-report><d:supported-report><d:report><t:echo/></d:report></d:supported-report></d:supported-report-set>\
</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>\
<d:response><d:href>/alice/calendar/one.ics</d:href><d:propstat><d:prop>\
<d:resourcetype/><d:supported-report-set/><t:summary>one.ics</t:summary>\
</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>\n"
        )
    );
}

#[tokio::test]
async fn stored_properties_are_written_to_the_plugin_table() {
    let fx = Fixture::new();
    let (srv, _) = server(&fx).await;
    let body = r#"<propertyupdate xmlns="DAV:"><set><prop><timezone xmlns="urn:test">Europe/Berlin</timezone></prop></set></propertyupdate>"#;
    let r = req("PROPPATCH", "/alice/calendar/")
        .body(body)
        .send(&srv)
        .await;
    assert!(r.body.contains("200 OK"), "{}", r.body);
    assert!(
        fx.read("alice/calendar/.dav.toml")
            .unwrap()
            .ends_with("[test]\ntimezone = \"Europe/Berlin\"\n")
    );
    let ask = r#"<propfind xmlns="DAV:"><prop><timezone xmlns="urn:test"/></prop></propfind>"#;
    let r = req("PROPFIND", "/alice/calendar/")
        .header("depth", "0")
        .body(ask)
        .send(&srv)
        .await;
    assert!(r.body.contains("<t:timezone>Europe/Berlin</t:timezone>"));
}

#[tokio::test]
async fn reports_dispatch_by_root_element_and_refuse_unknown_ones() {
    let fx = Fixture::new();
    let (srv, _) = server(&fx).await;
    let r = req("REPORT", "/alice/calendar/")
        .body(r#"<echo xmlns="urn:test"/>"#)
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::MULTI_STATUS);
    assert!(
        r.body.contains(
            "<d:href>/alice/calendar/one.ics</d:href><d:propstat><d:prop><t:summary>10</t:summary>"
        ),
        "{}",
        r.body
    );
    let r = req("REPORT", "/docs/")
        .body(r#"<echo xmlns="urn:test"/>"#)
        .user("alice")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("<d:supported-report/>"));
    let r = req("REPORT", "/alice/calendar/")
        .body(r#"<other xmlns="urn:x"/>"#)
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = req("MKTEST", "/alice/x/").send(&srv).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("<nope xmlns=\"urn:test\"/>"), "{}", r.body);
}

#[tokio::test]
async fn write_checks_refuse_before_anything_reaches_disk() {
    let fx = Fixture::new();
    let (srv, events) = server(&fx).await;
    let before = fx.snapshot();
    let r = req("PUT", "/alice/calendar/bad.ics")
        .body("garbage")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body,
        format!(
            "{XML_HEAD}<d:error xmlns:d=\"DAV:\"><valid-calendar-data xmlns=\"urn:ietf:params:xml:ns:caldav\"/></d:error>\n"
        )
    );
    assert_eq!(fx.snapshot(), before);
    assert!(events.lock().unwrap().is_empty());
    let r = req("PUT", "/docs/anything.txt")
        .body("garbage")
        .send(&srv)
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "checks apply to their kind only"
    );
    let r = req("PUT", "/alice/calendar/good.ics")
        .body(EVENT)
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    req("MOVE", "/docs/anything.txt")
        .header("destination", "/alice/anything.txt")
        .send(&srv)
        .await;
    req("PROPPATCH", "/alice/anything.txt")
        .body(r#"<propertyupdate xmlns="DAV:"><set><prop><x xmlns="urn:x">1</x></prop></set></propertyupdate>"#)
        .send(&srv)
        .await;
    assert_eq!(
        *events.lock().unwrap(),
        [
            "PUT docs/anything.txt: docs/anything.txt",
            "PUT alice/calendar/good.ics: alice/calendar/good.ics",
            "MOVE docs/anything.txt -> alice/anything.txt: alice/anything.txt,docs/anything.txt",
            "PROPPATCH alice/anything.txt: alice/.dav.toml",
        ]
    );
}

#[tokio::test]
async fn before_method_hooks_and_member_filters_apply() {
    let fx = Fixture::new();
    let (srv, _) = server(&fx).await;
    assert_eq!(
        req("DELETE", "/docs/readme.txt")
            .user("alice")
            .send(&srv)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert!(fx.path("docs/readme.txt").exists());
    let listing = |user: Option<&'static str>| {
        let srv = srv.clone();
        async move {
            let mut r = req("PROPFIND", "/").header("depth", "1");
            if let Some(u) = user {
                r = r.user(u);
            }
            r.body(r#"<propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>"#)
                .send(&srv)
                .await
                .body
        }
    };
    assert!(
        listing(Some("alice"))
            .await
            .contains("<d:href>/docs/</d:href>")
    );
    assert!(!listing(Some("bob")).await.contains("/docs/"));
    assert!(!listing(None).await.contains("/docs/"));
    let r = req("PROPFIND", "/docs/")
        .header("depth", "0")
        .user("bob")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn routes_answer_before_the_tree() {
    let fx = Fixture::new();
    let (srv, _) = server(&fx).await;
    for method in ["PROPFIND", "GET", "OPTIONS"] {
        let r = req(method, "/.well-known/test").send(&srv).await;
        assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY, "{method}");
        assert_eq!(r.header("location"), Some("/"));
    }
}

#[tokio::test]
async fn duplicate_registrations_fail_the_build_naming_both_plugins() {
    struct Copycat;
    impl Plugin for Copycat {
        fn name(&self) -> &'static str {
            "copycat"
        }
        fn register(&self, r: &mut Registrar<'_>) {
            r.property(LiveProperty::computed(Name::new("DAV:", "getetag"), |_| {
                None
            }))
            .report(
                ECHO,
                |_| true,
                |_req: dirdav_plugin::DavRequest| async { Err(DavError::not_found()) },
            );
        }
    }
    let fx = Fixture::new();
    let err = Server::builder(fx.config())
        .plugin(Everything::default())
        .plugin(Copycat)
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("property {DAV:}getetag is registered by both dirdav-core and copycat"),
        "{err}"
    );
    assert!(
        err.contains("report {urn:test}echo is registered by both everything and copycat"),
        "{err}"
    );
}

#[tokio::test]
async fn summaries_are_made_at_startup_and_on_put_and_persist() {
    let fx = Fixture::new();
    let state = tempfile::tempdir().unwrap();
    let build = || async {
        Server::builder(fx.config().state_dir(state.path()))
            .plugin(Everything::default())
            .build()
            .await
            .unwrap()
    };
    let ask = r#"<propfind xmlns="DAV:"><prop><uid xmlns="urn:test"/></prop></propfind>"#;
    let srv = build().await;
    let r = req("PROPFIND", "/alice/calendar/")
        .header("depth", "1")
        .body(ask)
        .send(&srv)
        .await;
    assert!(r.body.contains("<t:uid>one</t:uid>"), "{}", r.body);
    req("PUT", "/alice/calendar/two.ics")
        .body(EVENT.replace("UID:one", "UID:two"))
        .send(&srv)
        .await;
    req("PUT", "/docs/plain.ics").body(EVENT).send(&srv).await;
    drop(srv);
    let srv = build().await;
    let r = req("PROPFIND", "/alice/calendar/")
        .header("depth", "1")
        .body(ask)
        .send(&srv)
        .await;
    assert!(
        r.body.contains("<t:uid>one</t:uid>") && r.body.contains("<t:uid>two</t:uid>"),
        "{}",
        r.body
    );
    let r = req("PROPFIND", "/docs/plain.ics")
        .header("depth", "0")
        .body(ask)
        .send(&srv)
        .await;
    assert!(
        !r.body.contains("<t:uid>"),
        "only items of the kind are summarized"
    );
}

#[tokio::test]
async fn extended_mkcol_creates_a_collection_of_a_registered_kind() {
    let fx = Fixture::new();
    let (srv, events) = server(&fx).await;
    let body = r#"<D:mkcol xmlns:D="DAV:" xmlns:T="urn:test"><D:set><D:prop>
<D:resourcetype><D:collection/><T:calendar/></D:resourcetype><D:displayname>New</D:displayname>
<T:timezone>Europe/Paris</T:timezone><X:color xmlns:X="urn:x">red</X:color></D:prop></D:set></D:mkcol>"#;
    let r = req("MKCOL", "/alice/new/").body(body).send(&srv).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        fx.read("alice/new/.dav.toml").unwrap(),
        "kind = \"calendar\"\ndisplayname = \"New\"\n\n[test]\ntimezone = \"Europe/Paris\"\n\n[props]\n\"{urn:x}color\" = \"red\"\n"
    );
    let ask = r#"<propfind xmlns="DAV:"><prop><resourcetype/><displayname/></prop></propfind>"#;
    let r = req("PROPFIND", "/alice/new/")
        .header("depth", "0")
        .body(ask)
        .send(&srv)
        .await;
    assert!(r.body.contains("<d:resourcetype><d:collection/><t:calendar/></d:resourcetype><d:displayname>New</d:displayname>"));
    assert_eq!(
        events.lock().unwrap().last().unwrap(),
        "MKCOL alice/new: alice/new,alice/new/.dav.toml"
    );

    let before = fx.snapshot();
    let unknown = body.replace("<T:calendar/>", "<Z:unknown xmlns:Z=\"urn:z\"/>");
    let r = req("MKCOL", "/alice/other/").body(unknown).send(&srv).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("<d:valid-resourcetype/>"));
    let protected = body.replace(
        "<D:displayname>New</D:displayname>",
        "<D:getetag>\"x\"</D:getetag>",
    );
    let r = req("MKCOL", "/alice/other/")
        .body(protected)
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = req("MKCOL", "/alice/new/").body(body).send(&srv).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(fx.snapshot(), before, "nothing created by a refused MKCOL");
}

/// A policy plugin as an administrator would write one: routes pass its before-method
/// hook like every request to the tree, and its write check sees who writes, in a plain
/// folder of no registered kind.
struct Policy {
    checks: Arc<Mutex<Vec<String>>>,
}

impl Plugin for Policy {
    fn name(&self) -> &'static str {
        "policy"
    }

    fn register(&self, r: &mut Registrar<'_>) {
        let checks = self.checks.clone();
        let answer = |text: &'static str| {
            move |_req: dirdav_plugin::DavRequest| async move {
                Ok(dirdav_plugin::http::Response::new(
                    dirdav_plugin::Body::from(text),
                ))
            }
        };
        r.before_method(move |m| {
            let who = m.principal.map_or("-", |p| &*p.name);
            let line = format!("{} {} {who} route={}", m.method, m.path, m.route);
            checks.lock().unwrap().push(line);
            match (m.route, m.principal) {
                (true, None) => Err(DavError::new(StatusCode::UNAUTHORIZED, "sign in")),
                _ => Ok(()),
            }
        })
        .route("/.private", answer("private"))
        .public_route("/.open", answer("open"))
        .write_check_where(
            |folder| folder.path == "docs",
            |w| match w.principal {
                Some(p) if &*p.name == "alice" => Ok(()),
                _ => Err(DavError::forbidden("only alice writes docs")),
            },
        );
    }
}

#[tokio::test]
async fn routes_pass_the_before_method_hooks_unless_public_and_write_checks_see_who_writes() {
    let fx = Fixture::new();
    let checks = Arc::new(Mutex::new(Vec::new()));
    let srv = Server::builder(fx.config())
        .plugin(Policy {
            checks: checks.clone(),
        })
        .build()
        .await
        .unwrap();
    let r = req("GET", "/.private/x").send(&srv).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!r.body.contains("private"), "the handler did not run");
    let r = req("GET", "/.private/x").user("bob").send(&srv).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "private"));
    let r = req("GET", "/.open").send(&srv).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "open"));
    assert_eq!(
        *checks.lock().unwrap(),
        [
            "GET /.private/x - route=true",
            "GET /.private/x bob route=true"
        ],
        "a public route does not reach the hooks"
    );

    let before = fx.snapshot();
    let r = req("PUT", "/docs/new.txt")
        .user("bob")
        .body("hi")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = req("PUT", "/docs/readme.txt").send(&srv).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "anonymous: {}", r.body);
    let r = req("COPY", "/alice/calendar/one.ics")
        .header("destination", "/docs/one.ics")
        .user("bob")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(fx.snapshot(), before, "nothing written");
    let r = req("PUT", "/docs/new.txt")
        .user("alice")
        .body("hi")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // Elsewhere the check does not apply.
    let r = req("PUT", "/alice/note.txt")
        .user("bob")
        .body("hi")
        .send(&srv)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}
