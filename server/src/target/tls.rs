//! TLS to the target database. The target URL carries libpq's own settings (`sslmode`,
//! `sslrootcert`, `sslcert`, `sslkey`); this module reads them once, builds the rustls
//! client for Lifeboat's own connections from them, hands the PostgreSQL client tools the
//! same settings as `PGSSL*` variables, and puts a refused handshake into words.
//!
//! The modes mean what they mean to libpq: `disable` (plain), `prefer` (TLS when the server
//! offers it, plain otherwise; the default), `require` (TLS, the certificate not checked —
//! unless a root certificate file is there, then as `verify-ca`), `verify-ca` (TLS, the
//! certificate signed by the root certificate) and `verify-full` (that, and issued for the
//! host name in the URL).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The URL query parameters this module owns: removed before the rest of the URL is
/// handed to tokio-postgres, which knows only some of them.
pub const PARAMS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// libpq's `sslmode`, less `allow` (plain first, TLS only when the server insists), which
/// the driver Lifeboat uses cannot do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Result<SslMode, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            "allow" => {
                return Err(
                    "sslmode=allow is not supported; use disable, prefer, require, verify-ca or verify-full"
                        .into(),
                )
            }
            other => {
                return Err(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                ))
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// How much of the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// Encrypted, but anyone can stand in for the server.
    Nothing,
    /// Signed by the root certificate.
    Ca,
    /// Signed by the root certificate and issued for the host name.
    Full,
}

/// The TLS settings of one target URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl TlsSettings {
    /// Reads the settings from the URL's query; other parameters are left alone.
    pub fn from_url(url: &url::Url) -> Result<TlsSettings, String> {
        let mut tls = TlsSettings::default();
        for (k, v) in url.query_pairs() {
            let file = || {
                if v.is_empty() {
                    Err(format!("{k} is empty; name a file or leave {k} out"))
                } else {
                    Ok(Some(PathBuf::from(v.as_ref())))
                }
            };
            match k.as_ref() {
                "sslmode" => tls.mode = SslMode::parse(&v)?,
                "sslrootcert" => tls.root_cert = file()?,
                "sslcert" => tls.cert = file()?,
                "sslkey" => tls.key = file()?,
                _ => {}
            }
        }
        Ok(tls)
    }

    /// What the PostgreSQL client tools are given, so they connect exactly as Lifeboat
    /// does: each variable set to the URL's value, or removed when the URL has none (a
    /// `PGSSL*` variable in Lifeboat's own environment must not change what a child does).
    pub fn child_env(&self) -> [(&'static str, Option<&std::ffi::OsStr>); 4] {
        [
            ("PGSSLMODE", Some(self.mode.as_str().as_ref())),
            (
                "PGSSLROOTCERT",
                self.root_cert.as_deref().map(Path::as_os_str),
            ),
            ("PGSSLCERT", self.cert.as_deref().map(Path::as_os_str)),
            ("PGSSLKEY", self.key.as_deref().map(Path::as_os_str)),
        ]
    }

    /// The mode tokio-postgres negotiates with: it knows disable, prefer and require; the
    /// two verifying modes are `require` plus the checks in the rustls client.
    pub fn driver_mode(&self) -> tokio_postgres::config::SslMode {
        match self.mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        }
    }

    /// The root certificate file: the one named, else libpq's default
    /// `~/.postgresql/root.crt` (for `require`, only when it exists).
    fn root_cert_file(&self) -> Option<PathBuf> {
        if let Some(p) = &self.root_cert {
            return Some(p.clone());
        }
        let default = default_file("root.crt")?;
        match self.mode {
            SslMode::VerifyCa | SslMode::VerifyFull => Some(default),
            SslMode::Require if default.exists() => Some(default),
            _ => None,
        }
    }

    fn check(&self) -> Check {
        match self.mode {
            SslMode::Disable | SslMode::Prefer => Check::Nothing,
            // libpq: with a root certificate at hand, `require` checks the CA.
            SslMode::Require if self.root_cert_file().is_some() => Check::Ca,
            SslMode::Require => Check::Nothing,
            SslMode::VerifyCa => Check::Ca,
            SslMode::VerifyFull => Check::Full,
        }
    }

    /// The rustls client for these settings; `None` for `disable`. Reads the certificate
    /// files, so a missing or unreadable one is reported here, naming it.
    pub fn client(&self) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, String> {
        if self.mode == SslMode::Disable {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match self.check() {
            Check::Nothing => Arc::new(Unchecked(provider.clone())),
            check => {
                let path = self.root_cert_file().ok_or_else(|| {
                    format!(
                        "sslmode={} needs a root certificate: add sslrootcert=FILE to the URL",
                        self.mode.as_str()
                    )
                })?;
                let roots = Arc::new(root_store(&path)?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| format!("cannot use sslrootcert {}: {e}", path.display()))?;
                if check == Check::Full {
                    webpki
                } else {
                    Arc::new(CaOnly(webpki))
                }
            }
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match self.client_cert_files() {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = read_certs(&cert, "sslcert")?;
                let key = PrivateKeyDer::from_pem_file(&key).map_err(|e| {
                    format!("cannot read the private key sslkey {}: {e}", key.display())
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("sslcert and sslkey do not go together: {e}"))?
            }
        };
        Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
    }

    /// The client certificate and key: the ones named, else libpq's defaults
    /// `~/.postgresql/postgresql.crt` and `.key` when the certificate exists.
    fn client_cert_files(&self) -> Option<(PathBuf, PathBuf)> {
        let cert = match &self.cert {
            Some(c) => c.clone(),
            None => default_file("postgresql.crt").filter(|p| p.exists())?,
        };
        let key = match &self.key {
            Some(k) => k.clone(),
            None => default_file("postgresql.key")?,
        };
        Some((cert, key))
    }

    /// A refused handshake in words, when that is why `e` happened: which check failed,
    /// against which file, instead of rustls's variant names.
    pub fn explain(&self, e: &tokio_postgres::Error, host: &str) -> Option<String> {
        let tls_error = rustls_error(e)?;
        let root = self
            .root_cert_file()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the root certificate".into());
        let text = match tls_error {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => format!(
                    "the target's certificate is not signed by {root} (sslrootcert), \
                     or the server did not send the intermediate certificates"
                ),
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => format!(
                    "the target's certificate is not issued for the host name {host} \
                     (sslmode=verify-full checks the name; connect by a name the certificate \
                     lists, or use verify-ca)"
                ),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the target's certificate has expired".into()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "the target's certificate is not valid yet (check the clocks)".into()
                }
                CertificateError::Revoked => "the target's certificate is revoked".into(),
                other => format!("the target's certificate is not acceptable: {other}"),
            },
            rustls::Error::AlertReceived(alert) => format!(
                "the target refused the TLS handshake ({alert:?}); if it asks for a client \
                 certificate, name one with sslcert and sslkey"
            ),
            other => format!("the TLS handshake with the target failed: {other}"),
        };
        Some(text)
    }
}

/// `~/.postgresql/NAME`, where libpq looks when the URL names no file.
fn default_file(name: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".postgresql").join(name))
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{what} {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

fn root_store(path: &Path) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path, "sslrootcert")? {
        roots.add(cert).map_err(|e| {
            format!(
                "sslrootcert {} holds an unusable certificate: {e}",
                path.display()
            )
        })?;
    }
    Ok(roots)
}

/// The rustls error behind a failed connection, if there is one: tokio-rustls hands it
/// over inside an `io::Error`, which tokio-postgres wraps again.
fn rustls_error(e: &tokio_postgres::Error) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = next {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(r) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(r);
        }
        next = err.source();
    }
    None
}

/// `prefer` and `require` without a root certificate: any certificate is taken, but the
/// handshake signatures are still checked (the connection is encrypted to whoever holds
/// the key of the certificate presented).
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
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
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the full WebPKI check, except that a certificate issued for another host
/// name is accepted. rustls checks the chain before the name, so a name error means the
/// chain was good.
#[derive(Debug)]
struct CaOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for CaOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> Result<TlsSettings, String> {
        TlsSettings::from_url(&url::Url::parse(url).map_err(|e| e.to_string())?)
    }

    #[test]
    fn the_mode_defaults_to_prefer_like_libpq() {
        let tls = settings("postgres://u@h/db").expect("parse");
        assert_eq!(tls.mode, SslMode::Prefer);
        assert_eq!(tls.root_cert, None);
    }

    #[test]
    fn every_libpq_mode_but_allow_is_read() {
        for m in ["disable", "prefer", "require", "verify-ca", "verify-full"] {
            let tls = settings(&format!("postgres://u@h/db?sslmode={m}")).expect("parse");
            assert_eq!(tls.mode.as_str(), m);
        }
        let allow = settings("postgres://u@h/db?sslmode=allow").expect_err("allow");
        assert!(allow.contains("not supported"), "{allow}");
        let bad = settings("postgres://u@h/db?sslmode=verify_full").expect_err("typo");
        assert!(bad.contains("verify-full"), "{bad}");
    }

    #[test]
    fn files_are_read_percent_decoded_and_an_empty_one_is_refused() {
        let tls = settings(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fmy%20ca.pem&sslcert=/c.pem&sslkey=/k.pem",
        )
        .expect("parse");
        assert_eq!(tls.root_cert, Some(PathBuf::from("/etc/my ca.pem")));
        assert_eq!(tls.cert, Some(PathBuf::from("/c.pem")));
        assert_eq!(tls.key, Some(PathBuf::from("/k.pem")));
        assert!(settings("postgres://u@h/db?sslrootcert=").is_err());
    }

    #[test]
    fn children_get_every_variable_set_or_removed() {
        let tls =
            settings("postgres://u@h/db?sslmode=verify-ca&sslrootcert=/ca.pem").expect("parse");
        let env = tls.child_env();
        assert_eq!(env[0], ("PGSSLMODE", Some("verify-ca".as_ref())));
        assert_eq!(env[1], ("PGSSLROOTCERT", Some("/ca.pem".as_ref())));
        assert_eq!(env[2], ("PGSSLCERT", None));
        assert_eq!(env[3], ("PGSSLKEY", None));
        // No sslmode in the URL: the children are told prefer, not left to the environment.
        let plain = settings("postgres://u@h/db").expect("parse");
        assert_eq!(plain.child_env()[0], ("PGSSLMODE", Some("prefer".as_ref())));
    }

    #[test]
    fn require_with_a_root_certificate_checks_the_ca_like_libpq() {
        let tls = settings("postgres://u@h/db?sslmode=require&sslrootcert=/ca.pem").expect("parse");
        assert_eq!(tls.check(), Check::Ca);
        assert_eq!(
            settings("postgres://u@h/db?sslmode=verify-full")
                .expect("parse")
                .check(),
            Check::Full
        );
        assert_eq!(
            settings("postgres://u@h/db?sslmode=prefer&sslrootcert=/ca.pem")
                .expect("parse")
                .check(),
            Check::Nothing
        );
    }

    #[test]
    fn a_missing_root_certificate_is_named() {
        let tls = settings("postgres://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
            .expect("parse");
        let err = tls.client().err().expect("missing file");
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
        assert!(settings("postgres://u@h/db?sslmode=disable")
            .expect("parse")
            .client()
            .expect("disable")
            .is_none());
        assert!(settings("postgres://u@h/db?sslmode=require")
            .expect("parse")
            .client()
            .expect("require")
            .is_some());
    }
}
