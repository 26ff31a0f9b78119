//! CardDAV through the real service: what a contacts client sees.

#![allow(missing_docs, clippy::unwrap_used)]

use dirdav_carddav::CardDav;
use dirdav_plugin::http::StatusCode;
use dirdav_testkit::{Reply, TestServer, hrefs};

fn card(uid: &str, name: &str, email: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\nEMAIL;TYPE=WORK:{email}\r\nEND:VCARD\r\n"
    )
}

async fn setup() -> TestServer {
    TestServer::new()
        .file(
            "alice/contacts/.dav.toml",
            "kind = \"addressbook\"\ndisplayname = \"Contacts\"\n",
        )
        .file(
            "alice/contacts/carol.vcf",
            card("c1", "Carol Díaz", "carol@example.com"),
        )
        .file(
            "alice/contacts/dana.vcf",
            card("d1", "Dana Smith", "dana@example.org"),
        )
        .file(
            "alice/contacts/erik.vcf",
            card("e1", "Erik Johansson", "erik@example.se"),
        )
        .plugin(CardDav::default())
        .start()
        .await
}

#[tokio::test]
async fn an_address_book_describes_itself() {
    let srv = setup().await;
    let body = r#"<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav"><prop><resourcetype/><C:supported-address-data/><C:addressbook-home-set/></prop></propfind>"#;
    let Reply { body: xml, .. } = srv
        .request("PROPFIND", "/alice/contacts/")
        .user("alice")
        .depth("0")
        .body(body)
        .send()
        .await;
    assert!(
        xml.contains("<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>"),
        "{xml}"
    );
    assert!(xml.contains("<card:supported-address-data><card:address-data-type content-type=\"text/vcard\" version=\"3.0\"/><card:address-data-type content-type=\"text/vcard\" version=\"4.0\"/></card:supported-address-data>"));
    let Reply { body: xml, .. } = srv
        .request("PROPFIND", "/alice/")
        .user("alice")
        .depth("0")
        .body(body)
        .send()
        .await;
    assert!(
        xml.contains(
            "<card:addressbook-home-set><d:href>/alice/</d:href></card:addressbook-home-set>"
        ),
        "{xml}"
    );
}

#[tokio::test]
async fn put_checks_refuse_with_their_preconditions() {
    let srv = setup().await;
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
        let Reply {
            status, body: xml, ..
        } = srv
            .request("PUT", "/alice/contacts/new.vcf")
            .user("alice")
            .body(body.as_str())
            .send()
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            xml.contains(&format!(
                "<{condition} xmlns=\"urn:ietf:params:xml:ns:carddav\""
            )),
            "{xml}"
        );
    }
    assert_eq!(srv.read("alice/contacts/new.vcf"), None);
    // Not a vCard and not said to be: not a media type an address book takes (RFC 6352
    // §6.3.2.1), by PUT as by COPY of a text file.
    let Reply {
        status, body: xml, ..
    } = srv
        .request("PUT", "/alice/contacts/new.vcf")
        .header("content-type", "text/plain")
        .user("alice")
        .body("hello")
        .send()
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(xml.contains("<supported-address-data "), "{xml}");
    let Reply { status, .. } = srv
        .request("PUT", "/alice/notes.txt")
        .user("alice")
        .body("hello")
        .send()
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let Reply {
        status, body: xml, ..
    } = srv
        .request("COPY", "/alice/notes.txt")
        .header("destination", "/alice/contacts/n.vcf")
        .user("alice")
        .send()
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(xml.contains("<supported-address-data "), "{xml}");
    let Reply { status, .. } = srv
        .request("PUT", "/alice/contacts/new.vcf")
        .user("alice")
        .body(card("n1", "New Person", "n@x"))
        .send()
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn addressbook_query_answers_from_the_index() {
    let srv = setup().await;
    // Cards are not read for an FN query without address-data: remove them from disk.
    for f in ["carol.vcf", "dana.vcf", "erik.vcf"] {
        std::fs::remove_file(srv.path(&format!("alice/contacts/{f}"))).unwrap();
    }
    let body = r#"<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
<D:prop><D:getetag/></D:prop>
<C:filter><C:prop-filter name="FN"><C:text-match match-type="contains">s</C:text-match></C:prop-filter></C:filter>
</C:addressbook-query>"#;
    let Reply {
        status, body: xml, ..
    } = srv
        .request("REPORT", "/alice/contacts/")
        .user("alice")
        .depth("1")
        .body(body)
        .send()
        .await;
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
    let Reply { body: xml, .. } = srv
        .request("REPORT", "/alice/contacts/")
        .user("alice")
        .depth("1")
        .body(limited.as_str())
        .send()
        .await;
    assert!(xml.contains("<d:href>/alice/contacts/</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status><d:error><d:number-of-matches-within-limits/></d:error>"), "{xml}");
    assert_eq!(xml.matches(".vcf</d:href>").count(), 1);
}

#[tokio::test]
async fn multiget_query_with_data_and_export() {
    let srv = setup().await;
    let body = r#"<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
<D:prop><D:getetag/><C:address-data/></D:prop><D:href>/alice/contacts/carol.vcf</D:href><D:href>/alice/contacts/none.vcf</D:href>
</C:addressbook-multiget>"#;
    let Reply { body: xml, .. } = srv
        .request("REPORT", "/alice/contacts/")
        .user("alice")
        .depth("1")
        .body(body)
        .send()
        .await;
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
    let Reply { body: xml, .. } = srv
        .request("REPORT", "/alice/contacts/")
        .user("alice")
        .depth("1")
        .body(by_email)
        .send()
        .await;
    assert_eq!(
        hrefs(&xml),
        [
            "/alice/contacts/carol.vcf",
            "/alice/contacts/dana.vcf",
            "/alice/contacts/erik.vcf"
        ],
        "anyof: every card has TYPE=WORK: {xml}"
    );
    let Reply {
        status, body: text, ..
    } = srv
        .request("GET", "/alice/contacts/")
        .user("alice")
        .body("")
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text.matches("BEGIN:VCARD").count(), 3);
}

#[tokio::test]
async fn grouped_properties_are_found_by_their_name() {
    let srv = setup().await;
    // Apple writes labelled addresses in groups: `item1.EMAIL` is an EMAIL (RFC 6350 §3.3).
    let apple = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:jo\r\nFN:Jo Grouped\r\nN:Grouped;Jo;;;\r\n\
                 item1.EMAIL;type=INTERNET:jo@example.net\r\nitem1.X-ABLabel:_$!<Other>!$_\r\n\
                 END:VCARD\r\n";
    let Reply { status, body, .. } = srv
        .request("PUT", "/alice/contacts/jo.vcf")
        .user("alice")
        .body(apple)
        .send()
        .await;
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
    let Reply {
        status, body: xml, ..
    } = srv
        .request("REPORT", "/alice/contacts/")
        .user("alice")
        .depth("1")
        .body(by_value.as_str())
        .send()
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{xml}");
    assert_eq!(hrefs(&xml), ["/alice/contacts/jo.vcf"]);
    // A parameter test reads the card itself.
    let by_param = query(
        r#"<C:prop-filter name="EMAIL"><C:param-filter name="TYPE"><C:text-match>internet</C:text-match></C:param-filter></C:prop-filter>"#,
    );
    let Reply {
        status, body: xml, ..
    } = srv
        .request("REPORT", "/alice/contacts/")
        .user("alice")
        .depth("1")
        .body(by_param.as_str())
        .send()
        .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{xml}");
    assert_eq!(hrefs(&xml), ["/alice/contacts/jo.vcf"]);
}
