//! Quotas and free space (RFC 4331), so that Finder, Windows and davfs2 show how much
//! room a share has, and a folder can be given a limit.
//!
//! - `DAV:quota-used-bytes` on a collection: the bytes of the files in it and below
//!   it, their settings files included.
//! - `DAV:quota-available-bytes` on a collection: what may still be written there, the
//!   least of the file system's free space and, for every folder at or above it with a
//!   limit, that limit less what the folder holds.
//! - A folder's `.dav.toml` sets a limit for it and everything below it:
//!
//!   ```toml
//!   [quota]
//!   limit = "10G"      # bytes, or with K, M, G or T (powers of 1024)
//!   ```
//!
//!   A PUT, COPY, MOVE or PROPPATCH that would take a folder past its limit is refused
//!   with 507 and `DAV:quota-not-exceeded`: a PUT that says its length before its bytes
//!   arrive, one that does not as they arrive (writing stops at the limit). Uploads in
//!   flight count, so concurrent ones cannot together pass a limit; so do the folders'
//!   `.dav.toml` files, which hold dead properties. A limit that does not parse allows
//!   nothing, and says why.
//!
//! Deliveries a plugin makes on its own behalf (scheduling putting an invitation into
//! a user's inbox and calendar) may pass a limit by [`DELIVERY_MARGIN`]: a user at
//! their limit still receives invitations, and what others send them can take no more
//! than that beyond it (scheduling bounds how much each sender delivers an hour and how
//! many messages an inbox keeps).
//!
//! Both properties are left out of `allprop` (they cost a walk of the folder's part of
//! the index); clients that show them name them.

use dirdav_plugin::http::StatusCode;
use dirdav_plugin::path::{ancestors, parent, within};
use dirdav_plugin::xml::{Element, Name, ns::DAV};
use dirdav_plugin::{
    Configs, DavError, LiveProperty, Plugin, PropContext, Registrar, SpaceCheck, Store,
};

/// `DAV:quota-available-bytes`.
pub const QUOTA_AVAILABLE_BYTES: Name = Name::new(DAV, "quota-available-bytes");
/// `DAV:quota-used-bytes`.
pub const QUOTA_USED_BYTES: Name = Name::new(DAV, "quota-used-bytes");

/// How far deliveries ([`SpaceCheck::by_agent`]) may take a folder past its limit.
pub const DELIVERY_MARGIN: u64 = 1 << 20;

/// The quota plugin; the limits live in the folders' `.dav.toml`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quota;

impl Plugin for Quota {
    fn name(&self) -> &'static str {
        "quota"
    }

    fn register(&self, r: &mut Registrar<'_>) {
        r.property(
            LiveProperty::computed(QUOTA_USED_BYTES, |ctx| {
                let r = ctx.resource;
                r.is_collection.then(|| {
                    Element::with_text(QUOTA_USED_BYTES, ctx.store.usage(&r.path).to_string())
                })
            })
            .not_in_allprop(),
        )
        .property(LiveProperty::computed(QUOTA_AVAILABLE_BYTES, available).not_in_allprop())
        .space_check(check);
    }
}

/// A folder's limit, as `.dav.toml` gives it: `Ok(None)` without one, `Err` with the
/// text of one that does not parse.
fn limit_of(configs: &dyn Configs, folder: &str) -> Result<Option<u64>, String> {
    let Some(config) = configs.config(folder) else {
        return Ok(None);
    };
    let Some(value) = config.table("quota").and_then(|t| t.get("limit")) else {
        return Ok(None);
    };
    let parsed = match value {
        v if v.as_integer().is_some() => v.as_integer().and_then(|n| u64::try_from(n).ok()),
        v => v.as_str().and_then(parse_size),
    };
    parsed.map(Some).ok_or_else(|| value.to_string())
}

/// `123`, `500K`, `10M`, `2G`, `1T` (powers of 1024; `10 GB`, `10GiB` too).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(digits_end);
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let factor: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(factor)
}

fn available(ctx: &PropContext<'_>) -> Option<Element> {
    let r = ctx.resource;
    if !r.is_collection {
        return None;
    }
    let mut room = ctx.store.free_space();
    for folder in ancestors(&r.path) {
        let limit = match limit_of(ctx.store, folder) {
            Ok(Some(limit)) => limit,
            Ok(None) => continue,
            Err(_) => 0,
        };
        let left = limit.saturating_sub(ctx.store.usage(folder));
        room = Some(room.map_or(left, |r| r.min(left)));
    }
    Some(Element::with_text(QUOTA_AVAILABLE_BYTES, room?.to_string()))
}

/// Refuses a write that takes a folder with a limit past it.
fn check(write: &SpaceCheck<'_>) -> Result<(), DavError> {
    if write.adding <= write.replacing {
        return Ok(());
    }
    let parent = parent(write.path);
    let store: &dyn Store = write.store;
    for folder in ancestors(parent) {
        let limit = match limit_of(store, folder) {
            Ok(Some(limit)) => limit,
            Ok(None) => continue,
            Err(text) => {
                return Err(exceeded(format!(
                    "the [quota] limit {text} in {folder}/.dav.toml does not parse; nothing may be added"
                )));
            }
        };
        // Bytes that only move within the folder add nothing to it.
        if write.from.is_some_and(|from| within(from, folder)) {
            continue;
        }
        let used = store.usage(folder).saturating_sub(write.uploading);
        let after = used.saturating_sub(write.replacing) + write.adding;
        let limit = match write.by_agent {
            true => limit.saturating_add(DELIVERY_MARGIN),
            false => limit,
        };
        if after > limit {
            return Err(exceeded(format!(
                "{folder}/ may hold {limit} bytes; it holds {used} and this would make it {after}"
            )));
        }
    }
    Ok(())
}

fn exceeded(message: String) -> DavError {
    DavError::new(StatusCode::INSUFFICIENT_STORAGE, message)
        .condition(Name::new(DAV, "quota-not-exceeded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("10G"), Some(10 << 30));
        assert_eq!(parse_size("10 GB"), Some(10 << 30));
        assert_eq!(parse_size("10GiB"), Some(10 << 30));
        assert_eq!(parse_size("500k"), Some(500 << 10));
        assert_eq!(parse_size("1T"), Some(1 << 40));
        for bad in ["", "G", "ten", "10 X", "-1", "99999999999999999999T"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }
}
