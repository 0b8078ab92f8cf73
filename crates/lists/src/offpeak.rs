//! Off-peak sending windows (R-LIST-4).
//!
//! A list may hold its bulk mail until the server is quiet. Windows are
//! written as `DAYS HH:MM-HH:MM` in the server's policy time zone
//! (`server.timezone`), e.g. `sat 00:00-24:00` or `mon-fri 01:00-06:00`.
//! DAYS is a day name (`mon`, `Monday`, any case), a range that may wrap
//! (`mon-fri`, `fri-mon`) or a comma list of both (`sat,sun`). The end may
//! be `24:00`; an end at or before the start means the window runs past
//! midnight into the next day (`22:00-02:00`; `22:00-22:00` is 24 hours).
//!
//! Windows are wall-clock times, so on the day clocks change
//! `01:00-06:00` lasts 4 or 6 real hours. A local time that does not exist
//! (spring-forward gap) means the first instant after the gap; a local
//! time that occurs twice (fall-back fold) means its first occurrence. In
//! short, a local time maps to the first instant at which the clock shows
//! that time or later — the same rule for starts and ends.
//!
//! Nothing here steps minute by minute: the windows of each civil date
//! from the day before `now` to 8 days on are turned into instants and
//! compared, so every query costs a bounded number of zone look-ups.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

/// The server's default policy zone; the config crate owns the setting.
pub const DEFAULT_TIMEZONE: &str = "Africa/Johannesburg";

/// The default windows: weekends, and weekday nights.
pub const DEFAULT_WINDOWS: [&str; 3] =
    ["sat 00:00-24:00", "sun 00:00-24:00", "mon-fri 01:00-06:00"];

/// More windows than anyone needs; bounds the work of every query.
pub const MAX_WINDOWS: usize = 64;

/// Days before `now` whose windows may still be open (one that crosses
/// midnight), and days after it to search: a weekly pattern repeats after
/// 7 days, one more covers a window lost in a gap.
const BACK_DAYS: i64 = 1;
const AHEAD_DAYS: i64 = 8;

const MINUTES_PER_DAY: u16 = 24 * 60;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    /// Bit 0 = Monday … bit 6 = Sunday.
    days: u8,
    /// Minutes after local midnight, 0..1440.
    start: u16,
    /// Minutes after local midnight, 0..=1440; ≤ start runs into the next day.
    end: u16,
}

/// A parsed set of off-peak windows; empty means none are configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Windows {
    list: Vec<Window>,
}

/// Parses the configured window specs. The error names the bad spec.
pub fn parse(specs: &[String]) -> Result<Windows, String> {
    if specs.len() > MAX_WINDOWS {
        return Err(format!(
            "too many off-peak windows ({}, at most {MAX_WINDOWS})",
            specs.len()
        ));
    }
    let list = specs
        .iter()
        .map(|s| parse_one(s))
        .collect::<Result<_, _>>()?;
    Ok(Windows { list })
}

/// Looks up a time zone by IANA name (`Africa/Johannesburg`, `UTC`).
pub fn tz(name: &str) -> Result<TimeZone, String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 {
        return Err(format!("bad time zone name {:?}", shorten(name)));
    }
    TimeZone::get(name).map_err(|e| format!("unknown time zone {name:?}: {e}"))
}

fn shorten(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn parse_one(spec: &str) -> Result<Window, String> {
    let bad = |why: &str| format!("off-peak window {:?}: {why}", shorten(spec));
    // Days end where the first time begins; spaces anywhere are ignored,
    // so `sat, sun 00:00 - 24:00` reads like `sat,sun 00:00-24:00`.
    let split = spec
        .find(|c: char| c.is_ascii_digit())
        .ok_or_else(|| bad("expected DAYS HH:MM-HH:MM"))?;
    let (days_txt, times_txt) = spec.split_at(split);
    let days_txt: String = days_txt.chars().filter(|c| !c.is_whitespace()).collect();
    let times_txt: String = times_txt.chars().filter(|c| !c.is_whitespace()).collect();
    if days_txt.is_empty() {
        return Err(bad("no days before the times (e.g. mon-fri 01:00-06:00)"));
    }
    let mut days = 0u8;
    for item in days_txt.split(',') {
        let (from, to) = match item.split_once('-') {
            Some((a, b)) => (a, b),
            None => (item, item),
        };
        let from = day(from).ok_or_else(|| bad(&format!("unknown day {:?}", shorten(from))))?;
        let to = day(to).ok_or_else(|| bad(&format!("unknown day {:?}", shorten(to))))?;
        // Ranges wrap: fri-mon is Friday, Saturday, Sunday, Monday.
        let mut d = from;
        loop {
            days |= 1 << d;
            if d == to {
                break;
            }
            d = (d + 1) % 7;
        }
    }
    let (start, end) = times_txt
        .split_once('-')
        .ok_or_else(|| bad("expected a time range HH:MM-HH:MM"))?;
    let start = minutes(start).filter(|&m| m < MINUTES_PER_DAY);
    let start = start.ok_or_else(|| bad("bad start time (expected HH:MM, 00:00 to 23:59)"))?;
    let end = minutes(end).ok_or_else(|| bad("bad end time (expected HH:MM, 00:00 to 24:00)"))?;
    Ok(Window { days, start, end })
}

/// Monday = 0 … Sunday = 6.
fn day(name: &str) -> Option<u8> {
    let n = name.to_ascii_lowercase();
    Some(match n.as_str() {
        "mon" | "monday" => 0,
        "tue" | "tues" | "tuesday" => 1,
        "wed" | "wednesday" => 2,
        "thu" | "thur" | "thurs" | "thursday" => 3,
        "fri" | "friday" => 4,
        "sat" | "saturday" => 5,
        "sun" | "sunday" => 6,
        _ => return None,
    })
}

/// `H:MM` or `HH:MM`, 00:00 to 24:00.
fn minutes(t: &str) -> Option<u16> {
    let (h, m) = t.split_once(':')?;
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 2) || !digits(m, 2) || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

fn weekday_bit(w: Weekday) -> u8 {
    1 << (w.to_monday_zero_offset() as u8)
}

/// The first instant at which the clock in `tz` shows `minute` on `date`,
/// or later (see the module comment); 1440 is midnight of the next day.
fn local(tz: &TimeZone, date: Date, minute: u16) -> Option<Timestamp> {
    let date = if minute >= MINUTES_PER_DAY {
        date.tomorrow().ok()?
    } else {
        date
    };
    let minute = minute % MINUTES_PER_DAY;
    let time = Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0).ok()?;
    let dt = date.to_datetime(time);
    let amb = tz.to_ambiguous_timestamp(dt);
    match amb.offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
        // Fold: the first occurrence.
        AmbiguousOffset::Fold { .. } => amb.earlier().ok(),
        // Gap: the transition itself. jiff's "compatible" choice would be
        // the local time read with the old offset (02:30 EST = 03:30 EDT),
        // half an hour into the window; the transition lies between the
        // two readings of the civil time.
        AmbiguousOffset::Gap { .. } => {
            let before = amb.earlier().ok()?;
            let after = amb.later().ok()?;
            let t = tz.following(before).next().map(|t| t.timestamp());
            Some(t.filter(|t| *t <= after).unwrap_or(after))
        }
    }
}

impl Windows {
    /// True when no window is configured.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every non-empty window interval `[start, end)` starting on a civil
    /// date from `from` to `to` days after the local date of `at`.
    fn intervals(
        &self,
        at: Timestamp,
        tz: &TimeZone,
        from: i64,
        to: i64,
    ) -> Vec<(Timestamp, Timestamp)> {
        let mut out = Vec::new();
        let mut date = tz.to_datetime(at).date();
        for _ in from..0 {
            let Ok(d) = date.yesterday() else { return out };
            date = d;
        }
        for i in from..=to {
            if i > from {
                let Ok(d) = date.tomorrow() else { break };
                date = d;
            }
            let bit = weekday_bit(date.weekday());
            for w in self.list.iter().filter(|w| w.days & bit != 0) {
                // In 1..2880: `local` moves minutes past 24:00 to the next day.
                let end = if w.end > w.start {
                    w.end
                } else {
                    w.end + MINUTES_PER_DAY
                };
                if let (Some(s), Some(e)) = (local(tz, date, w.start), local(tz, date, end)) {
                    // A window wholly inside a gap has no instants.
                    if s < e {
                        out.push((s, e));
                    }
                }
            }
        }
        out
    }

    /// Whether `now` lies inside a window.
    pub fn contains(&self, now: Timestamp, tz: &TimeZone) -> bool {
        self.intervals(now, tz, -BACK_DAYS, 1)
            .iter()
            .any(|&(s, e)| s <= now && now < e)
    }

    /// When held mail may go: `now` inside a window, else the start of the
    /// next one. None only when no window is configured (or the zone's
    /// calendar ends).
    pub fn next_release(&self, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        if self.list.is_empty() {
            return None;
        }
        if self.contains(now, tz) {
            return Some(now);
        }
        self.intervals(now, tz, -BACK_DAYS, AHEAD_DAYS)
            .into_iter()
            .map(|(s, _)| s)
            .filter(|s| *s >= now)
            .min()
    }

    /// The end of the window containing `at`, with windows that touch or
    /// overlap merged (Saturday and Sunday together run to Monday 00:00).
    /// None when `at` is outside every window. When the windows cover the
    /// whole search span (8 days), the end of that span is returned.
    pub fn window_end(&self, at: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let all = self.intervals(at, tz, -BACK_DAYS, AHEAD_DAYS);
        let mut end = all
            .iter()
            .filter(|&&(s, e)| s <= at && at < e)
            .map(|&(_, e)| e)
            .max()?;
        // Each pass extends by at least one interval, so this terminates.
        for _ in 0..all.len() {
            let next = all
                .iter()
                .filter(|&&(s, e)| s <= end && end < e)
                .map(|&(_, e)| e)
                .max();
            match next {
                Some(e) => end = e,
                None => break,
            }
        }
        Some(end)
    }
}

/// A local time for people, always with its numeric UTC offset because
/// abbreviations are ambiguous: `Saturday 2026-12-12 00:00 SAST (UTC+02:00)`.
pub fn describe(ts: Timestamp, tz: &TimeZone) -> String {
    let dt = tz.to_datetime(ts);
    let info = tz.to_offset_info(ts);
    let secs = info.offset().seconds();
    let (sign, abs) = if secs < 0 {
        ('-', -(secs as i64))
    } else {
        ('+', secs as i64)
    };
    let mut offset = format!("UTC{sign}{:02}:{:02}", abs / 3600, abs / 60 % 60);
    if abs % 60 != 0 {
        // Historical local mean times have seconds.
        offset.push_str(&format!(":{:02}", abs % 60));
    }
    let day = match dt.date().weekday() {
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
        Weekday::Sunday => "Sunday",
    };
    format!(
        "{day} {} {:02}:{:02} {} ({offset})",
        dt.date(),
        dt.hour(),
        dt.minute(),
        info.abbreviation()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn windows(specs: &[&str]) -> Windows {
        parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn defaults() -> Windows {
        windows(&DEFAULT_WINDOWS)
    }

    fn joburg() -> TimeZone {
        tz(DEFAULT_TIMEZONE).unwrap()
    }

    #[test]
    fn default_windows_in_johannesburg() {
        let (w, z) = (defaults(), joburg());
        // Wednesday 12:00 SAST: next is Thursday 01:00 SAST = Wed 23:00Z.
        let noon = ts("2026-12-09T10:00:00Z");
        assert!(!w.contains(noon, &z));
        assert_eq!(w.next_release(noon, &z), Some(ts("2026-12-09T23:00:00Z")));
        // Saturday noon: now.
        let sat = ts("2026-12-12T10:00:00Z");
        assert_eq!(w.next_release(sat, &z), Some(sat));
        // Friday 23:00 SAST: Saturday 00:00 SAST.
        let fri = ts("2026-12-11T21:00:00Z");
        assert_eq!(w.next_release(fri, &z), Some(ts("2026-12-11T22:00:00Z")));
        // Inside a weekday night window, which ends at 06:00.
        let thu3 = ts("2026-12-10T01:00:00Z");
        assert_eq!(w.next_release(thu3, &z), Some(thu3));
        assert_eq!(w.window_end(thu3, &z), Some(ts("2026-12-10T04:00:00Z")));
        // The weekend is one window to Monday 00:00; Monday 00:30 waits.
        assert_eq!(w.window_end(sat, &z), Some(ts("2026-12-13T22:00:00Z")));
        assert!(w.contains(ts("2026-12-13T21:59:59Z"), &z));
        let mon = ts("2026-12-13T22:30:00Z");
        assert!(!w.contains(mon, &z));
        assert_eq!(w.window_end(mon, &z), None);
        assert_eq!(w.next_release(mon, &z), Some(ts("2026-12-13T23:00:00Z")));
        // Ends are exclusive.
        assert!(!w.contains(ts("2026-12-10T04:00:00Z"), &z));
    }

    #[test]
    fn crossing_midnight() {
        let (w, z) = (windows(&["mon-fri 22:00-02:00"]), tz("UTC").unwrap());
        // 2026-12-11 is a Friday.
        assert!(w.contains(ts("2026-12-11T23:00:00Z"), &z));
        assert!(w.contains(ts("2026-12-12T01:59:00Z"), &z));
        assert!(!w.contains(ts("2026-12-12T02:00:00Z"), &z));
        assert!(!w.contains(ts("2026-12-13T23:00:00Z"), &z)); // Sunday
        assert!(!w.contains(ts("2026-12-14T01:00:00Z"), &z)); // Monday early
        assert_eq!(
            w.window_end(ts("2026-12-11T23:00:00Z"), &z),
            Some(ts("2026-12-12T02:00:00Z"))
        );
        assert_eq!(
            w.next_release(ts("2026-12-12T03:00:00Z"), &z),
            Some(ts("2026-12-14T22:00:00Z"))
        );
        // Equal ends: a full 24 hours.
        let w = windows(&["wed 22:00-22:00"]);
        assert!(w.contains(ts("2026-12-10T21:59:00Z"), &z));
        assert!(!w.contains(ts("2026-12-10T22:00:00Z"), &z));
    }

    #[test]
    fn day_syntax() {
        let z = tz("UTC").unwrap();
        let w = windows(&["Fri-MON 10:00-11:00"]);
        for (day, inside) in [
            (11, true),
            (12, true),
            (13, true),
            (14, true),
            (15, false),
            (16, false),
            (17, false),
        ] {
            let t = ts(&format!("2026-12-{day}T10:30:00Z"));
            assert_eq!(w.contains(t, &z), inside, "{day}");
        }
        assert_eq!(
            windows(&["sat,sun 00:00-24:00"]),
            windows(&["sat , Sunday 00:00 - 24:00"])
        );
        assert_eq!(windows(&["mon-wed,fri 1:00-2:00"]).list[0].days, 0b0010111);
        assert_eq!(windows(&["sun-sun 0:00-1:00"]).list[0].days, 0b1000000);
        assert!(windows(&[]).is_empty());
        assert_eq!(
            windows(&[]).next_release(ts("2026-12-11T23:00:00Z"), &z),
            None
        );
    }

    #[test]
    fn bad_specs_are_named() {
        for bad in [
            "sat",
            "00:00-01:00",
            "xyz 00:00-01:00",
            "mon-xyz 01:00-02:00",
            "sat 25:00-26:00",
            "sat 00:60-01:00",
            "sat 24:00-01:00",
            "sat 00:00-24:01",
            "sat 00:00",
            "sat 000:00-01:00",
            "sat 1:0-2:00",
            "sat 01:00-02:00-03:00",
            "",
        ] {
            let e = parse(&[bad.to_string()]).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
        let many = vec!["sat 00:00-01:00".to_string(); MAX_WINDOWS + 1];
        assert!(parse(&many).is_err());
        assert!(tz("Nowhere/Atlantis")
            .unwrap_err()
            .contains("Nowhere/Atlantis"));
        assert!(tz("").is_err());
    }

    #[test]
    fn gap_starts_after_the_gap() {
        // 2026-03-08: New York clocks jump 02:00 EST -> 03:00 EDT.
        let (w, z) = (
            windows(&["sun 02:30-04:00"]),
            tz("America/New_York").unwrap(),
        );
        let midnight = ts("2026-03-08T05:00:00Z");
        let start = w.next_release(midnight, &z).unwrap();
        assert_eq!(start, ts("2026-03-08T07:00:00Z")); // 03:00 EDT
        assert_eq!(
            describe(start, &z),
            "Sunday 2026-03-08 03:00 EDT (UTC-04:00)"
        );
        assert_eq!(w.window_end(start, &z), Some(ts("2026-03-08T08:00:00Z")));
        assert!(!w.contains(ts("2026-03-08T06:59:59Z"), &z));
        // jiff's "compatible" reading would start half an hour late.
        let dt = jiff::civil::date(2026, 3, 8).at(2, 30, 0, 0);
        assert_eq!(
            z.to_ambiguous_timestamp(dt).compatible().unwrap(),
            ts("2026-03-08T07:30:00Z")
        );
        // A window wholly inside the gap is empty that day only.
        let w = windows(&["sun 02:10-02:50"]);
        assert_eq!(
            w.next_release(midnight, &z),
            Some(ts("2026-03-15T06:10:00Z"))
        );
    }

    #[test]
    fn fold_starts_at_first_occurrence() {
        // 2026-11-01: New York clocks fall back 02:00 EDT -> 01:00 EST.
        let (w, z) = (
            windows(&["sun 01:30-03:00"]),
            tz("America/New_York").unwrap(),
        );
        let start = w.next_release(ts("2026-11-01T04:00:00Z"), &z).unwrap();
        assert_eq!(start, ts("2026-11-01T05:30:00Z")); // 01:30 EDT
        assert_eq!(
            describe(start, &z),
            "Sunday 2026-11-01 01:30 EDT (UTC-04:00)"
        );
        assert_eq!(w.window_end(start, &z), Some(ts("2026-11-01T08:00:00Z"))); // 03:00 EST
                                                                               // The second 01:30 (EST) is still inside.
        assert!(w.contains(ts("2026-11-01T06:30:00Z"), &z));
    }

    #[test]
    fn berlin_short_and_long_nights() {
        let (w, z) = (windows(&["sun 01:00-06:00"]), tz("Europe/Berlin").unwrap());
        // 23-hour day: 01:00 CET to 06:00 CEST is 4 real hours.
        let s = w.next_release(ts("2026-03-28T12:00:00Z"), &z).unwrap();
        assert_eq!(s, ts("2026-03-29T00:00:00Z"));
        assert_eq!(w.window_end(s, &z), Some(ts("2026-03-29T04:00:00Z")));
        // 25-hour day: 01:00 CEST to 06:00 CET is 6 real hours.
        let s = w.next_release(ts("2026-10-24T12:00:00Z"), &z).unwrap();
        assert_eq!(s, ts("2026-10-24T23:00:00Z"));
        assert_eq!(w.window_end(s, &z), Some(ts("2026-10-25T05:00:00Z")));
        assert_eq!(describe(s, &z), "Sunday 2026-10-25 01:00 CEST (UTC+02:00)");
    }

    #[test]
    fn describe_has_offset() {
        let z = joburg();
        assert_eq!(
            describe(ts("2026-12-11T22:00:00Z"), &z),
            "Saturday 2026-12-12 00:00 SAST (UTC+02:00)"
        );
        let u = tz("UTC").unwrap();
        assert_eq!(
            describe(ts("2026-12-11T22:00:00Z"), &u),
            "Friday 2026-12-11 22:00 UTC (UTC+00:00)"
        );
        let k = tz("Asia/Kolkata").unwrap();
        assert!(describe(ts("2026-12-11T22:00:00Z"), &k).ends_with("(UTC+05:30)"));
    }

    /// The invariant the fuzz target checks, over a sweep of instants
    /// through both 2026 changes in several zones.
    #[test]
    fn release_is_never_early_and_always_inside() {
        let sets = [
            windows(&DEFAULT_WINDOWS),
            windows(&["sun 02:30-04:00", "sun 01:30-03:00"]),
            windows(&["mon-fri 22:00-02:00", "sat 02:15-02:45"]),
            windows(&["tue 23:59-00:01"]),
        ];
        for zone in [
            "America/New_York",
            "Europe/Berlin",
            "Africa/Johannesburg",
            "Australia/Lord_Howe",
        ] {
            let z = tz(zone).unwrap();
            for base in [
                "2026-03-06T00:00:00Z",
                "2026-10-23T00:00:00Z",
                "2026-10-30T00:00:00Z",
                "2026-04-03T00:00:00Z",
            ] {
                let mut t = ts(base);
                for _ in 0..(10 * 24 * 60 / 37) {
                    for w in &sets {
                        let r = w.next_release(t, &z).unwrap();
                        assert!(r >= t && w.contains(r, &z), "{zone} {t} -> {r}");
                        let end = w.window_end(r, &z).unwrap();
                        assert!(end > r, "{zone} {r} ends {end}");
                    }
                    t = t.checked_add(jiff::SignedDuration::from_mins(37)).unwrap();
                }
            }
        }
    }
}
