//! Sync tokens (RFC 6578) and the changes since one, answered from the index's log.

use dirdav_plugin::xml::{Name, ns};
use dirdav_plugin::{DavError, Principal, SyncChanges};

use crate::context::Inner;
use crate::index::Change;

const VALID_SYNC_TOKEN: Name = Name::new(ns::DAV, "valid-sync-token");
const TOKEN_PREFIX: &str = "urn:dirdav:sync:";

impl Inner {
    /// The sync token of a sequence number.
    pub(crate) fn token(&self, seq: u64) -> String {
        format!("{TOKEN_PREFIX}{}:{seq}", self.instance)
    }

    /// A token for a listing paged by `DAV:limit`: the state at `seq` for the members
    /// up to `cursor` (in key order), the ones after it not yet sent.
    fn paged_token(&self, seq: u64, cursor: &str) -> String {
        let hex: String = cursor.bytes().map(|b| format!("{b:02x}")).collect();
        format!("{TOKEN_PREFIX}{}:{seq}.{hex}", self.instance)
    }

    /// The sequence number a token names, and its cursor when it is a paged one.
    pub(crate) fn parse_token(&self, token: &str) -> Option<(u64, Option<String>)> {
        let rest = token.trim().strip_prefix(TOKEN_PREFIX)?;
        let (instance, seq) = rest.rsplit_once(':')?;
        if instance != self.instance {
            return None;
        }
        match seq.split_once('.') {
            None => Some((seq.parse().ok()?, None)),
            Some((seq, hex)) => {
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()?;
                Some((seq.parse().ok()?, Some(String::from_utf8(bytes).ok()?)))
            }
        }
    }

    /// The changes of `collection` since `token` (all members when there is none), as
    /// [`Store::changes`](dirdav_plugin::Store::changes) answers them.
    pub(crate) fn sync_changes(
        &self,
        collection: &str,
        token: Option<&str>,
        infinite: bool,
        limit: Option<usize>,
        principal: Option<&Principal>,
    ) -> Result<SyncChanges, DavError> {
        if let Some(view) = self.merged_at(collection) {
            return self.merged_changes(&view, token, limit, principal);
        }
        if self.view_at(collection).is_some() {
            return self.view_changes(collection, token, limit);
        }
        let stale =
            || DavError::forbidden("unknown or expired sync token").condition(VALID_SYNC_TOKEN);
        let (since, cursor) = match token.map(str::trim).filter(|t| !t.is_empty()) {
            None => (None, None),
            Some(t) => {
                let (seq, cursor) = self.parse_token(t).ok_or_else(stale)?;
                (Some(seq), cursor)
            }
        };
        let index = self.index();
        // Two parts: changes since the token (to members the client has), by sequence
        // number; and members it has not been sent yet (all of them at first, those
        // after a paged token's cursor later), by key.
        // Of the members not sent yet, one more than fits is enough to know there are
        // more: a page is a range scan of its own length.
        let fits = |sent: usize| limit.map_or(usize::MAX, |l| l.saturating_sub(sent) + 1);
        let (mut list, mut rest) = match (since, &cursor) {
            (None, _) => (
                Vec::new(),
                index
                    .listed_after(collection, None, infinite, fits(0))
                    .map_err(|_| stale())?,
            ),
            (Some(since), None) => (
                index
                    .changes(collection, Some(since), infinite)
                    .map_err(|_| stale())?,
                Vec::new(),
            ),
            (Some(since), Some(cursor)) => {
                let mut delta = index
                    .changes(collection, Some(since), infinite)
                    .map_err(|_| stale())?;
                delta.retain(|(k, _, _)| k.as_str() <= cursor.as_str());
                let rest = index
                    .listed_after(collection, Some(cursor), infinite, fits(delta.len()))
                    .map_err(|_| stale())?;
                (delta, rest)
            }
        };
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        let mut token = self.token(index.seq());
        let mut truncated = false;
        if let Some(limit) = limit {
            if list.len() > limit {
                // Cut after whole sequence numbers, so the token resumes exactly there.
                let cut_seq = list[limit.saturating_sub(1)].2;
                list.retain(|(_, _, s)| *s <= cut_seq);
                let cut_seq = cut_seq.max(since.unwrap_or(0));
                token = match &cursor {
                    Some(cursor) => self.paged_token(cut_seq, cursor),
                    None => self.token(cut_seq),
                };
                truncated = true;
                rest.clear();
            } else if list.len() + rest.len() > limit {
                // Page the members not sent yet: the state now, up to the last one sent.
                rest.truncate(limit - list.len());
                let last = rest.last().map(|r| r.0.as_str()).or(cursor.as_deref());
                token = self.paged_token(index.seq(), last.unwrap_or(""));
                truncated = true;
            }
        }
        list.extend(rest);
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        let mut visibility = self.registry.visibility(principal, &*index);
        for (key, change, _) in list {
            match change {
                Change::Deleted(was_dir) => {
                    // Named only to those who could see it: judged by the rules of its
                    // folder, and for a folder by its own last settings too.
                    let gone = index.grave(&key, was_dir);
                    let configs = crate::index::WithGrave {
                        index: &index,
                        grave: &gone,
                    };
                    if self.registry.visible(&gone, principal, &configs) {
                        removed.push(self.href(&key, was_dir));
                    }
                }
                Change::File | Change::Dir => {
                    if let Some(r) = self.resource_in(&index, &key)
                        && visibility.sees(&r)
                    {
                        changed.push(r);
                    }
                }
            }
        }
        Ok(SyncChanges {
            token,
            changed,
            removed,
            truncated,
        })
    }
}
