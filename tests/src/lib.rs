//! Support for the end-to-end tests: copies of the fixture workspaces, the real
//! `cargo-schema` binary, snapshots, and databases (SQLite files, a throwaway PostgreSQL).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The shared target directory (fixtures build into it too, to reuse compiled crates).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target"))
}

/// The `cargo-schema` binary, built once per test process so it is never stale.
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "cargo-schema", "--bin", "cargo-schema"])
            .current_dir(repo_root())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building cargo-schema failed");
        target_dir().join("debug").join("cargo-schema")
    })
    .clone()
}

/// A copy of a fixture workspace in a temporary directory, removed on drop.
pub struct Fixture {
    pub dir: PathBuf,
}

fn copy_dir(from: &Path, to: &Path, root: &str) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == "target" || name == "Cargo.lock" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if src.is_dir() {
            copy_dir(&src, &dst, root);
        } else if name == "Cargo.toml" {
            // Path dependencies on this repository's crates become absolute.
            let text = std::fs::read_to_string(&src).expect("read manifest");
            std::fs::write(&dst, text.replace("path = \"../../../", &format!("path = \"{root}/"))).expect("write");
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

impl Fixture {
    pub fn new(name: &str) -> Fixture {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "schema-e2e-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&repo_root().join("fixtures").join(name), &dir, &repo_root().display().to_string());
        Fixture { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::fs::write(p, text).expect("write");
    }

    /// Replaces `from` with `to` in a file; the text must be there.
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "{rel} does not contain {from:?}");
        self.write(rel, &text.replacen(from, to, 1));
    }

    /// Migration files of a directory, sorted.
    pub fn migrations(&self, rel_dir: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path(rel_dir))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(".toml")).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Runs `cargo schema ARGS` in the fixture, with a fixed clock.
    pub fn schema(&self, args: &[&str]) -> Run {
        self.schema_env(args, &[])
    }

    pub fn schema_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = Command::new(binary());
        c.arg("schema").args(args).current_dir(&self.dir).env("SOURCE_DATE_EPOCH", "1764000000").env("NO_COLOR", "1");
        c.env_remove("DATABASE_URL");
        for (k, v) in env {
            c.env(k, v);
        }
        Run(c.output().expect("cargo-schema runs"))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The outcome of one run of the binary.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// Asserts the exit code, showing both streams when it differs.
    #[track_caller]
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(self.code(), code, "exit code\n--- stdout\n{}--- stderr\n{}", self.stdout(), self.stderr());
        assert!(!self.stderr().contains("panicked"), "the binary panicked: {}", self.stderr());
        self
    }
}

/// Compares `actual` with `tests/snapshots/NAME`; `UPDATE_SNAPSHOTS=1` rewrites it.
#[track_caller]
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = repo_root().join("tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("no snapshot {}; run with UPDATE_SNAPSHOTS=1 to record it", path.display()));
    assert_eq!(expected, actual, "snapshot {name} differs (UPDATE_SNAPSHOTS=1 to accept)");
}

/// A fresh SQLite file path in a temporary directory.
pub fn sqlite_path(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!("schema-e2e-db-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir.join(format!("{name}-{}.db", N.fetch_add(1, Ordering::SeqCst)))
}

/// A fresh PostgreSQL database on the test server.
pub fn postgres_database(prefix: &str) -> String {
    runtime().block_on(schema::testing::fresh_postgres_database(prefix)).unwrap_or_else(|e| panic!("{e}"))
}

/// A single-threaded runtime for PostgreSQL work in tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// A connected client; the connection task runs on the given runtime.
pub fn pg_connect(rt: &tokio::runtime::Runtime, url: &str) -> tokio_postgres::Client {
    let (client, conn) = rt.block_on(tokio_postgres::connect(url, tokio_postgres::NoTls)).expect("connect");
    rt.spawn(conn);
    client
}
