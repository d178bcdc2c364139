//! `cargo xtask test`: the whole workspace's tests, fixtures included, on the chosen
//! backends and in the chosen mode, with throwaway PostgreSQL and MariaDB servers.

use std::path::PathBuf;

use std::process::Command;

use schema::testing::{
    run_test_matrix, MariaDbServer, Mode, PgCluster, TestBackend, TestMatrix, MYSQL_URL_ENV,
    POSTGRES_URL_ENV,
};

pub struct Options {
    pub backends: Vec<TestBackend>,
    pub modes: Vec<Mode>,
}

pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut backends = vec![TestBackend::Sqlite];
    let mut modes = vec![Mode::CreateAll];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--use-migrations" => modes = vec![Mode::Migrations],
            "--both-modes" => modes = vec![Mode::CreateAll, Mode::Migrations],
            "--db" => {
                let name = it.next().map(String::as_str);
                backends = name.and_then(TestBackend::parse_list).ok_or_else(|| {
                    format!("--db takes sqlite, postgres, mysql (MariaDB) or all, not {name:?}")
                })?
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Options { backends, modes })
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

pub fn run(args: &[String]) -> Result<(), String> {
    let o = parse(args)?;
    // One throwaway server of each kind for the whole run: this repository's suite
    // (which tests every backend itself) and the fixtures'.
    let cluster = match std::env::var(POSTGRES_URL_ENV) {
        Ok(u) if !u.is_empty() => None,
        _ => Some(PgCluster::start().map_err(|e| e.to_string())?),
    };
    let server = match &cluster {
        Some(c) => c.url("postgres"),
        None => std::env::var(POSTGRES_URL_ENV).unwrap_or_default(),
    };
    let maria = match std::env::var(MYSQL_URL_ENV) {
        Ok(u) if !u.is_empty() => Ok(None),
        _ => MariaDbServer::start().map(Some),
    };
    let result = match &maria {
        Ok(m) => {
            let mysql = match m {
                Some(s) => s.url(""),
                None => std::env::var(MYSQL_URL_ENV).unwrap_or_default(),
            };
            run_with_servers(&o, &server, &mysql)
        }
        Err(e) => Err(e.to_string()),
    };
    if let Some(c) = cluster {
        c.stop();
    }
    if let Ok(Some(s)) = maria {
        s.stop();
    }
    result
}

fn run_with_servers(o: &Options, server: &str, mysql: &str) -> Result<(), String> {
    // This repository's own suite tests both backends itself: run it once.
    let repo = TestMatrix {
        backends: vec![TestBackend::Sqlite],
        modes: vec![Mode::CreateAll],
        workspace: root(),
        cargo_args: vec!["--workspace".into()],
        env: vec![
            (POSTGRES_URL_ENV.into(), server.into()),
            (MYSQL_URL_ENV.into(), mysql.into()),
        ],
    };
    let mut ok = run_test_matrix(&repo).map_err(|e| e.to_string())?;
    // The plugin fixture compiles its models with the derive and checks them against
    // its migrations (no database needed).
    eprintln!("==> fixtures/plugins: cargo test");
    let plugins = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["test", "--workspace"])
        .current_dir(root().join("fixtures/plugins"))
        .env("CARGO_TARGET_DIR", root().join("target"))
        .status()
        .map_err(|e| e.to_string())?;
    ok &= plugins.success();
    // The adapters' workspace (sqlx and diesel, kept out of this one): the demo
    // applications that migrate themselves, and imports of the databases refinery, sqlx
    // and diesel migrated.
    eprintln!("==> adapters: cargo test");
    let adapters = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["test", "--workspace"])
        .current_dir(root().join("adapters"))
        .env("CARGO_TARGET_DIR", root().join("target"))
        .env(POSTGRES_URL_ENV, server)
        .env(MYSQL_URL_ENV, mysql)
        .status()
        .map_err(|e| e.to_string())?;
    ok &= adapters.success();
    // The packages fixture (an upstream dependency, a core, two plugins and a server):
    // the ready-made migration tests over every branch, in every backend and mode.
    let packages = TestMatrix {
        backends: o.backends.clone(),
        modes: o.modes.clone(),
        workspace: root().join("fixtures/packages"),
        cargo_args: vec!["--workspace".into()],
        env: vec![
            (POSTGRES_URL_ENV.into(), server.into()),
            (MYSQL_URL_ENV.into(), mysql.into()),
            (
                "CARGO_TARGET_DIR".into(),
                root().join("target").display().to_string(),
            ),
        ],
    };
    ok &= run_test_matrix(&packages).map_err(|e| e.to_string())?;
    // The blog fixture's tests, through the fixture's own `cargo xtask test` (what a
    // user's workspace gets), in every requested backend and mode.
    let blog = root().join("fixtures/blog");
    // The blog app's own store speaks SQLite and PostgreSQL; its migrations run on MariaDB
    // in tests/fixtures_db.rs.
    for backend in o.backends.iter().filter(|b| **b != TestBackend::Mysql) {
        for mode in &o.modes {
            let mut args = vec![
                "xtask".to_string(),
                "test".into(),
                "--db".into(),
                backend.as_str().into(),
            ];
            if *mode == Mode::Migrations {
                args.push("--use-migrations".into());
            }
            eprintln!("==> fixtures/blog: cargo {}", args.join(" "));
            let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .args(&args)
                .current_dir(&blog)
                .env(POSTGRES_URL_ENV, server)
                .env(MYSQL_URL_ENV, mysql)
                .env("CARGO_TARGET_DIR", root().join("target"))
                .status()
                .map_err(|e| e.to_string())?;
            ok &= status.success();
        }
    }
    if ok {
        Ok(())
    } else {
        Err("some tests failed".into())
    }
}
