//! The command line as a tool for scripts and shells: `--format json` gives one JSON
//! document (or JSON lines for fleets) and nothing else on stdout, for every command;
//! completions load in bash; `database create|drop`, `upgrade --create-database`,
//! `history --database` and `show --dialect`.

use schema_e2e::{Fixture, TestDb};

/// Runs a command with `--format json` and parses its stdout as one JSON document.
fn json(f: &Fixture, args: &[&str], code: i32) -> serde_json::Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let r = f.schema(&all);
    r.expect(code);
    serde_json::from_str(&r.stdout())
        .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}):\n{}", r.stdout()))
}

#[test]
fn every_command_prints_one_json_document() {
    let f = Fixture::new("blog");
    let db = TestDb::sqlite("json");
    let url = db.url();
    let u = ["--database-url", url.as_str()];
    let with = |args: &[&'static str]| -> Vec<&str> {
        let mut v: Vec<&str> = args.to_vec();
        v.extend_from_slice(&u);
        v
    };
    assert_eq!(json(&f, &with(&["database", "create"]), 0)["created"], true);
    assert_eq!(json(&f, &["check"], 0)["in_sync"], true);
    let applied = json(&f, &with(&["upgrade", "0005"]), 0);
    assert_eq!(applied["applied"].as_array().map(Vec::len), Some(5));
    let history = json(&f, &with(&["history", "--database"]), 0);
    let marks: Vec<(String, bool)> = history
        .as_array()
        .expect("list")
        .iter()
        .map(|r| {
            (
                r["revision"].as_str().unwrap_or_default().to_string(),
                r["applied"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(marks[0], ("0007".to_string(), false));
    assert_eq!(marks[2], ("0005".to_string(), true));
    let status = json(&f, &with(&["status"]), 0);
    assert_eq!(status["pending"], 2);
    let check = json(&f, &with(&["check", "--database"]), 0);
    assert_eq!(check["database"]["in_sync"], true);
    let show = json(&f, &["show", "0007", "--dialect", "postgres"], 0);
    assert_eq!(
        show["sql"]["upgrade"][0],
        "ALTER TABLE \"users\" ADD COLUMN \"karma\" integer NOT NULL DEFAULT 0;"
    );
    assert_eq!(
        show["sql"]["downgrade"].as_array().map(Vec::len),
        Some(2),
        "{show}"
    );
    let script = json(&f, &with(&["upgrade", "--sql"]), 0);
    assert!(script["sql"].as_str().is_some_and(|s| s.contains("0007")));
    assert!(json(&f, &["sql", "0006:0007"], 0)["sql"].is_string());
    json(&f, &with(&["upgrade"]), 0);
    json(&f, &with(&["current"]), 0);
    json(&f, &with(&["downgrade", "-1", "--dry-run"]), 0);
    json(&f, &with(&["downgrade", "-1"]), 0);
    assert_eq!(json(&f, &with(&["stamp", "0007"]), 0)["stamped"], "0007");
    json(&f, &with(&["repair"]), 0);
    json(&f, &with(&["reset", "--force"]), 0);
    json(&f, &["lint", "0004"], 0);
    json(&f, &["heads"], 0);
    json(&f, &["branches"], 0);
    assert_eq!(json(&f, &["tag", "v1"], 0)["tag"], "v1");
    assert_eq!(json(&f, &["init", "-p", "blog-models"], 0)["added"], false);
    let none = json(&f, &["revision", "-m", "nothing"], 0);
    assert_eq!(none["written"], serde_json::json!([]));
    f.edit(
        "models/src/users.rs",
        "    pub bio: Option<String>,\n",
        "    pub bio: Option<String>,\n    pub city: Option<String>,\n",
    );
    let dry = json(&f, &["revision", "-m", "city", "--dry-run"], 0);
    assert!(dry["would_write"][0]["text"]
        .as_str()
        .is_some_and(|t| t.contains("city")));
    let wrote = json(&f, &["revision", "-m", "city"], 0);
    assert_eq!(wrote["written"][0]["revision"], "0008");
    assert_eq!(
        wrote["written"][0]["upgrade"][0],
        "+ add column users.city (text)"
    );
    assert_eq!(json(&f, &with(&["database", "drop"]), 0)["dropped"], true);
}

#[test]
fn completions_load_in_bash_and_exist_for_each_shell() {
    let bin = schema_e2e::binary();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source <('{}' completions bash) && complete -p cargo-schema",
            bin.display()
        ))
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("cargo-schema"));
    let f = Fixture::new("blog");
    for shell in ["zsh", "fish", "powershell"] {
        let r = f.schema(&["completions", shell]);
        r.expect(0);
        assert!(r.stdout().contains("upgrade"), "{shell}");
    }
    f.schema(&["completions", "tcsh"]).expect(2);
}

/// Removes a database by URL when the test ends, however it ends.
struct Dropped(String);

impl Drop for Dropped {
    fn drop(&mut self) {
        schema::testing::drop_test_database(&self.0);
    }
}

#[test]
fn databases_are_created_and_dropped_on_every_dialect() {
    let f = Fixture::new("blog");
    let pg = schema::testing::postgres_server().expect("a PostgreSQL server");
    let my = schema::testing::mysql_server().expect("a MariaDB server");
    let sqlite = TestDb::sqlite("created");
    let stamp = std::process::id();
    for (kind, url, again) in [
        (
            "sqlite",
            sqlite.url(),
            format!("{}-second.db", sqlite.url()),
        ),
        (
            "postgres",
            schema::testing::with_database(&pg, &format!("schema_test_created_{stamp}")),
            schema::testing::with_database(&pg, &format!("schema_test_created2_{stamp}")),
        ),
        (
            "mysql",
            schema::testing::with_database(&my, &format!("schema_test_created_{stamp}")),
            schema::testing::with_database(&my, &format!("schema_test_created2_{stamp}")),
        ),
    ] {
        let _cleanup = (Dropped(url.clone()), Dropped(again.clone()));
        let r = f.schema(&["database", "create", "--database-url", &url]);
        r.expect(0);
        assert!(r.stdout().starts_with("Created "), "{kind}: {}", r.stdout());
        let r = f.schema(&["database", "create", "--database-url", &url]);
        r.expect(0);
        assert!(r.stdout().contains("exists already"), "{kind}");
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        // `upgrade --create-database` makes a missing database first (a server's; SQLite
        // makes a missing file on open anyway).
        if kind != "sqlite" {
            f.schema(&["upgrade", "--database-url", &again]).expect(3);
        }
        let r = f.schema(&["upgrade", "--create-database", "--database-url", &again]);
        r.expect(0);
        assert!(r.stdout().contains("Created ") && r.stdout().contains("Applied 0007"));
        for u in [&url, &again] {
            let r = f.schema(&["database", "drop", "--database-url", u]);
            r.expect(0);
            assert!(r.stdout().starts_with("Dropped "), "{kind}: {}", r.stdout());
            if kind != "sqlite" {
                f.schema(&["current", "--database-url", u]).expect(3);
            }
        }
        let r = f.schema(&["database", "drop", "--database-url", &url]);
        r.expect(0);
        assert!(r.stdout().contains("does not exist"), "{kind}");
    }
    let r = f.schema(&[
        "database",
        "drop",
        "--database-url",
        "postgres://app@db.example.com/prod",
    ]);
    r.expect(2);
    assert!(
        r.stderr().contains("not a local database"),
        "{}",
        r.stderr()
    );
}
