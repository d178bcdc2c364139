//! The fleet rows of `cargo xtask bench`: the blog's history (7 revisions) on 1,000 SQLite
//! files and on 200 PostgreSQL databases, `upgrade --targets` with `--parallel 1` and with
//! one per core, beside the same SQL run by the databases' own clients one database after
//! another; and `status` over 1,000 databases at head.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use schema::testing::PgCluster;

const FILES: usize = 1000;
const DATABASES: usize = 200;

fn timed(mut c: Command) -> Result<Duration, String> {
    let start = Instant::now();
    let out = c.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{c:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(start.elapsed())
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// One row: what, ours, baseline, ratio.
pub type Row = [String; 4];

pub fn fleet_rows(root: &Path, target: &Path, cli: &Path) -> Result<Vec<Row>, String> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let dir = target.join("bench/fleet");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let ws = dir.join("blog");
    schema_e2e::copy_fixture(
        &root.join("fixtures/blog"),
        &ws,
        &root.display().to_string(),
    )
    .map_err(|e| e.to_string())?;
    let schema = |args: &[&str]| {
        let mut c = Command::new(cli);
        c.arg("schema").args(args).current_dir(&ws);
        c
    };
    let sql = |dialect: &str| -> Result<PathBuf, String> {
        let out = schema(&["sql", "heads", "--dialect", dialect])
            .output()
            .map_err(|e| e.to_string())?;
        let path = dir.join(format!("blog-{dialect}.sql"));
        std::fs::write(&path, &out.stdout).map_err(|e| e.to_string())?;
        Ok(path)
    };
    let mut rows = Vec::new();
    let parallel = cores.to_string();

    // SQLite: a file per tenant.
    eprintln!("==> fleet: {FILES} SQLite files");
    let files_dir = dir.join("files");
    let files: Vec<PathBuf> = (0..FILES)
        .map(|i| files_dir.join(format!("t{i:04}.db")))
        .collect();
    let list = dir.join("files.txt");
    std::fs::write(
        &list,
        files
            .iter()
            .map(|f| format!("sqlite://{}\n", f.display()))
            .collect::<String>(),
    )
    .map_err(|e| e.to_string())?;
    let fleet = dir.join("files.toml");
    std::fs::write(
        &fleet,
        format!("[[stage]]\nurls-file = \"{}\"\n", list.display()),
    )
    .map_err(|e| e.to_string())?;
    let fresh_files = || -> Result<(), String> {
        let _ = std::fs::remove_dir_all(&files_dir);
        std::fs::create_dir_all(&files_dir).map_err(|e| e.to_string())
    };
    let lite_sql = sql("sqlite")?;
    let fleet_arg = fleet.display().to_string();
    let upgrade = |p: &str| schema(&["upgrade", "--targets", &fleet_arg, "--parallel", p, "-q"]);
    fresh_files()?;
    let sqlite3_loop = {
        let mut c = Command::new("sh");
        c.arg("-c").arg(format!(
            "i=0; while [ $i -lt {FILES} ]; do sqlite3 \"{}/t$(printf %04d $i).db\" < '{}' || exit 1; i=$((i+1)); done",
            files_dir.display(),
            lite_sql.display()
        ));
        c
    };
    let base = timed(sqlite3_loop)?;
    fresh_files()?;
    let one = timed(upgrade("1"))?;
    fresh_files()?;
    let many = timed(upgrade(&parallel))?;
    let status = {
        let mut runs: Vec<Duration> = (0..3)
            .map(|_| timed(schema(&["status", "--targets", &fleet_arg, "-q"])))
            .collect::<Result<_, _>>()?;
        runs.sort();
        runs[1]
    };
    rows.push([
        format!("fleet upgrade, {FILES} SQLite files (7 revisions each), `--parallel 1`"),
        secs(one),
        format!(
            "`sqlite3 file < all.sql`, one file after another: {}",
            secs(base)
        ),
        format!("{:.2}x", one.as_secs_f64() / base.as_secs_f64()),
    ]);
    rows.push([
        format!("fleet upgrade, {FILES} SQLite files, `--parallel {cores}`"),
        secs(many),
        format!("`--parallel 1`: {}", secs(one)),
        format!(
            "{:.2}x faster on {cores} cores",
            one.as_secs_f64() / many.as_secs_f64()
        ),
    ]);
    rows.push([
        format!("`status --targets`, {FILES} SQLite files at head"),
        secs(status),
        String::new(),
        String::new(),
    ]);

    // PostgreSQL: 200 databases on one server with durable commits.
    eprintln!("==> fleet: {DATABASES} PostgreSQL databases");
    let cluster =
        PgCluster::start_with("-c fsync=on -c synchronous_commit=on -c max_connections=300")
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
        let names: Vec<String> = (0..DATABASES).map(|i| format!("t{i:03}")).collect();
        let fresh_dbs = || -> Result<(), String> {
            let mut script = String::new();
            for n in &names {
                script.push_str(&format!(
                    "DROP DATABASE IF EXISTS {n};\nCREATE DATABASE {n} STRATEGY = FILE_COPY;\n"
                ));
            }
            let path = dir.join("fresh.sql");
            std::fs::write(&path, script).map_err(|e| e.to_string())?;
            timed(psql("postgres", &["-f", &path.display().to_string()])).map(|_| ())
        };
        let pg_list = dir.join("dbs.txt");
        std::fs::write(
            &pg_list,
            names
                .iter()
                .map(|n| format!("{}\n", cluster.url(n)))
                .collect::<String>(),
        )
        .map_err(|e| e.to_string())?;
        let pg_fleet = dir.join("dbs.toml");
        std::fs::write(
            &pg_fleet,
            format!("[[stage]]\nurls-file = \"{}\"\n", pg_list.display()),
        )
        .map_err(|e| e.to_string())?;
        let pg_arg = pg_fleet.display().to_string();
        let pg_upgrade = |p: &str| {
            schema(&[
                "upgrade",
                "--targets",
                &pg_arg,
                "--parallel",
                p,
                "--per-server",
                p,
                "-q",
            ])
        };
        let pg_sql = sql("postgres")?;
        fresh_dbs()?;
        let psql_loop = {
            let mut c = Command::new("sh");
            let each = names
                .iter()
                .map(|n| {
                    format!(
                        "psql -X -q -v ON_ERROR_STOP=1 -1 -h '{}' -p {} -U postgres -d {n} -f '{}' >/dev/null || exit 1",
                        cluster.dir.display(),
                        cluster.port,
                        pg_sql.display()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            c.arg("-c").arg(each);
            c
        };
        let base = timed(psql_loop)?;
        fresh_dbs()?;
        let one = timed(pg_upgrade("1"))?;
        fresh_dbs()?;
        let many = timed(pg_upgrade(&parallel))?;
        let status = timed(schema(&["status", "--targets", &pg_arg, "-q"]))?;
        rows.push([
            format!("fleet upgrade, {DATABASES} PostgreSQL databases (7 revisions each), `--parallel 1`"),
            secs(one),
            format!("`psql -1 -f all.sql`, one database after another: {}", secs(base)),
            format!("{:.2}x", one.as_secs_f64() / base.as_secs_f64()),
        ]);
        rows.push([
            format!("fleet upgrade, {DATABASES} PostgreSQL databases, `--parallel {cores}`"),
            secs(many),
            format!("`--parallel 1`: {}", secs(one)),
            format!(
                "{:.2}x faster on {cores} cores",
                one.as_secs_f64() / many.as_secs_f64()
            ),
        ]);
        rows.push([
            format!("`status --targets`, {DATABASES} PostgreSQL databases at head"),
            secs(status),
            String::new(),
            String::new(),
        ]);
        Ok(())
    })();
    cluster.stop();
    result?;
    let _ = std::fs::remove_dir_all(&files_dir);
    Ok(rows)
}
