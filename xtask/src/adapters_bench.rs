//! `cargo xtask bench --adapters`: the sqlx adapter against sqlx's own migrator, on the
//! bench workspace's 1,000 revisions rendered per dialect (the same SQL for both), on
//! SQLite files and a throwaway PostgreSQL server with durable commits, interleaved.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use schema::testing::PgCluster;

use crate::bench::{interleaved, mib, ms, ratio, run, Row};

const APP: &str = r#"//! `upgrade URL`: schema-sqlx on a pool of one connection; `sqlx URL`: sqlx's own
//! migrator, the same SQL embedded by `sqlx::migrate!`; `select URL`: connect and one
//! SELECT (the baseline).
schema::include_migrations!();

static LITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations-sqlite");
static PG: sqlx::migrate::Migrator = sqlx::migrate!("./migrations-postgres");

macro_rules! go {
    ($pool:expr, $sqlx:expr, $mode:expr) => {
        match $mode {
            "upgrade" => {
                schema_sqlx::upgrade_pool(&$pool, &MIGRATIONS).await.expect("upgrade");
            }
            "sqlx" => $sqlx.run(&$pool).await.expect("sqlx migrate"),
            _ => {
                sqlx::raw_sql("SELECT count(*) FROM _schema_history").execute(&$pool).await.expect("select");
            }
        }
    };
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, url) = (args[1].as_str(), args[2].as_str());
    if url.starts_with("postgres") {
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await.expect("connect");
        go!(pool, PG, mode);
    } else {
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("url");
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.create_if_missing(true))
            .await
            .expect("connect");
        go!(pool, LITE, mode);
    }
}
"#;

/// Adds the sqlx application to the bench workspace, with the history rendered for each
/// dialect as sqlx migrations, and builds it (release).
fn build_app(
    root: &Path,
    ws: &Path,
    target: &Path,
    schema: &dyn Fn(&[&str]) -> Command,
) -> Result<(), String> {
    let dir = ws.join("app-sqlx");
    std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    for d in ["sqlite", "postgres"] {
        let sql = run(&mut schema(&["sql", "heads", "--dialect", d]))?;
        sqlx_dir(&sql, &dir.join(format!("migrations-{d}")))?;
    }
    let r = root.display();
    let write = |p: &str, text: &str| std::fs::write(dir.join(p), text).map_err(|e| e.to_string());
    write("Cargo.toml", &format!("[package]\nname = \"bench-app-sqlx\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nschema = {{ path = \"{r}/crates/schema\" }}\nschema-sqlx = {{ path = \"{r}/adapters/schema-sqlx\", features = [\"postgres\", \"sqlite\"] }}\nsqlx = {{ version = \"0.8\", default-features = false, features = [\"runtime-tokio\", \"postgres\", \"sqlite\", \"migrate\", \"macros\"] }}\ntokio = {{ version = \"1\", default-features = false, features = [\"rt\", \"macros\"] }}\n\n[build-dependencies]\nschema-build = {{ path = \"{r}/schema-build\" }}\n"))?;
    write(
        "build.rs",
        "fn main() {\n    schema_build::Embed::new().run_or_exit();\n}\n",
    )?;
    write("src/main.rs", APP)?;
    let manifest = ws.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| e.to_string())?;
    if !text.contains("app-sqlx") {
        std::fs::write(
            &manifest,
            text.replace("\"app\"]", "\"app\", \"app-sqlx\"]"),
        )
        .map_err(|e| e.to_string())?;
    }
    // The adapters' lock file pins the sqlx they are tested with.
    let _ = std::fs::copy(root.join("adapters/Cargo.lock"), ws.join("Cargo.lock"));
    run(Command::new("cargo")
        .args(["build", "--release", "-q", "-p", "bench-app-sqlx"])
        .current_dir(ws)
        .env("CARGO_TARGET_DIR", target))?;
    Ok(())
}

/// The rendered SQL of every revision as sqlx migration files (`{n}_{id}.sql`).
fn sqlx_dir(sql: &str, dir: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let mut files: Vec<(String, String)> = Vec::new();
    for line in sql.lines() {
        if let Some(id) = line.strip_prefix("-- upgrade ") {
            files.push((
                id.split_whitespace().next().unwrap_or("").into(),
                String::new(),
            ));
        }
        if let Some((_, text)) = files.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    for (i, (id, text)) in files.iter().enumerate() {
        let name = format!(
            "{}_{}.sql",
            i + 1,
            id.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        std::fs::write(dir.join(name), text).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A full upgrade: ours, then sqlx's migrator (wall time, peak memory).
fn full_row(db: &str, r: &[(Duration, u64)]) -> Row {
    [
        format!("full upgrade, {db}, through schema-sqlx"),
        format!("{} ({})", ms(r[0].0), mib(r[0].1)),
        format!("sqlx's migrator, the same SQL: {}", ms(r[1].0)),
        ratio(r[0].0, r[1].0),
    ]
}

/// At head: ours, sqlx's migrator, then connect + one SELECT (the baseline).
fn head_row(db: &str, r: &[(Duration, u64)]) -> Row {
    [
        format!("`upgrade` at head, {db}, through schema-sqlx"),
        format!("{} ({})", ms(r[0].0), mib(r[0].1)),
        format!(
            "sqlx's migrator at head: {}; sqlx connect + one SELECT: {}",
            ms(r[1].0),
            ms(r[2].0)
        ),
        ratio(r[0].0, r[2].0),
    ]
}

pub fn adapter_rows(
    root: &Path,
    ws: &Path,
    target: &Path,
    schema: &dyn Fn(&[&str]) -> Command,
    reps: usize,
) -> Result<Vec<Row>, String> {
    eprintln!("==> building the sqlx bench app (release)");
    build_app(root, ws, target, schema)?;
    let app = target.join("release/bench-app-sqlx");
    let app_cmd = |args: &[&str]| {
        let mut c = Command::new(&app);
        c.args(args);
        c
    };
    let mut rows: Vec<Row> = Vec::new();
    let dbdir = target.join("bench/adapters");
    let _ = std::fs::remove_dir_all(&dbdir);
    std::fs::create_dir_all(&dbdir).map_err(|e| e.to_string())?;

    // SQLite.
    let db = dbdir.join("bench.db");
    let url = format!("sqlite://{}", db.display());
    let fresh = || {
        let _ = std::fs::remove_file(&db);
        Ok(())
    };
    let r = interleaved(
        reps,
        fresh,
        &mut [&mut || app_cmd(&["upgrade", &url]), &mut || {
            app_cmd(&["sqlx", &url])
        }],
    )?;
    rows.push(full_row("SQLite", &r));
    for mode in ["upgrade", "sqlx"] {
        fresh()?;
        run(&mut app_cmd(&[mode, &url]))?;
        // Both at head on their own database: copy it aside.
        std::fs::copy(&db, dbdir.join(format!("{mode}.db"))).map_err(|e| e.to_string())?;
    }
    let ours = format!("sqlite://{}", dbdir.join("upgrade.db").display());
    let theirs = format!("sqlite://{}", dbdir.join("sqlx.db").display());
    let r = interleaved(
        reps * 4,
        || Ok(()),
        &mut [
            &mut || app_cmd(&["upgrade", &ours]),
            &mut || app_cmd(&["sqlx", &theirs]),
            &mut || app_cmd(&["select", &ours]),
        ],
    )?;
    rows.push(head_row("SQLite", &r));

    // PostgreSQL, with durable commits.
    eprintln!("==> PostgreSQL (adapters)");
    let cluster =
        PgCluster::start_with("-c fsync=on -c synchronous_commit=on -c full_page_writes=on")
            .map_err(|e| e.to_string())?;
    let result = (|| -> Result<(), String> {
        let psql = |sql: &str| {
            let mut c = Command::new("psql");
            c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
                .arg(&cluster.dir)
                .args([
                    "-p",
                    &cluster.port.to_string(),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                ])
                .args(["-c", sql]);
            c
        };
        let counter = std::cell::Cell::new(0u32);
        let fresh_pg = || -> Result<(), String> {
            counter.set(counter.get() + 1);
            run(&mut psql(&format!(
                "DROP DATABASE IF EXISTS a{}",
                counter.get() - 1
            )))?;
            run(&mut psql(&format!("CREATE DATABASE a{}", counter.get())))?;
            Ok(())
        };
        let current = || cluster.url(&format!("a{}", counter.get()));
        let r = interleaved(
            reps,
            fresh_pg,
            &mut [&mut || app_cmd(&["upgrade", &current()]), &mut || {
                app_cmd(&["sqlx", &current()])
            }],
        )?;
        rows.push(full_row("PostgreSQL", &r));
        run(&mut psql("CREATE DATABASE ours"))?;
        run(&mut psql("CREATE DATABASE theirs"))?;
        let (ours, theirs) = (cluster.url("ours"), cluster.url("theirs"));
        run(&mut app_cmd(&["upgrade", &ours]))?;
        run(&mut app_cmd(&["sqlx", &theirs]))?;
        let r = interleaved(
            reps * 4,
            || Ok(()),
            &mut [
                &mut || app_cmd(&["upgrade", &ours]),
                &mut || app_cmd(&["sqlx", &theirs]),
                &mut || app_cmd(&["select", &ours]),
            ],
        )?;
        rows.push(head_row("PostgreSQL", &r));
        Ok(())
    })();
    cluster.stop();
    result?;
    Ok(rows)
}
