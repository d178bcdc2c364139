//! `cargo xtask demo`: the main job on the embedded default. A copy of the blog fixture
//! gets a model change, `cargo schema revision` writes the migration, `cargo schema
//! upgrade` applies the whole history to a SQLite file, and `check` confirms.

use xshell::{cmd, Shell};

pub fn run() -> Result<(), String> {
    let sh = Shell::new().map_err(|e| e.to_string())?;
    let root = crate::test::root();
    sh.change_dir(&root);
    cmd!(sh, "cargo build --quiet -p cargo-schema")
        .run()
        .map_err(|e| e.to_string())?;
    // Where cargo put it: `CARGO_TARGET_DIR` when set (relative to the root, where the
    // build above ran), else `target/`.
    let target = root.join(schema_e2e::target_dir());
    let bin = target.join("debug/cargo-schema");
    let demo = target.join("demo/blog");
    let _ = std::fs::remove_dir_all(&demo);
    schema_e2e::copy_fixture(
        &root.join("fixtures/blog"),
        &demo,
        &root.display().to_string(),
    )
    .map_err(|e| e.to_string())?;
    let users = demo.join("models/src/users.rs");
    let text = std::fs::read_to_string(&users).map_err(|e| e.to_string())?;
    std::fs::write(&users, text.replacen("    pub bio: Option<String>,\n", "    pub bio: Option<String>,\n    #[column(max_length = 80)]\n    pub location: Option<String>,\n", 1))
        .map_err(|e| e.to_string())?;
    sh.change_dir(&demo);
    let db = format!("sqlite://{}", demo.join("blog.db").display());
    eprintln!("==> a model changed: users.location; check says what is missing");
    let _ = cmd!(sh, "{bin} schema check").run();
    eprintln!("==> cargo schema revision -m 'add user location'");
    cmd!(sh, "{bin} schema revision -m 'add user location'")
        .run()
        .map_err(|e| e.to_string())?;
    eprintln!("==> cargo schema upgrade --database-url {db}");
    cmd!(sh, "{bin} schema upgrade --database-url {db}")
        .run()
        .map_err(|e| e.to_string())?;
    cmd!(sh, "{bin} schema current --database-url {db}")
        .run()
        .map_err(|e| e.to_string())?;
    cmd!(sh, "{bin} schema check --database {db}")
        .run()
        .map_err(|e| e.to_string())?;
    eprintln!("==> the demo workspace is {}", demo.display());
    Ok(())
}
