//! HTTPS on the server's one listener: a certificate from files, or one made for this
//! machine and kept in the data dir. The 100ms web SDK refuses an `http://` init endpoint,
//! so a browser can only join over TLS.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

use crate::config::ServerConfig;

/// Names a self-signed certificate is always made for.
const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key")]
    NoKey { path: PathBuf },
    #[error("give both tls_cert and tls_key, or tls_self_signed, not a part of them")]
    Incomplete,
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(String),
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(String),
}

/// The certificate the server presents.
pub struct Certificate {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// Where it came from, to tell the operator.
    pub path: PathBuf,
}

impl Certificate {
    /// The certificate `config` asks for, if any: made once and kept in the data dir when
    /// self-signed, so that a browser told to trust it keeps trusting it.
    pub fn from_config(config: &ServerConfig) -> Result<Option<Self>, TlsError> {
        match (&config.tls_cert, &config.tls_key, config.tls_self_signed) {
            (Some(cert), Some(key), false) => Self::load(cert, key).map(Some),
            (None, None, true) => Self::self_signed(&config.data_dir.join("tls"), &config.tls_names).map(Some),
            (None, None, false) => Ok(None),
            _ => Err(TlsError::Incomplete),
        }
    }

    fn load(cert_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        let cert_pem = read(cert_path)?;
        let key_pem = read(key_path)?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
            .filter_map(Result::ok)
            .collect();
        if chain.is_empty() {
            return Err(TlsError::NoCertificate {
                path: cert_path.to_owned(),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::NoKey {
            path: key_path.to_owned(),
        })?;
        Ok(Self {
            chain,
            key,
            path: cert_path.to_owned(),
        })
    }

    /// The self-signed certificate in `dir`, made for the local names and `names` when it
    /// does not exist yet or names other hosts.
    fn self_signed(dir: &Path, names: &[String]) -> Result<Self, TlsError> {
        let (cert_path, key_path, names_path) = (dir.join("cert.pem"), dir.join("key.pem"), dir.join("names"));
        let mut wanted: Vec<String> = LOCAL_NAMES.iter().map(|name| (*name).to_owned()).collect();
        wanted.extend(
            names
                .iter()
                .filter(|name| !LOCAL_NAMES.contains(&name.as_str()))
                .cloned(),
        );
        let wanted_list = wanted.join("\n");
        let made_for = std::fs::read_to_string(&names_path).ok();
        if made_for.as_deref() != Some(wanted_list.as_str()) || !cert_path.exists() || !key_path.exists() {
            let made = rcgen::generate_simple_self_signed(wanted).map_err(|e| TlsError::Generate(e.to_string()))?;
            std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
                path: dir.to_owned(),
                source,
            })?;
            write(&key_path, made.signing_key.serialize_pem().as_bytes(), true)?;
            write(&cert_path, made.cert.pem().as_bytes(), false)?;
            write(&names_path, wanted_list.as_bytes(), false)?;
        }
        Self::load(&cert_path, &key_path)
    }

    /// The SHA-256 fingerprint of the leaf certificate, as browsers show it.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.chain[0].as_ref());
        digest
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// What runs the handshakes of the listener's connections (see [`crate::listener`]).
    pub fn acceptor(&self) -> Result<TlsAcceptor, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn write(path: &Path, contents: &[u8], private: bool) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |source| TlsError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(path)
        .map_err(failed)?;
    file.write_all(contents).map_err(failed)
}
