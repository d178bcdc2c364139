//! Test support: throwaway PostgreSQL and MariaDB servers and fresh databases on them,
//! for this repository's tests and for applications' own (feature `testing`).
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
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
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
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ClusterError(format!("{what}: {e}")))?;
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
    Ok(l.local_addr()
        .map_err(|e| ClusterError(e.to_string()))?
        .port())
}

impl PgCluster {
    /// initdb into a fresh temporary directory and start the server. Local (socket)
    /// connections are trusted; TCP connections need a password (scram), so tests can
    /// exercise a wrong one.
    pub fn start() -> Result<PgCluster, ClusterError> {
        Self::start_with("")
    }

    /// Like [`PgCluster::start`], with extra server options (`-c name=value ...`).
    pub fn start_with(extra_options: &str) -> Result<PgCluster, ClusterError> {
        let bin = find_bin_dir().ok_or_else(|| {
            ClusterError(
                "no PostgreSQL server binaries (install the `postgresql` package or set PG_BIN)"
                    .into(),
            )
        })?;
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "schema-pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| ClusterError(format!("{}: {e}", dir.display())))?;
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
                "-k {} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 {extra_options}",
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
        format!(
            "postgres://postgres@localhost:{}/{db}?host={}",
            self.port,
            self.dir.display()
        )
    }

    /// Stops the server (immediately: it is throwaway) and removes its directory.
    pub fn stop(&self) {
        let _ = run(
            pg_command(
                &self.bin,
                "pg_ctl",
                &[
                    "-D".into(),
                    self.dir.join("data").display().to_string(),
                    "-m".into(),
                    "immediate".into(),
                    "stop".into(),
                ],
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
                &[
                    "-D".into(),
                    self.dir.join("data").display().to_string(),
                    "-m".into(),
                    "immediate".into(),
                    "stop".into()
                ],
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

/// A throwaway PgBouncer in front of a [`PgCluster`] (from the distribution's
/// `pgbouncer`), in transaction pooling mode, the way fleets reach their databases: every
/// database of the cluster, as the trusted `postgres` user, on 127.0.0.1 at a free port.
#[derive(Debug, Clone)]
pub struct PgBouncer {
    pub dir: PathBuf,
    pub port: u16,
}

impl PgBouncer {
    /// Writes a configuration beside nothing else and starts PgBouncer as a daemon (as the
    /// `postgres` user when we are root: it refuses root), waiting until it accepts
    /// connections.
    pub fn start(cluster: &PgCluster) -> Result<PgBouncer, ClusterError> {
        let exe = [
            "/usr/sbin/pgbouncer",
            "/usr/bin/pgbouncer",
            "/usr/local/bin/pgbouncer",
        ]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| ClusterError("no pgbouncer (install the `pgbouncer` package)".into()))?;
        let dir = cluster.dir.join("pgbouncer");
        std::fs::create_dir_all(&dir).map_err(|e| ClusterError(e.to_string()))?;
        let port = free_port()?;
        let config = format!(
            "[databases]\n* = host={socket} port={pg}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
             listen_port = {port}\nunix_socket_dir =\nauth_type = trust\nauth_file = {dir}/users.txt\n\
             pool_mode = transaction\nmax_client_conn = 1000\ndefault_pool_size = 20\n\
             ignore_startup_parameters = extra_float_digits,options\n\
             logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n",
            socket = cluster.dir.display(),
            pg = cluster.port,
            dir = dir.display(),
        );
        let write = |name: &str, text: &str| {
            std::fs::write(dir.join(name), text).map_err(|e| ClusterError(e.to_string()))
        };
        write("pgbouncer.ini", &config)?;
        write("users.txt", "\"postgres\" \"\"\n")?;
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["-R", "postgres:", &dir.display().to_string()]);
                    c
                },
                "chown",
            )?;
        }
        let ini = dir.join("pgbouncer.ini").display().to_string();
        let start = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(["-d", &ini]);
            c
        } else {
            let mut c = Command::new(&exe);
            c.args(["-d", &ini]);
            c
        };
        run(start, "pgbouncer")?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if std::time::Instant::now() > deadline {
                return Err(ClusterError(format!(
                    "pgbouncer did not listen on port {port}; see {}/pgbouncer.log",
                    dir.display()
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Ok(PgBouncer { dir, port })
    }

    /// A URL for database `db` through PgBouncer.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }

    /// Stops PgBouncer (by its pid file).
    pub fn stop(&self) {
        let _ = Command::new("sh")
            .args([
                "-c",
                &format!(
                    "kill $(cat '{}/pgbouncer.pid') 2>/dev/null",
                    self.dir.display()
                ),
            ])
            .status();
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
            env_url_or(POSTGRES_URL_ENV, || {
                let c = PgCluster::start().map_err(|e| e.to_string())?;
                c.stop_when_process_exits(std::process::id());
                Ok(c.url("postgres"))
            })
        })
        .clone()
}

/// The server URL the environment variable `env` names, else one `start` gives.
fn env_url_or(env: &str, start: impl FnOnce() -> Result<String, String>) -> Result<String, String> {
    match std::env::var(env) {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => start(),
    }
}

/// Replaces the database name of a postgres URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// The environment variable that names a running MySQL/MariaDB server (a base URL
/// without database, e.g. `mysql://root@127.0.0.1:3306/`).
pub const MYSQL_URL_ENV: &str = "SCHEMA_TEST_MYSQL_URL";

/// A throwaway MariaDB server in a temporary directory (from the distribution's
/// `mariadb-server`), reached on 127.0.0.1 at a free port as `root` without a password.
#[derive(Debug, Clone)]
pub struct MariaDbServer {
    pub dir: PathBuf,
    pub port: u16,
}

/// Where `name` is: `MARIADB_BIN`, else the distribution's directories, else `PATH`.
fn mariadb_tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("MARIADB_BIN")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    dirs.extend(["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"].map(PathBuf::from));
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

impl MariaDbServer {
    /// Initialises a data directory and starts the server (utf8mb4, no fsync: it is
    /// throwaway), waiting until it accepts connections.
    pub fn start() -> Result<MariaDbServer, ClusterError> {
        Self::start_with(&[])
    }

    /// Like [`MariaDbServer::start`], with extra server options (later ones win).
    pub fn start_with(extra_options: &[&str]) -> Result<MariaDbServer, ClusterError> {
        let missing = || {
            ClusterError(
                "no MariaDB server binaries (install the `mariadb-server` package or set MARIADB_BIN)"
                    .into(),
            )
        };
        let install = mariadb_tool("mariadb-install-db").ok_or_else(missing)?;
        let server = mariadb_tool("mariadbd")
            .or_else(|| mariadb_tool("mysqld"))
            .ok_or_else(missing)?;
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "schema-mariadb-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| ClusterError(format!("{}: {e}", dir.display())))?;
        let data = dir.join("data");
        let user = if is_root() {
            "root".to_string()
        } else {
            whoami()
        };
        run(
            {
                let mut c = Command::new(&install);
                c.arg("--no-defaults")
                    .arg(format!("--datadir={}", data.display()))
                    .arg(format!("--user={user}"))
                    .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
                    .current_dir(&dir);
                c
            },
            "mariadb-install-db",
        )?;
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            let child = Command::new(&server)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--socket={}", dir.join("mysqld.sock").display()))
                .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
                .arg(format!("--log-error={}", dir.join("server.log").display()))
                .arg(format!("--port={port}"))
                .arg(format!("--user={user}"))
                .args([
                    "--bind-address=127.0.0.1",
                    "--character-set-server=utf8mb4",
                    "--collation-server=utf8mb4_unicode_ci",
                    "--innodb-flush-log-at-trx-commit=0",
                    "--innodb-doublewrite=0",
                    "--skip-log-bin",
                    "--max-connections=500",
                ])
                .args(extra_options)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| ClusterError(format!("{}: {e}", server.display())))?;
            let me = MariaDbServer {
                dir: dir.clone(),
                port,
            };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            let mut child = child;
            loop {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(me);
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    let _ = child.kill();
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            last = Some(ClusterError(format!(
                "mariadbd did not start: {}",
                std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
            )));
        }
        Err(last.unwrap_or_else(|| ClusterError("mariadbd did not start".into())))
    }

    /// A URL for database `db` (empty: the server only).
    pub fn url(&self, db: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{db}", self.port)
    }

    /// The shell command that stops the server and removes its directory.
    fn stop_script(&self) -> String {
        let dir = self.dir.display().to_string().replace('\'', "'\\''");
        format!(
            "pid=$(cat '{dir}/mysqld.pid' 2>/dev/null); [ -n \"$pid\" ] && kill -9 \"$pid\" 2>/dev/null; rm -rf '{dir}'"
        )
    }

    /// Stops the server (immediately: it is throwaway) and removes its directory.
    pub fn stop(&self) {
        let _ = Command::new("sh")
            .args(["-c", &self.stop_script()])
            .stdin(Stdio::null())
            .status();
    }

    /// Stops the server when process `pid` exits.
    pub fn stop_when_process_exits(&self, pid: u32) {
        let stop = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {}",
            self.stop_script()
        );
        let _ = Command::new("sh")
            .args(["-c", &stop])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

fn whoami() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The base URL of a MySQL/MariaDB server for tests: `SCHEMA_TEST_MYSQL_URL`, or a
/// private server started on first use.
pub fn mysql_server() -> Result<String, String> {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            env_url_or(MYSQL_URL_ENV, || {
                let s = MariaDbServer::start().map_err(|e| e.to_string())?;
                s.stop_when_process_exits(std::process::id());
                Ok(s.url(""))
            })
        })
        .clone()
}

/// A fresh, empty database (utf8mb4) on the MySQL/MariaDB test server; returns its URL.
#[cfg(feature = "mysql")]
pub async fn fresh_mysql_database(prefix: &str) -> Result<String, String> {
    use mysql_async::prelude::Queryable;
    let server = mysql_server()?;
    let name = test_database_name(prefix);
    let mut conn = crate::mysql::connect(&server)
        .await
        .map_err(|e| e.to_string())?;
    conn.query_drop(format!(
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ))
    .await
    .map_err(|e| crate::mysql::my_message(&e))?;
    let _ = conn.disconnect().await;
    Ok(with_database(&server, &name))
}

/// Removes `dir` when process `pid` exits (tests have no teardown hook; a process that
/// panics or is killed still gets its temporary files removed).
pub fn remove_when_process_exits(dir: &Path, pid: u32) {
    let d = dir.display().to_string().replace('\'', "'\\''");
    let script = format!("while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; rm -rf '{d}'");
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// This process's directory for SQLite test files, removed when the process exits.
pub fn sqlite_test_dir(prefix: &str) -> Result<PathBuf, String> {
    static DIRS: OnceLock<std::sync::Mutex<Vec<String>>> = OnceLock::new();
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dirs = DIRS.get_or_init(Default::default);
    if let Ok(mut known) = dirs.lock() {
        if !known.iter().any(|p| p == prefix) {
            known.push(prefix.to_string());
            remove_when_process_exits(&dir, std::process::id());
        }
    }
    Ok(dir)
}

/// A name for a fresh test database: the prefix made safe, the process, a counter.
fn test_database_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}_{}_{}",
        prefix
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            })
            .collect::<String>(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// The database name in a URL (the last path segment, before any query).
fn database_name(url: &str) -> Option<String> {
    let base = url.split('?').next()?;
    let after_scheme = &base[base.find("://")? + 3..];
    let (_, name) = after_scheme.split_once('/')?;
    (!name.is_empty()).then(|| name.to_string())
}

/// Drops a database this module made (`fresh_*_database`), on its own runtime; errors are
/// ignored (the server may be gone already).
pub fn drop_test_database(url: &str) {
    let Some(name) = database_name(url) else {
        return;
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        #[cfg(feature = "mysql")]
        rt.block_on(async {
            use mysql_async::prelude::Queryable;
            let Ok(server) = mysql_server() else { return };
            if let Ok(mut c) = crate::mysql::connect(&server).await {
                let _ = c
                    .query_drop(format!(
                        "DROP DATABASE IF EXISTS `{}`",
                        name.replace('`', "``")
                    ))
                    .await;
                let _ = c.disconnect().await;
            }
        });
    } else {
        #[cfg(feature = "postgres")]
        rt.block_on(async {
            let Ok(server) = postgres_server() else {
                return;
            };
            if let Ok((client, conn)) =
                tokio_postgres::connect(&server, tokio_postgres::NoTls).await
            {
                let task = tokio::spawn(conn);
                let _ = client
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                        name.replace('"', "\"\"")
                    ))
                    .await;
                drop(client);
                let _ = task.await;
            }
        });
    }
}

/// A fresh, empty database on the test server; returns its URL.
#[cfg(feature = "postgres")]
pub async fn fresh_postgres_database(prefix: &str) -> Result<String, String> {
    let server = postgres_server()?;
    let name = test_database_name(prefix);
    let (client, conn) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
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
    /// MariaDB (or MySQL), dialect `mysql`.
    Mysql,
}

impl TestBackend {
    pub fn from_env() -> TestBackend {
        match std::env::var(DB_ENV).as_deref() {
            Ok("postgres") => TestBackend::Postgres,
            Ok("mysql" | "mariadb") => TestBackend::Mysql,
            _ => TestBackend::Sqlite,
        }
    }
    /// The backends `--db NAME` selects: one, or `all`.
    pub fn parse_list(name: &str) -> Option<Vec<TestBackend>> {
        Some(match name {
            "sqlite" => vec![TestBackend::Sqlite],
            "postgres" => vec![TestBackend::Postgres],
            "mysql" | "mariadb" => vec![TestBackend::Mysql],
            "all" => vec![
                TestBackend::Sqlite,
                TestBackend::Postgres,
                TestBackend::Mysql,
            ],
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TestBackend::Sqlite => "sqlite",
            TestBackend::Postgres => "postgres",
            TestBackend::Mysql => "mysql",
        }
    }

    pub fn dialect(self) -> schema_core::Dialect {
        match self {
            TestBackend::Sqlite => schema_core::Dialect::Sqlite,
            TestBackend::Postgres => schema_core::Dialect::Postgres,
            TestBackend::Mysql => schema_core::Dialect::Mysql,
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

impl TestMatrix {
    /// A server URL the matrix's own environment or the process's gives (`env`).
    fn given_url(&self, env: &str) -> Option<String> {
        self.env
            .iter()
            .find(|(k, _)| k == env)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(env).ok())
            .filter(|u| !u.is_empty())
    }
}

/// Runs the matrix; returns whether every run passed. The server is started once and
/// stopped at the end, whatever happened.
pub fn run_test_matrix(m: &TestMatrix) -> Result<bool, ClusterError> {
    let given = m.given_url(POSTGRES_URL_ENV);
    let needs_server = given.is_none() && m.backends.contains(&TestBackend::Postgres);
    let cluster = if needs_server {
        Some(PgCluster::start()?)
    } else {
        None
    };
    let server = match (&cluster, given) {
        (Some(c), _) => c.url("postgres"),
        (None, Some(u)) => u,
        (None, None) => String::new(),
    };
    let given_mysql = m.given_url(MYSQL_URL_ENV);
    let maria = if given_mysql.is_none() && m.backends.contains(&TestBackend::Mysql) {
        match MariaDbServer::start() {
            Ok(s) => Some(s),
            Err(e) => {
                if let Some(c) = &cluster {
                    c.stop();
                }
                return Err(e);
            }
        }
    } else {
        None
    };
    let mysql_url = match (&maria, given_mysql) {
        (Some(s), _) => s.url(""),
        (None, Some(u)) => u,
        (None, None) => String::new(),
    };
    let mut ok = true;
    for backend in &m.backends {
        for mode in &m.modes {
            eprintln!(
                "==> cargo test ({}, {}) in {}",
                backend.as_str(),
                mode.as_str(),
                m.workspace.display()
            );
            let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .args(["test", "--no-fail-fast"])
                .args(&m.cargo_args)
                .current_dir(&m.workspace)
                .env(POSTGRES_URL_ENV, &server)
                .env(MYSQL_URL_ENV, &mysql_url)
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
    if let Some(s) = maria {
        s.stop();
    }
    Ok(ok)
}

/// A database prepared for one test, as the environment says: SQLite (a file in a
/// temporary directory), PostgreSQL or MariaDB (a fresh database on the test server),
/// with the tables made by `create_all` from the models or by replaying every migration.
/// Dropping it removes the file or drops the database.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    pub backend: TestBackend,
    pub mode: Mode,
    pub sqlite_path: Option<PathBuf>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.sqlite_path {
            Some(p) => {
                for suffix in ["", "-wal", "-shm", "-journal", ".schema-lock"] {
                    let mut name = p.clone().into_os_string();
                    name.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(name));
                }
            }
            None => drop_test_database(&self.url),
        }
    }
}

impl TestDatabase {
    /// Prepares a database from `models` (create_all) or `migrations` (replay), per
    /// `SCHEMA_TEST_MODE` and `SCHEMA_TEST_DB`.
    pub fn prepare(
        models: &schema_core::Schema,
        migrations: &crate::EmbeddedMigrations,
    ) -> Result<TestDatabase, String> {
        Self::prepare_with(
            TestBackend::from_env(),
            Mode::from_env(),
            models,
            migrations,
        )
    }

    pub fn prepare_with(
        backend: TestBackend,
        mode: Mode,
        models: &schema_core::Schema,
        migrations: &crate::EmbeddedMigrations,
    ) -> Result<TestDatabase, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        match backend {
            TestBackend::Sqlite => {
                let dir = sqlite_test_dir("schema-test")?;
                let path = dir.join(format!("db{}.sqlite", N.fetch_add(1, Ordering::SeqCst)));
                let _ = std::fs::remove_file(&path);
                let mut conn = rusqlite::Connection::open(&path).map_err(|e| e.to_string())?;
                let mut db = crate::sqlite::SqliteBackend::new(&mut conn);
                crate::embed::block_on(prepare_backend(&mut db, mode, models, migrations))?;
                Ok(TestDatabase {
                    url: format!("sqlite://{}", path.display()),
                    backend,
                    mode,
                    sqlite_path: Some(path),
                })
            }
            TestBackend::Postgres => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                let url = rt.block_on(fresh_postgres_database("test"))?;
                rt.block_on(async {
                    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                        .await
                        .map_err(|e| e.to_string())?;
                    let task = tokio::spawn(conn);
                    let mut db = crate::postgres::PostgresBackend::new(&client);
                    let r = prepare_backend(&mut db, mode, models, migrations).await;
                    drop(client);
                    let _ = task.await;
                    r
                })?;
                Ok(TestDatabase {
                    url,
                    backend,
                    mode,
                    sqlite_path: None,
                })
            }
            TestBackend::Mysql => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                let url = rt.block_on(fresh_mysql_database("test"))?;
                rt.block_on(async {
                    let mut conn = crate::mysql::connect(&url)
                        .await
                        .map_err(|e| e.to_string())?;
                    let mut db = crate::mysql::MysqlBackend::new(&mut conn);
                    let r = prepare_backend(&mut db, mode, models, migrations).await;
                    let _ = conn.disconnect().await;
                    r
                })?;
                Ok(TestDatabase {
                    url,
                    backend,
                    mode,
                    sqlite_path: None,
                })
            }
        }
    }
}

async fn prepare_backend<B: crate::Backend>(
    db: &mut B,
    mode: Mode,
    models: &schema_core::Schema,
    migrations: &crate::EmbeddedMigrations,
) -> Result<(), String> {
    match mode {
        Mode::CreateAll => crate::create_all(db, models)
            .await
            .map_err(|e| e.to_string()),
        Mode::Migrations => migrations
            .upgrade_with(db, &crate::RunOptions::default())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
    }
}

/// The ready-made migration checks (like pytest-alembic's): one head per branch, models
/// match the migrations, `create_all` and replay give the same introspected schema, and
/// the stairway (every revision up, down, up again). Each returns a description of what
/// is wrong. `schema::migration_tests!` turns them into tests.
pub mod checks {
    use super::*;
    use crate::compare::differences;
    use crate::runner::{Backend, Migrator, RunOptions};
    use schema_core::graph::MigrationGraph;
    use schema_core::replay::replay_revisions;
    use schema_core::Schema;

    fn graph(m: &crate::EmbeddedMigrations) -> Result<MigrationGraph, String> {
        m.graph().map_err(|e| e.to_string())
    }

    fn head_state(g: &MigrationGraph) -> Result<Schema, String> {
        let mut s = Schema::new();
        replay_revisions(&mut s, g.ordered()).map_err(|e| e.to_string())?;
        Ok(s)
    }

    pub fn single_head_per_branch(m: &crate::EmbeddedMigrations) -> Result<(), String> {
        let errors = graph(m)?.head_errors();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }

    pub fn models_match_migrations(
        models: &Schema,
        m: &crate::EmbeddedMigrations,
    ) -> Result<(), String> {
        let replayed = head_state(&graph(m)?)?;
        let missing = schema_core::autogenerate(&replayed, models);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the models differ from the migrations; a new revision would:\n  {}",
                missing
                    .upgrade
                    .iter()
                    .map(|o| o.summary())
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ))
        }
    }

    async fn introspect<B: Backend>(db: &mut B) -> Result<Schema, String> {
        db.introspect().await.map_err(|e| e.to_string())
    }

    fn with_db<T>(backend: TestBackend, f: impl AsyncCheck<T>) -> Result<T, String> {
        let empty = Schema::new();
        let none = crate::EmbeddedMigrations::generated(&[], "");
        let db = TestDatabase::prepare_with(backend, Mode::CreateAll, &empty, &none)?;
        match backend {
            TestBackend::Sqlite => {
                let mut conn =
                    rusqlite::Connection::open(db.sqlite_path.as_ref().ok_or("no path")?)
                        .map_err(|e| e.to_string())?;
                let mut b = crate::sqlite::SqliteBackend::new(&mut conn);
                crate::embed::block_on(f.run(&mut b))
            }
            TestBackend::Postgres => {
                let rt = runtime()?;
                let (client, conn) = rt
                    .block_on(tokio_postgres::connect(&db.url, tokio_postgres::NoTls))
                    .map_err(|e| e.to_string())?;
                rt.spawn(conn);
                let mut b = crate::postgres::PostgresBackend::new(&client);
                rt.block_on(f.run(&mut b))
            }
            TestBackend::Mysql => {
                let rt = runtime()?;
                rt.block_on(async {
                    let mut conn = crate::mysql::connect(&db.url)
                        .await
                        .map_err(|e| e.to_string())?;
                    let mut b = crate::mysql::MysqlBackend::new(&mut conn);
                    let r = f.run(&mut b).await;
                    let _ = conn.disconnect().await;
                    r
                })
            }
        }
    }

    fn runtime() -> Result<tokio::runtime::Runtime, String> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    }

    /// A body that runs on any backend (a closure cannot be generic over it).
    pub trait AsyncCheck<T> {
        fn run<B: Backend>(
            self,
            db: &mut B,
        ) -> impl std::future::Future<Output = Result<T, String>>;
    }

    struct CreateAll<'a>(&'a Schema);
    impl AsyncCheck<Schema> for CreateAll<'_> {
        async fn run<B: Backend>(self, db: &mut B) -> Result<Schema, String> {
            crate::create_all(db, self.0)
                .await
                .map_err(|e| e.to_string())?;
            introspect(db).await
        }
    }

    struct Stairway<'a>(&'a MigrationGraph, bool);
    impl AsyncCheck<Schema> for Stairway<'_> {
        async fn run<B: Backend>(self, db: &mut B) -> Result<Schema, String> {
            stairway(db, self.0, self.1).await
        }
    }

    /// Upgrades one revision at a time; with `steps`, also down and up again at each
    /// one, comparing the live schema with the replayed one each time.
    async fn stairway<B: Backend>(
        db: &mut B,
        g: &MigrationGraph,
        steps: bool,
    ) -> Result<Schema, String> {
        let m = Migrator::new(g, RunOptions::default());
        let dialect = db.dialect();
        let ids: Vec<String> = g.ordered().map(|r| r.id().to_string()).collect();
        if !steps {
            m.upgrade(db, "heads").await.map_err(|e| e.to_string())?;
            return introspect(db).await;
        }
        // Graph order is a stairway through every branch: each prefix holds everything
        // its revisions follow, so the database at each step is exactly that prefix.
        for (i, id) in ids.iter().enumerate() {
            let expected = m
                .state_of(&ids[..=i].iter().cloned().collect())
                .map_err(|e| e.to_string())?;
            let target = g.target_for(id);
            m.upgrade(db, &target)
                .await
                .map_err(|e| format!("upgrade to {id}: {e}"))?;
            let d = differences(dialect, &expected, &introspect(db).await?);
            if !d.is_empty() {
                return Err(format!(
                    "after upgrade to {id} the database differs from the replayed schema: {d:?}"
                ));
            }
            let applied = m.applied(db).await.map_err(|e| e.to_string())?;
            let before = m.state_of(&applied).map_err(|e| e.to_string())?;
            let back = match g.branch_of(id) {
                Some(branch) => format!("{branch}@-1"),
                None => "-1".to_string(),
            };
            m.downgrade(db, &back)
                .await
                .map_err(|e| format!("downgrade of {id}: {e}"))?;
            m.upgrade(db, &target)
                .await
                .map_err(|e| format!("re-upgrade to {id}: {e}"))?;
            let d = differences(dialect, &before, &introspect(db).await?);
            if !d.is_empty() {
                return Err(format!(
                    "after down and up again at {id} the database differs: {d:?}"
                ));
            }
        }
        introspect(db).await
    }

    pub fn create_all_matches_replay(
        models: &Schema,
        m: &crate::EmbeddedMigrations,
        backend: TestBackend,
    ) -> Result<(), String> {
        let g = graph(m)?;
        let from_models = with_db(backend, CreateAll(models))?;
        let from_chain = with_db(backend, Stairway(&g, false))?;
        let dialect = backend.dialect();
        let d = differences(dialect, &from_chain, &from_models);
        if d.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "create_all and the migrations give different schemas on {}: {d:?}",
                backend.as_str()
            ))
        }
    }

    pub fn stairway_up_down_up(
        m: &crate::EmbeddedMigrations,
        backend: TestBackend,
    ) -> Result<(), String> {
        let g = graph(m)?;
        with_db(backend, Stairway(&g, true)).map(|_| ())
    }
}

/// Four tests of an application's migrations in one line, on the backend that
/// `SCHEMA_TEST_DB` selects: `schema::migration_tests!(my_models::models(), MIGRATIONS);`
#[macro_export]
macro_rules! migration_tests {
    ($models:expr, $migrations:expr) => {
        #[test]
        fn migrations_have_one_head_per_branch() {
            if let Err(e) = $crate::testing::checks::single_head_per_branch(&$migrations) {
                panic!("{e}");
            }
        }
        #[test]
        fn models_match_migrations() {
            if let Err(e) = $crate::testing::checks::models_match_migrations(&$models, &$migrations)
            {
                panic!("{e}");
            }
        }
        #[test]
        fn create_all_matches_migrations() {
            let backend = $crate::testing::TestBackend::from_env();
            if let Err(e) =
                $crate::testing::checks::create_all_matches_replay(&$models, &$migrations, backend)
            {
                panic!("{e}");
            }
        }
        #[test]
        fn migrations_stairway_up_down_up() {
            let backend = $crate::testing::TestBackend::from_env();
            if let Err(e) = $crate::testing::checks::stairway_up_down_up(&$migrations, backend) {
                panic!("{e}");
            }
        }
    };
}
