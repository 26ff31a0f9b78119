//! Views through the real service: how much one user's sources can make the server hold.

#![allow(missing_docs, clippy::unwrap_used)]

use dirdav_plugin::{Plugin, Registrar, View};
use dirdav_testkit::TestServer;

/// Makes `per_item` members of every note in the user's `notes` folder.
struct Echo {
    per_item: usize,
}

impl Plugin for Echo {
    fn register(&self, r: &mut Registrar<'_>) {
        let per_item = self.per_item;
        r.collection_kind("notes", Vec::new()).view(
            View::new("echo", "notes")
                .sources(|user, _| vec![format!("{user}/notes")])
                .members_from(move |item, bytes| {
                    let stem = item.path.rsplit('/').next().unwrap_or("").to_owned();
                    (0..per_item)
                        .map(|i| (format!("{stem}-{i}.txt"), bytes.to_vec()))
                        .collect()
                }),
        );
    }
}

async fn server(per_item: usize, notes: usize) -> TestServer {
    let mut setup = TestServer::new().file("alice/notes/.dav.toml", "kind = \"notes\"\n");
    for i in 0..notes {
        setup = setup.file(&format!("alice/notes/{i}.txt"), format!("note {i}"));
    }
    setup.plugin(Echo { per_item }).start().await
}

async fn members(srv: &TestServer) -> usize {
    let listing = srv
        .request("PROPFIND", "/alice/echo/")
        .user("alice")
        .depth("1")
        .send()
        .await;
    assert_eq!(listing.status, 207, "{}", listing.body);
    listing.hrefs().len() - 1
}

#[tokio::test]
async fn a_view_holds_what_its_sources_make() {
    let srv = server(2, 3).await;
    assert_eq!(members(&srv).await, 6);
    let one = srv
        .request("GET", "/alice/echo/1.txt-0.txt")
        .user("alice")
        .send()
        .await;
    assert_eq!((one.status.as_u16(), one.body.as_str()), (200, "note 1"));
}

#[tokio::test]
async fn one_user_cannot_make_a_view_hold_more_than_its_limit() {
    // 3 notes that each make 5,000 members: 15,000 asked for, 10,000 held.
    let srv = server(5_000, 3).await;
    assert_eq!(members(&srv).await, 10_000);
    // The ones held are answered; the others do not exist.
    let held = srv
        .request("GET", "/alice/echo/0.txt-4999.txt")
        .user("alice")
        .send()
        .await;
    assert_eq!(held.status, 200);
    let left_out = srv
        .request("GET", "/alice/echo/2.txt-4999.txt")
        .user("alice")
        .send()
        .await;
    assert_eq!(left_out.status, 404);
}
