//! The real `cargo-schema` binary on copies of the fixtures, with no database: check,
//! revision, history and friends, merges, a second model crate, and malformed input.

use schema_e2e::{assert_snapshot, Fixture};

const MIGRATIONS: &str = "models/migrations";

#[test]
fn the_blog_fixture_is_in_sync() {
    let f = Fixture::new("blog");
    let r = f.schema(&["check"]);
    r.expect(0);
    assert!(r
        .stdout()
        .contains("blog-models: models match the migrations"));
}

#[test]
fn change_a_model_check_fails_revision_writes_check_passes() {
    let f = Fixture::new("blog");
    f.edit("models/src/users.rs", "    pub bio: Option<String>,\n", "    pub bio: Option<String>,\n    #[column(max_length = 32, index)]\n    pub nickname: Option<String>,\n");
    let r = f.schema(&["check"]);
    r.expect(1);
    assert!(
        r.stdout()
            .contains("+ add column users.nickname (varchar(32))"),
        "{}",
        r.stdout()
    );
    assert!(
        r.stdout()
            .contains("+ create index ix_users_nickname on users (nickname)"),
        "{}",
        r.stdout()
    );

    let r = f.schema(&["revision", "-m", "add nickname to users"]);
    r.expect(0);
    assert!(
        r.stdout()
            .contains("Wrote models/migrations/20251124_0008_add_nickname_to_users.toml"),
        "{}",
        r.stdout()
    );
    assert_snapshot(
        "blog_0008_add_nickname.toml",
        &f.read("models/migrations/20251124_0008_add_nickname_to_users.toml"),
    );
    f.schema(&["check"]).expect(0);
    // Nothing left to generate: nothing is written, and that is not an error.
    let r = f.schema(&["revision", "-m", "again"]);
    r.expect(0);
    assert!(r.stdout().contains("no revision written"));
    assert_eq!(f.migrations(MIGRATIONS).len(), 8);
}

#[test]
fn destructive_changes_and_rebuilds_are_called_out() {
    let f = Fixture::new("blog");
    f.edit("models/src/users.rs", "    pub bio: Option<String>,\n", "");
    f.edit(
        "models/src/users.rs",
        "    #[column(default = \"0\")]\n    pub karma: i32,",
        "    #[column(default = \"0\")]\n    pub karma: i16,",
    );
    let r = f.schema(&["revision", "-m", "drop bio, narrow karma", "--dry-run"]);
    r.expect(0);
    assert_snapshot("blog_drop_bio_dry_run.toml", &r.stdout());
    assert!(
        f.migrations(MIGRATIONS).len() == 7,
        "--dry-run writes nothing"
    );
    let r = f.schema(&["revision", "-m", "drop bio, narrow karma"]);
    r.expect(0);
    let err = r.stderr();
    assert!(err.contains("destructive: drops column users.bio"), "{err}");
    assert!(
        err.contains("destructive: narrows users.karma from integer to smallint"),
        "{err}"
    );
    assert!(err.contains("SQLite rebuild"), "{err}");
}

/// `dialects` limits what `revision` and `check` speak about: no SQLite rebuild notes
/// when SQLite is not listed, a warning for a data step with no SQL for a listed dialect,
/// and an unknown name is refused.
#[test]
fn the_dialects_setting_limits_what_revision_and_check_say() {
    let f = Fixture::new("blog");
    f.edit(
        "Cargo.toml",
        "dialects = [\"postgres\", \"sqlite\", \"mysql\"]",
        "dialects = [\"postgres\", \"mysql\"]",
    );
    f.edit(
        "models/src/users.rs",
        "    #[column(default = \"0\")]\n    pub karma: i32,",
        "    #[column(default = \"0\")]\n    pub karma: i16,",
    );
    let r = f.schema(&["revision", "-m", "narrow karma", "--dry-run"]);
    r.expect(0);
    assert!(
        r.stdout().contains("op = \"alter_column\""),
        "{}",
        r.stdout()
    );
    assert!(!r.stdout().contains("SQLITE REBUILD"), "{}", r.stdout());
    f.edit(
        "models/src/users.rs",
        "    #[column(default = \"0\")]\n    pub karma: i16,",
        "    #[column(default = \"0\")]\n    pub karma: i32,",
    );
    f.write(
        "models/migrations/20251124_0008_backfill.toml",
        "revision = \"0008\"\ndown_revision = \"0007\"\nmessage = \"backfill\"\n\n[[upgrade]]\nop = \"execute\"\nsql = { postgres = \"UPDATE users SET karma = 1\" }\n",
    );
    let r = f.schema(&["check"]);
    r.expect(0);
    assert!(
        r.stderr().contains(
            "revision 0008: upgrade step 1 (`execute`) has no `mysql` SQL, and `dialects` lists mysql"
        ),
        "{}",
        r.stderr()
    );
    assert!(!r.stderr().contains("no `sqlite` SQL"), "{}", r.stderr());
    f.edit(
        "Cargo.toml",
        "dialects = [\"postgres\", \"mysql\"]",
        "dialects = [\"postgres\", \"oracle\"]",
    );
    let r = f.schema(&["check"]);
    r.expect(2);
    assert!(
        r.stderr()
            .contains("unknown dialect `oracle` in `dialects`"),
        "{}",
        r.stderr()
    );
}

#[test]
fn an_add_and_a_drop_of_one_type_hint_at_a_rename() {
    let f = Fixture::new("blog");
    f.edit(
        "models/src/users.rs",
        "    pub bio: Option<String>,",
        "    pub about: Option<String>,",
    );
    let r = f.schema(&["check"]);
    r.expect(1);
    assert!(
        r.stderr().contains("renamed_from = \\\"bio\\\"")
            || r.stderr().contains("renamed_from = \"bio\""),
        "{}",
        r.stderr()
    );
}

#[test]
fn empty_revision_and_explicit_id() {
    let f = Fixture::new("blog");
    let r = f.schema(&[
        "revision",
        "--empty",
        "-m",
        "backfill data",
        "--rev-id",
        "0100",
    ]);
    r.expect(0);
    let text = f.read("models/migrations/20251124_0100_backfill_data.toml");
    assert!(
        text.contains("revision = \"0100\"\ndown_revision = \"0007\"\n"),
        "{text}"
    );
    assert!(!text.contains("[[upgrade]]"));
    // The next default id follows the largest number.
    f.schema(&["revision", "--empty", "-m", "next"]).expect(0);
    assert!(f
        .migrations(MIGRATIONS)
        .iter()
        .any(|n| n.contains("_0101_next")));
    f.schema(&["revision", "--empty", "-m", "dup", "--rev-id", "0100"])
        .expect(2);
}

#[test]
fn history_heads_branches_show_in_both_formats() {
    let f = Fixture::new("blog");
    let r = f.schema(&["history"]);
    r.expect(0);
    assert!(
        r.stdout()
            .starts_with("0006 -> 0007 (head) [blog], user karma\n"),
        "{}",
        r.stdout()
    );
    let r = f.schema(&["history", "--format", "json"]);
    r.expect(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).expect("json");
    assert_eq!(v.as_array().map(|a| a.len()), Some(7));
    assert_eq!(v[0]["revision"], "0007");
    assert_eq!(v[0]["head"], true);
    let r = f.schema(&["heads", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).expect("json");
    assert_eq!(v[0]["revision"], "0007");
    assert_eq!(v[0]["branch_labels"][0], "blog");
    let r = f.schema(&["branches"]);
    assert!(
        r.stdout()
            .contains("blog: root 0001, head 0007 (crate blog-models)"),
        "{}",
        r.stdout()
    );
    let r = f.schema(&["show", "0005", "--format", "json"]);
    r.expect(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).expect("json");
    assert_eq!(v["upgrade"][1], "* execute SQL");
    assert_eq!(v["down_revision"][0], "0004");
    f.schema(&["show", "9999"]).expect(2);
    let r = f.schema(&["history", "--verbose"]);
    assert!(r.stdout().contains("checksum: "), "{}", r.stdout());
}

#[test]
fn two_heads_are_reported_and_merged() {
    let f = Fixture::new("blog");
    f.schema(&["revision", "--empty", "-m", "side work", "--head", "0006"])
        .expect(0);
    let r = f.schema(&["check"]);
    r.expect(2);
    assert!(
        r.stderr().contains("branch `blog` has 2 heads: 0007"),
        "{}",
        r.stderr()
    );
    let r = f.schema(&["revision", "--empty", "-m", "more"]);
    r.expect(2);
    assert!(r.stderr().contains("merge them first"), "{}", r.stderr());
    f.schema(&["merge", "-m", "merge side work", "0007", "0008"])
        .expect(0);
    f.schema(&["check"]).expect(0);
    let r = f.schema(&["heads"]);
    assert!(r.stdout().starts_with("0009 (blog)"), "{}", r.stdout());
    let merge = f.read("models/migrations/20251124_0009_merge_side_work.toml");
    assert!(
        merge.contains("down_revision = [\"0007\", \"0008\"]"),
        "{merge}"
    );
}

#[test]
fn the_same_number_on_two_git_branches_is_found_and_renumbered() {
    let f = Fixture::new("blog");
    // Two developers each wrote 0008 after 0007; after the merge both files exist.
    f.schema(&["revision", "--empty", "-m", "alice"]).expect(0);
    let alice = f.read("models/migrations/20251124_0008_alice.toml");
    f.write(
        "models/migrations/20251124_0008_bob.toml",
        &alice.replace("alice", "bob"),
    );
    for cmd in [
        &["check"][..],
        &["revision", "--empty", "-m", "x"],
        &["history"],
    ] {
        let r = f.schema(cmd);
        r.expect(2);
        let err = r.stderr();
        assert!(err.contains("revision `0008` is defined twice"), "{err}");
        assert!(
            err.contains("20251124_0008_alice.toml") && err.contains("20251124_0008_bob.toml"),
            "{err}"
        );
    }
    let bob = f.path("models/migrations/20251124_0008_bob.toml");
    let r = f.schema(&["renumber", bob.to_str().expect("utf-8")]);
    r.expect(0);
    assert!(
        r.stdout().contains("revision 0008 -> 0009, now after 0008"),
        "{}",
        r.stdout()
    );
    f.schema(&["check"]).expect(0);
    let renamed = f.read("models/migrations/20251124_0009_bob.toml");
    assert!(
        renamed.contains("revision = \"0009\"\ndown_revision = \"0008\"\n"),
        "{renamed}"
    );
}

#[test]
fn a_plugin_crate_keeps_its_own_branch() {
    let f = Fixture::new("plugins");
    f.schema(&["check"]).expect(0);
    let r = f.schema(&["revision", "-m", "x"]);
    r.expect(2);
    assert!(
        r.stderr().contains("choose one with -p/--package"),
        "{}",
        r.stderr()
    );
    f.edit(
        "audit/src/lib.rs",
        "    pub detail: Option<String>,\n",
        "    pub detail: Option<String>,\n    pub at: Option<chrono::NaiveDateTime>,\n",
    );
    let r = f.schema(&["check"]);
    r.expect(1);
    assert!(
        r.stdout().contains("app-core: models match"),
        "{}",
        r.stdout()
    );
    assert!(
        r.stdout()
            .contains("+ add column audit_events.at (timestamp)"),
        "{}",
        r.stdout()
    );
    f.schema(&["revision", "-p", "audit-plugin", "-m", "event time"])
        .expect(0);
    let text = f.read("audit/migrations/20251124_0003_event_time.toml");
    assert!(text.contains("down_revision = \"0002\""), "{text}");
    // The core moves on independently on its own branch.
    f.edit(
        "core/src/lib.rs",
        "    pub login: String,\n",
        "    pub login: String,\n    pub active: bool,\n",
    );
    f.schema(&["revision", "-p", "app-core", "-m", "active accounts"])
        .expect(0);
    let text = f.read("core/migrations/20251124_0004_active_accounts.toml");
    assert!(text.contains("down_revision = \"0001\""), "{text}");
    let r = f.schema(&["branches", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).expect("json");
    let heads: Vec<(String, String)> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|b| {
            (
                b["branch"].as_str().unwrap_or("").into(),
                b["heads"][0].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        heads,
        [
            ("audit".into(), "0003".into()),
            ("core".into(), "0004".into())
        ]
    );
    // The workspace naming convention names the plugin's index.
    assert!(f
        .read("audit/migrations/20251102_0002_audit_events.toml")
        .contains("idx_audit_events_account_id"));
}

#[test]
fn init_makes_a_crate_a_model_crate() {
    let f = Fixture::new("plugins");
    f.write(
        "extra/Cargo.toml",
        "[package]\nname = \"extra\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    f.write("extra/src/lib.rs", "");
    f.edit(
        "Cargo.toml",
        "members = [\"core\", \"audit\"]",
        "members = [\"core\", \"audit\", \"extra\"]",
    );
    f.schema(&["init", "-p", "extra"]).expect(0);
    assert!(f
        .read("extra/Cargo.toml")
        .contains("[package.metadata.schema]\nmigrations = \"migrations\"\n"));
    assert!(f.path("extra/migrations").is_dir());
    let r = f.schema(&["check", "-p", "extra"]);
    r.expect(0);
}

#[test]
fn an_unsupported_field_type_names_file_line_and_field() {
    let f = Fixture::new("blog");
    f.edit(
        "models/src/users.rs",
        "    pub bio: Option<String>,\n",
        "    pub bio: Option<String>,\n    pub tags: Vec<String>,\n",
    );
    let r = f.schema(&["check"]);
    r.expect(2);
    let err = r.stderr();
    assert!(
        err.contains("users.rs:15:15: field `tags` has type `Vec<String>`, which has no SQL type"),
        "{err}"
    );
    assert!(err.contains("|     pub tags: Vec<String>,"), "{err}");
    assert!(
        !err.contains("references table"),
        "a broken model still defines its table: {err}"
    );
    assert!(!err.contains("error: error:"), "{err}");
}

#[test]
fn bad_model_attributes_and_references_are_reported_together() {
    let f = Fixture::new("blog");
    f.edit(
        "models/src/posts.rs",
        "#[column(references = \"users.id\"",
        "#[column(references = \"writers.id\"",
    );
    f.edit(
        "models/src/tags.rs",
        "    #[column(max_length = 64, unique)]",
        "    #[column(max_length = 64, uniq)]",
    );
    let r = f.schema(&["check"]);
    r.expect(2);
    let err = r.stderr();
    assert!(
        err.contains("tags.rs:8:31: unknown column attribute `uniq`, expected one of"),
        "{err}"
    );
    assert!(
        err.contains("posts.rs:9:27: `posts` references table `writers`, which no model defines"),
        "{err}"
    );
}

#[test]
fn malformed_migration_files_are_clear_errors() {
    let cases: &[(&str, &str, &str)] = &[
        ("broken toml", "revision = \"0008\"\ndown_revision = \"0007\"\n[[upgrade]\n", "_0008_x.toml:3: "),
        ("unknown op", "revision = \"0008\"\ndown_revision = \"0007\"\n\n[[upgrade]]\nop = \"truncate\"\n", "_0008_x.toml:4: in [[upgrade]]: unknown variant `truncate`"),
        ("missing parent", "revision = \"0008\"\ndown_revision = \"0042\"\n", "`down_revision` names `0042`, which no migration file defines"),
        ("op that does not fit", "revision = \"0008\"\ndown_revision = \"0007\"\n[[upgrade]]\nop = \"rename_table\"\nfrom = \"nope\"\nto = \"x\"\n", "_0008_x.toml: revision `0008`"),
    ];
    for (what, text, expected) in cases {
        let f = Fixture::new("blog");
        f.write("models/migrations/20251124_0008_x.toml", text);
        for cmd in [&["check"][..], &["revision", "-m", "y"], &["sql", "heads"]] {
            let r = f.schema(cmd);
            r.expect(2);
            assert!(
                r.stderr().contains(expected),
                "{what} / {cmd:?}: {}",
                r.stderr()
            );
        }
    }
}

#[test]
fn usage_errors_exit_2() {
    let f = Fixture::new("blog");
    f.schema(&["revision"]).expect(2);
    f.schema(&["frobnicate"]).expect(2);
    f.schema(&["sql", "heads", "--dialect", "oracle"]).expect(2);
    f.schema(&["--manifest-path", "/nonexistent/Cargo.toml", "check"])
        .expect(2);
}

/// `lint` reports what takes a strong lock on PostgreSQL, each with its safe form, and
/// fails on errors; `revision` warns of the same for the revision it writes.
#[test]
fn lint_reports_lock_risks_with_their_safe_form() {
    let f = Fixture::new("blog");
    let r = f.schema(&["lint"]);
    r.expect(1);
    let out = r.stdout();
    assert!(out.contains("0006 step 1 [set-not-null] error"), "{out}");
    assert!(
        out.contains("0007 step 2 [check-without-not-valid] error"),
        "{out}"
    );
    assert!(
        out.contains("safe form: add it with not_valid = true, then a validate_constraint step"),
        "{out}"
    );
    let r = f.schema(&["lint", "0004", "--format", "json"]);
    r.expect(0);
    assert_eq!(r.stdout().trim(), "[]");
    let r = f.schema(&["lint", "0006", "--format", "json"]);
    r.expect(1);
    let findings: serde_json::Value = serde_json::from_str(&r.stdout()).expect("json");
    assert_eq!(findings[0]["rule"], "set-not-null");
    assert_eq!(findings[0]["error"], true);
    f.schema(&["lint", "0042"]).expect(2);
    // A new revision that changes a column's type is called out as it is written.
    f.edit(
        "models/src/users.rs",
        "    #[column(default = \"0\")]\n    pub karma: i32,",
        "    #[column(default = \"0\")]\n    pub karma: i64,",
    );
    let r = f.schema(&["revision", "-m", "wider karma"]);
    r.expect(0);
    assert!(
        r.stderr()
            .contains("lock risk on PostgreSQL [type-change-rewrites]"),
        "{}",
        r.stderr()
    );
}
