//! A private CA's certificates, for clients that must trust it (`redis.ca_file`, `notify.ca_file`
//! and each receiver's).

/// Why a `ca_file` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    #[error("ca_file `{path}` cannot be read: {source}")]
    Unreadable { path: String, source: std::io::Error },
    #[error("ca_file `{path}` is not valid PEM: {reason}")]
    NotPem { path: String, reason: String },
    #[error("ca_file `{path}` holds no certificate (no `-----BEGIN CERTIFICATE-----` block)")]
    NoCertificate { path: String },
}

/// The certificates (DER) of a PEM `ca_file`. The config check reads it so that a wrong path is
/// an error at start, and the notifier reads it again to trust what it holds.
pub fn read_ca_file(path: &str) -> Result<Vec<Vec<u8>>, CaFileError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    let pem = std::fs::read(path).map_err(|source| CaFileError::Unreadable { path: path.to_string(), source })?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CaFileError::NotPem { path: path.to_string(), reason: e.to_string() })?;
    if certificates.is_empty() {
        return Err(CaFileError::NoCertificate { path: path.to_string() });
    }
    Ok(certificates)
}
