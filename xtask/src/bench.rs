//! `cargo xtask bench`: a synthetic workspace (500 tables, 1,000 revisions of a realistic
//! mix) and the DESIGN.md targets measured on it, each beside its baseline in the same run.
//! Medians over repeated runs; peak memory from `/usr/bin/time`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use schema::testing::{MariaDbServer, PgCluster};
use schema_core::file::{self, RevisionFile};
use schema_core::{autogenerate, ExecuteSql, Operation, Schema};

const TABLES: usize = 500;
const REVISIONS: usize = 1000;

struct Col {
    name: String,
    rust: &'static str,
    attrs: Vec<String>,
}

struct Table {
    name: String,
    cols: Vec<Col>,
}

impl Table {
    fn source(&self) -> String {
        let mut s = format!("#[derive(Table)]\n#[table(name = \"{}\")]\npub struct {} {{\n    #[column(primary_key)]\n    pub id: i64,\n", self.name, self.name.to_uppercase());
        for c in &self.cols {
            if !c.attrs.is_empty() {
                let _ = writeln!(s, "    #[column({})]", c.attrs.join(", "));
            }
            let _ = writeln!(s, "    pub {}: {},", c.name, c.rust);
        }
        s.push_str("}\n");
        s
    }
}

/// xorshift: the same workspace every time.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The table as the derive and the CLI see it (through the one parser).
fn lower(t: &Table) -> Result<schema_core::TableDef, String> {
    let item: syn::ItemStruct = syn::parse_str(&t.source()).map_err(|e| e.to_string())?;
    let m = schema_syntax::lower_struct(&item, &Default::default(), &[]).map_err(|e| {
        format!(
            "{}: {}",
            t.name,
            e.first().map(|e| e.message.clone()).unwrap_or_default()
        )
    })?;
    Ok(m.table)
}

/// Writes the synthetic workspace; returns its directory.
fn generate(root: &Path, dir: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    let mig = dir.join("models/migrations");
    std::fs::create_dir_all(&mig).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir.join("models/src")).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir.join("app/src")).map_err(|e| e.to_string())?;
    let r = root.display();
    let write = |p: &str, text: &str| std::fs::write(dir.join(p), text).map_err(|e| e.to_string());
    write(
        "Cargo.toml",
        "[workspace]\nresolver = \"2\"\nmembers = [\"models\", \"app\"]\n",
    )?;
    write("models/Cargo.toml", &format!("[package]\nname = \"bench-models\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nschema = {{ path = \"{r}/crates/schema\" }}\n\n[package.metadata.schema]\nbranch = \"bench\"\n"))?;
    write("app/Cargo.toml", &format!("[package]\nname = \"bench-app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nschema = {{ path = \"{r}/crates/schema\", features = [\"sqlite\", \"postgres\"] }}\nrusqlite = \"0.32\"\ntokio = {{ version = \"1\", default-features = false, features = [\"rt\", \"net\", \"time\"] }}\ntokio-postgres = {{ version = \"0.7\", default-features = false, features = [\"runtime\"] }}\n\n[build-dependencies]\nschema-build = {{ path = \"{r}/schema-build\" }}\n"))?;
    write(
        "app/build.rs",
        "fn main() {\n    schema_build::Embed::new().run_or_exit();\n}\n",
    )?;
    write("app/src/main.rs", APP)?;

    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut tables: Vec<Table> = Vec::new();
    let mut parent: Option<String> = None;
    for i in 1..=REVISIONS {
        let mut data_step = None;
        // Each step changes one table: diff just that table.
        let changed;
        let before;
        if i <= TABLES {
            changed = tables.len();
            before = Schema::new();
            let name = format!("t{i:04}");
            let mut cols = vec![
                Col {
                    name: "name".into(),
                    rust: "String",
                    attrs: vec!["max_length = 100".into()],
                },
                Col {
                    name: "created".into(),
                    rust: "i64",
                    attrs: vec!["default = \"0\"".into()],
                },
                Col {
                    name: "note".into(),
                    rust: "Option<String>",
                    attrs: vec![],
                },
            ];
            if i % 5 == 0 && i > 1 {
                let target = format!("t{:04}", 1 + rng.below(i - 1));
                cols.push(Col {
                    name: "parent_id".into(),
                    rust: "Option<i64>",
                    attrs: vec![format!("references = \"{target}.id\""), "index".into()],
                });
            }
            tables.push(Table { name, cols });
        } else {
            let t = rng.below(tables.len());
            changed = t;
            before = Schema::from_tables([lower(&tables[t])?]);
            let n = tables[t].cols.len();
            match i % 5 {
                0 => tables[t].cols.push(Col {
                    name: format!("extra{i}"),
                    rust: "Option<String>",
                    attrs: vec![],
                }),
                1 => {
                    // An index on a column without one (else a new column with an index).
                    match tables[t]
                        .cols
                        .iter_mut()
                        .find(|c| !c.attrs.iter().any(|a| a == "index"))
                    {
                        Some(c) => c.attrs.push("index".into()),
                        None => tables[t].cols.push(Col {
                            name: format!("ix{i}"),
                            rust: "Option<i32>",
                            attrs: vec!["index".into()],
                        }),
                    }
                }
                2 => {
                    let target = format!("t{:04}", 1 + rng.below(TABLES));
                    tables[t].cols.push(Col {
                        name: format!("ref{i}"),
                        rust: "Option<i64>",
                        attrs: vec![format!("references = \"{target}.id\"")],
                    });
                }
                3 => {
                    // Nullability: a required column becomes optional.
                    match tables[t].cols.iter_mut().find(|c| c.rust == "String") {
                        Some(c) => c.rust = "Option<String>",
                        None => tables[t].cols[n - 1]
                            .attrs
                            .push("default = \"NULL\"".into()),
                    }
                }
                _ => {
                    let name = &tables[t].name;
                    data_step = Some(Operation::Execute {
                        sql: ExecuteSql::All(format!(
                            "INSERT INTO {name} (name) VALUES ('row {i}')"
                        )),
                    });
                }
            }
        }
        let next = Schema::from_tables([lower(&tables[changed])?]);
        let diff = autogenerate(&before, &next);
        let (upgrade, downgrade) = match data_step {
            Some(op) => (vec![op], vec![]),
            None => (diff.upgrade, diff.downgrade),
        };
        let id = format!("{i:04}");
        let rev = RevisionFile {
            revision: id.clone(),
            down_revisions: parent.iter().cloned().collect(),
            branch_labels: if i == 1 { vec!["bench".into()] } else { vec![] },
            message: format!("step {i}"),
            created: "2026-01-01T00:00:00Z".into(),
            upgrade,
            downgrade,
            ..Default::default()
        };
        std::fs::write(
            mig.join(file::file_name("2026-01-01", &id, &rev.message)),
            file::write(&rev, &[]),
        )
        .map_err(|e| e.to_string())?;
        parent = Some(id);
    }
    let mut src =
        String::from("//! 500 synthetic models.\n#![allow(dead_code)]\n\nuse schema::Table;\n\n");
    for t in &tables {
        src.push_str(&t.source());
        src.push('\n');
    }
    write("models/src/lib.rs", &src)
}

const APP: &str = r#"//! Connects, then either applies the embedded migrations (`upgrade`) or runs one SELECT
//! (`select`, the baseline). The database is the first argument.
schema::include_migrations!();

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, url) = (args[1].as_str(), args[2].as_str());
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut conn = rusqlite::Connection::open(path).expect("open");
        if mode == "select" {
            let n: i64 = conn.query_row("SELECT count(*) FROM \"_schema_history\"", [], |r| r.get(0)).expect("select");
            assert!(n > 0);
        } else {
            MIGRATIONS.upgrade_sqlite(&mut conn).expect("upgrade");
        }
    } else {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(async {
            let (mut client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
            tokio::spawn(conn);
            if mode == "select" {
                client.simple_query("SELECT count(*) FROM \"_schema_history\"").await.expect("select");
            } else {
                MIGRATIONS.upgrade(&mut client).await.expect("upgrade");
            }
        });
    }
}
"#;

/// One row of the table: what, ours, the baseline, the ratio.
pub(crate) type Row = [String; 4];

/// One measured run: wall time and peak resident memory (KiB).
fn measure(cmd: &mut Command) -> Result<(Duration, u64), String> {
    let tmp = std::env::temp_dir().join(format!("bench-time-{}", std::process::id()));
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%M", "-o"])
        .arg(&tmp)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(d) = cmd.get_current_dir() {
        timed.current_dir(d);
    }
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            timed.env(k, v);
        }
    }
    let start = Instant::now();
    let out = timed
        .output()
        .map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    let wall = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{:?} failed: {}{}",
            cmd,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let kib = std::fs::read_to_string(&tmp)
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0);
    Ok((wall, kib))
}

/// Median wall time and the largest peak memory over `n` runs; `prepare` runs before each.
fn median(
    n: usize,
    mut prepare: impl FnMut() -> Result<(), String>,
    mut make: impl FnMut() -> Command,
) -> Result<(Duration, u64), String> {
    let mut walls = Vec::new();
    let mut peak = 0;
    for _ in 0..n {
        prepare()?;
        let (w, m) = measure(&mut make())?;
        walls.push(w);
        peak = peak.max(m);
    }
    walls.sort();
    Ok((walls[walls.len() / 2], peak))
}

/// Runs several commands in turn, `n` rounds (so that drift in the machine affects them
/// alike); `prepare` runs before every run. Median wall time and peak memory of each.
pub(crate) fn interleaved(
    n: usize,
    mut prepare: impl FnMut() -> Result<(), String>,
    makers: &mut [&mut dyn FnMut() -> Command],
) -> Result<Vec<(Duration, u64)>, String> {
    let mut walls: Vec<Vec<Duration>> = vec![Vec::new(); makers.len()];
    let mut peaks = vec![0u64; makers.len()];
    for _ in 0..n {
        for (i, make) in makers.iter_mut().enumerate() {
            prepare()?;
            let (w, m) = measure(&mut make())?;
            walls[i].push(w);
            peaks[i] = peaks[i].max(m);
        }
    }
    Ok(walls
        .into_iter()
        .zip(peaks)
        .map(|(mut w, p)| {
            w.sort();
            (w[w.len() / 2], p)
        })
        .collect())
}

pub(crate) fn ms(d: Duration) -> String {
    if d.as_secs_f64() >= 1.0 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub(crate) fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64().max(1e-9))
}

pub(crate) fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Splits rendered SQL (`-- upgrade ID` comments between revisions) into one script run
/// in one transaction, and one with a transaction per revision.
fn scripts(sql: &str) -> (String, String) {
    let one = format!("BEGIN;\n{sql}COMMIT;\n");
    let mut per = String::new();
    let mut open = false;
    for line in sql.lines() {
        if line.starts_with("-- upgrade ") {
            if open {
                per.push_str("COMMIT;\n");
            }
            per.push_str("BEGIN;\n");
            open = true;
        }
        per.push_str(line);
        per.push('\n');
    }
    if open {
        per.push_str("COMMIT;\n");
    }
    (one, per)
}

pub fn run_bench(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let reps = if quick { 3 } else { 5 };
    let root = crate::test::root();
    let target = root.join("target");
    // `--fleet`: only the fleet rows (they take minutes of their own).
    if args.iter().any(|a| a == "--fleet") {
        run(Command::new("cargo")
            .args(["build", "--release", "-q", "-p", "cargo-schema"])
            .current_dir(&root))?;
        let rows =
            crate::fleet_bench::fleet_rows(&root, &target, &target.join("release/cargo-schema"))?;
        return write_table(&target, &rows, " --fleet", reps);
    }
    let ws = target.join("bench/workspace");
    eprintln!(
        "==> generating {TABLES} tables and {REVISIONS} revisions in {}",
        ws.display()
    );
    let t0 = Instant::now();
    generate(&root, &ws)?;
    eprintln!("    generated in {}", ms(t0.elapsed()));
    eprintln!("==> building cargo-schema and the bench app (release)");
    run(Command::new("cargo")
        .args(["build", "--release", "-q", "-p", "cargo-schema"])
        .current_dir(&root))?;
    // `--adapters`: only the sqlx adapter against sqlx's own migrator.
    if args.iter().any(|a| a == "--adapters") {
        let cli = target.join("release/cargo-schema");
        let schema = |args: &[&str]| {
            let mut c = Command::new(&cli);
            c.arg("schema").args(args).current_dir(&ws);
            c
        };
        let rows = crate::adapters_bench::adapter_rows(&root, &ws, &target, &schema, reps)?;
        return write_table(&target, &rows, " --adapters", reps);
    }
    run(Command::new("cargo")
        .args(["build", "--release", "-q", "-p", "bench-app"])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", &target))?;
    let cli = target.join("release/cargo-schema");
    let app = target.join("release/bench-app");
    let app_cmd = |mode: &str, url: &str| {
        let mut c = Command::new(&app);
        c.args([mode, url]);
        c
    };
    let schema = |args: &[&str]| {
        let mut c = Command::new(&cli);
        c.arg("schema").args(args).current_dir(&ws);
        c
    };
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut row = |what: &str, ours: String, base: String, ratio: String| {
        rows.push([what.into(), ours, base, ratio])
    };

    // Offline: check and revision (a pending model change, written with --dry-run).
    let (check, check_mem) = median(reps, || Ok(()), || schema(&["check"]))?;
    row(
        "`check`, 500 tables / 1,000 revisions, no database",
        format!("{} ({})", ms(check), mib(check_mem)),
        "target < 100 ms".into(),
        String::new(),
    );
    let lib = ws.join("models/src/lib.rs");
    let original = std::fs::read_to_string(&lib).map_err(|e| e.to_string())?;
    std::fs::write(
        &lib,
        original.replacen(
            "    pub note: Option<String>,\n",
            "    pub note: Option<String>,\n    pub added: Option<i64>,\n",
            1,
        ),
    )
    .map_err(|e| e.to_string())?;
    let (rev, rev_mem) = median(
        reps,
        || Ok(()),
        || schema(&["revision", "-m", "bench", "--dry-run"]),
    )?;
    std::fs::write(&lib, &original).map_err(|e| e.to_string())?;
    row(
        "`revision` (one change), same workspace",
        format!("{} ({})", ms(rev), mib(rev_mem)),
        "target < 100 ms".into(),
        String::new(),
    );

    // SQLite: full upgrade against the same SQL as one script and as a transaction per revision.
    let dbdir = target.join("bench/db");
    let _ = std::fs::remove_dir_all(&dbdir);
    std::fs::create_dir_all(&dbdir).map_err(|e| e.to_string())?;
    let db = dbdir.join("bench.db");
    let url = format!("sqlite://{}", db.display());
    let sql = run(&mut schema(&["sql", "heads", "--dialect", "sqlite"]))?;
    let (one, per) = scripts(&sql);
    std::fs::write(dbdir.join("one.sql"), &one).map_err(|e| e.to_string())?;
    std::fs::write(dbdir.join("per.sql"), &per).map_err(|e| e.to_string())?;
    let fresh = || {
        let _ = std::fs::remove_file(&db);
        Ok(())
    };
    let sqlite3 = |file: &str| {
        let mut c = Command::new("sh");
        c.arg("-c").arg(format!(
            "sqlite3 '{}' < '{}'",
            db.display(),
            dbdir.join(file).display()
        ));
        c
    };
    let r = interleaved(
        reps,
        fresh,
        &mut [
            &mut || sqlite3("one.sql"),
            &mut || sqlite3("per.sql"),
            &mut || schema(&["upgrade", "--database-url", &url]),
            &mut || schema(&["upgrade", "--single-transaction", "--database-url", &url]),
        ],
    )?;
    let ((lite_one, _), (lite_per, _), (lite_up, lite_mem), (lite_single, _)) =
        (r[0], r[1], r[2], r[3]);
    row(
        "full upgrade, SQLite (a transaction per revision)",
        format!("{} ({})", ms(lite_up), mib(lite_mem)),
        format!(
            "one script `sqlite3 db < all.sql`: {}; a transaction per revision: {}",
            ms(lite_one),
            ms(lite_per)
        ),
        ratio(lite_up, lite_one),
    );
    row(
        "full upgrade, SQLite, `--single-transaction`",
        ms(lite_single),
        format!("one script: {}", ms(lite_one)),
        ratio(lite_single, lite_one),
    );
    // At head.
    fresh()?;
    run(&mut schema(&["upgrade", "--database-url", &url]))?;
    let (cli_head, cli_head_mem) = median(
        reps * 2,
        || Ok(()),
        || schema(&["upgrade", "--database-url", &url]),
    )?;
    let r = interleaved(
        reps * 4,
        || Ok(()),
        &mut [&mut || app_cmd("upgrade", &url), &mut || {
            app_cmd("select", &url)
        }],
    )?;
    let ((app_head, app_mem), (app_select, sel_mem)) = (r[0], r[1]);
    row(
        "embedded `upgrade` at head, SQLite",
        format!("{} ({})", ms(app_head), mib(app_mem)),
        format!(
            "connect + one SELECT: {} ({})",
            ms(app_select),
            mib(sel_mem)
        ),
        ratio(app_head, app_select),
    );
    row(
        "CLI `upgrade` at head, SQLite",
        format!("{} ({})", ms(cli_head), mib(cli_head_mem)),
        "target < 50 ms".into(),
        String::new(),
    );

    // PostgreSQL: a throwaway server with durable commits, logging statements so that the
    // at-head run's statements can be counted.
    eprintln!("==> PostgreSQL");
    let cluster = PgCluster::start_with(
        "-c fsync=on -c synchronous_commit=on -c full_page_writes=on -c log_statement=all",
    )
    .map_err(|e| e.to_string())?;
    let result = (|| -> Result<(), String> {
        let psql = |db: &str, args: &[&str]| {
            let mut c = Command::new("psql");
            c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
                .arg(&cluster.dir)
                .args(["-p", &cluster.port.to_string(), "-U", "postgres", "-d", db])
                .args(args);
            c
        };
        let counter = std::cell::Cell::new(0u32);
        let fresh_pg = || -> Result<(), String> {
            counter.set(counter.get() + 1);
            run(&mut psql(
                "postgres",
                &[
                    "-c",
                    &format!("DROP DATABASE IF EXISTS b{}", counter.get() - 1),
                ],
            ))?;
            run(&mut psql(
                "postgres",
                &["-c", &format!("CREATE DATABASE b{}", counter.get())],
            ))?;
            Ok(())
        };
        let pg_sql = run(&mut schema(&["sql", "heads", "--dialect", "postgres"]))?;
        let (pg_one, pg_per) = scripts(&pg_sql);
        std::fs::write(dbdir.join("pg_per.sql"), &pg_per).map_err(|e| e.to_string())?;
        std::fs::write(dbdir.join("pg_all.sql"), &pg_sql).map_err(|e| e.to_string())?;
        let _ = pg_one;
        let current = || format!("b{}", counter.get());
        let one_sql = dbdir.join("pg_all.sql").display().to_string();
        let per_sql = dbdir.join("pg_per.sql").display().to_string();
        let r = interleaved(
            reps,
            fresh_pg,
            &mut [
                &mut || psql(&current(), &["-1", "-f", &one_sql]),
                &mut || psql(&current(), &["-f", &per_sql]),
                &mut || schema(&["upgrade", "--database-url", &cluster.url(&current())]),
                &mut || {
                    schema(&[
                        "upgrade",
                        "--single-transaction",
                        "--database-url",
                        &cluster.url(&current()),
                    ])
                },
            ],
        )?;
        let ((psql_one, _), (psql_per, _), (pg_up, pg_mem), (pg_single, _)) =
            (r[0], r[1], r[2], r[3]);
        row(
            "full upgrade, PostgreSQL (a transaction per revision)",
            format!("{} ({})", ms(pg_up), mib(pg_mem)),
            format!(
                "one script `psql -1 -f all.sql`: {}; a transaction per revision: {}",
                ms(psql_one),
                ms(psql_per)
            ),
            ratio(pg_up, psql_one),
        );
        row(
            "full upgrade, PostgreSQL, `--single-transaction`",
            ms(pg_single),
            format!("one script: {}", ms(psql_one)),
            ratio(pg_single, psql_one),
        );
        let url = cluster.url(&current());
        let log = cluster.dir.join("server.log");
        let before = std::fs::read_to_string(&log).map(|s| s.len()).unwrap_or(0);
        run(&mut app_cmd("upgrade", &url))?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let statements = text
            .get(before..)
            .unwrap_or("")
            .lines()
            .filter(|l| l.contains("statement: "))
            .count();
        let r = interleaved(
            reps * 4,
            || Ok(()),
            &mut [&mut || app_cmd("upgrade", &url), &mut || {
                app_cmd("select", &url)
            }],
        )?;
        let ((pg_app, pg_app_mem), (pg_select, _)) = (r[0], r[1]);
        row(
            "embedded `upgrade` at head, PostgreSQL",
            format!(
                "{} ({}), {statements} statement(s) sent",
                ms(pg_app),
                mib(pg_app_mem)
            ),
            format!("connect + one SELECT: {}", ms(pg_select)),
            ratio(pg_app, pg_select),
        );
        let (pg_cli_head, _) = median(
            reps * 2,
            || Ok(()),
            || schema(&["upgrade", "--database-url", &url]),
        )?;
        row(
            "CLI `upgrade` at head, PostgreSQL",
            ms(pg_cli_head),
            "target < 50 ms".into(),
            String::new(),
        );
        Ok(())
    })();
    cluster.stop();
    result?;

    // MariaDB: durable commits; the baseline is the same SQL sourced by the `mariadb`
    // client (DDL commits itself there, so one script is the whole baseline).
    eprintln!("==> MariaDB");
    let maria = MariaDbServer::start_with(&["--innodb-flush-log-at-trx-commit=1"])
        .map_err(|e| e.to_string())?;
    let result = (|| -> Result<(), String> {
        let client = |db: &str, sql: &str| {
            let mut c = Command::new("mariadb");
            c.args(["--no-defaults", "-h", "127.0.0.1", "-u", "root"])
                .arg(format!("--port={}", maria.port))
                .args(["-e", sql, db]);
            c
        };
        let counter = std::cell::Cell::new(0u32);
        let fresh_my = || -> Result<(), String> {
            counter.set(counter.get() + 1);
            run(&mut client(
                "",
                &format!(
                    "DROP DATABASE IF EXISTS b{}; CREATE DATABASE b{} CHARACTER SET utf8mb4",
                    counter.get() - 1,
                    counter.get()
                ),
            ))?;
            Ok(())
        };
        let my_sql = run(&mut schema(&["sql", "heads", "--dialect", "mysql"]))?;
        let all_sql = dbdir.join("my_all.sql");
        std::fs::write(&all_sql, &my_sql).map_err(|e| e.to_string())?;
        let source = format!("source {}", all_sql.display());
        let current = || format!("b{}", counter.get());
        let r = interleaved(
            reps.min(3),
            fresh_my,
            &mut [&mut || client(&current(), &source), &mut || {
                schema(&["upgrade", "--database-url", &maria.url(&current())])
            }],
        )?;
        let ((my_source, _), (my_up, my_mem)) = (r[0], r[1]);
        row(
            "full upgrade, MariaDB (progress recorded per operation)",
            format!("{} ({})", ms(my_up), mib(my_mem)),
            format!("`mariadb -e 'source all.sql'`: {}", ms(my_source)),
            ratio(my_up, my_source),
        );
        let url = maria.url(&current());
        let (my_cli_head, _) = median(
            reps * 2,
            || Ok(()),
            || schema(&["upgrade", "--database-url", &url]),
        )?;
        row(
            "CLI `upgrade` at head, MariaDB",
            ms(my_cli_head),
            "target < 50 ms".into(),
            String::new(),
        );
        Ok(())
    })();
    maria.stop();
    result?;

    // schema-build: the build script alone, as a build runs it.
    let script = std::fs::read_dir(target.join("release/build"))
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("bench-app-"))
        })
        .map(|p| p.join("build-script-build"))
        .find(|p| p.is_file())
        .ok_or("no bench-app build script")?;
    let out_dir = target.join("bench/out");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let run_script = || {
        let mut c = Command::new(&script);
        c.env("CARGO_MANIFEST_DIR", ws.join("app"))
            .env("OUT_DIR", &out_dir);
        c
    };
    let cache = out_dir.join(schema_build_cache());
    let (cold, cold_mem) = median(
        reps,
        || {
            let _ = std::fs::remove_file(&cache);
            Ok(())
        },
        run_script,
    )?;
    // The usual re-run: one migration edited since the last build.
    let edited =
        ws.join("models/migrations")
            .join(file::file_name("2026-01-01", "1000", "step 1000"));
    let mut n = 0;
    let (warm, warm_mem) = median(
        reps,
        || {
            n += 1;
            let text = std::fs::read_to_string(&edited).map_err(|e| e.to_string())?;
            std::fs::write(&edited, format!("{text}# edit {n}\n")).map_err(|e| e.to_string())
        },
        run_script,
    )?;
    row(
        "`schema-build` re-run after a migration edit, 1,000 revisions",
        format!("{} ({})", ms(warm), mib(warm_mem)),
        "target < 100 ms".into(),
        String::new(),
    );
    row(
        "`schema-build` first run (no cache), 1,000 revisions",
        format!("{} ({})", ms(cold), mib(cold_mem)),
        "build script compiled at opt-level 0 (cargo's default)".into(),
        String::new(),
    );

    rows.extend(crate::fleet_bench::fleet_rows(&root, &target, &cli)?);
    write_table(&target, &rows, if quick { " --quick" } else { "" }, reps)
}

fn write_table(
    target: &Path,
    rows: &[[String; 4]],
    flags: &str,
    reps: usize,
) -> Result<(), String> {
    let mut table = format!(
        "Measured {} on this machine ({} cores), `cargo xtask bench{flags}`: {TABLES} tables, {REVISIONS} revisions, medians of {reps}+ runs, peak memory in brackets; fleet rows: one run each.\n\n| what | ours | baseline in the same run | ratio |\n| --- | --- | --- | --- |\n",
        today(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
    );
    for [a, b, c, d] in rows {
        let _ = writeln!(table, "| {a} | {b} | {c} | {d} |");
    }
    println!("{table}");
    std::fs::write(target.join("bench/results.md"), &table).map_err(|e| e.to_string())?;
    Ok(())
}

fn schema_build_cache() -> &'static str {
    "schema_migrations.cache"
}

fn today() -> String {
    Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
