//! Database URLs and connections for the CLI. A password never reaches any output.

use std::path::{Path, PathBuf};

use crate::error::{CliError, Result};

/// Where the database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Sqlite(Option<PathBuf>),
    Postgres(String),
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
            // `hostaddr`, when given, is where libpq connects, whatever `host` says.
            Ok(cfg) if !cfg.get_hostaddrs().is_empty() => {
                cfg.get_hostaddrs().iter().all(|a| a.is_loopback())
            }
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
        /// For the second connection that holds the run lock.
        config: Box<tokio_postgres::Config>,
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
            let config: tokio_postgres::Config = url.parse().map_err(|e| {
                CliError::input(format!("cannot read the PostgreSQL URL {shown}: {e}"))
            })?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::Database(format!("cannot start the async runtime: {e}")))?;
            let (client, connection) = runtime
                .block_on(config.connect(tokio_postgres::NoTls))
                .map_err(|e| {
                    CliError::Database(format!(
                        "cannot connect to {shown}: {}",
                        connect_message(&e)
                    ))
                })?;
            runtime.spawn(async move {
                let _ = connection.await;
            });
            Ok(Connection::Postgres {
                client,
                config: Box::new(config),
                runtime,
            })
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
    fn hostaddr_decides_whether_a_server_is_local() {
        let t = |u: &str| Target::Postgres(u.into());
        assert!(!is_local(&t("host=localhost hostaddr=10.1.2.3 dbname=x")));
        assert!(is_local(&t("host=db.example hostaddr=127.0.0.1 dbname=x")));
        assert!(is_local(&t("postgres://localhost/db")));
    }
}
