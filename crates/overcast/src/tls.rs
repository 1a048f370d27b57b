//! TLS on the edge port. The listener peeks at the first byte of each connection: a TLS
//! handshake record (0x16) is answered by rustls (ALPN `h2` and `http/1.1`), anything else is
//! plain HTTP as before — one port for both, like LocalStack's 4566.
//!
//! The certificate is either the user's (`--tls-cert`/`--tls-key`, read at start) or made
//! here on first use: a local CA (ECDSA P-256, ten years) kept in `<data-dir>/tls/` so that
//! clients trusting it keep working across restarts (in memory with `--ephemeral`), and a
//! server certificate it signs for `localhost`, `127.0.0.1`, `::1`, `*.localhost`, the S3
//! virtual-host, website and function-URL names (per region) and `--tls-hostnames`,
//! made anew at each start. Nothing is generated or read until the first TLS connection or
//! `GET /_overcast/tls/ca.pem`, so cold start and idle memory do not change.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// Regions whose S3 and function-URL host names the generated certificate covers.
const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "eu-south-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
];

/// Where the certificate comes from.
enum Source {
    /// A local CA (persisted in `dir`, or in memory) and a server certificate it signs.
    Generated {
        dir: Option<PathBuf>,
        extra_names: Vec<String>,
    },
    /// The user's certificate chain and key (`--tls-cert`, `--tls-key`).
    Provided,
}

/// What TLS needs once set up.
struct Ready {
    acceptor: TlsAcceptor,
    /// The local CA certificate (None for a user-provided certificate).
    ca_pem: Option<String>,
}

/// The edge port's TLS settings, set up on first use.
pub struct Tls {
    source: Source,
    ready: OnceLock<Result<Ready, String>>,
}

impl Tls {
    /// A generated CA kept in `data_dir/tls` (memory when None); `extra_names` are added to
    /// the server certificate's names (checked now; nothing is generated yet).
    pub fn generated(data_dir: Option<&Path>, extra_names: Vec<String>) -> Result<Tls, String> {
        if let Some(bad) = extra_names.iter().find(|n| !valid_name(n.trim())) {
            return Err(format!(
                "--tls-hostnames: {bad:?} is neither a host name nor an IP address"
            ));
        }
        Ok(Tls {
            source: Source::Generated {
                dir: data_dir.map(|d| d.join("tls")),
                extra_names,
            },
            ready: OnceLock::new(),
        })
    }

    /// The user's certificate chain and private key (PEM files), read now so that a mistake
    /// stops the server at start.
    pub fn provided(cert: &Path, key: &Path) -> Result<Tls, String> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!(
                "--tls-cert {}: no certificate in the file",
                cert.display()
            ));
        }
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
        let acceptor = acceptor(chain, key)?;
        let ready = OnceLock::new();
        let _ = ready.set(Ok(Ready {
            acceptor,
            ca_pem: None,
        }));
        Ok(Tls {
            source: Source::Provided,
            ready,
        })
    }

    fn ready(&self) -> Result<&Ready, &str> {
        self.ready
            .get_or_init(|| match &self.source {
                Source::Generated { dir, extra_names } => {
                    let started = std::time::Instant::now();
                    let r = generate(dir.as_deref(), extra_names);
                    if r.is_ok() {
                        tracing::info!(
                            micros = started.elapsed().as_micros() as u64,
                            ca = %dir.as_ref().map(|d| d.join("ca.pem").display().to_string()).unwrap_or_else(|| "(in memory)".into()),
                            "TLS certificate ready"
                        );
                    }
                    r
                }
                Source::Provided => Err("no certificate".into()),
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// The acceptor for a TLS connection.
    pub fn acceptor(&self) -> Result<TlsAcceptor, &str> {
        self.ready().map(|r| r.acceptor.clone())
    }

    /// The local CA's certificate (PEM) clients trust (`AWS_CA_BUNDLE`,
    /// `NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`); Err when the certificate is the user's.
    pub fn ca_pem(&self) -> Result<&str, &str> {
        match self.ready()?.ca_pem.as_deref() {
            Some(pem) => Ok(pem),
            None => Err("Overcast serves the certificate given with --tls-cert; trust the CA that issued it"),
        }
    }
}

fn acceptor(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<TlsAcceptor, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("TLS certificate: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Loads (or makes and keeps) the CA, then makes the server certificate.
fn generate(dir: Option<&Path>, extra_names: &[String]) -> Result<Ready, String> {
    let (ca_key, ca_pem) = match dir.and_then(load_ca) {
        Some(ca) => ca,
        None => {
            let key = KeyPair::generate().map_err(|e| format!("TLS: CA key: {e}"))?;
            let cert = ca_params(&key)
                .self_signed(&key)
                .map_err(|e| format!("TLS: CA certificate: {e}"))?;
            let cert_pem = pem("CERTIFICATE", cert.der());
            if let Some(dir) = dir {
                let key_pem = pem("PRIVATE KEY", &key.serialize_der());
                if let Err(e) = store_ca(dir, &key_pem, &cert_pem) {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot keep the TLS CA; it will change at the next start");
                }
            }
            (key, cert_pem)
        }
    };
    let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .map_err(|e| format!("TLS: CA certificate: {e}"))?;
    let issuer = Issuer::new(ca_params(&ca_key), ca_key);
    let key = KeyPair::generate().map_err(|e| format!("TLS: server key: {e}"))?;
    let cert = server_params(extra_names)?
        .signed_by(&key, &issuer)
        .map_err(|e| format!("TLS: server certificate: {e}"))?;
    let key_der = PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| format!("TLS: server key: {e}"))?;
    let acceptor = acceptor(vec![cert.der().clone(), ca_der], key_der)?;
    Ok(Ready {
        acceptor,
        ca_pem: Some(ca_pem),
    })
}

/// The CA's parameters. Its name carries a digest of its key, so that CAs of different data
/// directories trusted side by side never share a subject; re-deriving it from the key gives
/// the same issuer name when the CA is loaded after a restart.
fn ca_params(key: &KeyPair) -> CertificateParams {
    use sha2::Digest;
    let id = hex::encode(&sha2::Sha256::digest(key.public_key_raw())[..4]);
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Overcast");
    dn.push(DnType::CommonName, format!("Overcast local CA {id}"));
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(1);
    p.not_after = now + time::Duration::days(3650);
    p
}

/// The names the server certificate covers.
pub fn server_names(extra_names: &[String]) -> Vec<String> {
    let mut names: Vec<String> = [
        "localhost",
        "127.0.0.1",
        "::1",
        "*.localhost",
        "s3.localhost",
        "*.s3.localhost",
        "*.s3-website.localhost",
        "*.execute-api.localhost",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for r in REGIONS {
        names.push(format!("s3.{r}.localhost"));
        names.push(format!("*.s3.{r}.localhost"));
        names.push(format!("*.s3-website.{r}.localhost"));
        names.push(format!("*.s3-website-{r}.localhost"));
        names.push(format!("*.lambda-url.{r}.localhost"));
    }
    for n in extra_names {
        let n = n.trim();
        if !n.is_empty() && !names.iter().any(|x| x.eq_ignore_ascii_case(n)) {
            names.push(n.to_string());
        }
    }
    names
}

/// A DNS name (letters, digits, `-`, dots; `*.` only as its first label) or an IP address.
fn valid_name(n: &str) -> bool {
    if n.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let rest = n.strip_prefix("*.").unwrap_or(n);
    !rest.is_empty()
        && rest.len() <= 253
        && rest.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn server_params(extra_names: &[String]) -> Result<CertificateParams, String> {
    let mut p = CertificateParams::new(server_names(extra_names))
        .map_err(|e| format!("TLS: certificate names: {e}"))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    p.distinguished_name = dn;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(1);
    // Under 398 days: the longest validity Apple's and browsers' TLS stacks accept.
    p.not_after = now + time::Duration::days(397);
    Ok(p)
}

/// PEM text of one DER object (`label`: `CERTIFICATE`, `PRIVATE KEY`).
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The kept CA (key, certificate PEM), if both files are there and the key parses.
fn load_ca(dir: &Path) -> Option<(KeyPair, String)> {
    let key = std::fs::read(dir.join("ca.key")).ok()?;
    let pem = std::fs::read_to_string(dir.join("ca.pem")).ok()?;
    let parsed = PrivateKeyDer::from_pem_slice(&key)
        .map_err(|e| e.to_string())
        .and_then(|k| KeyPair::try_from(&k).map_err(|e| e.to_string()));
    match parsed {
        Ok(k) => Some((k, pem)),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "the kept TLS CA key does not parse; making a new CA");
            None
        }
    }
}

/// Writes the CA: key first (owner-only), then the certificate, each through a rename so a
/// crash never leaves half a file.
fn store_ca(dir: &Path, key_pem: &str, cert_pem: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_atomic(&dir.join("ca.key"), key_pem.as_bytes(), true)?;
    write_atomic(&dir.join("ca.pem"), cert_pem.as_bytes(), false)
}

fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_kept_and_reloaded_with_the_same_name() {
        let dir = std::env::temp_dir().join(format!("overcast-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = generate(Some(&dir), &[]).expect("generated");
        let pem = first.ca_pem.clone().expect("a CA");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let again = generate(Some(&dir), &[]).expect("reloaded");
        assert_eq!(again.ca_pem.as_deref(), Some(pem.as_str()));
        // The issuer name re-derived from the kept key is the kept certificate's subject.
        let (key, _) = load_ca(&dir).expect("kept");
        let cn = format!(
            "Overcast local CA {}",
            hex::encode(
                &{
                    use sha2::Digest;
                    sha2::Sha256::digest(key.public_key_raw())
                }[..4]
            )
        );
        let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        assert!(der.windows(cn.len()).any(|w| w == cn.as_bytes()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("ca.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the CA key is private");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn names_cover_loopback_and_virtual_hosts() {
        let names = server_names(&["overcast".into(), "localhost".into()]);
        for n in [
            "localhost",
            "127.0.0.1",
            "::1",
            "*.s3.localhost",
            "*.s3.eu-west-1.localhost",
            "*.lambda-url.us-east-1.localhost",
            "overcast",
        ] {
            assert!(names.iter().any(|x| x == n), "{n}");
        }
        assert_eq!(names.iter().filter(|x| *x == "localhost").count(), 1);
    }

    #[test]
    fn in_memory_ca_serves_a_pem() {
        let tls = Tls::generated(None, vec![]).expect("valid names");
        assert!(tls.acceptor().is_ok());
        assert!(Tls::generated(None, vec!["not a name".into()]).is_err());
        assert!(Tls::generated(None, vec!["*.dev.test".into(), "10.0.0.2".into()]).is_ok());
        assert!(!valid_name("a..b") && !valid_name("*.") && !valid_name("h\u{e9}.test"));
        assert!(tls.ca_pem().unwrap().contains("BEGIN CERTIFICATE"));
    }
}
