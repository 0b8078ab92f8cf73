//! A QR code as inline SVG, for the TOTP set-up page: an `<img>` from
//! another URL or a data: URI would need a looser Content-Security-Policy,
//! and a script is not allowed at all.

use qrcodegen::{QrCode, QrCodeEcc};

/// The SVG of `text` as a QR code (4 modules of quiet zone, ISO/IEC 18004
/// §7.3.8), or None when it is too long for one.
pub fn svg(text: &str) -> Option<String> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let n = qr.size();
    let side = n + 8;
    let mut path = String::with_capacity((n * n) as usize * 4);
    for y in 0..n {
        let mut x = 0;
        while x < n {
            if qr.get_module(x, y) {
                // One horizontal run of dark modules per path segment.
                let start = x;
                while x < n && qr.get_module(x, y) {
                    x += 1;
                }
                path.push_str(&format!(
                    "M{},{}h{}v1h-{}z",
                    start + 4,
                    y + 4,
                    x - start,
                    x - start
                ));
            } else {
                x += 1;
            }
        }
    }
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" width="240" height="240" shape-rendering="crispEdges" role="img" aria-label="QR code"><rect width="100%" height="100%" fill="#fff"/><path d="{path}" fill="#000"/></svg>"##
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders() {
        let s = super::svg("otpauth://totp/host:u%40example.com?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert!(s.contains("M4,4h7v1h-7z"), "finder pattern's top row");
        assert!(super::svg(&"x".repeat(5000)).is_none());
    }
}
