//! Comments on tables and columns, the first of the schema objects: written by
//! `revision` for a new table and for each change, stored by PostgreSQL and MariaDB (read
//! back from the catalog), kept in the model only on SQLite; up and down with rows.

use schema_e2e::{Fixture, TestDb};

const USERS: &str = "models/src/users.rs";

/// The comments the database stores: the table's, then each commented column's.
fn stored(db: &TestDb, table: &str) -> Vec<Vec<String>> {
    match db.dialect() {
        schema_core::Dialect::Postgres => db.rows(&format!(
            "SELECT '', coalesce(obj_description('{table}'::regclass, 'pg_class'), '') UNION ALL \
             SELECT a.attname::text, col_description(a.attrelid, a.attnum) FROM pg_attribute a \
             WHERE a.attrelid = '{table}'::regclass AND a.attnum > 0 AND col_description(a.attrelid, a.attnum) IS NOT NULL"
        )),
        schema_core::Dialect::Mysql => db.rows(&format!(
            "SELECT '', table_comment FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '{table}' UNION ALL \
             SELECT column_name, column_comment FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = '{table}' AND column_comment <> ''"
        )),
        schema_core::Dialect::Sqlite => vec![],
    }
}

#[test]
fn comments_are_written_applied_changed_and_reverted_on_every_dialect() {
    let f = Fixture::new("blog");
    // Comments on an existing table and column, and on a new table.
    f.edit(
        USERS,
        "#[table(name = \"users\")]",
        "#[table(name = \"users\", comment = \"who writes\")]",
    );
    f.edit(
        USERS,
        "    #[column(max_length = 255, unique)]\n    pub email: String,",
        "    #[column(max_length = 255, unique, comment = \"lower-cased on write\")]\n    pub email: String,",
    );
    f.schema(&["revision", "-m", "comments"]).expect(0);
    let text = f.newest_migration("models/migrations");
    for part in [
        "op = \"set_comment\"\ntable = \"users\"\ncomment = { to = \"who writes\" }",
        "op = \"set_comment\"\ntable = \"users\"\ncolumn = \"email\"\ncomment = { to = \"lower-cased on write\" }",
        "[[downgrade]]\nop = \"set_comment\"\ntable = \"users\"\ncolumn = \"email\"\ncomment = { from = \"lower-cased on write\" }",
    ] {
        assert!(text.contains(part), "{part:?} in:\n{text}");
    }
    assert!(text.contains("breaking = false"), "{text}");
    // Changed in the next revision.
    f.edit(USERS, "who writes", "who writes posts");
    f.edit(USERS, ", comment = \"lower-cased on write\"", "");
    f.schema(&["revision", "-m", "comments changed"]).expect(0);
    let text = f.newest_migration("models/migrations");
    assert!(
        text.contains("comment = { from = \"who writes\", to = \"who writes posts\" }")
            && text.contains("comment = { from = \"lower-cased on write\" }"),
        "{text}"
    );
    f.schema(&["check"]).expect(0);

    for db in TestDb::all("comments") {
        let url = db.url();
        f.schema(&["upgrade", "0007", "--database-url", &url])
            .expect(0);
        db.execute(
            "INSERT INTO users (id, email, display_name) VALUES (1, 'ann@example.com', 'Ann')",
        );
        f.schema(&["upgrade", "0008", "--database-url", &url])
            .expect(0);
        f.schema(&["check", "--database", &url]).expect(0);
        let expected: Vec<Vec<String>> = match db.dialect() {
            schema_core::Dialect::Sqlite => vec![],
            _ => vec![
                vec!["".into(), "who writes".into()],
                vec!["email".into(), "lower-cased on write".into()],
            ],
        };
        assert_eq!(stored(&db, "users"), expected, "{:?}", db.dialect());
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        f.schema(&["check", "--database", &url]).expect(0);
        if db.dialect() != schema_core::Dialect::Sqlite {
            assert_eq!(
                stored(&db, "users"),
                [["", "who writes posts"]],
                "{:?}",
                db.dialect()
            );
        }
        f.schema(&["downgrade", "0007", "--database-url", &url])
            .expect(0);
        f.schema(&["check", "--database", &url]).expect(0);
        if db.dialect() != schema_core::Dialect::Sqlite {
            assert_eq!(stored(&db, "users"), [["", ""]], "{:?}", db.dialect());
        }
        assert_eq!(
            db.rows("SELECT email FROM users"),
            [["ann@example.com"]],
            "rows survive"
        );
    }
}

/// With `doc-comments = true`, a `///` doc comment is the comment of its table or column
/// (an explicit `comment = ...` wins); without it, doc comments stay Rust's only.
#[test]
fn doc_comments_become_comments_when_the_workspace_says_so() {
    let f = Fixture::new("blog");
    f.edit(
        USERS,
        "    pub bio: Option<String>,",
        "    /// A few words, shown on the profile.\n    pub bio: Option<String>,",
    );
    f.schema(&["check"]).expect(0);
    f.edit(
        "Cargo.toml",
        "[workspace.metadata.schema]\n",
        "[workspace.metadata.schema]\ndoc-comments = true\n",
    );
    let r = f.schema(&["check"]);
    r.expect(1);
    let out = r.stdout();
    assert!(
        out.contains("~ comment on users.bio") && out.contains("~ comment on post_tags"),
        "{out}"
    );
    f.schema(&["revision", "-m", "doc comments"]).expect(0);
    let text = f.newest_migration("models/migrations");
    assert!(
        text.contains(
            "column = \"bio\"\ncomment = { to = \"A few words, shown on the profile.\" }"
        ) && text.contains("comment = { to = \"The join table between posts and tags.\" }"),
        "{text}"
    );
    f.schema(&["check"]).expect(0);
    f.edit(
        "Cargo.toml",
        "doc-comments = true",
        "doc-comments = \"yes\"",
    );
    let r = f.schema(&["check"]);
    r.expect(2);
    assert!(
        r.stderr().contains("doc-comments must be true or false"),
        "{}",
        r.stderr()
    );
}
