//! Support for the import tests: a workspace with an empty model crate in a temporary
//! directory, the real `cargo-schema` binary, and what a database holds, read back with
//! the project's own drivers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use schema::Dialect;

/// The repository root (this crate is `adapters/interop`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("adapters/interop has a grandparent")
        .to_path_buf()
}

/// The `cargo-schema` binary of this checkout, built once per test process.
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target"));
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "cargo-schema",
                "--bin",
                "cargo-schema",
            ])
            .current_dir(repo_root())
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building cargo-schema failed");
        target.join("debug").join("cargo-schema")
    })
    .clone()
}

/// A workspace with one empty crate, `models`, in a temporary directory removed on drop;
/// the other tool's migrations go in `dir/migrations`.
pub struct Project {
    pub dir: PathBuf,
}

impl Project {
    pub fn new(name: &str) -> Project {
        let dir = std::env::temp_dir().join(format!("schema-import-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("models/src")).unwrap();
        std::fs::create_dir_all(dir.join("migrations")).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            "[workspace]\nmembers = [\"models\"]\nresolver = \"2\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("models/Cargo.toml"),
            "[package]\nname = \"models\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
        )
        .unwrap();
        std::fs::write(dir.join("models/src/lib.rs"), "").unwrap();
        Project { dir }
    }

    /// Writes a migration file under `migrations/`.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.dir.join("migrations").join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn migrations(&self) -> PathBuf {
        self.dir.join("migrations")
    }

    /// Runs `cargo schema ARGS` in the workspace.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(binary())
            .arg("schema")
            .args(args)
            .current_dir(&self.dir)
            .env_remove("DATABASE_URL")
            .output()
            .expect("cargo-schema runs")
    }

    /// [`Project::cli`], which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "cargo schema {} failed ({}):\n{}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The revision files written.
    pub fn revisions(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.join("models/migrations"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".toml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The live schema of the database at `url` and the answer to a counting query.
pub fn read_back(url: &str, count: &str) -> (schema::Schema, i64) {
    if url.starts_with("postgres") {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let task = tokio::spawn(conn);
            let live = schema::postgres::introspect(&client).await.unwrap();
            let n: i64 = client.query_one(count, &[]).await.unwrap().get(0);
            drop(client);
            let _ = task.await;
            (live, n)
        })
    } else {
        let conn = rusqlite::Connection::open(url.trim_start_matches("sqlite://")).unwrap();
        let live = schema::sqlite::introspect(&conn).unwrap();
        let n: i64 = conn.query_row(count, [], |r| r.get(0)).unwrap();
        (live, n)
    }
}

/// The schemas of two databases, compared as `check --database` compares (empty: the
/// same), leaving out the tables of the tools' and cargo-schema's histories.
pub fn differences(d: Dialect, a: &schema::Schema, b: &schema::Schema) -> Vec<String> {
    let strip = |s: &schema::Schema| {
        let mut s = s.clone();
        s.tables.retain(|name, _| {
            !matches!(
                name.as_str(),
                "_schema_history"
                    | "_schema_views"
                    | "refinery_schema_history"
                    | "_sqlx_migrations"
                    | "__diesel_schema_migrations"
            )
        });
        s
    };
    schema::compare::differences(d, &strip(a), &strip(b))
}
