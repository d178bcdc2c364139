//! Fleets: the targets of `--targets FILE`, in stages, where each stage's URLs come from,
//! and which server a URL is on (connections per server are bounded).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{CliError, Result};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFleet {
    #[serde(default)]
    stage: Vec<RawStage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawStage {
    name: Option<String>,
    urls: Option<Vec<String>>,
    urls_file: Option<PathBuf>,
    urls_command: Option<Vec<String>>,
    urls_query: Option<RawQuery>,
    parallel: Option<usize>,
    #[serde(default)]
    max_failures: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuery {
    url: String,
    sql: String,
}

/// Where a stage's URLs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlSource {
    Urls(Vec<String>),
    /// One URL per line (blank lines and `#` comments skipped), relative to the fleet file.
    File(PathBuf),
    /// A command whose standard output lists URLs as a file does; run in the fleet
    /// file's directory.
    Command(Vec<String>),
    /// The first column of every row of a query on a catalog database.
    Query {
        url: String,
        sql: String,
    },
    /// Standard input, as a file (`--targets -`).
    Stdin,
}

/// One stage of a rollout: its targets run in parallel, and the next stage starts only
/// when no more than `max_failures` of them failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub name: String,
    pub source: UrlSource,
    pub parallel: Option<usize>,
    pub max_failures: usize,
}

/// The stages of a fleet file (`path` for messages and relative paths).
pub fn parse_fleet(text: &str, path: &Path) -> Result<Vec<Stage>> {
    let shown = path.display();
    let raw: RawFleet = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        match line {
            Some(l) => CliError::input(format!("{shown}:{l}: {}", e.message())),
            None => CliError::input(format!("{shown}: {}", e.message())),
        }
    })?;
    if raw.stage.is_empty() {
        return Err(CliError::input(format!(
            "{shown}: no [[stage]]: list targets with `urls`, `urls-file`, `urls-command` or `urls-query`"
        )));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut stages = Vec::new();
    for (i, s) in raw.stage.into_iter().enumerate() {
        let name = s.name.unwrap_or_else(|| format!("stage {}", i + 1));
        let mut sources = Vec::new();
        if let Some(u) = s.urls {
            sources.push(UrlSource::Urls(u));
        }
        if let Some(f) = s.urls_file {
            sources.push(UrlSource::File(base.join(f)));
        }
        if let Some(c) = s.urls_command {
            if c.is_empty() {
                return Err(CliError::input(format!(
                    "{shown}: stage `{name}`: `urls-command` is empty; give the program and its arguments"
                )));
            }
            sources.push(UrlSource::Command(c));
        }
        if let Some(q) = s.urls_query {
            sources.push(UrlSource::Query {
                url: q.url,
                sql: q.sql,
            });
        }
        let source = match sources.len() {
            1 => sources.remove(0),
            0 => {
                return Err(CliError::input(format!(
                    "{shown}: stage `{name}` lists no targets: give one of `urls`, `urls-file`, `urls-command`, `urls-query`"
                )))
            }
            _ => {
                return Err(CliError::input(format!(
                    "{shown}: stage `{name}` gives its targets more than one way; keep one of `urls`, `urls-file`, `urls-command`, `urls-query`"
                )))
            }
        };
        if s.parallel == Some(0) {
            return Err(CliError::input(format!(
                "{shown}: stage `{name}`: `parallel` must be at least 1"
            )));
        }
        stages.push(Stage {
            name,
            source,
            parallel: s.parallel,
            max_failures: s.max_failures,
        });
    }
    Ok(stages)
}

/// The URLs of a list: one per line, blank lines and `#` comments skipped.
pub fn url_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The URLs of a stage. `query` runs a catalog query (first column of each row).
pub fn stage_urls(
    stage: &Stage,
    base: &Path,
    query: impl Fn(&str, &str) -> Result<Vec<String>>,
) -> Result<Vec<String>> {
    let urls = match &stage.source {
        UrlSource::Urls(u) => u.clone(),
        UrlSource::File(p) => url_lines(&std::fs::read_to_string(p).map_err(|e| {
            CliError::input(format!(
                "stage `{}`: cannot read {}: {e}",
                stage.name,
                p.display()
            ))
        })?),
        UrlSource::Command(argv) => {
            let out = std::process::Command::new(&argv[0])
                .args(&argv[1..])
                .current_dir(base)
                .stderr(std::process::Stdio::inherit())
                .output()
                .map_err(|e| {
                    CliError::input(format!(
                        "stage `{}`: cannot run `{}`: {e}",
                        stage.name, argv[0]
                    ))
                })?;
            if !out.status.success() {
                return Err(CliError::input(format!(
                    "stage `{}`: `{}` failed ({}); no target was started",
                    stage.name,
                    argv.join(" "),
                    out.status
                )));
            }
            url_lines(&String::from_utf8_lossy(&out.stdout))
        }
        UrlSource::Query { url, sql } => query(url, sql)?,
        UrlSource::Stdin => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| CliError::input(format!("cannot read standard input: {e}")))?;
            url_lines(&text)
        }
    };
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = urls.iter().find(|u| !seen.insert(u.as_str())) {
        return Err(CliError::input(format!(
            "stage `{}` lists {} twice",
            stage.name,
            crate::database::redact(dup)
        )));
    }
    Ok(urls)
}

/// Which server a URL's database is on, for the bound on connections per server: host
/// and port for PostgreSQL and MySQL (the userinfo and database left out), the file for
/// SQLite.
pub fn server_key(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // A libpq `key=value` string: its host and port.
        let value = |key: &str| {
            url.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .unwrap_or("")
                .to_string()
        };
        return format!("postgres {}:{}", value("host"), value("port"));
    };
    if scheme == "sqlite" {
        return url.to_string();
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let family = match scheme {
        "postgres" | "postgresql" => "postgres",
        "mysql" | "mariadb" => "mysql",
        other => other,
    };
    format!("{family} {host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_read_with_one_source_each() {
        let text = r#"
[[stage]]
name = "canary"
urls = ["postgres://app@db1/t1"]

[[stage]]
urls-file = "tenants.txt"
parallel = 16
max-failures = 2

[[stage]]
name = "catalog"
urls-query = { url = "sqlite://catalog.db", sql = "SELECT url FROM tenants" }
"#;
        let stages = parse_fleet(text, Path::new("deploy/fleet.toml")).expect("parses");
        assert_eq!(
            stages,
            [
                Stage {
                    name: "canary".into(),
                    source: UrlSource::Urls(vec!["postgres://app@db1/t1".into()]),
                    parallel: None,
                    max_failures: 0,
                },
                Stage {
                    name: "stage 2".into(),
                    source: UrlSource::File(PathBuf::from("deploy/tenants.txt")),
                    parallel: Some(16),
                    max_failures: 2,
                },
                Stage {
                    name: "catalog".into(),
                    source: UrlSource::Query {
                        url: "sqlite://catalog.db".into(),
                        sql: "SELECT url FROM tenants".into(),
                    },
                    parallel: None,
                    max_failures: 0,
                },
            ]
        );
    }

    #[test]
    fn bad_fleet_files_are_clear_errors_with_lines() {
        let err = |t: &str| {
            parse_fleet(t, Path::new("f.toml"))
                .expect_err("must not parse")
                .to_string()
        };
        let e = err("[[stage]]\nurls = [\"a\"]\nparalel = 3\n");
        assert!(e.starts_with("f.toml:3: ") && e.contains("paralel"), "{e}");
        let e = err("[[stage]]\nname = \"x\"\nurls = [\"a\"]\nurls-file = \"b\"\n");
        assert!(
            e.contains("stage `x` gives its targets more than one way"),
            "{e}"
        );
        let e = err("[[stage]]\nname = \"x\"\n");
        assert!(e.contains("stage `x` lists no targets"), "{e}");
        let e = err("");
        assert!(e.contains("no [[stage]]"), "{e}");
        let e = err("[[stage]]\nurls = [\"a\"]\nparallel = 0\n");
        assert!(e.contains("at least 1"), "{e}");
    }

    #[test]
    fn lists_skip_blanks_and_comments_and_servers_ignore_users_and_databases() {
        assert_eq!(
            url_lines("# tenants\npostgres://a@h/t1\n\n  postgres://a@h/t2  \n"),
            ["postgres://a@h/t1", "postgres://a@h/t2"]
        );
        assert_eq!(
            server_key("postgres://app:secret@db1:5433/tenant_1?sslmode=require"),
            "postgres db1:5433"
        );
        assert_eq!(
            server_key("postgresql://other@db1:5433/tenant_2"),
            "postgres db1:5433"
        );
        assert_eq!(server_key("mariadb://root@h:3306/x"), "mysql h:3306");
        assert_eq!(
            server_key("host=/tmp port=5432 dbname=t1"),
            "postgres /tmp:5432"
        );
        assert_ne!(server_key("sqlite://a.db"), server_key("sqlite://b.db"));
    }
}
