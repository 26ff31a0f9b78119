//! How much one user can make scheduling do: attendees per meeting, mail to strangers
//! per hour, messages into one other user's inbox per hour, messages an inbox keeps,
//! and what a free-busy lookup may ask. Each limit is a setting of the binary
//! (`dirdav.toml` and flags); hitting one is logged once an hour per user.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limits scheduling keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most attendees (counted once across every instance of a meeting) a meeting
    /// the server schedules may name; an organizer's PUT naming more is refused with
    /// 403 `CALDAV:max-attendees-per-instance`.
    pub max_attendees: usize,
    /// The most messages by mail (iMIP) one user's meetings may send in an hour;
    /// past it, the attendee's `SCHEDULE-STATUS` says 5.3 and nothing is sent.
    pub mail_per_hour: usize,
    /// The most messages one user may deliver into another user's inbox (and
    /// calendar) in an hour; past it, 5.3 and nothing is delivered.
    pub deliveries_per_hour: usize,
    /// The most messages an inbox keeps: the oldest go when a delivery passes it.
    pub inbox_size: usize,
    /// The most mail messages waiting to be handed to the mail server; past it, 5.1.
    pub mail_queue: usize,
    /// The most attendees a free-busy lookup may name (after removing repeats).
    pub freebusy_attendees: usize,
    /// The longest span a free-busy lookup may cover, in days.
    pub freebusy_days: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attendees: 100,
            mail_per_hour: 200,
            deliveries_per_hour: 60,
            inbox_size: 500,
            mail_queue: 1000,
            freebusy_attendees: 50,
            freebusy_days: 400,
        }
    }
}

/// Counts what each key (a user, or a pair of users) spent in the current hour.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    /// Per key: when its hour began, what it spent since, whether hitting the limit
    /// was logged in this hour.
    spent: Mutex<HashMap<String, (Instant, usize, bool)>>,
}

/// What [`Budget::spend`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spent {
    /// Within the limit.
    Yes,
    /// Past it, for the first time this hour (log it).
    FirstRefusal,
    /// Past it again.
    No,
}

const HOUR: Duration = Duration::from_secs(3600);

impl Budget {
    /// Spends one unit of `key`'s hourly `limit`.
    pub(crate) fn spend(&self, key: &str, limit: usize) -> Spent {
        self.spend_at(key, limit, Instant::now())
    }

    fn spend_at(&self, key: &str, limit: usize, now: Instant) -> Spent {
        let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
        if spent.len() > 10_000 {
            spent.retain(|_, (start, ..)| now.duration_since(*start) < HOUR);
        }
        let entry = spent.entry(key.to_owned()).or_insert((now, 0, false));
        if now.duration_since(entry.0) >= HOUR {
            *entry = (now, 0, false);
        }
        if entry.1 < limit {
            entry.1 += 1;
            return Spent::Yes;
        }
        match std::mem::replace(&mut entry.2, true) {
            false => Spent::FirstRefusal,
            true => Spent::No,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_refuses_past_its_limit_until_the_hour_is_over() {
        let budget = Budget::default();
        let start = Instant::now();
        assert_eq!(budget.spend_at("alice", 2, start), Spent::Yes);
        assert_eq!(budget.spend_at("alice", 2, start), Spent::Yes);
        assert_eq!(budget.spend_at("alice", 2, start), Spent::FirstRefusal);
        assert_eq!(budget.spend_at("alice", 2, start), Spent::No);
        assert_eq!(budget.spend_at("bob", 2, start), Spent::Yes, "per key");
        let later = start + HOUR;
        assert_eq!(budget.spend_at("alice", 2, later), Spent::Yes);
    }
}
