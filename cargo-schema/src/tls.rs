//! TLS to PostgreSQL that starts the TLS library only when a server agrees to TLS:
//! building a connector loads the system's certificates, which costs more than the rest
//! of a command at head, and `prefer` (the default) against a server without TLS never
//! needs it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

/// How to check the server.
#[derive(Clone)]
pub enum Verify {
    /// Encrypt, check nothing (`prefer`, `require`).
    Nothing,
    /// Check the chain against this root; the host name too when `hostname` is set.
    Root {
        cert: native_tls::Certificate,
        hostname: bool,
    },
}

type Built = Result<native_tls::TlsConnector, String>;

/// A `MakeTlsConnect` whose connector is built on first use and shared by clones (the
/// run-lock connection reuses it).
#[derive(Clone)]
pub struct LazyTls {
    verify: Verify,
    built: Arc<OnceLock<Built>>,
}

impl LazyTls {
    pub fn new(verify: Verify) -> LazyTls {
        LazyTls {
            verify,
            built: Arc::new(OnceLock::new()),
        }
    }

    fn connector(&self) -> Built {
        self.built
            .get_or_init(|| {
                let mut b = native_tls::TlsConnector::builder();
                match &self.verify {
                    Verify::Nothing => {
                        b.danger_accept_invalid_certs(true)
                            .danger_accept_invalid_hostnames(true);
                    }
                    Verify::Root { cert, hostname } => {
                        b.add_root_certificate(cert.clone())
                            .disable_built_in_roots(true)
                            .danger_accept_invalid_hostnames(!hostname);
                    }
                }
                b.build().map_err(|e| format!("cannot set up TLS: {e}"))
            })
            .clone()
    }
}

/// The connector for one host, built when the server has said yes to TLS.
pub struct LazyConnect {
    tls: LazyTls,
    domain: String,
}

impl<S> MakeTlsConnect<S> for LazyTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = postgres_native_tls::TlsStream<S>;
    type TlsConnect = LazyConnect;
    type Error = native_tls::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<LazyConnect, native_tls::Error> {
        Ok(LazyConnect {
            tls: self.clone(),
            domain: domain.to_string(),
        })
    }
}

impl<S> TlsConnect<S> for LazyConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = postgres_native_tls::TlsStream<S>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    #[allow(clippy::type_complexity)]
    type Future = Pin<Box<dyn Future<Output = Result<Self::Stream, Self::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let connector = self.tls.connector()?;
            let stream = postgres_native_tls::TlsConnector::new(connector, &self.domain)
                .connect(stream)
                .await?;
            Ok(stream)
        })
    }
}
