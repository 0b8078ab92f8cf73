//! The rustls server configuration.
//!
//! With `[tls] cert` and `key` set, the PEM files are loaded. Without them a
//! self-signed pair for the server's host name is created once in
//! `data_dir/tls/` and reused, so clients that pin it keep working across
//! restarts.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use std::path::Path;
use std::sync::Arc;

pub fn server_config(
    tls: &mailhost_config::Tls,
    data_dir: &Path,
    hostname: &str,
) -> Result<Arc<ServerConfig>, String> {
    let (cert, key) = match (&tls.cert, &tls.key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        (None, None) => {
            let dir = data_dir.join("tls");
            let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
            if !c.exists() || !k.exists() {
                create_self_signed(&dir, hostname)?;
            }
            (c, k)
        }
        _ => return Err("tls: set both cert and key, or neither".into()),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .map_err(|e| format!("tls.cert {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("tls.cert {}: no certificate found", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| format!("tls.key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls: {e}"))?;
    Ok(Arc::new(cfg))
}

fn create_self_signed(dir: &Path, hostname: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let ck =
        rcgen::generate_simple_self_signed(vec![hostname.to_string(), "localhost".to_string()])
            .map_err(|e| format!("creating a self-signed certificate: {e}"))?;
    write_private(
        &dir.join("key.pem"),
        ck.signing_key.serialize_pem().as_bytes(),
    )?;
    std::fs::write(dir.join("cert.pem"), ck.cert.pem())
        .map_err(|e| format!("writing cert.pem: {e}"))?;
    tracing::info!(
        "created a self-signed TLS certificate for {hostname} in {}",
        dir.display()
    );
    Ok(())
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    f.write_all(data)
        .map_err(|e| format!("writing {}: {e}", path.display()))
}
