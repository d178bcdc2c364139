//! Database URLs and connections for the CLI. A password never reaches any output.

use std::path::{Path, PathBuf};

use crate::error::{CliError, Result};

/// Where the database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Sqlite(Option<PathBuf>),
    Postgres(String),
}

/// The URL with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return redact_query(url);
    };
    let userinfo = &authority[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    let masked = if userinfo.contains(':') {
        format!("{user}:***")
    } else {
        user.to_string()
    };
    redact_query(&format!("{}://{masked}{}", &url[..scheme_end], &rest[at..]))
}

fn redact_query(url: &str) -> String {
    match url.split_once('?') {
        Some((base, q)) => {
            let parts: Vec<String> = q
                .split('&')
                .map(|kv| {
                    if kv.starts_with("password=") {
                        "password=***".to_string()
                    } else {
                        kv.to_string()
                    }
                })
                .collect();
            format!("{base}?{}", parts.join("&"))
        }
        None => url.to_string(),
    }
}

/// Parses a URL as DESIGN.md describes: `postgres://`/`postgresql://`, `sqlite://path`
/// (relative), `sqlite:///abs/path`, `sqlite::memory:`.
pub fn parse_url(url: &str) -> Result<Target> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
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
        "unsupported database URL `{}`: expected postgres://user@host/db or sqlite://path",
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
    Err(CliError::input(
        "no database: pass --database-url URL, or set DATABASE_URL (also read from .env)",
    ))
}

/// Whether the database is on this machine (reset refuses others without --force).
pub fn is_local(target: &Target) -> bool {
    match target {
        Target::Sqlite(_) => true,
        Target::Postgres(url) => match url.parse::<tokio_postgres::Config>() {
            Ok(cfg) => cfg.get_hosts().iter().all(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => {
                    matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1" | "[::1]")
                }
                tokio_postgres::config::Host::Unix(_) => true,
            }),
            Err(_) => false,
        },
    }
}

/// An open connection.
pub enum Connection {
    Sqlite(rusqlite::Connection),
    Postgres {
        client: tokio_postgres::Client,
        runtime: tokio::runtime::Runtime,
    },
}

pub fn connect(url: &str) -> Result<Connection> {
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
        Target::Postgres(url) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::Database(format!("cannot start the async runtime: {e}")))?;
            let (client, connection) = runtime
                .block_on(tokio_postgres::connect(&url, tokio_postgres::NoTls))
                .map_err(|e| {
                    CliError::Database(format!(
                        "cannot connect to {shown}: {}",
                        connect_message(&e)
                    ))
                })?;
            runtime.spawn(async move {
                let _ = connection.await;
            });
            Ok(Connection::Postgres { client, runtime })
        }
    }
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
