//! `cargo xtask test`: the whole workspace's tests, fixtures included, on the chosen
//! backends and in the chosen mode, with a throwaway PostgreSQL server.

use std::path::PathBuf;

use schema::testing::{run_test_matrix, Mode, TestBackend, TestMatrix};

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
                backends = match it.next().map(String::as_str) {
                    Some("sqlite") => vec![TestBackend::Sqlite],
                    Some("postgres") => vec![TestBackend::Postgres],
                    Some("all") => vec![TestBackend::Sqlite, TestBackend::Postgres],
                    other => {
                        return Err(format!("--db takes sqlite, postgres or all, not {other:?}"))
                    }
                }
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
    // This repository's own suite tests both backends itself: run it once.
    let repo = TestMatrix {
        backends: vec![TestBackend::Sqlite],
        modes: vec![Mode::CreateAll],
        workspace: root(),
        cargo_args: vec!["--workspace".into()],
        env: vec![],
    };
    let mut ok = run_test_matrix(&repo).map_err(|e| e.to_string())?;
    // The fixture applications' tests, in every requested backend and mode.
    let blog = TestMatrix {
        backends: o.backends.clone(),
        modes: o.modes.clone(),
        workspace: root().join("fixtures/blog"),
        cargo_args: vec!["--workspace".into()],
        // The fixture shares this repository's target directory, so nothing builds twice.
        env: vec![(
            "CARGO_TARGET_DIR".into(),
            root().join("target").display().to_string(),
        )],
    };
    if root().join("fixtures/blog/app").is_dir() {
        ok &= run_test_matrix(&blog).map_err(|e| e.to_string())?;
    }
    if ok {
        Ok(())
    } else {
        Err("some tests failed".into())
    }
}
