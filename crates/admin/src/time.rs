//! Times people type: an age ("2h": that long ago), an RFC 3339 time
//! with offset, or a date (`2026-12-24`, UTC). `flag` names the input in
//! the error ("--since", or a form field).

/// `--since` or `--until`: an age such as "2h" (that long ago), or an RFC
/// 3339 time with offset.
pub fn parse_time(flag: &str, s: &str) -> Result<i64, String> {
    if let Ok(d) = mailhost_config::Duration::parse(s) {
        return Ok(mailhost_store::now_ms() - d.std().as_millis() as i64);
    }
    let bad = || {
        format!("{flag} {s:?}: expected an age (\"2h\") or a time like 2026-11-22T18:00:00+00:00")
    };
    let (date, time) = s.split_once(['T', ' ']).ok_or_else(bad)?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(day)), None) = (d.next(), d.next(), d.next(), d.next())
    else {
        return Err(bad());
    };
    let (clock, offset) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0)
    } else {
        let p = time.rfind(['+', '-']).ok_or_else(bad)?;
        let (c, off) = time.split_at(p);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':').ok_or_else(bad)?;
        (
            c,
            sign * (oh.parse::<i64>().map_err(|_| bad())? * 3600
                + om.parse::<i64>().map_err(|_| bad())? * 60),
        )
    };
    let mut t = clock.split(':').map(|x| x.parse::<i64>());
    let (Some(Ok(hh)), Some(Ok(mm)), ss) = (t.next(), t.next(), t.next()) else {
        return Err(bad());
    };
    let ss = ss.map(|r| r.map_err(|_| bad())).transpose()?.unwrap_or(0);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return Err(bad());
    }
    // days_from_civil (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok((days * 86_400 + hh * 3600 + mm * 60 + ss - offset) * 1000)
}

/// `--from`/`--until`: a date (`end`: through its end) or an RFC 3339 time.
pub fn parse_date(flag: &str, s: &str, end: bool) -> Result<i64, String> {
    let day = s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-';
    if day {
        let t = parse_time(flag, &format!("{s}T00:00:00Z"))?;
        return Ok(if end { t + 86_400_000 } else { t });
    }
    if !s.contains('T') {
        return Err(format!(
            "{flag} {s:?}: expected a date like 2026-12-24 or a time like 2026-12-24T09:00:00+09:00"
        ));
    }
    parse_time(flag, s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn since_parses_times_and_ages() {
        assert_eq!(
            super::parse_time("--since", "2026-11-22T17:07:41+00:00").unwrap(),
            1_795_367_261_000
        );
        assert_eq!(
            super::parse_time("--since", "2026-11-22T19:07:41+02:00").unwrap(),
            1_795_367_261_000
        );
        assert_eq!(
            super::parse_time("--since", "2026-11-22T17:07:41Z").unwrap(),
            1_795_367_261_000
        );
        assert!(
            super::parse_time("--since", "1h").unwrap() <= mailhost_store::now_ms() - 3_600_000
        );
        for bad in [
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-22",
            "2026-11-22T25:00:00Z",
        ] {
            assert!(super::parse_time("--since", bad).is_err(), "{bad}");
        }
    }
}
