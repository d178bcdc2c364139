//! Database URLs and connections for the CLI. A password never reaches any output.

use std::path::{Path, PathBuf};

use crate::error::{CliError, Result};
use crate::tls::{LazyTls, Verify};

/// Where the database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Sqlite(Option<PathBuf>),
    Postgres(String),
    /// `mysql://` or `mariadb://`.
    Mysql(String),
}

impl Target {
    pub fn dialect(&self) -> schema_core::Dialect {
        match self {
            Target::Sqlite(_) => schema_core::Dialect::Sqlite,
            Target::Postgres(_) => schema_core::Dialect::Postgres,
            Target::Mysql(_) => schema_core::Dialect::Mysql,
        }
    }
}

/// The URL with any password replaced by `***`, whatever its form: the userinfo of a
/// URL (up to the last `@`, so an unencoded `/`, `?` or `:` in a password is masked too),
/// a `password=` query parameter in any case, and a libpq `key=value` string's password.
/// Masking too much is safe; masking too little is not.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return redact_key_values(url);
    };
    let rest = &url[scheme_end + 3..];
    let masked = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***{}", &rest[at..]),
                None => rest.to_string(),
            }
        }
        None => rest.to_string(),
    };
    redact_query(&format!("{}://{masked}", &url[..scheme_end]))
}

fn redact_query(url: &str) -> String {
    match url.split_once('?') {
        Some((base, q)) => {
            let parts: Vec<String> = q
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{base}?{}", parts.join("&"))
        }
        None => url.to_string(),
    }
}

/// `host=db password='a b' user=app` -> `host=db password=*** user=app`.
fn redact_key_values(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let Some(start) = lower.find("password") else {
        return s.to_string();
    };
    let after_key = &s[start + "password".len()..];
    let Some(eq) = after_key
        .find('=')
        .filter(|i| after_key[..*i].trim().is_empty())
    else {
        return s.to_string();
    };
    let value = after_key[eq + 1..].trim_start();
    let value_start = s.len() - value.len();
    let value_len = if let Some(quoted) = value.strip_prefix('\'') {
        // A quoted value ends at the next quote that is not escaped.
        let mut end = quoted.len();
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '\'' if !escaped => {
                    end = i + 1;
                    break;
                }
                _ => escaped = false,
            }
        }
        (end + 1).min(value.len())
    } else {
        value.find(char::is_whitespace).unwrap_or(value.len())
    };
    format!(
        "{}***{}",
        &s[..value_start],
        redact_key_values(&s[value_start + value_len..])
    )
}

/// Parses a URL as DESIGN.md describes: `postgres://`/`postgresql://`, `sqlite://path`
/// (relative), `sqlite:///abs/path`, `sqlite::memory:`.
pub fn parse_url(url: &str) -> Result<Target> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        // Two `@` before the host: no parser can tell where the password ends.
        let authority = &url[url.find("://").unwrap_or(0) + 3..];
        if authority.matches('@').count() > 1 {
            return Err(CliError::input(format!(
                "`{}` has more than one `@`: percent-encode an `@` in the password as %40",
                redact(url)
            )));
        }
        return Ok(Target::Postgres(url.to_string()));
    }
    if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        return Ok(Target::Mysql(url.to_string()));
    }
    if url.contains('=') && !url.contains("://") && !url.starts_with("sqlite:") {
        // A libpq `key=value` connection string.
        return Ok(Target::Postgres(url.to_string()));
    }
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.split('?').next().unwrap_or("");
        if rest == ":memory:" || rest == "//:memory:" {
            return Ok(Target::Sqlite(None));
        }
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty() {
            return Err(CliError::input(format!(
                "`{}` names no database file",
                redact(url)
            )));
        }
        return Ok(Target::Sqlite(Some(PathBuf::from(path))));
    }
    Err(CliError::input(format!(
        "unsupported database URL `{}`: expected postgres://user@host/db, mysql://user@host/db, mariadb://user@host/db or sqlite://path",
        redact(url)
    )))
}

/// `--database-url`, else `DATABASE_URL`, else `DATABASE_URL` in a `.env` file (in the
/// current directory or the workspace root).
pub fn resolve_url(flag: Option<&str>, workspace_root: Option<&Path>) -> Result<String> {
    if let Some(u) = flag.filter(|u| !u.is_empty()) {
        return Ok(u.to_string());
    }
    if let Ok(u) = std::env::var("DATABASE_URL") {
        if !u.is_empty() {
            return Ok(u);
        }
    }
    let mut candidates = vec![PathBuf::from(".env")];
    if let Some(root) = workspace_root {
        candidates.push(root.join(".env"));
    }
    for c in candidates {
        if let Ok(text) = std::fs::read_to_string(&c) {
            for line in text.lines() {
                let line = line.trim().strip_prefix("export ").unwrap_or(line.trim());
                if let Some(v) = line.strip_prefix("DATABASE_URL=") {
                    return Ok(v.trim().trim_matches('"').trim_matches('\'').to_string());
                }
            }
        }
    }
    if let Some(kv) = libpq_environment(|v| std::env::var(v).ok()) {
        return Ok(kv);
    }
    Err(CliError::input(
        "no database: pass --database-url URL, or set DATABASE_URL (also read from .env), \
         or libpq's PGHOST/PGDATABASE",
    ))
}

/// With no URL, libpq's variables as a `key=value` string, when `PGHOST`, `PGHOSTADDR` or
/// `PGDATABASE` says where to go. Defaults are libpq's: the Debian socket directory and
/// the login name.
fn libpq_environment(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let get = |name: &str| var(name).filter(|v| !v.is_empty());
    if ["PGHOST", "PGHOSTADDR", "PGDATABASE"]
        .iter()
        .all(|v| get(v).is_none())
    {
        return None;
    }
    let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
    let user = get("PGUSER").or_else(|| get("USER"));
    let mut parts = Vec::new();
    for (key, value) in [
        (
            "host",
            get("PGHOST").or_else(|| Some("/var/run/postgresql".into())),
        ),
        ("hostaddr", get("PGHOSTADDR")),
        ("port", get("PGPORT")),
        ("user", user.clone()),
        ("password", get("PGPASSWORD")),
        ("dbname", get("PGDATABASE").or(user)),
        ("application_name", get("PGAPPNAME")),
    ] {
        if let Some(v) = value {
            parts.push(format!("{key}={}", quote(&v)));
        }
    }
    Some(parts.join(" "))
}

/// Whether the database is on this machine (reset refuses others without --force).
pub fn is_local(target: &Target) -> bool {
    match target {
        Target::Sqlite(_) => true,
        Target::Mysql(url) => {
            let host = url
                .split_once("://")
                .map(|(_, r)| r.rsplit_once('@').map(|(_, h)| h).unwrap_or(r))
                .unwrap_or("");
            let host = host.split(['/', '?']).next().unwrap_or("");
            let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
            matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]" | "")
        }
        Target::Postgres(url) => match PgTarget::parse(url) {
            // `hostaddr`, when given, is where libpq connects, whatever `host` says.
            Ok(t) if !t.config.get_hostaddrs().is_empty() => {
                t.config.get_hostaddrs().iter().all(|a| a.is_loopback())
            }
            Ok(t) => t.config.get_hosts().iter().all(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => {
                    matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1" | "[::1]")
                }
                tokio_postgres::config::Host::Unix(_) => true,
            }),
            Err(_) => false,
        },
    }
}

/// TLS as libpq's `sslmode` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    const SPELLINGS: &'static str = "disable, prefer, require, verify-ca, verify-full";

    fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// A PostgreSQL URL (or libpq `key=value` string) read once: what tokio-postgres connects
/// with, and the TLS that libpq's `sslmode` and `sslrootcert` ask for (tokio-postgres
/// itself knows neither `verify-*` nor `sslrootcert`). `PGSSLMODE` and `PGSSLROOTCERT`
/// are the defaults, as in libpq; without either the mode is `prefer`.
pub struct PgTarget {
    pub config: tokio_postgres::Config,
    pub ssl_mode: SslMode,
    pub root_cert: Option<PathBuf>,
    /// What the engine offers (the URL's `engine` parameter; PostgreSQL by default).
    pub caps: schema::postgres::PgCapabilities,
    /// Where the history table lives (the workspace's `history-schema`).
    pub history_schema: Option<String>,
}

impl PgTarget {
    pub fn parse(url: &str) -> Result<PgTarget> {
        let shown = redact(url);
        let (rest, mode, root, engine) = take_tls_params(url);
        let caps = match engine.as_deref() {
            None => schema::postgres::PgCapabilities::POSTGRES,
            Some(e) => schema::postgres::PgCapabilities::for_engine(e).ok_or_else(|| {
                CliError::input(format!(
                    "unknown engine `{e}` in {shown}, expected postgres, citus, cockroachdb or yugabytedb"
                ))
            })?,
        };
        let mode = mode
            .or_else(|| std::env::var("PGSSLMODE").ok().filter(|m| !m.is_empty()))
            .unwrap_or_else(|| "prefer".into());
        let ssl_mode = SslMode::parse(&mode).ok_or_else(|| {
            CliError::input(format!(
                "unknown sslmode `{mode}` in {shown}, expected one of {}",
                SslMode::SPELLINGS
            ))
        })?;
        let root_cert = root
            .or_else(|| {
                std::env::var("PGSSLROOTCERT")
                    .ok()
                    .filter(|p| !p.is_empty())
            })
            .map(PathBuf::from);
        let mut config: tokio_postgres::Config = rest
            .parse()
            .map_err(|e| CliError::input(format!("cannot read the PostgreSQL URL {shown}: {e}")))?;
        config.ssl_mode(match ssl_mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        let mut target = PgTarget {
            config,
            ssl_mode,
            root_cert,
            caps,
            history_schema: None,
        };
        if target.unix_socket_only() {
            target
                .config
                .ssl_mode(tokio_postgres::config::SslMode::Disable);
        }
        Ok(target)
    }

    fn unix_socket_only(&self) -> bool {
        let hosts = self.config.get_hosts();
        !hosts.is_empty()
            && self.config.get_hostaddrs().is_empty()
            && hosts
                .iter()
                .all(|h| matches!(h, tokio_postgres::config::Host::Unix(_)))
    }

    /// The TLS connector the mode needs (none for `disable`). `prefer` and `require`
    /// encrypt without checking the certificate, as libpq does; `verify-ca` checks it
    /// against the root certificate, `verify-full` also checks the host name.
    pub fn tls(&self) -> Result<Option<LazyTls>> {
        let verify = match self.ssl_mode {
            SslMode::Disable => return Ok(None),
            // No TLS on a unix socket, as in libpq.
            _ if self.unix_socket_only() => return Ok(None),
            SslMode::Prefer | SslMode::Require => Verify::Nothing,
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let path = self
                    .root_cert
                    .clone()
                    .or_else(|| {
                        std::env::var_os("HOME")
                            .map(|h| PathBuf::from(h).join(".postgresql/root.crt"))
                    })
                    .unwrap_or_default();
                let pem = std::fs::read(&path).map_err(|e| {
                    CliError::input(format!(
                        "sslmode verify-ca and verify-full check the server against a root \
                         certificate: cannot read {} ({e}); give sslrootcert=PATH",
                        path.display()
                    ))
                })?;
                let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
                    CliError::input(format!("{}: not a PEM certificate ({e})", path.display()))
                })?;
                Verify::Root {
                    cert,
                    hostname: self.ssl_mode == SslMode::VerifyFull,
                }
            }
        };
        Ok(Some(LazyTls::new(verify)))
    }
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query or a `key=value` string.
/// Takes out of a PostgreSQL URL what tokio-postgres does not know: `sslmode`,
/// `sslrootcert`, and ours, `engine` (returned last).
fn take_tls_params(url: &str) -> (String, Option<String>, Option<String>, Option<String>) {
    let (mut mode, mut root, mut engine) = (None, None, None);
    let mut take = |key: &str, value: &str| match key {
        "engine" => {
            engine = Some(value.to_string());
            true
        }
        "sslmode" => {
            mode = Some(value.to_string());
            true
        }
        "sslrootcert" => {
            root = Some(percent_decode(value));
            true
        }
        _ => false,
    };
    let rest = if url.contains("://") {
        match url.split_once('?') {
            Some((base, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|kv| !kv.split_once('=').is_some_and(|(k, v)| take(k, v)))
                    .collect();
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => url.to_string(),
        }
    } else {
        url.split_whitespace()
            .filter(|kv| !kv.split_once('=').is_some_and(|(k, v)| take(k, v)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    (rest, mode, root, engine)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An open connection.
pub enum Connection {
    Sqlite(rusqlite::Connection),
    Postgres {
        client: tokio_postgres::Client,
        /// For the second connection that holds the run lock.
        target: Box<PgTarget>,
        tls: Option<LazyTls>,
        runtime: tokio::runtime::Runtime,
    },
    Mysql {
        conn: Box<mysql_async::Conn>,
        runtime: tokio::runtime::Runtime,
    },
}

impl Connection {
    /// The PostgreSQL backend, holding the run lock on a second connection made like the
    /// first one.
    pub fn postgres_backend<'c>(
        client: &'c tokio_postgres::Client,
        target: &PgTarget,
        tls: &Option<LazyTls>,
    ) -> schema::postgres::PostgresBackend<'c> {
        let config = target.config.clone();
        match tls {
            Some(tls) => {
                schema::postgres::PostgresBackend::with_run_lock(client, config, tls.clone())
            }
            None => schema::postgres::PostgresBackend::with_run_lock(
                client,
                config,
                tokio_postgres::NoTls,
            ),
        }
        .with_capabilities(target.caps)
        .with_history_schema(target.history_schema.clone())
    }

    /// The workspace's placement of the history table, for a PostgreSQL connection.
    pub fn with_history_schema(mut self, schema: &Option<String>) -> Connection {
        if let Connection::Postgres { target, .. } = &mut self {
            target.history_schema = schema.clone();
        }
        self
    }
}

pub fn connect(url: &str) -> Result<Connection> {
    connect_within(url, None)
}

/// [`connect`], giving up on a server after `timeout` (none: the drivers' own).
pub fn connect_within(url: &str, timeout: Option<std::time::Duration>) -> Result<Connection> {
    let shown = redact(url);
    match parse_url(url)? {
        Target::Sqlite(path) => {
            let conn = match &path {
                None => rusqlite::Connection::open_in_memory(),
                Some(p) => rusqlite::Connection::open(p),
            }
            .map_err(|e| CliError::Database(format!("cannot open {shown}: {e}")))?;
            Ok(Connection::Sqlite(conn))
        }
        Target::Mysql(url) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::Database(format!("cannot start the async runtime: {e}")))?;
            let connecting = schema::mysql::connect(&url);
            let conn = match timeout {
                None => runtime.block_on(connecting),
                Some(t) => runtime
                    .block_on(async { tokio::time::timeout(t, connecting).await })
                    .unwrap_or_else(|_| {
                        Err(schema::RunError::Database(format!("timed out after {t:?}")))
                    }),
            }
            .map_err(|e| CliError::Database(format!("cannot connect to {shown}: {e}")))?;
            Ok(Connection::Mysql {
                conn: Box::new(conn),
                runtime,
            })
        }
        Target::Postgres(url) => {
            let mut target = PgTarget::parse(&url)?;
            if let Some(t) = timeout {
                target.config.connect_timeout(t);
            }
            let tls = target.tls()?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::Database(format!("cannot start the async runtime: {e}")))?;
            let connected = match &tls {
                Some(tls) => open(&runtime, &target.config, tls.clone()),
                None => open(&runtime, &target.config, tokio_postgres::NoTls),
            };
            let client = connected.map_err(|e| {
                CliError::Database(format!(
                    "cannot connect to {shown}: {}",
                    connect_message(&e)
                ))
            })?;
            Ok(Connection::Postgres {
                client,
                target: Box::new(target),
                tls,
                runtime,
            })
        }
    }
}

/// Creates the URL's database when it does not exist (an SQLite file, or a database on
/// the server, made from the server's maintenance database); whether it was created.
pub fn create_database(url: &str) -> Result<bool> {
    let shown = redact(url);
    let fail = |e: String| CliError::Database(format!("cannot create {shown}: {e}"));
    match parse_url(url)? {
        Target::Sqlite(None) => Ok(false),
        Target::Sqlite(Some(path)) => {
            if path.exists() {
                return Ok(false);
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
            }
            // An empty file is an empty SQLite database.
            rusqlite::Connection::open(&path)
                .and_then(|c| c.execute_batch("PRAGMA user_version = 0"))
                .map_err(|e| fail(e.to_string()))?;
            Ok(true)
        }
        target => {
            let server = ServerDatabase::of(url, &target)?;
            if server.exists()? {
                return Ok(false);
            }
            let extra = if matches!(target, Target::Mysql(_)) {
                " CHARACTER SET utf8mb4"
            } else {
                ""
            };
            server
                .run(&format!("CREATE DATABASE {}{extra}", server.quoted()))
                .map_err(|e| fail(e.to_string()))?;
            Ok(true)
        }
    }
}

/// Drops the URL's database when it exists; whether it did.
pub fn drop_database(url: &str) -> Result<bool> {
    let shown = redact(url);
    let fail = |e: String| CliError::Database(format!("cannot drop {shown}: {e}"));
    match parse_url(url)? {
        Target::Sqlite(None) => Ok(false),
        Target::Sqlite(Some(path)) => {
            if !path.exists() {
                return Ok(false);
            }
            std::fs::remove_file(&path).map_err(|e| fail(e.to_string()))?;
            for suffix in ["-wal", "-shm", "-journal", ".schema-lock"] {
                let mut side = path.clone().into_os_string();
                side.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(side));
            }
            Ok(true)
        }
        target => {
            let server = ServerDatabase::of(url, &target)?;
            if !server.exists()? {
                return Ok(false);
            }
            server
                .run(&format!("DROP DATABASE {}", server.quoted()))
                .map_err(|e| fail(e.to_string()))?;
            Ok(true)
        }
    }
}

/// A database on a server, reached through the server's maintenance database.
struct ServerDatabase {
    /// A URL of the same server without the database (MySQL) or with `postgres`.
    admin: String,
    name: String,
    dialect: schema_core::Dialect,
}

impl ServerDatabase {
    fn of(url: &str, target: &Target) -> Result<ServerDatabase> {
        let ((admin, name), dialect) = match target {
            Target::Postgres(u) => (pg_maintenance(u)?, schema_core::Dialect::Postgres),
            Target::Mysql(u) => (mysql_server_url(u)?, schema_core::Dialect::Mysql),
            Target::Sqlite(_) => {
                return Err(CliError::input(format!(
                    "{} is a file, not a database on a server",
                    redact(url)
                )))
            }
        };
        Ok(ServerDatabase {
            admin,
            name,
            dialect,
        })
    }

    fn quoted(&self) -> String {
        self.dialect.quote(&self.name)
    }

    fn exists(&self) -> Result<bool> {
        let sql = match self.dialect {
            schema_core::Dialect::Postgres => format!(
                "SELECT 1 FROM pg_database WHERE datname = {}",
                sql_literal(&self.name)
            ),
            _ => format!(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name = {}",
                sql_literal(&self.name)
            ),
        };
        Ok(!first_column(&self.admin, &sql)?.is_empty())
    }

    fn run(&self, sql: &str) -> Result<Vec<String>> {
        first_column(&self.admin, sql)
    }
}

fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The same server's maintenance database (`postgres`) and the URL's database name.
fn pg_maintenance(url: &str) -> Result<(String, String)> {
    let target = PgTarget::parse(url)?;
    let name = target
        .config
        .get_dbname()
        .map(str::to_string)
        .or_else(|| target.config.get_user().map(str::to_string))
        .ok_or_else(|| CliError::input(format!("{} names no database", redact(url))))?;
    let admin = if url.contains("://") {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
        let authority = rest.split('/').next().unwrap_or("");
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        format!("{scheme}://{authority}/postgres{query}")
    } else {
        let kept: Vec<&str> = url
            .split_whitespace()
            .filter(|kv| !kv.starts_with("dbname="))
            .collect();
        format!("{} dbname=postgres", kept.join(" "))
    };
    Ok((admin, name))
}

/// The server URL (no database) and the URL's database name, for MySQL/MariaDB.
fn mysql_server_url(url: &str) -> Result<(String, String)> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (scheme, rest) = base
        .split_once("://")
        .ok_or_else(|| CliError::input(format!("{} is not a URL", redact(url))))?;
    let (authority, name) = rest.split_once('/').unwrap_or((rest, ""));
    if name.is_empty() {
        return Err(CliError::input(format!(
            "{} names no database",
            redact(url)
        )));
    }
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    Ok((
        format!("{scheme}://{authority}/{query}"),
        percent_decode(name),
    ))
}

/// The first column of every row `sql` returns on the database at `url`, as text (a
/// fleet's catalog query: `SELECT url FROM tenants`).
pub fn first_column(url: &str, sql: &str) -> Result<Vec<String>> {
    let shown = redact(url);
    let fail = |e: String| CliError::Database(format!("catalog query on {shown}: {e}"));
    match connect(url)? {
        Connection::Sqlite(conn) => {
            let mut stmt = conn.prepare(sql).map_err(|e| fail(e.to_string()))?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| fail(e.to_string()))?;
            rows.collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| fail(e.to_string()))
        }
        Connection::Postgres {
            client, runtime, ..
        } => {
            let msgs = runtime
                .block_on(client.simple_query(sql))
                .map_err(|e| fail(schema::postgres::pg_message(&e)))?;
            Ok(msgs
                .iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                    _ => None,
                })
                .collect())
        }
        Connection::Mysql { mut conn, runtime } => {
            use mysql_async::prelude::Queryable;
            let rows: Vec<String> = runtime
                .block_on(conn.query(sql))
                .map_err(|e| fail(e.to_string()))?;
            let _ = runtime.block_on(conn.disconnect());
            Ok(rows)
        }
    }
}

/// Connects, and drives the connection on the runtime.
fn open<T>(
    runtime: &tokio::runtime::Runtime,
    config: &tokio_postgres::Config,
    tls: T,
) -> std::result::Result<tokio_postgres::Client, tokio_postgres::Error>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = runtime.block_on(config.connect(tls))?;
    runtime.spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

fn connect_message(e: &tokio_postgres::Error) -> String {
    let msg = schema::postgres::pg_message(e);
    // tokio-postgres says "error connecting to server: ..." with the OS error inside.
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() || msg.contains(&detail) {
        msg
    } else {
        format!("{msg}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_password_survives_redaction() {
        let cases = [
            ("postgres://u:pw@host/db", "postgres://u:***@host/db"),
            ("postgres://u:ab/cd+ef@host/db", "postgres://u:***@host/db"),
            (
                "postgres://u:a?b:c@host:5432/db?sslmode=require",
                "postgres://u:***@host:5432/db?sslmode=require",
            ),
            (
                "postgresql://u@host/db?Password=pw&x=1",
                "postgresql://u@host/db?Password=***&x=1",
            ),
            (
                "postgres://host/db?password=pw",
                "postgres://host/db?password=***",
            ),
            (
                "host=db user=app password=pw dbname=x",
                "host=db user=app password=*** dbname=x",
            ),
            (
                "host=db password = 'p w\\' q' dbname=x",
                "host=db password = *** dbname=x",
            ),
            (
                "sqlite://user:pw@/var/app.db",
                "sqlite://user:***@/var/app.db",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn an_unencoded_at_in_a_password_is_an_input_error_without_the_password() {
        let Err(e) = parse_url("postgres://u:p@ss@host/db") else {
            panic!("accepted");
        };
        assert!(matches!(e, CliError::Input(_)));
        assert!(!e.to_string().contains("p@ss"), "{e}");
    }

    #[test]
    fn tls_parameters_are_taken_out_for_tokio_postgres() {
        let (rest, mode, root, _) = take_tls_params(
            "postgres://u@h/db?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca.crt",
        );
        assert_eq!(rest, "postgres://u@h/db?application_name=x");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/tmp/ca.crt"));
        let (rest, mode, _, _) = take_tls_params("host=h sslmode=require dbname=d");
        assert_eq!(rest, "host=h dbname=d");
        assert_eq!(mode.as_deref(), Some("require"));
        let t = PgTarget::parse("postgres://u@h/db?sslmode=verify-ca").expect("parses");
        assert_eq!(t.ssl_mode, SslMode::VerifyCa);
        assert!(PgTarget::parse("postgres://u@h/db?sslmode=always").is_err());
    }

    #[test]
    fn libpq_variables_make_a_connection_string() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |v: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == v)
                    .map(|(_, x)| x.to_string())
            }
        };
        assert_eq!(libpq_environment(env(&[("PGUSER", "app")])), None);
        let kv = libpq_environment(env(&[
            ("PGHOST", "db"),
            ("PGUSER", "app"),
            ("PGPASSWORD", "it's"),
            ("PGDATABASE", "shop"),
        ]))
        .expect("a string");
        assert_eq!(kv, "host='db' user='app' password='it\\'s' dbname='shop'");
        let config: tokio_postgres::Config = kv.parse().expect("tokio-postgres reads it");
        assert_eq!(config.get_password(), Some(&b"it's"[..]));
        assert_eq!(
            redact(&kv),
            "host='db' user='app' password=*** dbname='shop'"
        );
    }

    #[test]
    fn hostaddr_decides_whether_a_server_is_local() {
        let t = |u: &str| Target::Postgres(u.into());
        assert!(!is_local(&t("host=localhost hostaddr=10.1.2.3 dbname=x")));
        assert!(is_local(&t("host=db.example hostaddr=127.0.0.1 dbname=x")));
        assert!(is_local(&t("postgres://localhost/db")));
    }
}
