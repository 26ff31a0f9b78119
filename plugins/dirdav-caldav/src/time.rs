//! RFC 5545 DATE, DATE-TIME and DURATION values as seconds: what the summaries, the
//! filters and free-busy share.

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A DATE or DATE-TIME value: seconds since the epoch (local times taken as UTC), and
/// whether it is exact (UTC) or may be off by a time zone's offset.
pub(crate) fn parse_time(value: &str) -> Option<(i64, bool)> {
    let v = value.trim();
    let num = |r: std::ops::Range<usize>| v.get(r)?.parse::<i64>().ok();
    let days = days_from_civil(num(0..4)?, num(4..6)?, num(6..8)?);
    if v.len() == 8 {
        return Some((days * DAY, false));
    }
    if v.as_bytes().get(8) != Some(&b'T') {
        return None;
    }
    let secs = num(9..11)? * 3600 + num(11..13)? * 60 + num(13..15)?;
    Some((days * DAY + secs, v.ends_with('Z') || v.ends_with('z')))
}

/// An RFC 5545 DURATION in seconds (`P1D`, `-PT15M`, `P1W`, `P1DT2H`).
pub(crate) fn parse_duration(value: &str) -> Option<i64> {
    let v = value.trim();
    let (sign, v) = match v.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, v.strip_prefix('+').unwrap_or(v)),
    };
    let v = v.strip_prefix(['P', 'p'])?;
    let (mut total, mut n, mut seen) = (0i64, String::new(), false);
    for ch in v.chars() {
        match ch.to_ascii_uppercase() {
            d if d.is_ascii_digit() => n.push(d),
            'T' => {}
            unit => {
                let value: i64 = n.parse().ok()?;
                n.clear();
                seen = true;
                total += value
                    * match unit {
                        'W' => 7 * DAY,
                        'D' => DAY,
                        'H' => 3600,
                        'M' => 60,
                        'S' => 1,
                        _ => return None,
                    };
            }
        }
    }
    (seen && n.is_empty()).then_some(sign * total)
}
