//! A test CA (rcgen) and a simulator that serves TLS with it (rustls, ring provider).

use std::net::TcpStream;
use std::sync::Arc;

use gnip_stream::simulator::{Connection, Simulator, SimulatorConfig};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct Tls {
    pub cert_pem: String,
    pub cert_der: CertificateDer<'static>,
    pub server: Arc<rustls::ServerConfig>,
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn test_ca() -> Tls {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert_der = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key)
        .unwrap();
    Tls {
        cert_pem: ck.cert.pem(),
        cert_der,
        server: Arc::new(server),
    }
}

pub fn tls_simulator(tls: &Tls, config: SimulatorConfig) -> Simulator {
    let server = Arc::clone(&tls.server);
    let wrap = Arc::new(
        move |tcp: TcpStream| -> std::io::Result<Box<dyn Connection>> {
            let conn = rustls::ServerConnection::new(Arc::clone(&server))
                .map_err(std::io::Error::other)?;
            Ok(Box::new(rustls::StreamOwned::new(conn, tcp)))
        },
    );
    Simulator::start(config.wrap_connections(wrap)).unwrap()
}

/// Writes the CA's PEM to a fresh temporary file; returns its path.
pub fn ca_file(tls: &Tls, name: &str) -> std::path::PathBuf {
    let path = gnip_stream::testing::scratch_dir(&format!("test-ca-{name}")).join("ca.pem");
    std::fs::write(&path, &tls.cert_pem).unwrap();
    path
}
