//! DKIM keys and outbound signing (RFC 6376; key sizes RFC 8301; R-OUT-9).
//!
//! Keys live in the store, one per domain (`mailhost_store::DkimKey`): the
//! private key as PKCS#8 PEM, the public key as the base64 that goes in the
//! `p=` tag. [`generate_key`] makes one; [`Signer`] signs with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use mail_auth::common::crypto::{DkimKey as AnyKey, Ed25519Key, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::{Canonicalization, DkimSigner};
use mailhost_store::{DkimKey, Store};
use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::PrivateKeyDer;

/// RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits.
pub const MIN_RSA_BITS: u32 = 1024;
/// Above this, the TXT record grows past what many DNS hosting panels take
/// and signing gets slow for no gain in practice.
pub const MAX_RSA_BITS: u32 = 4096;

/// How long a looked-up key (or the lack of one) is reused before the
/// store is asked again: a key stored by an admin command reaches a running
/// server within this time.
const KEY_CACHE_TTL: Duration = Duration::from_secs(60);

/// The header fields signed, those a message has (RFC 6376 §5.4.1's list
/// trimmed to what mailhost's outgoing mail carries). `mail-auth` would also
/// list the absent ones in h= (RFC 6376 §5.4.2 allows it, to stop their
/// later addition), but a mailing list that passes a message through
/// untouched still adds List-* and sometimes Reply-To, and would then break
/// our signature; so only present fields are listed, see [`headers_to_sign`].
const SIGNED_HEADERS: [&str; 15] = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Unsubscribe",
    // RFC 8058 §4: the one-click signal and the list's identity signed
    // with List-Unsubscribe (R-LIST-3).
    "List-Unsubscribe-Post",
    "List-Id",
];

/// Makes a new DKIM key for a domain (RSA, `bits` from config, RFC 8301: at
/// least 1024; default 2048).
///
/// Key generation is CPU-heavy (tens to hundreds of milliseconds for 2048
/// bits, seconds for 4096): from async code, call it in `spawn_blocking`.
pub fn generate_key(domain: &str, selector: &str, bits: u32) -> Result<DkimKey, String> {
    let domain = mailhost_store::address::normalize_domain(domain).map_err(|e| e.to_string())?;
    check_selector(selector)?;
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(format!(
            "RSA key size {bits} is out of range: RFC 8301 §3.2 asks for at least {MIN_RSA_BITS} bits \
             (2048 recommended), mailhost takes at most {MAX_RSA_BITS}"
        ));
    }
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits as usize)
        .map_err(|e| format!("generating an RSA key: {e}"))?;
    let private_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| format!("encoding the private key: {e}"))?;
    // RFC 6376 §3.6.1: p= is the base64 of the DER SubjectPublicKeyInfo
    // (what `openssl rsa -pubout` prints), which every verifier accepts.
    let public_der = rsa::RsaPublicKey::from(&private)
        .to_public_key_der()
        .map_err(|e| format!("encoding the public key: {e}"))?;
    Ok(DkimKey {
        domain,
        selector: selector.to_string(),
        algorithm: "rsa-sha256".into(),
        private_key: private_pem.to_string(),
        public_key: base64::engine::general_purpose::STANDARD.encode(public_der.as_bytes()),
    })
}

/// A selector is one or more DNS labels (RFC 6376 §3.1) placed before
/// `._domainkey.DOMAIN`.
fn check_selector(selector: &str) -> Result<(), String> {
    let ok = !selector.is_empty()
        && selector.len() <= 63
        && selector.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid DKIM selector {selector:?}: letters, digits and '-' in dot-separated labels"
        ))
    }
}

/// A parsed stored key, shared by the cache and the messages being signed.
struct LoadedKey {
    domain: String,
    selector: String,
    key: Arc<Key>,
}

/// A signing key. RSA keys of 2048 bits and more sign with `aws-lc-rs`:
/// RSA signing is the largest single cost of submission, and AWS-LC's
/// (with AVX-512 IFMA where the CPU has it) signs 2.2 times as fast as
/// `ring`'s on the benchmark machine (258 vs 584 µs for 2048 bits), which
/// is itself several times faster than the pure-Rust `rsa` crate. Smaller
/// RSA keys and Ed25519 use mail-auth's own.
enum Key {
    Rsa(aws_lc_rs::signature::RsaKeyPair),
    // Boxed: an RSA key pair from aws-lc-rs is a pointer, the others are
    // large, and a signer keeps one key per domain.
    Other(Box<AnyKey>),
}

/// `mail-auth`'s signer owns its key; this hands it a shared one, so a key
/// is parsed once per cache period while the signed header list is chosen
/// per message.
struct SharedKey(Arc<Key>);

impl SigningKey for SharedKey {
    type Hasher = Sha256;

    fn sign(&self, input: impl mail_auth::common::headers::Writable) -> mail_auth::Result<Vec<u8>> {
        match &*self.0 {
            Key::Other(k) => k.sign(input),
            Key::Rsa(k) => {
                // RSASSA-PKCS1-v1_5 with SHA-256 (RFC 6376 §3.3.1): the
                // library hashes the data itself.
                let mut data = Vec::with_capacity(1024);
                input.write(&mut data);
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &aws_lc_rs::rand::SystemRandom::new(),
                    &data,
                    &mut sig,
                )
                .map_err(|e| {
                    mail_auth::Error::Crypto(mail_auth::common::crypto::CryptoError::Library(
                        format!("RSA signing: {e}"),
                    ))
                })?;
                Ok(sig)
            }
        }
    }

    fn algorithm(&self) -> mail_auth::common::crypto::Algorithm {
        match &*self.0 {
            Key::Other(k) => k.algorithm(),
            Key::Rsa(_) => mail_auth::common::crypto::Algorithm::RsaSha256,
        }
    }
}

struct CacheEntry {
    fetched: Instant,
    /// None: the domain has no key (also cached, so unsigned domains do not
    /// cost a store query per message).
    key: Option<Arc<LoadedKey>>,
}

/// Signs outgoing mail (RFC 6376) with the sender domain's key from the
/// store; keys are cached for 60 s so a running server picks up new keys.
pub struct Signer {
    store: Store,
    cache: Mutex<HashMap<String, CacheEntry>>,
}

impl Signer {
    pub fn new(store: Store) -> Self {
        Signer {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The DKIM-Signature header field (with its trailing CRLF) to prepend to
    /// `message` (full message, CRLF line ends), signed for `domain` (the
    /// From: header's domain); Ok(None) when the domain has no key.
    pub async fn sign(&self, domain: &str, message: &[u8]) -> Result<Option<Vec<u8>>, String> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let Some(key) = self.key_for(&domain).await? else {
            return Ok(None);
        };
        let headers = headers_to_sign(message);
        if headers.is_empty() {
            return Err(format!(
                "DKIM signing for {domain}: the message has no From header field"
            ));
        }
        let signer = DkimSigner::from_key(SharedKey(key.key.clone()))
            .domain(key.domain.clone())
            .selector(key.selector.clone())
            .headers(headers)
            // Relaxed/relaxed (RFC 6376 §3.4.2, §3.4.4) survives the header
            // refolding and trailing-space changes relays commonly make.
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed);
        // An RSA-2048 signature costs about 260 us of CPU even with AWS-LC:
        // on the blocking pool it does not stall the sessions sharing this
        // async worker thread (measured: running it inline gains nothing).
        let message = message.to_vec();
        let signature =
            tokio::task::spawn_blocking(move || signer.sign(&message).map(|s| s.to_header()))
                .await
                .map_err(|e| format!("DKIM signing for {domain}: {e}"))?
                .map_err(|e| format!("DKIM signing for {domain}: {e}"))?;
        Ok(Some(signature.into_bytes()))
    }

    async fn key_for(&self, domain: &str) -> Result<Option<Arc<LoadedKey>>, String> {
        if let Some(entry) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(domain)
        {
            if entry.fetched.elapsed() < KEY_CACHE_TTL {
                return Ok(entry.key.clone());
            }
        }
        // Two messages for one domain may both miss and both query; the
        // second insert wins and both are right, so no lock is held across
        // the await.
        let key = self
            .store
            .dkim_key(domain)
            .await
            .map_err(|e| format!("reading the DKIM key of {domain}: {e}"))?;
        let key = match key {
            Some(key) => Some(Arc::new(load_key(&key)?)),
            None => None,
        };
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
            domain.to_string(),
            CacheEntry {
                fetched: Instant::now(),
                key: key.clone(),
            },
        );
        Ok(key)
    }
}

/// Parses a stored key.
fn load_key(key: &DkimKey) -> Result<LoadedKey, String> {
    let bad =
        |e: &dyn std::fmt::Display| format!("the DKIM key of {} is unusable: {e}", key.domain);
    let der = PrivateKeyDer::from_pem_slice(key.private_key.as_bytes()).map_err(|e| bad(&e))?;
    let signing_key = match key.algorithm.as_str() {
        "rsa-sha256" => match aws_lc_rs::signature::RsaKeyPair::from_pkcs8(der.secret_der()) {
            Ok(k) => Key::Rsa(k),
            // Keys under 2048 bits are refused; RFC 8301 still allows 1024.
            Err(_) => Key::Other(Box::new(AnyKey::Rsa(
                RsaKey::<Sha256>::from_key_der(der).map_err(|e| bad(&e))?,
            ))),
        },
        // RFC 8463; the store allows it though generate_key makes RSA only.
        "ed25519-sha256" => Key::Other(Box::new(AnyKey::Ed25519(
            Ed25519Key::from_pkcs8_der(der.secret_der()).map_err(|e| bad(&e))?,
        ))),
        other => return Err(bad(&format!("unknown algorithm {other:?}"))),
    };
    Ok(LoadedKey {
        domain: key.domain.clone(),
        selector: key.selector.clone(),
        key: Arc::new(signing_key),
    })
}

/// The names from [`SIGNED_HEADERS`] the message's header section has,
/// plus `From` once more: h= listing one From more than the message has
/// makes a second From added later break the signature (RFC 6376 §8.15),
/// which is what DMARC relies on. Empty when there is no From (RFC 6376
/// §5.4: From MUST be signed, so such a message cannot be).
fn headers_to_sign(message: &[u8]) -> Vec<&'static str> {
    let mut present = [false; SIGNED_HEADERS.len()];
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break; // end of the header section (RFC 5322 §2.1)
        }
        if line[0] == b' ' || line[0] == b'\t' {
            continue; // folded continuation (RFC 5322 §2.2.3)
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii_end();
        if let Some(i) = SIGNED_HEADERS
            .iter()
            .position(|h| h.as_bytes().eq_ignore_ascii_case(name))
        {
            present[i] = true;
        }
    }
    if !present[0] {
        return Vec::new();
    }
    let mut names: Vec<&'static str> = SIGNED_HEADERS
        .iter()
        .zip(present)
        .filter(|(_, p)| *p)
        .map(|(h, _)| *h)
        .collect();
    names.push("From");
    names
}

#[cfg(test)]
mod tests {
    use super::headers_to_sign;

    #[test]
    fn signs_present_fields_and_from_once_more() {
        let msg = b"from: a@example.test\r\nX-Other: 1\r\nSubject: hi\r\n\tthere\r\nTo : b@example.net\r\n\r\nCc: not a header\r\n";
        assert_eq!(headers_to_sign(msg), ["From", "To", "Subject", "From"]);
        // Bare LF line ends too.
        assert_eq!(
            headers_to_sign(b"From: a@x.test\nDate: now\n\nbody"),
            ["From", "Date", "From"]
        );
        assert!(headers_to_sign(b"Subject: no author\r\n\r\n").is_empty());
    }
}
