//! TLS for database connections through rustls.
//!
//! `verify-full` trusts the roots Azure Database for PostgreSQL chains to (DigiCert Global
//! Root G2, Microsoft RSA Root Certificate Authority 2017 and DigiCert Global Root CA),
//! taken by subject from the `webpki-roots` crate, plus every certificate in the
//! `--db-ca-file` PEM file when one is given. The file adds roots and replaces none, so a
//! host configured for a private CA still reaches Azure servers. `require` encrypts without
//! checking the certificate, but still checks that the server signed the handshake with
//! the key of the certificate it sent.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Common names of the root certificates Azure Database for PostgreSQL chains to.
pub const AZURE_ROOT_NAMES: [&str; 3] = [
    "DigiCert Global Root G2",
    "Microsoft RSA Root Certificate Authority 2017",
    "DigiCert Global Root CA",
];

/// TLS connectors for the two TLS modes, built once at start.
#[derive(Clone)]
pub struct TlsConnectors {
    /// Verifies the chain and the host name.
    pub verify_full: MakeRustlsConnect,
    /// Encrypts without verifying the certificate.
    pub require: MakeRustlsConnect,
}

impl TlsConnectors {
    /// Builds both connectors, reading `ca_file` (PEM) when given.
    pub fn new(ca_file: Option<&Path>) -> anyhow::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        let mut roots = azure_roots()?;
        if let Some(path) = ca_file {
            add_ca_file(&mut roots, path)?;
        }

        let verify_full = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("building the TLS client configuration")?
            .with_root_certificates(roots)
            .with_no_client_auth();

        let require = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("building the TLS client configuration")?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(UnverifiedCertificate::new(&provider)))
            .with_no_client_auth();

        Ok(Self {
            verify_full: MakeRustlsConnect::new(verify_full),
            require: MakeRustlsConnect::new(require),
        })
    }
}

/// Selects the Azure roots from the Mozilla root list by the common name in their subject.
fn azure_roots() -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for name in AZURE_ROOT_NAMES {
        let anchors: Vec<_> = webpki_roots::TLS_SERVER_ROOTS
            .iter()
            .filter(|anchor| subject_common_name_is(anchor.subject.as_ref(), name))
            .cloned()
            .collect();
        if anchors.len() != 1 {
            bail!(
                "the webpki-roots crate lists {} root certificates named {name:?}, expected 1",
                anchors.len()
            );
        }
        roots.extend(anchors);
    }
    Ok(roots)
}

/// Whether a DER-encoded subject ends with the common name `name`. Every Azure root puts
/// its CN last, encoded as a PrintableString (tag 0x13) after the CN attribute OID 2.5.4.3.
fn subject_common_name_is(subject: &[u8], name: &str) -> bool {
    let mut expected = vec![0x06, 0x03, 0x55, 0x04, 0x03, 0x13, name.len() as u8];
    expected.extend_from_slice(name.as_bytes());
    subject.ends_with(&expected)
}

fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> anyhow::Result<()> {
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .with_context(|| {
            format!(
                "cannot read the database CA file {}; check --db-ca-file",
                path.display()
            )
        })?
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!(
                "the database CA file {} is not valid PEM; check --db-ca-file",
                path.display()
            )
        })?;

    if certificates.is_empty() {
        bail!(
            "the database CA file {} contains no PEM certificate; check --db-ca-file",
            path.display()
        );
    }

    for certificate in certificates {
        roots.add(certificate).with_context(|| {
            format!(
                "the database CA file {} contains a certificate that is not a valid root; check --db-ca-file",
                path.display()
            )
        })?;
    }
    Ok(())
}

/// Accepts any server certificate for `require` mode, but verifies handshake signatures
/// against the certificate the server presented.
#[derive(Debug)]
struct UnverifiedCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl UnverifiedCertificate {
    fn new(provider: &CryptoProvider) -> Self {
        Self {
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for UnverifiedCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_roots_are_all_present() {
        let roots = azure_roots().expect("all three roots are in webpki-roots");
        assert_eq!(roots.len(), 3);
    }

    #[test]
    fn common_name_match_is_exact() {
        let anchors = webpki_roots::TLS_SERVER_ROOTS
            .iter()
            .filter(|anchor| subject_common_name_is(anchor.subject.as_ref(), "DigiCert Global Root"))
            .count();
        assert_eq!(anchors, 0, "a prefix of a name must not match");
    }

    #[test]
    fn missing_ca_file_names_the_option() {
        let error = TlsConnectors::new(Some(Path::new("/nonexistent/ca.pem")))
            .err()
            .expect("fails");
        let message = format!("{error:#}");
        assert!(message.contains("/nonexistent/ca.pem"), "{message}");
        assert!(message.contains("--db-ca-file"), "{message}");
    }
}
