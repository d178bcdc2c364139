//! Several model crates, in `fixtures/packages`: an upstream crate that is a dependency
//! (a path outside the workspace, or git), whose ids collide with the app's; a core whose
//! table rename a plugin follows; a second plugin on the first; a release tag before the
//! rename; a merge. Real databases, rows seeded before each step, schemas read back.

use schema_e2e::{Fixture, TestDb};

const SEED: &str = "INSERT INTO accounts (email) VALUES ('ann@example.com');
INSERT INTO account_profiles (account_id, bio) VALUES (1, 'hi');
INSERT INTO channel_list (name) VALUES ('conda-forge');
INSERT INTO mirror_sources (channel_id, url) VALUES (1, 'https://mirror.example');
INSERT INTO mirror_downloads (source_id, count) VALUES (1, 7)";

fn url_args(db: &TestDb) -> [String; 2] {
    ["--database-url".into(), db.url()]
}

fn schema_db(f: &Fixture, db: &TestDb, args: &[&str]) -> schema_e2e::Run {
    let u = url_args(db);
    let mut all: Vec<&str> = vec![&u[0], &u[1]];
    all.extend(args);
    f.schema(&all)
}

fn applied(db: &TestDb) -> Vec<String> {
    db.rows("SELECT revision FROM _schema_history ORDER BY revision")
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

fn fk_target(db: &TestDb) -> String {
    let s = db.introspect();
    s.tables["mirror_sources"].foreign_keys[0].ref_table.clone()
}

#[test]
fn the_rename_tag_downgrade_and_upgrade_again_keep_every_row() {
    let f = Fixture::new("packages");
    for db in TestDb::all("packages_rename") {
        schema_db(&f, &db, &["upgrade"]).expect(0);
        db.execute(SEED);
        let s = db.introspect();
        assert!(s.tables.contains_key("channel_list") && !s.tables.contains_key("channels"));
        assert_eq!(fk_target(&db), "channel_list");
        // Both histories start at 0001: the upstream's are recorded with their branch.
        assert!(applied(&db).contains(&"accounts@0001".to_string()));
        assert!(applied(&db).contains(&"0001".to_string()));

        schema_db(&f, &db, &["downgrade", "v1.0"]).expect(0);
        let s = db.introspect();
        assert!(s.tables.contains_key("channels") && !s.tables.contains_key("channel_list"));
        assert_eq!(
            fk_target(&db),
            "channels",
            "the plugin's foreign key follows back"
        );
        assert_eq!(
            db.rows("SELECT c.name, m.url, d.count FROM channels c JOIN mirror_sources m ON m.channel_id = c.id JOIN mirror_downloads d ON d.source_id = m.id"),
            vec![vec!["conda-forge".to_string(), "https://mirror.example".into(), "7".into()]]
        );

        schema_db(&f, &db, &["upgrade"]).expect(0);
        assert_eq!(fk_target(&db), "channel_list");
        assert_eq!(
            db.rows("SELECT count(*) FROM mirror_downloads"),
            vec![vec!["1".to_string()]]
        );
        assert_eq!(
            db.rows("SELECT bio FROM account_profiles"),
            vec![vec!["hi".to_string()]]
        );
        let check = f.schema(&["check", "--database", &db.url()]);
        check.expect(0);
    }
}

#[test]
fn downgrade_of_a_core_revision_keeps_plugins_that_do_not_need_it() {
    let f = Fixture::new("packages");
    for db in TestDb::all("packages_downgrade") {
        schema_db(&f, &db, &["upgrade"]).expect(0);
        db.execute(SEED);
        // The bare id is on two branches: refused, naming both.
        let r = schema_db(&f, &db, &["downgrade", "0001"]);
        r.expect(2);
        assert!(
            r.stderr().contains("core@0001") && r.stderr().contains("accounts@0001"),
            "{}",
            r.stderr()
        );

        let plan = schema_db(
            &f,
            &db,
            &["--format", "json", "downgrade", "core@0001", "--dry-run"],
        );
        plan.expect(0);
        let v: serde_json::Value = serde_json::from_str(&plan.stdout()).expect("json");
        assert_eq!(
            v["reverts"],
            serde_json::json!(["0008", "0007", "0006", "0005", "0004"])
        );
        assert_eq!(
            v["other_branches"],
            serde_json::json!([{"revision": "0005", "branch": "mirror"}])
        );
        assert_eq!(applied(&db).len(), 10, "a dry run changes nothing");

        let r = schema_db(&f, &db, &["downgrade", "core@0001"]);
        r.expect(0);
        assert!(
            r.stderr().contains("0005 (branch `mirror`)"),
            "{}",
            r.stderr()
        );
        // The plugins' first revisions need only 0001: they stay, and so do their rows.
        assert_eq!(
            applied(&db),
            ["0001", "0002", "0003", "accounts@0001", "accounts@0002"]
        );
        assert_eq!(
            db.rows("SELECT count(*) FROM mirror_downloads"),
            vec![vec!["1".to_string()]]
        );

        schema_db(&f, &db, &["upgrade"]).expect(0);
        let r = schema_db(&f, &db, &["downgrade", "mirror@-1"]);
        r.expect(0);
        assert_eq!(r.stdout().trim(), "Reverted 0005");
        // `-1` alone would concern several branches.
        schema_db(&f, &db, &["downgrade", "-1"]).expect(2);
    }
}

#[test]
fn sql_between_branches_renders_only_what_the_range_adds() {
    let f = Fixture::new("packages");
    let r = f.schema(&["sql", "mirror@0002:0003", "--dialect", "postgres"]);
    r.expect(0);
    assert!(r.stdout().contains("-- upgrade 0003"), "{}", r.stdout());
    assert!(!r.stdout().contains("downgrade"), "{}", r.stdout());
}

#[test]
fn refusals_name_the_owner_the_reason_and_the_fix() {
    let f = Fixture::new("packages");
    // A crate defining a table the upstream owns.
    f.edit(
        "core/src/lib.rs",
        "/// Extends the upstream",
        "#[derive(Debug, Table)]\n#[table(name = \"accounts\")]\npub struct MyAccount {\n    #[column(primary_key)]\n    pub id: i64,\n}\n\n/// Extends the upstream",
    );
    let r = f.schema(&["revision", "-p", "quetz-core", "-m", "mine"]);
    r.expect(2);
    for part in [
        "core/src/lib.rs:",
        "accounts-upstream",
        "accounts@0001",
        "one-to-one",
    ] {
        assert!(r.stderr().contains(part), "{part}: {}", r.stderr());
    }
    let f = Fixture::new("packages");
    let r = f.schema(&["revision", "-p", "accounts-upstream", "-m", "x", "--empty"]);
    r.expect(2);
    assert!(r.stderr().contains("is a dependency"), "{}", r.stderr());
    let r = f.schema(&[
        "revision",
        "-p",
        "quetz-core",
        "-m",
        "x",
        "--empty",
        "--head",
        "mirror@head",
    ]);
    r.expect(2);
    assert!(
        r.stderr()
            .contains("branch `mirror` of crate `quetz-mirror`"),
        "{}",
        r.stderr()
    );
    f.edit(
        "mirror/Cargo.toml",
        "branch = \"mirror\"",
        "branch = \"mirrors\"",
    );
    let r = f.schema(&["check"]);
    r.expect(2);
    assert!(
        r.stderr().contains("set `branch = \"mirror\"` back"),
        "{}",
        r.stderr()
    );
    assert!(
        f.migrations("core/migrations").len() == 5,
        "nothing was written"
    );
}

#[test]
fn the_package_is_inferred_from_the_directory_and_init_writes_the_branch() {
    let f = Fixture::new("packages");
    f.edit(
        "stats/src/lib.rs",
        "    pub count: i64,",
        "    pub count: i64,\n    pub bytes: Option<i64>,",
    );
    let r = schema_e2e::Run(
        std::process::Command::new(schema_e2e::binary())
            .args(["schema", "revision", "-m", "bytes", "--dry-run"])
            .current_dir(f.path("stats/src"))
            .env("NO_COLOR", "1")
            .output()
            .expect("runs"),
    );
    r.expect(0);
    assert!(
        r.stdout().contains("down_revision = \"0003\""),
        "{}",
        r.stdout()
    );
    assert!(r.stdout().contains("mirror_downloads"), "{}", r.stdout());

    std::fs::create_dir_all(f.path("audit/src")).expect("dir");
    f.write(
        "audit/Cargo.toml",
        "[package]\nname = \"quetz-audit\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nquetz-core = { path = \"../core\" }\n",
    );
    f.write("audit/src/lib.rs", "");
    f.edit("Cargo.toml", "\"server\"]", "\"server\", \"audit\"]");
    f.schema(&["init", "-p", "quetz-audit"]).expect(0);
    let manifest = f.read("audit/Cargo.toml");
    assert!(
        manifest.contains("branch = \"quetz-audit\"\ndepends-on = [\"quetz-core\"]"),
        "{manifest}"
    );
}

#[test]
fn an_upstream_from_git_is_found_like_a_path_dependency() {
    let f = Fixture::new("packages");
    let repo = f.path("upstream-git");
    std::fs::rename(f.path("upstream"), &repo).expect("move the upstream");
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .status()
            .expect("git runs")
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "upstream"]);
    let dep = format!(
        "accounts-upstream = {{ git = \"file://{}\" }}",
        repo.display()
    );
    for m in ["core/Cargo.toml", "server/Cargo.toml"] {
        f.edit(m, "accounts-upstream = { path = \"../upstream\" }", &dep);
    }
    f.edit(
        "Cargo.toml",
        "exclude = [\"upstream\"]",
        "exclude = [\"upstream-git\"]",
    );
    let r = f.schema(&["heads"]);
    r.expect(0);
    assert!(
        r.stdout().contains("accounts@0002 (accounts)"),
        "{}",
        r.stdout()
    );
    f.schema(&["check"]).expect(0);
}
