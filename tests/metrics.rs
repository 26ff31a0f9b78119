//! End-to-end: `GET /metrics` in Prometheus text format, answered to loopback (and
//! trusted proxies) without credentials, moving with the requests answered; off with
//! `--no-metrics`.

#![allow(missing_docs, clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

/// The samples of a Prometheus text answer, by name and labels; every line that is no
/// comment must be `name{labels} value` with a number for a value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (key, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample: {l}"));
            let name = key.split('{').next().unwrap();
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "bad metric name in {l}"
            );
            (
                key.to_owned(),
                value
                    .parse::<f64>()
                    .unwrap_or_else(|_| panic!("not a number: {l}")),
            )
        })
        .collect()
}

#[test]
fn metrics_are_prometheus_text_and_move_with_requests() {
    let (_dir, srv) = support::example_server(&[]);
    let scrape = || {
        let r = srv.request("GET", "/metrics").send();
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        samples(&r.body)
    };
    let before = scrape();
    assert!(before["dirdav_index_entries"] > 50.0, "{before:?}");
    assert!(before["dirdav_index_folders"] > 5.0, "{before:?}");
    for _ in 0..3 {
        let r = srv
            .request("PROPFIND", "/alice/calendar/")
            .auth("alice", "wonderland")
            .header("Depth", "1")
            .send();
        assert_eq!(r.status, 207);
    }
    let r = srv
        .request("BREW", "/alice/")
        .auth("alice", "wonderland")
        .send();
    assert!(r.status >= 400);
    let put = srv
        .request("PUT", "/alice/calendar/m.ics")
        .auth("alice", "wonderland")
        .body(support::event("m"))
        .send();
    assert_eq!(put.status, 201);
    let after = scrape();
    let count = |s: &BTreeMap<String, f64>, key: &str| s.get(key).copied().unwrap_or(0.0);
    let propfinds = r#"dirdav_requests_total{method="PROPFIND",status="207"}"#;
    assert_eq!(
        count(&after, propfinds) - count(&before, propfinds),
        3.0,
        "{after:?}"
    );
    assert!(
        after
            .keys()
            .any(|k| k.starts_with(r#"dirdav_requests_total{method="other""#)),
        "a made-up method is counted as other: {after:?}"
    );
    assert!(!after.keys().any(|k| k.contains("BREW")), "{after:?}");
    let latency = r#"dirdav_request_duration_seconds_count{method="PROPFIND"}"#;
    assert!(count(&after, latency) >= 3.0, "{after:?}");
    assert_eq!(
        count(&after, "dirdav_index_entries") - count(&before, "dirdav_index_entries"),
        1.0
    );
    assert!(
        count(&after, "dirdav_sync_change_number") > count(&before, "dirdav_sync_change_number")
    );
}

#[test]
fn no_metrics_turns_the_endpoint_off() {
    let (_dir, srv) = support::example_server(&["--no-metrics"]);
    let r = srv.request("GET", "/metrics").send();
    assert_ne!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("dirdav_requests_total"));
}
