//! Durations (`"90s"`, `"30m"`, `"1h"`, `"14d"`, `"500ms"`, bare seconds)
//! and sizes (`"25MB"`, `"512KB"`, bare bytes). Sizes use binary multiples,
//! as mail administrators read "25MB" in quota and size settings.

use serde::{de, Deserialize, Deserializer};
use std::fmt;

/// Splits `"25MB"` into 25 and "MB".
fn number_and_unit<'a>(s: &'a str, what: &str, example: &str) -> Result<(u64, &'a str), String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n = num
        .parse()
        .map_err(|_| format!("invalid {what} {s:?}: expected a number and {example}"))?;
    Ok((n, unit.trim()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const fn from_secs(s: u64) -> Self {
        Duration(std::time::Duration::from_secs(s))
    }
    pub fn as_secs(&self) -> u64 {
        self.0.as_secs()
    }
    pub fn std(&self) -> std::time::Duration {
        self.0
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let (n, unit) = number_and_unit(
            s,
            "duration",
            "a unit such as \"90s\", \"30m\", \"1h\", \"14d\"",
        )?;
        let ms = match unit {
            "ms" => 1,
            "" | "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => {
                return Err(format!(
                    "invalid duration {s:?}: unit must be ms, s, m, h, d or w"
                ))
            }
        };
        n.checked_mul(ms)
            .map(|ms| Duration(std::time::Duration::from_millis(ms)))
            .ok_or_else(|| format!("invalid duration {s:?}: too large"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl Size {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (n, unit) = number_and_unit(s, "size", "an optional unit such as \"25MB\", \"512KB\"")?;
        let mult: u64 = match unit.to_ascii_uppercase().as_str() {
            "" | "B" => 1,
            "K" | "KB" | "KIB" => 1 << 10,
            "M" | "MB" | "MIB" => 1 << 20,
            "G" | "GB" | "GIB" => 1 << 30,
            _ => return Err(format!("invalid size {s:?}: unit must be B, KB, MB or GB")),
        };
        n.checked_mul(mult)
            .map(Size)
            .ok_or_else(|| format!("invalid size {s:?}: too large"))
    }
}

struct Visitor<T>(fn(&str) -> Result<T, String>, &'static str);

impl<'de, T> de::Visitor<'de> for Visitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.1)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.0)(v).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        if v < 0 {
            return Err(E::custom(format!("{v} is negative")));
        }
        (self.0)(&v.to_string()).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        (self.0)(&v.to_string()).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Visitor(
            Duration::parse,
            "a duration such as \"90s\" or \"14d\"",
        ))
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Visitor(
            Size::parse,
            "a size such as \"25MB\" or a number of bytes",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(Duration::parse("90s").unwrap().as_secs(), 90);
        assert_eq!(Duration::parse("30m").unwrap().as_secs(), 1800);
        assert_eq!(Duration::parse("1h").unwrap().as_secs(), 3600);
        assert_eq!(Duration::parse("14d").unwrap().as_secs(), 14 * 86400);
        assert_eq!(Duration::parse("250ms").unwrap().0.as_millis(), 250);
        assert_eq!(Duration::parse("5").unwrap().as_secs(), 5);
        for bad in ["", "h", "1y", "-1s", "1.5h", "99999999999999999999d"] {
            assert!(Duration::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(Size::parse("25MB").unwrap().0, 25 << 20);
        assert_eq!(Size::parse("512KB").unwrap().0, 512 << 10);
        assert_eq!(Size::parse("1000").unwrap().0, 1000);
        assert_eq!(Size::parse("15mb").unwrap().0, 15 << 20);
        for bad in ["", "MB", "1TB", "-5", "1.5MB"] {
            assert!(Size::parse(bad).is_err(), "{bad}");
        }
    }
}
