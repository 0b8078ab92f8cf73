//! offpeak::parse on arbitrary specs (one per line); for windows that
//! parse, at fixed instants in UTC and in New York (both DST changes of
//! 2026 included): the release is never before `now`, always inside a
//! window, `now` itself when `now` is inside, and its window has an end.
#![no_main]
#![allow(dead_code)]
use jiff::tz::TimeZone;
use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

#[path = "../../src/offpeak.rs"]
mod offpeak;

static ZONES: LazyLock<[TimeZone; 2]> = LazyLock::new(|| {
    [
        TimeZone::UTC,
        offpeak::tz("America/New_York").expect("zone"),
    ]
});

const TIMES: [i64; 6] = [
    0,             // 1970-01-01T00:00Z
    1_788_861_600, // 2026-09-08T10:00Z, a Tuesday
    1_772_951_400, // 2026-03-08T06:30Z, New York's gap (01:30 EST)
    1_793_511_900, // 2026-11-01T05:45Z, New York's fold (first 01:45)
    1_793_515_500, // 2026-11-01T06:45Z, the second 01:45
    1_797_112_800, // 2026-12-12T22:00Z, Saturday
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let specs: Vec<String> = text.split('\n').map(str::to_string).collect();
    let Ok(w) = offpeak::parse(&specs) else {
        return;
    };
    for zone in ZONES.iter() {
        for t in TIMES {
            let now = Timestamp::from_second(t).expect("fixed instant");
            let _ = offpeak::describe(now, zone);
            let Some(r) = w.next_release(now, zone) else {
                assert!(w.is_empty());
                continue;
            };
            assert!(r >= now, "{r} < {now}");
            assert!(w.contains(r, zone), "{r} not inside");
            if w.contains(now, zone) {
                assert_eq!(r, now);
            }
            let end = w.window_end(r, zone).expect("inside, so an end");
            assert!(end > r);
        }
    }
});
