//! Test support: a throwaway PostgreSQL server and fresh databases on it, for this
//! repository's tests and for applications' own (feature `testing`).
//!
//! `SCHEMA_TEST_POSTGRES_URL` names a running server to use (`cargo xtask test` starts
//! one and sets it); without it the first caller starts a private cluster that stops
//! when the test process exits.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The environment variable that names a running server (a base URL without database).
pub const POSTGRES_URL_ENV: &str = "SCHEMA_TEST_POSTGRES_URL";

/// A PostgreSQL cluster in a temporary directory, reached on a unix socket in that
/// directory and on 127.0.0.1 at a free port.
#[derive(Debug, Clone)]
pub struct PgCluster {
    pub dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot start a throwaway PostgreSQL server: {0}")]
pub struct ClusterError(String);

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// The directory with `initdb` and `pg_ctl`: `PG_BIN`, else the newest Debian layout,
/// else `pg_config --bindir`.
pub fn find_bin_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PG_BIN") {
        return Some(PathBuf::from(p));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p): &(u32, PathBuf)| p.join("initdb").is_file())
        .collect();
    versions.sort();
    if let Some((_, p)) = versions.pop() {
        return Some(p);
    }
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    p.join("initdb").is_file().then_some(p)
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (the server refuses root).
fn pg_command(bin: &Path, tool: &str, args: &[String]) -> Command {
    let exe = bin.join(tool);
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(exe).args(args);
        c
    } else {
        let mut c = Command::new(exe);
        c.args(args);
        c
    }
}

fn run(mut c: Command, what: &str) -> Result<(), ClusterError> {
    let out = c.stdin(Stdio::null()).output().map_err(|e| ClusterError(format!("{what}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ClusterError(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

fn free_port() -> Result<u16, ClusterError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| ClusterError(e.to_string()))?;
    Ok(l.local_addr().map_err(|e| ClusterError(e.to_string()))?.port())
}

impl PgCluster {
    /// initdb into a fresh temporary directory and start the server. Local (socket)
    /// connections are trusted; TCP connections need a password (scram), so tests can
    /// exercise a wrong one.
    pub fn start() -> Result<PgCluster, ClusterError> {
        let bin = find_bin_dir().ok_or_else(|| {
            ClusterError("no PostgreSQL server binaries (install the `postgresql` package or set PG_BIN)".into())
        })?;
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "schema-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| ClusterError(format!("{}: {e}", dir.display())))?;
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["postgres:", &dir.display().to_string()]);
                    c
                },
                "chown",
            )?;
        }
        let data = dir.join("data");
        run(
            pg_command(
                &bin,
                "initdb",
                &[
                    "-D".into(),
                    data.display().to_string(),
                    "-U".into(),
                    "postgres".into(),
                    "--auth-local=trust".into(),
                    "--auth-host=scram-sha-256".into(),
                    "--no-sync".into(),
                    "-E".into(),
                    "UTF8".into(),
                ],
            ),
            "initdb",
        )?;
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            let opts = format!(
                "-k {} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                dir.display()
            );
            let r = run(
                pg_command(
                    &bin,
                    "pg_ctl",
                    &[
                        "-D".into(),
                        data.display().to_string(),
                        "-o".into(),
                        opts,
                        "-l".into(),
                        dir.join("server.log").display().to_string(),
                        "-w".into(),
                        "-t".into(),
                        "60".into(),
                        "start".into(),
                    ],
                ),
                "pg_ctl start",
            );
            match r {
                Ok(()) => return Ok(PgCluster { dir, port, bin }),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| ClusterError("pg_ctl start failed".into())))
    }

    /// A URL for database `db` over the unix socket, as the trusted superuser.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@localhost:{}/{db}?host={}", self.port, self.dir.display())
    }

    /// Stops the server (immediately: it is throwaway) and removes its directory.
    pub fn stop(&self) {
        let _ = run(
            pg_command(
                &self.bin,
                "pg_ctl",
                &["-D".into(), self.dir.join("data").display().to_string(), "-m".into(), "immediate".into(), "stop".into()],
            ),
            "pg_ctl stop",
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Stops the server when process `pid` exits (for servers started inside a test
    /// binary, which has no teardown hook).
    pub fn stop_when_process_exits(&self, pid: u32) {
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {} ; rm -rf '{}'",
            shell_words(&pg_command(
                &self.bin,
                "pg_ctl",
                &["-D".into(), self.dir.join("data").display().to_string(), "-m".into(), "immediate".into(), "stop".into()],
            )),
            self.dir.display()
        );
        let _ = Command::new("sh")
            .args(["-c", &stop])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

fn shell_words(c: &Command) -> String {
    std::iter::once(c.get_program())
        .chain(c.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The base URL of a server for tests: `SCHEMA_TEST_POSTGRES_URL`, or a private cluster
/// started on first use. The URL's database part is `postgres`.
pub fn postgres_server() -> Result<String, String> {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            if let Ok(url) = std::env::var(POSTGRES_URL_ENV) {
                if !url.is_empty() {
                    return Ok(url);
                }
            }
            let c = PgCluster::start().map_err(|e| e.to_string())?;
            c.stop_when_process_exits(std::process::id());
            Ok(c.url("postgres"))
        })
        .clone()
}

/// Replaces the database name of a postgres URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A fresh, empty database on the test server; returns its URL.
#[cfg(feature = "postgres")]
pub async fn fresh_postgres_database(prefix: &str) -> Result<String, String> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let server = postgres_server()?;
    let name = format!(
        "{}_{}_{}",
        prefix.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect::<String>(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let (client, conn) = tokio_postgres::connect(&server, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
    let task = tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .map_err(|e| crate::postgres::pg_message(&e))?;
    drop(client);
    let _ = task.await;
    Ok(with_database(&server, &name))
}

/// The environment variable choosing how test databases are prepared:
/// `create_all` (default: tables straight from the models) or `migrations` (replay).
pub const MODE_ENV: &str = "SCHEMA_TEST_MODE";
/// The environment variable choosing the backend of test databases: `sqlite` (default)
/// or `postgres`.
pub const DB_ENV: &str = "SCHEMA_TEST_DB";

/// How a test run prepares databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    CreateAll,
    Migrations,
}

impl Mode {
    pub fn from_env() -> Mode {
        match std::env::var(MODE_ENV).as_deref() {
            Ok("migrations") => Mode::Migrations,
            _ => Mode::CreateAll,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::CreateAll => "create_all",
            Mode::Migrations => "migrations",
        }
    }
}

/// Which backend a test run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

impl TestBackend {
    pub fn from_env() -> TestBackend {
        match std::env::var(DB_ENV).as_deref() {
            Ok("postgres") => TestBackend::Postgres,
            _ => TestBackend::Sqlite,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            TestBackend::Sqlite => "sqlite",
            TestBackend::Postgres => "postgres",
        }
    }
}

/// What `cargo xtask test` runs: `cargo test` once per (backend, mode), with a throwaway
/// PostgreSQL server when a run needs one. A user's xtask calls [`run_test_matrix`] with
/// the same options to get the same command.
#[derive(Debug, Clone)]
pub struct TestMatrix {
    pub backends: Vec<TestBackend>,
    pub modes: Vec<Mode>,
    /// The workspace to test (its directory), and extra `cargo test` arguments.
    pub workspace: PathBuf,
    pub cargo_args: Vec<String>,
    /// Extra environment for the runs (e.g. a shared `CARGO_TARGET_DIR`).
    pub env: Vec<(String, String)>,
}

/// Runs the matrix; returns whether every run passed. The server is started once and
/// stopped at the end, whatever happened.
pub fn run_test_matrix(m: &TestMatrix) -> Result<bool, ClusterError> {
    let cluster = if std::env::var(POSTGRES_URL_ENV).is_ok() {
        None
    } else {
        Some(PgCluster::start()?)
    };
    let server = match &cluster {
        Some(c) => c.url("postgres"),
        None => std::env::var(POSTGRES_URL_ENV).unwrap_or_default(),
    };
    let mut ok = true;
    for backend in &m.backends {
        for mode in &m.modes {
            eprintln!("==> cargo test ({}, {}) in {}", backend.as_str(), mode.as_str(), m.workspace.display());
            let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .arg("test")
                .args(&m.cargo_args)
                .current_dir(&m.workspace)
                .env(POSTGRES_URL_ENV, &server)
                .env(DB_ENV, backend.as_str())
                .env(MODE_ENV, mode.as_str())
                .envs(m.env.iter().map(|(k, v)| (k, v)))
                .status();
            ok &= status.map(|s| s.success()).unwrap_or(false);
        }
    }
    if let Some(c) = cluster {
        c.stop();
    }
    Ok(ok)
}
