//! A test certificate authority and a server certificate it signs, for `ssl = on`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::server_user::ServerUser;

/// Files written for a TLS cluster.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA certificate (PEM) that clients trust.
    pub ca_cert: PathBuf,
    /// The server certificate (PEM) for `localhost` and `127.0.0.1`.
    pub server_cert: PathBuf,
    /// The server's private key (PEM), mode 0600 and owned by the server user because
    /// PostgreSQL refuses a key that others can read.
    pub server_key: PathBuf,
}

/// Generates a fresh CA and a server certificate and writes them into `dir`.
pub fn write_test_certificates(dir: &Path, server_user: &ServerUser) -> Result<TlsFiles> {
    let ca_key = KeyPair::generate().context("failed to generate the test CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())
        .context("failed to build the test CA parameters")?;
    // A unique name keeps two clusters' CAs apart: a client that trusts one CA then
    // reports the other's certificate as from an unknown issuer.
    let ca_name = format!("keyless test CA {}", super::random_password(8));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .context("failed to self-sign the test CA certificate")?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().context("failed to generate the server key")?;
    let mut server_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .context("failed to build the server certificate parameters")?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.use_authority_key_identifier_extension = true;
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .context("failed to sign the server certificate with the test CA")?;

    let files = TlsFiles {
        ca_cert: dir.join("ca.pem"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
    };
    write_file(&files.ca_cert, &ca_cert.pem())?;
    server_user.own(&files.ca_cert, 0o644)?;
    write_file(&files.server_cert, &server_cert.pem())?;
    server_user.own(&files.server_cert, 0o644)?;
    write_file(&files.server_key, &server_key.serialize_pem())?;
    server_user.own(&files.server_key, 0o600)?;
    Ok(files)
}

fn write_file(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).with_context(|| format!("failed to write {}", path.display()))
}
