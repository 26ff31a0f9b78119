//! How the state database's rows are written: file entries with their summaries, and
//! sync-log entries.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dirdav_plugin::{Periodic, Summary};

use crate::index::entry::{Change, FileEntry, Held};

fn put_time(out: &mut Vec<u8>, t: SystemTime) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    out.extend_from_slice(&d.as_secs().to_le_bytes());
    out.extend_from_slice(&d.subsec_nanos().to_le_bytes());
}

fn get_time(b: &[u8]) -> Option<SystemTime> {
    let secs = u64::from_le_bytes(b.get(0..8)?.try_into().ok()?);
    let nanos = u32::from_le_bytes(b.get(8..12)?.try_into().ok()?);
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

pub(super) fn encode_file(f: &FileEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(33 + f.etag.len());
    out.extend_from_slice(&f.size.to_le_bytes());
    put_time(&mut out, f.modified);
    put_time(&mut out, f.created);
    out.push(f.etag.len() as u8);
    out.extend_from_slice(f.etag.as_bytes());
    debug_assert!(
        f.summary.get().is_some() || !f.summary.is_some(),
        "a summary out of memory is stored already"
    );
    if let Some(summary) = f.summary.get() {
        out.extend_from_slice(&encode_summary(summary));
    }
    out
}

pub(super) fn decode_file(b: &[u8]) -> Option<FileEntry> {
    let etag_len = *b.get(32)? as usize;
    let etag = String::from_utf8(b.get(33..33 + etag_len)?.to_vec()).ok()?;
    let rest = b.get(33 + etag_len..)?;
    Some(FileEntry {
        size: u64::from_le_bytes(b.get(0..8)?.try_into().ok()?),
        modified: get_time(b.get(8..20)?)?,
        created: get_time(b.get(20..32)?)?,
        etag: etag.into_boxed_str(),
        // The summary stays in the store until asked for ([`State::summaries`]).
        summary: match rest.is_empty() {
            true => Held::new(None),
            false => Held::stored(),
        },
    })
}

/// The summary stored with a file's entry, if any.
pub(super) fn decode_stored_summary(b: &[u8]) -> Option<Summary> {
    let etag_len = *b.get(32)? as usize;
    let rest = b.get(33 + etag_len..)?;
    (!rest.is_empty()).then(|| decode_summary(rest)).flatten()
}

/// Summaries are stored as a small JSON object: `{"u": uid, "c": component, "s": [start,
/// end], "x": true, "l": true, "i": [[start, end], …], "p": {…}, "f": [[name, value],
/// …]}`, `x` when the span is exact, `l` when it is on the wall clock, `i` the instances
/// of a recurring event, `p` the rule of a periodic one ([`Periodic`]). A summary stored
/// without `x`, `i` or `p` reads as inexact, which only costs a query a read.
fn encode_summary(s: &Summary) -> Vec<u8> {
    let mut map = serde_json::Map::new();
    if let Some(uid) = &s.uid {
        map.insert("u".into(), uid.clone().into());
    }
    if let Some(c) = &s.component {
        map.insert("c".into(), c.as_ref().into());
    }
    if let Some((a, b)) = s.span {
        map.insert("s".into(), serde_json::json!([a, b]));
    }
    if s.span_exact {
        map.insert("x".into(), true.into());
    }
    if s.span_floating {
        map.insert("l".into(), true.into());
    }
    if !s.instances.is_empty() {
        map.insert("i".into(), serde_json::json!(s.instances));
    }
    if let Some(p) = &s.periodic {
        map.insert(
            "p".into(),
            serde_json::json!({
                "s": p.start, "z": p.zone, "l": p.length, "d": p.period_days,
                "o": p.offsets, "u": p.until, "k": p.skip, "e": p.extra,
            }),
        );
    }
    if !s.fields.is_empty() {
        let pairs: Vec<[&str; 2]> = s.fields.iter().map(|(n, v)| [n, v]).collect();
        map.insert("f".into(), serde_json::json!(pairs));
    }
    serde_json::to_vec(&map).unwrap_or_default()
}

fn decode_summary(b: &[u8]) -> Option<Summary> {
    let v: serde_json::Value = serde_json::from_slice(b).ok()?;
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let flag = |k: &str| v.get(k).and_then(|x| x.as_bool()).unwrap_or(false);
    let times = |p: &serde_json::Value| Some((p.get(0)?.as_i64()?, p.get(1)?.as_i64()?));
    let list = |k: &str| v.get(k).and_then(|x| x.as_array()).map(Vec::as_slice);
    let fields = list("f")
        .unwrap_or_default()
        .iter()
        .filter_map(|p| Some((p.get(0)?.as_str()?, p.get(1)?.as_str()?)))
        .collect();
    Some(Summary {
        uid: text("u"),
        component: text("c").map(Summary::component_name),
        span: v.get("s").and_then(times),
        span_exact: flag("x"),
        span_floating: flag("l"),
        instances: list("i")
            .unwrap_or_default()
            .iter()
            .filter_map(times)
            .collect(),
        periodic: v.get("p").and_then(decode_periodic).map(Box::new),
        fields,
    })
}

fn decode_periodic(p: &serde_json::Value) -> Option<Periodic> {
    let int = |k: &str| p.get(k)?.as_i64();
    let list = |k: &str| p.get(k)?.as_array();
    Some(Periodic {
        start: int("s")?,
        zone: p.get("z")?.as_str()?.into(),
        length: int("l")?,
        period_days: u32::try_from(int("d")?).ok()?,
        offsets: list("o")?
            .iter()
            .map(|o| u32::try_from(o.as_i64()?).ok())
            .collect::<Option<_>>()?,
        until: int("u")?,
        skip: list("k")?
            .iter()
            .map(serde_json::Value::as_i64)
            .collect::<Option<_>>()?,
        extra: list("e")?
            .iter()
            .map(|e| Some((e.get(0)?.as_i64()?, e.get(1)?.as_i64()?)))
            .collect::<Option<_>>()?,
    })
}

pub(super) fn encode_log(name: &str, change: &Change) -> Vec<u8> {
    let tag = match change {
        Change::File => b'f',
        Change::Dir => b'd',
        Change::Deleted(false) => b'x',
        Change::Deleted(true) => b'X',
    };
    // The second byte is the length of an ETag, which earlier formats kept here.
    let mut out = vec![tag, 0];
    out.extend_from_slice(name.as_bytes());
    out
}

pub(super) fn decode_log(b: &[u8]) -> Option<(String, Change)> {
    let (&tag, rest) = b.split_first()?;
    let (&len, rest) = rest.split_first()?;
    let (_etag, name) = rest.split_at_checked(len as usize)?;
    let name = String::from_utf8(name.to_vec()).ok()?;
    let change = match tag {
        b'f' => Change::File,
        b'd' => Change::Dir,
        b'x' => Change::Deleted(false),
        b'X' => Change::Deleted(true),
        _ => return None,
    };
    Some((name, change))
}
