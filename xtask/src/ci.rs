//! `cargo xtask ci`: exactly what `.ci/run` checks, so that a green local run means a
//! green CI.

use xshell::{cmd, Shell};

pub fn run() -> Result<(), String> {
    let sh = Shell::new().map_err(|e| e.to_string())?;
    sh.change_dir(crate::test::root());
    cmd!(sh, "cargo fmt --all --check")
        .run()
        .map_err(|e| e.to_string())?;
    cmd!(sh, "cargo clippy --workspace --all-targets -- -D warnings")
        .run()
        .map_err(|e| e.to_string())?;
    // The adapters' workspace, built into the same target directory.
    let target = crate::test::root().join("target");
    sh.change_dir(crate::test::root().join("adapters"));
    cmd!(sh, "cargo fmt --all --check")
        .run()
        .map_err(|e| e.to_string())?;
    cmd!(sh, "cargo clippy --workspace --all-targets -- -D warnings")
        .env("CARGO_TARGET_DIR", &target)
        .run()
        .map_err(|e| e.to_string())?;
    crate::test::run(&["--db".into(), "all".into(), "--both-modes".into()])
}
