//! Dates: SEARCH's `date` and APPEND's `date-time` (RFC 9051 §9), the
//! latter turned into Unix seconds by hand (days from the civil calendar).

use super::{Lexer, Res};
use crate::types::Date;

const MONTHS: [&[u8; 3]; 12] = [
    b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN", b"JUL", b"AUG", b"SEP", b"OCT", b"NOV", b"DEC",
];

fn is_leap(y: u16) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u16, m: u8) -> u8 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Exactly `n` digits (nothing is read when there are fewer).
fn digits(p: &mut Lexer<'_>, n: usize) -> Option<u16> {
    let d = p.rest().get(..n)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    p.pos += n;
    Some(d.iter().fold(0, |v, c| v * 10 + u16::from(c - b'0')))
}

/// `date-month "-" date-year` after the day's `-`, checked against `day`.
fn month_year(p: &mut Lexer<'_>, day: u16) -> Option<Date> {
    let m = p.rest().get(..3)?.to_ascii_uppercase();
    let month = MONTHS.iter().position(|n| n[..] == m[..])? as u8 + 1;
    p.pos += 3;
    if !p.eat(b'-') {
        return None;
    }
    let year = digits(p, 4)?;
    let day = u8::try_from(day).ok()?;
    (day >= 1 && day <= days_in_month(year, month)).then_some(Date { year, month, day })
}

/// `date = date-text / DQUOTE date-text DQUOTE`, `date-text = date-day
/// "-" date-month "-" date-year`, `date-day = 1*2DIGIT` (SEARCH, §6.4.4).
pub(super) fn date(p: &mut Lexer<'_>) -> Res<Date> {
    let quoted = p.eat(b'"');
    let d = (|| {
        let day = match digits(p, 2) {
            Some(d) => d,
            None => digits(p, 1)?,
        };
        if !p.eat(b'-') {
            return None;
        }
        let d = month_year(p, day)?;
        (!quoted || p.eat(b'"')).then_some(d)
    })();
    d.ok_or_else(|| "expected a date like 7-Jul-2024".into())
}

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP
/// time SP zone DQUOTE` (RFC 9051 §9), as seconds since the epoch (UTC).
/// `date-day-fixed` is `(SP DIGIT) / 2DIGIT`; a lone digit is accepted
/// too, as some clients send it.
pub(super) fn date_time(p: &mut Lexer<'_>) -> Res<i64> {
    let t = (|| {
        if !p.eat(b'"') {
            return None;
        }
        let day = if p.eat(b' ') {
            digits(p, 1)?
        } else {
            match digits(p, 2) {
                Some(d) => d,
                None => digits(p, 1)?,
            }
        };
        if !p.eat(b'-') {
            return None;
        }
        let d = month_year(p, day)?;
        if !p.eat(b' ') {
            return None;
        }
        let h = digits(p, 2)?;
        p.eat(b':').then_some(())?;
        let mi = digits(p, 2)?;
        p.eat(b':').then_some(())?;
        let s = digits(p, 2)?;
        // 60 is a leap second.
        if h > 23 || mi > 59 || s > 60 || !p.eat(b' ') {
            return None;
        }
        let sign = match p.peek()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        p.pos += 1;
        let (zh, zm) = (digits(p, 2)?, digits(p, 2)?);
        if zm > 59 || !p.eat(b'"') {
            return None;
        }
        let local =
            days_from_civil(d) * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
        // The zone is local time minus UTC.
        Some(local - sign * (i64::from(zh) * 3600 + i64::from(zm) * 60))
    })();
    t.ok_or_else(|| "expected a date-time like \"07-Jul-2024 13:05:00 +0200\"".into())
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(d: Date) -> i64 {
    let (m, day) = (i64::from(d.month), i64::from(d.day));
    let y = i64::from(d.year) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12; // March is 0
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame;

    fn lex<T>(s: &[u8], f: impl FnOnce(&mut Lexer<'_>) -> Res<T>) -> Res<T> {
        let c = frame::Command {
            bytes: s.to_vec(),
            literals: vec![],
        };
        let mut p = Lexer::new(&c);
        let r = f(&mut p)?;
        p.end()?;
        Ok(r)
    }

    #[test]
    fn dates() {
        let d = |y, m, d| Date {
            year: y,
            month: m,
            day: d,
        };
        assert_eq!(lex(b"1-Feb-1994", date), Ok(d(1994, 2, 1)));
        assert_eq!(lex(b"\"29-feb-2024\"", date), Ok(d(2024, 2, 29)));
        assert_eq!(lex(b"31-Dec-9999", date), Ok(d(9999, 12, 31)));
        for s in [
            &b"29-Feb-2023"[..],
            b"30-Feb-2024",
            b"32-Jan-2024",
            b"0-Jan-2024",
            b"31-Apr-2024",
            b"1-Foo-2024",
            b"1-Jan-24",
            b"1-Jan-20245",
            b"\"1-Jan-2024",
            b"123-Jan-2024",
            b"1-Jan",
            b"",
        ] {
            assert!(lex(s, date).is_err(), "{}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn date_times() {
        assert_eq!(lex(b"\"01-Jan-1970 00:00:00 +0000\"", date_time), Ok(0));
        // RFC 9051 §6.3.12's example.
        assert_eq!(
            lex(b"\"17-Jul-1996 02:44:25 -0700\"", date_time),
            Ok(837_596_665)
        );
        assert_eq!(
            lex(b"\" 7-Feb-1994 21:52:25 -0800\"", date_time),
            Ok(760_686_745)
        );
        assert_eq!(
            lex(b"\"7-Feb-1994 21:52:25 -0800\"", date_time),
            Ok(760_686_745)
        );
        assert_eq!(
            lex(b"\"29-Feb-2000 12:00:00 +0530\"", date_time),
            Ok(951_805_800)
        );
        assert_eq!(
            lex(b"\"01-Jan-1900 00:00:00 +0000\"", date_time),
            Ok(-2_208_988_800)
        );
        for s in [
            &b"\"01-Jan-1970 24:00:00 +0000\""[..],
            b"\"01-Jan-1970 00:60:00 +0000\"",
            b"\"01-Jan-1970 00:00:00 0000\"",
            b"\"01-Jan-1970 00:00:00 +0060\"",
            b"\"01-Jan-1970 00:00 +0000\"",
            b"\"30-Feb-1970 00:00:00 +0000\"",
            b"\"01-Mon-1970 00:00:00 +0000\"",
            b"\"01-Jan-1970 00:00:00 +0000",
            b"01-Jan-1970",
            b"\"",
        ] {
            assert!(lex(s, date_time).is_err(), "{}", String::from_utf8_lossy(s));
        }
    }
}
