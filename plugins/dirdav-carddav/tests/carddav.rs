//! CardDAV through the real service: what a contacts client sees.

#![allow(missing_docs, clippy::unwrap_used)]

use axum::body::Body;
use dirdav_carddav::CardDav;
use dirdav_core::{Config, Server, Watch};
use dirdav_plugin::Principal;
use dirdav_plugin::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn card(uid: &str, name: &str, email: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEMAIL;TYPE=WORK:{email}\r\nEND:VCARD\r\n"
    )
}

async fn setup() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("alice/contacts");
    std::fs::create_dir_all(&book).unwrap();
    std::fs::write(
        book.join(".dav.toml"),
        "kind = \"addressbook\"\ndisplayname = \"Contacts\"\n",
    )
    .unwrap();
    std::fs::write(
        book.join("carol.vcf"),
        card("c1", "Carol Díaz", "carol@example.com"),
    )
    .unwrap();
    std::fs::write(
        book.join("dana.vcf"),
        card("d1", "Dana Smith", "dana@example.org"),
    )
    .unwrap();
    std::fs::write(
        book.join("erik.vcf"),
        card("e1", "Erik Johansson", "erik@example.se"),
    )
    .unwrap();
    let srv = Server::builder(Config::new(dir.path()).watch(Watch::Off))
        .plugin(CardDav::default())
        .build()
        .await
        .unwrap();
    (dir, srv)
}

async fn send(
    srv: &Server,
    method: &str,
    path: &str,
    depth: Option<&str>,
    body: &str,
) -> (StatusCode, String) {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .extension(Principal::new("alice"));
    if let Some(d) = depth {
        b = b.header("depth", d);
    }
    let response = srv
        .router()
        .oneshot(b.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn hrefs(xml: &str) -> Vec<String> {
    let mut out: Vec<String> = xml
        .split("<d:href>")
        .skip(1)
        .map(|s| s.split("</d:href>").next().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn an_address_book_describes_itself() {
    let (_dir, srv) = setup().await;
    let body = r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><prop><resourcetype/><C:supported-address-data/><C:addressbook-home-set/></prop></propfind>"#;
    let (_, xml) = send(&srv, "PROPFIND", "/alice/contacts/", Some("0"), body).await;
    assert!(
        xml.contains("<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>"),
        "{xml}"
    );
    assert!(xml.contains("<card:supported-address-data><card:address-data-type content-type=\"text/vcard\" version=\"3.0\"/><card:address-data-type content-type=\"text/vcard\" version=\"4.0\"/></card:supported-address-data>"));
    let (_, xml) = send(&srv, "PROPFIND", "/alice/", Some("0"), body).await;
    assert!(
        xml.contains(
            "<card:addressbook-home-set><d:href>/alice/</d:href></card:addressbook-home-set>"
        ),
        "{xml}"
    );
}

#[tokio::test]
async fn put_checks_refuse_with_their_preconditions() {
    let (dir, srv) = setup().await;
    let cases = [
        ("not a card".to_owned(), "valid-address-data"),
        (
            card("x", "X", "x@x").replace("FN:X\r\n", ""),
            "valid-address-data",
        ),
        (
            card("x", "X", "x@x").replace("3.0", "2.1"),
            "supported-address-data",
        ),
        (card("c1", "Other Carol", "o@x"), "no-uid-conflict"),
    ];
    for (body, condition) in cases {
        let (status, xml) = send(&srv, "PUT", "/alice/contacts/new.vcf", None, &body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            xml.contains(&format!(
                "<{condition} xmlns=\"urn:ietf:params:xml:ns:carddav\""
            )),
            "{xml}"
        );
    }
    assert!(!dir.path().join("alice/contacts/new.vcf").exists());
    // Not a vCard and not said to be: not a media type an address book takes (RFC 6352
    // §6.3.2.1), by PUT as by COPY of a text file.
    let typed = |method: &str, path: &str, header: (&str, &str), body: &str| {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header.0, header.1)
            .extension(Principal::new("alice"))
            .body(Body::from(body.to_owned()))
            .unwrap();
        let srv = &srv;
        async move {
            let response = srv.router().oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    let (status, xml) = typed(
        "PUT",
        "/alice/contacts/new.vcf",
        ("content-type", "text/plain"),
        "hello",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(xml.contains("<supported-address-data "), "{xml}");
    let (status, _) = send(&srv, "PUT", "/alice/notes.txt", None, "hello").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, xml) = typed(
        "COPY",
        "/alice/notes.txt",
        ("destination", "/alice/contacts/n.vcf"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(xml.contains("<supported-address-data "), "{xml}");
    let (status, _) = send(
        &srv,
        "PUT",
        "/alice/contacts/new.vcf",
        None,
        &card("n1", "New Person", "n@x"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn addressbook_query_answers_from_the_index() {
    let (dir, srv) = setup().await;
    // Cards are not read for an FN query without address-data: remove them from disk.
    for f in ["carol.vcf", "dana.vcf", "erik.vcf"] {
        std::fs::remove_file(dir.path().join("alice/contacts").join(f)).unwrap();
    }
    let body = r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
<D:prop><D:getetag/></D:prop>
<C:filter><C:prop-filter name="FN"><C:text-match match-type="contains">s</C:text-match></C:prop-filter></C:filter>
</C:addressbook-query>"#;
    let (status, xml) = send(&srv, "REPORT", "/alice/contacts/", Some("1"), body).await;
    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(
        hrefs(&xml),
        ["/alice/contacts/dana.vcf", "/alice/contacts/erik.vcf"],
        "{xml}"
    );
    let limited = body.replace(
        "<C:filter>",
        "<C:limit><C:nresults>1</C:nresults></C:limit><C:filter>",
    );
    let (_, xml) = send(&srv, "REPORT", "/alice/contacts/", Some("1"), &limited).await;
    assert!(xml.contains("<d:href>/alice/contacts/</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status><d:error><d:number-of-matches-within-limits/></d:error>"), "{xml}");
    assert_eq!(xml.matches(".vcf</d:href>").count(), 1);
}

#[tokio::test]
async fn multiget_query_with_data_and_export() {
    let (_dir, srv) = setup().await;
    let body = r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
<D:prop><D:getetag/><C:address-data/></D:prop><D:href>/alice/contacts/carol.vcf</D:href><D:href>/alice/contacts/none.vcf</D:href>
</C:addressbook-multiget>"#;
    let (_, xml) = send(&srv, "REPORT", "/alice/contacts/", Some("1"), body).await;
    assert!(
        xml.contains(
            "<card:address-data>BEGIN:VCARD&#13;\nVERSION:3.0&#13;\nUID:c1&#13;\nFN:Carol Díaz"
        ),
        "{xml}"
    );
    assert!(xml.contains(
        "<d:href>/alice/contacts/none.vcf</d:href><d:status>HTTP/1.1 404 Not Found</d:status>"
    ));
    let by_email = r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><C:address-data/></D:prop>
<C:filter><C:prop-filter name="EMAIL"><C:param-filter name="TYPE"><C:text-match>work</C:text-match></C:param-filter>
<C:text-match match-type="ends-with">.org</C:text-match></C:prop-filter></C:filter></C:addressbook-query>"#;
    let (_, xml) = send(&srv, "REPORT", "/alice/contacts/", Some("1"), by_email).await;
    assert_eq!(
        hrefs(&xml),
        [
            "/alice/contacts/carol.vcf",
            "/alice/contacts/dana.vcf",
            "/alice/contacts/erik.vcf"
        ],
        "anyof: every card has TYPE=WORK: {xml}"
    );
    let (status, text) = send(&srv, "GET", "/alice/contacts/", None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text.matches("BEGIN:VCARD").count(), 3);
}

#[tokio::test]
async fn grouped_properties_are_found_by_their_name() {
    let (_dir, srv) = setup().await;
    // Apple writes labelled addresses in groups: `item1.EMAIL` is an EMAIL (RFC 6350 §3.3).
    let apple = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:jo\r\nFN:Jo Grouped\r\nN:Grouped;Jo;;;\r\n\
                 item1.EMAIL;type=INTERNET:jo@example.net\r\nitem1.X-ABLabel:_$!<Other>!$_\r\n\
                 END:VCARD\r\n";
    let (status, body) = send(&srv, "PUT", "/alice/contacts/jo.vcf", None, apple).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let query = |filter: &str| {
        format!(
            r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/></D:prop><C:filter>{filter}</C:filter></C:addressbook-query>"#
        )
    };
    // Answered from the index's summary.
    let by_value = query(
        r#"<C:prop-filter name="EMAIL"><C:text-match match-type="contains">jo@example</C:text-match></C:prop-filter>"#,
    );
    let (status, xml) = send(&srv, "REPORT", "/alice/contacts/", Some("1"), &by_value).await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{xml}");
    assert_eq!(hrefs(&xml), ["/alice/contacts/jo.vcf"]);
    // A parameter test reads the card itself.
    let by_param = query(
        r#"<C:prop-filter name="EMAIL"><C:param-filter name="TYPE"><C:text-match>internet</C:text-match></C:param-filter></C:prop-filter>"#,
    );
    let (status, xml) = send(&srv, "REPORT", "/alice/contacts/", Some("1"), &by_param).await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{xml}");
    assert_eq!(hrefs(&xml), ["/alice/contacts/jo.vcf"]);
}
