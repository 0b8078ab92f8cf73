//! Address syntax for hosted addresses.
//!
//! Hosted addresses are stored lower-case: mail administrators expect
//! `Info@Example.COM` and `info@example.com` to be one mailbox, although RFC
//! 5321 §2.4 lets a server treat local parts case-sensitively. Local parts
//! are RFC 5322 dot-atoms (§3.2.3) of at most 64 octets (RFC 5321
//! §4.5.3.1.1); domains are LDH labels (IDNs in their A-label form).
//! `%` is refused in new local parts because `local%domain` is a login
//! name (R-ADDR-1).

use crate::StoreError;

pub fn normalize_domain(s: &str) -> Result<String, StoreError> {
    let d = s.trim().trim_end_matches('.').to_ascii_lowercase();
    let bad = |why: &str| Err(StoreError::Invalid(format!("invalid domain {s:?}: {why}")));
    if d.is_empty() {
        return bad("empty");
    }
    if d.len() > 253 {
        return bad("longer than 253 characters");
    }
    if !d.contains('.') {
        return bad("needs at least two labels, e.g. example.com");
    }
    for label in d.split('.') {
        if label.is_empty() || label.len() > 63 {
            return bad("each label must be 1 to 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return bad("only letters, digits, '-' and '.' (use the xn-- form for IDNs)");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("a label cannot start or end with '-'");
        }
    }
    Ok(d)
}

fn atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&'*+-/=?^_`{|}~".contains(&b)
}

/// Splits and normalises `local@domain`.
pub fn normalize_address(s: &str) -> Result<(String, String), StoreError> {
    let t = s.trim();
    let bad = |why: &str| Err(StoreError::Invalid(format!("invalid address {s:?}: {why}")));
    let Some((local, domain)) = t.rsplit_once('@') else {
        return bad("expected local@domain");
    };
    let local = local.to_ascii_lowercase();
    if local.is_empty() || local.len() > 64 {
        return bad("the local part must be 1 to 64 characters");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return bad("dots may not start, end or repeat in the local part");
    }
    if !local.bytes().all(|b| atext(b) || b == b'.') {
        return bad("the local part may hold letters, digits, '.' and !#$&'*+-/=?^_`{|}~");
    }
    let domain = normalize_domain(domain)?;
    Ok((local, domain))
}

pub fn join(local: &str, domain: &str) -> String {
    format!("{local}@{domain}")
}

/// Turns a login name into an address: `local%domain` (R-ADDR-1) or
/// `local@domain`. Returns None for anything that cannot be an address, so
/// that the caller fails the login like a wrong password.
pub fn login_to_address(login: &str) -> Option<String> {
    let login = login.trim();
    let addr = if login.contains('@') {
        login.to_string()
    } else {
        let (l, d) = login.rsplit_once('%')?;
        format!("{l}@{d}")
    };
    normalize_address(&addr).ok().map(|(l, d)| join(&l, &d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        assert_eq!(normalize_domain("Example.COM.").unwrap(), "example.com");
        assert_eq!(
            normalize_domain("xn--bcher-kva.example").unwrap(),
            "xn--bcher-kva.example"
        );
        for bad in [
            "",
            "com",
            "a..b",
            "-a.com",
            "a-.com",
            "a_b.com",
            "a b.com",
            "ex@mple.com",
        ] {
            assert!(normalize_domain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(
            normalize_address("John.Doe@Example.com").unwrap(),
            ("john.doe".into(), "example.com".into())
        );
        assert!(normalize_address("a+tag@example.com").is_ok());
        for bad in [
            "",
            "@example.com",
            "a@",
            "a",
            ".a@example.com",
            "a..b@example.com",
            "a b@example.com",
            "a%b@example.com",
            "\"q\"@example.com",
            "a@b",
        ] {
            assert!(normalize_address(bad).is_err(), "{bad}");
        }
        assert!(normalize_address(&format!("{}@example.com", "x".repeat(65))).is_err());
    }

    #[test]
    fn logins() {
        assert_eq!(
            login_to_address("Bob%Example.com").as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(
            login_to_address("bob@example.com").as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(login_to_address("bob"), None);
        assert_eq!(login_to_address("bob%nodot"), None);
    }
}
