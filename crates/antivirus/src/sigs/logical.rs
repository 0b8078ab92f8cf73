//! `.ldb` logical signatures ("Creating signatures for ClamAV", "Logical
//! signatures"): `Name;TargetDescription;Expression;Subsig0;Subsig1;…`.
//! The subset taken is the one whose subsignatures are hex patterns with
//! plain offsets and the modifiers `i`, `w`, `a`; the expression language
//! is complete (`&`, `|`, parentheses, `=n`, `>n`, `<n`, `=n,m`, …).

use super::pattern::{Pattern, Unsupported};
use super::Offset;

/// One logical signature, its subsignatures compiled elsewhere.
#[derive(Debug)]
pub struct Logical {
    pub name: String,
    pub target: u8,
    pub file_size: Option<(u64, u64)>,
    pub expr: Expr,
    pub subsigs: usize,
}

/// A subsignature ready to compile: one or two patterns (`::wa` matches
/// the ASCII and the wide form) at an offset.
pub struct Subsig {
    pub patterns: Vec<Pattern>,
    pub offset: Offset,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Sub(usize),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// `X=n`, `X>n`, `X<n`, with the optional `,m` on distinct subsigs.
    Count(Box<Expr>, char, u32, Option<u32>),
}

/// Parses one `.ldb` line into the signature and its subsignatures.
pub fn parse(line: &str) -> Result<(Logical, Vec<Subsig>), Unsupported> {
    let mut fields = line.split(';');
    let name = fields
        .next()
        .filter(|n| !n.is_empty())
        .ok_or("malformed line")?;
    let tdb = fields.next().ok_or("malformed line")?;
    let expr_src = fields.next().ok_or("malformed line")?;
    let (mut target, mut file_size) = (None, None);
    for kv in tdb.split(',') {
        let (k, v) = kv.split_once(':').ok_or("malformed target description")?;
        match k {
            "Target" => target = Some(v.parse::<u8>().map_err(|_| "malformed target")?),
            "Engine" => {}
            "FileSize" => {
                let (a, b) = v.split_once('-').ok_or("malformed FileSize")?;
                let a = a.parse().map_err(|_| "malformed FileSize")?;
                let b = b.parse().map_err(|_| "malformed FileSize")?;
                file_size = Some((a, b));
            }
            "Container" | "Intermediates" => return Err("container conditions"),
            "EntryPoint" | "NumberOfSections" => return Err("PE offsets"),
            "IconGroup1" | "IconGroup2" => return Err("icon groups"),
            _ => return Err("unknown target description"),
        }
    }
    let target = target.ok_or("malformed target description")?;
    if !matches!(target, 0 | 7) {
        return Err("file-type targets other than 0 and 7");
    }
    let mut subsigs = Vec::new();
    for s in fields {
        subsigs.push(subsig(s)?);
    }
    if subsigs.is_empty() || subsigs.len() > 64 {
        return Err("malformed line");
    }
    let expr = parse_expr(expr_src, subsigs.len())?;
    Ok((
        Logical {
            name: name.to_string(),
            target,
            file_size,
            expr,
            subsigs: subsigs.len(),
        },
        subsigs,
    ))
}

fn subsig(s: &str) -> Result<Subsig, Unsupported> {
    if s.contains('/') {
        return Err("PCRE");
    }
    if s.contains('#') {
        return Err("byte compare or fuzzy hash subsignatures");
    }
    if s.starts_with("${") {
        return Err("macro subsignatures");
    }
    let (body, mods) = match s.split_once("::") {
        Some((b, m)) => (b, m),
        None => (s, ""),
    };
    let (offset, hex) = match body.rsplit_once(':') {
        Some((o, h)) => (super::parse_offset(o)?, h),
        None => (Offset::Any, body),
    };
    let mut p = Pattern::parse(hex)?;
    let (mut wide, mut ascii) = (false, false);
    for m in mods.chars() {
        match m {
            'i' => p.nocase = true,
            'w' => wide = true,
            'a' => ascii = true,
            'f' => return Err("fullword modifier"),
            _ => return Err("unknown subsignature modifier"),
        }
    }
    let patterns = match (wide, ascii) {
        (false, _) => vec![p],
        (true, false) => vec![p.wide()?],
        (true, true) => {
            let w = p.wide()?;
            vec![p, w]
        }
    };
    Ok(Subsig { patterns, offset })
}

/// Expression grammar: `or := and ('|' and)*`, `and := unit ('&' unit)*`,
/// `unit := (N | '(' or ')') [('='|'>'|'<') N [',' N]]`.
fn parse_expr(src: &str, n: usize) -> Result<Expr, Unsupported> {
    let b: Vec<u8> = src.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut i = 0;
    let e = or(&b, &mut i, n, 0)?;
    if i != b.len() {
        return Err("malformed logical expression");
    }
    Ok(e)
}

const MAX_NESTING: u32 = 32;

fn or(b: &[u8], i: &mut usize, n: usize, depth: u32) -> Result<Expr, Unsupported> {
    let mut e = and(b, i, n, depth)?;
    while b.get(*i) == Some(&b'|') {
        *i += 1;
        e = Expr::Or(Box::new(e), Box::new(and(b, i, n, depth)?));
    }
    Ok(e)
}

fn and(b: &[u8], i: &mut usize, n: usize, depth: u32) -> Result<Expr, Unsupported> {
    let mut e = unit(b, i, n, depth)?;
    while b.get(*i) == Some(&b'&') {
        *i += 1;
        e = Expr::And(Box::new(e), Box::new(unit(b, i, n, depth)?));
    }
    Ok(e)
}

fn num(b: &[u8], i: &mut usize) -> Result<u32, Unsupported> {
    let start = *i;
    while b.get(*i).is_some_and(u8::is_ascii_digit) {
        *i += 1;
    }
    std::str::from_utf8(&b[start..*i])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or("malformed logical expression")
}

fn unit(b: &[u8], i: &mut usize, n: usize, depth: u32) -> Result<Expr, Unsupported> {
    if depth > MAX_NESTING {
        return Err("malformed logical expression");
    }
    let mut e = if b.get(*i) == Some(&b'(') {
        *i += 1;
        let e = or(b, i, n, depth + 1)?;
        if b.get(*i) != Some(&b')') {
            return Err("malformed logical expression");
        }
        *i += 1;
        e
    } else {
        let k = num(b, i)? as usize;
        if k >= n {
            return Err("logical expression names a missing subsignature");
        }
        Expr::Sub(k)
    };
    if let Some(&op) = b.get(*i).filter(|c| matches!(c, b'=' | b'>' | b'<')) {
        *i += 1;
        let x = num(b, i)?;
        let y = if b.get(*i) == Some(&b',') {
            *i += 1;
            Some(num(b, i)?)
        } else {
            None
        };
        e = Expr::Count(Box::new(e), op as char, x, y);
    }
    Ok(e)
}

impl Expr {
    /// (matches, distinct subsignatures matched); zero matches is false.
    pub fn eval(&self, counts: &[u32]) -> (u32, u32) {
        match self {
            Expr::Sub(k) => {
                let c = counts.get(*k).copied().unwrap_or(0);
                (c, u32::from(c > 0))
            }
            Expr::Or(a, b) => {
                let (x, y) = (a.eval(counts), b.eval(counts));
                (x.0.saturating_add(y.0), x.1 + y.1)
            }
            Expr::And(a, b) => {
                let (x, y) = (a.eval(counts), b.eval(counts));
                if x.0 > 0 && y.0 > 0 {
                    (x.0.saturating_add(y.0), x.1 + y.1)
                } else {
                    (0, 0)
                }
            }
            Expr::Count(e, op, n, m) => {
                let (c, d) = e.eval(counts);
                let ok = match op {
                    '=' => c == *n && m.is_none_or(|m| d >= m),
                    '>' => c > *n && m.is_none_or(|m| d > m),
                    _ => c < *n && m.is_none_or(|m| d < m),
                };
                if ok {
                    (c.max(1), d.max(1))
                } else {
                    (0, 0)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions() {
        let e = parse_expr("0&1", 2).unwrap();
        assert!(e.eval(&[1, 1]).0 > 0);
        assert_eq!(e.eval(&[1, 0]).0, 0);
        let e = parse_expr("(0|1)&2", 3).unwrap();
        assert!(e.eval(&[0, 1, 1]).0 > 0);
        assert_eq!(e.eval(&[1, 1, 0]).0, 0);
        let e = parse_expr("0>2", 1).unwrap();
        assert_eq!(e.eval(&[2]).0, 0);
        assert!(e.eval(&[3]).0 > 0);
        let e = parse_expr("(0|1|2)=2,2", 3).unwrap();
        assert!(e.eval(&[1, 1, 0]).0 > 0);
        assert_eq!(e.eval(&[2, 0, 0]).0, 0);
        assert!(parse_expr("0&3", 2).is_err());
        assert!(parse_expr("((((0", 1).is_err());
        assert!(parse_expr(&"(".repeat(100), 1).is_err());
    }

    #[test]
    fn lines() {
        let (l, subs) =
            parse("Test.Sig;Engine:51-255,Target:0;0&1;41424344;0:45464748::i").unwrap();
        assert_eq!(l.name, "Test.Sig");
        assert_eq!(subs.len(), 2);
        assert!(subs[1].patterns[0].nocase);
        assert_eq!(
            parse("X;Target:1;0;41424344").err(),
            Some("file-type targets other than 0 and 7")
        );
        assert_eq!(parse("X;Target:0;0;41424344/a/").err(), Some("PCRE"));
        assert_eq!(
            parse("X;Target:0,EntryPoint:1-2;0;41424344").err(),
            Some("PE offsets")
        );
        let (_, subs) = parse("W;Target:0;0;41424344::wa").unwrap();
        assert_eq!(subs[0].patterns.len(), 2);
    }
}
