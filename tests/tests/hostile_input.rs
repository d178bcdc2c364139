//! Text from a migration file, a model or the command line never reaches SQL or a path
//! unchecked: each injection is an input error (exit 2) with its location, before any
//! statement is sent, and the database is left as it was.

use schema_e2e::{Fixture, TestDb};

/// A revision 0008 whose one upgrade step carries `op_body`.
fn revision_0008(op_body: &str) -> String {
    format!(
        "revision = \"0008\"\ndown_revision = \"0007\"\nmessage = \"hostile\"\n\n[[upgrade]]\n{op_body}\n"
    )
}

const INJECTIONS: &[(&str, &str, &str)] = &[
    (
        "a type",
        "op = \"add_column\"\ntable = \"users\"\ncolumn = { name = \"x\", type = \"text; DROP TABLE post_tags; --\", nullable = true }",
        "is not a type",
    ),
    (
        "a check expression",
        "op = \"add_constraint\"\ntable = \"users\"\nconstraint = { type = \"check\", name = \"ck_x\", expr = \"1=1); DROP TABLE post_tags; --\" }",
        "is not one SQL expression",
    ),
    (
        "a default",
        "op = \"add_column\"\ntable = \"users\"\ncolumn = { name = \"x\", type = \"integer\", nullable = true, default = \"0; DROP TABLE post_tags\" }",
        "is not one SQL expression",
    ),
    (
        "an SQLite type",
        "op = \"add_column\"\ntable = \"users\"\ncolumn = { name = \"x\", type = \"jsonb\", sqlite_type = \"text) ; DROP TABLE post_tags; --\", nullable = true }",
        "is not a type",
    ),
];

#[test]
fn injected_sql_in_a_revision_is_refused_before_any_statement() {
    for db in TestDb::both("inject") {
        let f = Fixture::new("blog");
        let url = db.url();
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        let before = db.introspect();
        for (what, body, expected) in INJECTIONS {
            f.write(
                "models/migrations/20251124_0008_hostile.toml",
                &revision_0008(body),
            );
            for cmd in [
                &["upgrade", "--database-url", &url][..],
                &["check"],
                &["sql", "heads", "--dialect", db.dialect().name()],
            ] {
                let r = f.schema(cmd);
                r.expect(2);
                let err = r.stderr();
                assert!(
                    err.contains("_0008_hostile.toml:5: in [[upgrade]]") && err.contains(expected),
                    "{what} / {cmd:?}: {err}"
                );
            }
            assert_eq!(db.introspect(), before, "{what}: the database changed");
            let history = db.rows("SELECT revision FROM _schema_history");
            assert_eq!(history.len(), 7, "{what}");
        }
    }
}

#[test]
fn revision_ids_and_file_names_stay_in_the_migrations_directory() {
    let f = Fixture::new("blog");
    let before = f.migrations("models/migrations");
    for id in [
        "a/../../../../outside/x",
        "",
        "a\\b",
        "x y",
        &"9".repeat(33),
    ] {
        let r = f.schema(&["revision", "-m", "x", "--empty", "--rev-id", id]);
        r.expect(2);
        assert!(
            r.stderr().contains("letters, digits or underscores") || r.stderr().contains("empty"),
            "{id:?}: {}",
            r.stderr()
        );
    }
    assert_eq!(f.migrations("models/migrations"), before);
    assert!(!f.path("../outside").exists() && !f.path("outside").exists());
    // An id in a file is held to the same rule.
    f.write(
        "models/migrations/20251124_0008_x.toml",
        "revision = \"../0008\"\ndown_revision = \"0007\"\n",
    );
    let r = f.schema(&["check"]);
    r.expect(2);
    assert!(
        r.stderr()
            .contains("_0008_x.toml:1: revision id `../0008` must be 1 to 32 letters"),
        "{}",
        r.stderr()
    );
}

#[test]
fn a_long_message_makes_a_slug_cut_at_a_word_boundary() {
    let f = Fixture::new("blog");
    f.schema(&[
        "revision",
        "-m",
        "backfill the display names of every user from their email addresses",
        "--empty",
    ])
    .expect(0);
    let files = f.migrations("models/migrations");
    let last = files.last().expect("a file");
    assert!(
        last.ends_with("_0008_backfill_the_display_names_of_every_user.toml"),
        "{last}"
    );
}

#[test]
fn a_message_with_a_line_break_stays_a_comment_in_sql() {
    let f = Fixture::new("blog");
    f.schema(&[
        "revision",
        "-m",
        "harmless\nDROP TABLE users; --",
        "--empty",
    ])
    .expect(0);
    let r = f.schema(&["sql", "0007:heads", "--dialect", "sqlite"]);
    r.expect(0);
    let out = r.stdout();
    assert!(
        out.lines().all(|l| !l.starts_with("DROP TABLE")),
        "a live statement from the message: {out}"
    );
    assert!(
        out.contains("-- upgrade 0008: harmless DROP TABLE users; --"),
        "{out}"
    );
}

#[test]
fn injected_sql_in_a_model_is_an_error_at_its_span() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "    #[column(max_length = 64, unique)]\n    pub name: String,\n",
            "    #[column(max_length = 64, unique)]\n    pub name: String,\n    #[column(sql_type = \"text); DROP TABLE users; --\")]\n    pub note: String,\n",
            "tags.rs:10:25: `text); DROP TABLE users; --` is not a type",
        ),
        (
            "    #[column(max_length = 64, unique)]\n    pub name: String,\n",
            "    #[column(max_length = 64, unique)]\n    pub name: String,\n    #[column(default = \"0); DROP TABLE users; --\")]\n    pub n: i32,\n",
            "tags.rs:10:24: `0); DROP TABLE users; --` is not one SQL expression",
        ),
        (
            "#[column(max_length = 64, unique)]",
            "#[column(max_length = 0, unique)]",
            "tags.rs:8:27: `max_length` must be at least 1",
        ),
        (
            "    pub name: String,\n}",
            "    pub name: String,\n    #[column(name = \"name\")]\n    pub label: String,\n}",
            "field `label`: table `tags` has a column `name` already",
        ),
        (
            "#[table(name = \"tags\")]",
            "#[table(name = \"tags_with_a_name_that_is_far_too_long_for_postgresql_to_keep_whole\")]",
            "is 66 bytes long; databases keep at most 63",
        ),
    ];
    for (from, to, expected) in cases {
        let f = Fixture::new("blog");
        f.edit("models/src/tags.rs", from, to);
        let r = f.schema(&["check"]);
        r.expect(2);
        assert!(r.stderr().contains(expected), "{expected}: {}", r.stderr());
    }
}

#[test]
fn stamp_does_not_forget_revisions_of_newer_code_unless_forced() {
    let db = TestDb::sqlite("stamp-ahead");
    let url = db.url();
    let f = Fixture::new("blog");
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    // The code goes back one revision: the database is ahead of it.
    let newest = f.migrations("models/migrations").pop().expect("a file");
    std::fs::remove_file(f.path(&format!("models/migrations/{newest}"))).expect("remove");
    let r = f.schema(&["stamp", "0006", "--database-url", &url]);
    r.expect(2);
    assert!(r.stderr().contains("0007"), "{}", r.stderr());
    assert_eq!(db.rows("SELECT revision FROM _schema_history").len(), 7);
    f.schema(&["stamp", "0006", "--force", "--database-url", &url])
        .expect(0);
    assert_eq!(db.rows("SELECT revision FROM _schema_history").len(), 6);
}

#[test]
fn a_reader_that_goes_away_is_no_panic() {
    let f = Fixture::new("blog");
    let mut child = std::process::Command::new(schema_e2e::binary())
        .args(["schema", "history", "--verbose"])
        .current_dir(f.path("."))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

#[test]
fn deeply_nested_types_are_input_errors_not_crashes() {
    for (depth, expected) in [
        (
            20,
            "tags.rs:10:15: field `deep`: its type is nested 21 deep; at most 16 is read",
        ),
        (100_000, "tags.rs:10:"),
    ] {
        let f = Fixture::new("blog");
        let ty = format!("{}i64{}", "Option<".repeat(depth), ">".repeat(depth));
        f.edit(
            "models/src/tags.rs",
            "    pub name: String,\n}",
            &format!("    pub name: String,\n    pub deep: {ty},\n}}"),
        );
        let r = f.schema(&["check"]);
        r.expect(2);
        assert!(
            r.stderr().contains(expected),
            "{depth}: {}",
            &r.stderr()[..300.min(r.stderr().len())]
        );
        if depth > 128 {
            assert!(r.stderr().contains("nest deeper than 128"), "{depth}");
        }
    }
}

#[test]
fn a_migration_file_that_is_not_a_regular_file_is_refused_not_read() {
    let f = Fixture::new("blog");
    let fifo = f.path("models/migrations/20251124_0008_fifo.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    for cmd in [&["check"][..], &["history"], &["sql", "heads"]] {
        let r = f.schema(cmd);
        r.expect(2);
        assert!(
            r.stderr()
                .contains("_0008_fifo.toml: a migration file must be a regular file"),
            "{cmd:?}: {}",
            r.stderr()
        );
    }
}

#[test]
fn a_downgrade_cut_short_is_refused_everywhere() {
    let db = TestDb::sqlite("cut-short");
    let url = db.url();
    let f = Fixture::new("blog");
    f.schema(&["upgrade", "0006", "--database-url", &url])
        .expect(0);
    // 0007's file loses its last [[downgrade]] (the drop of users.karma).
    let rel = "models/migrations/20251123_0007_user_karma.toml";
    let text = f.read(rel);
    let cut = text
        .rfind("# DESTRUCTIVE")
        .expect("the last downgrade step");
    f.write(rel, &text[..cut]);
    for cmd in [
        &["check"][..],
        &["upgrade", "--database-url", &url],
        &["sql", "heads"],
    ] {
        let r = f.schema(cmd);
        r.expect(2);
        assert!(
            r.stderr()
                .contains("_0007_user_karma.toml: revision `0007`")
                && r.stderr()
                    .contains("the downgrade does not put table `users` back"),
            "{cmd:?}: {}",
            r.stderr()
        );
    }
    assert_eq!(db.rows("SELECT revision FROM _schema_history").len(), 6);
}
