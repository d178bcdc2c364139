//! Partial indexes (`where`), and PostgreSQL's `using` and `include`: written by
//! `revision`, built on PostgreSQL and SQLite, read back from the catalog and compared;
//! a partial index refused while MariaDB is among the crate's dialects.

use schema_e2e::{Fixture, TestDb};

#[test]
fn partial_hash_and_covering_indexes_on_postgres_and_sqlite() {
    let f = Fixture::new("blog");
    f.edit(
        "models/src/posts.rs",
        "#[table(name = \"posts\")]",
        "#[table(name = \"posts\")]\n#[table(index(name = \"ix_posts_published_at\", columns(\"published_at\"), where = \"published\"))]",
    );
    f.edit(
        "models/src/users.rs",
        "#[table(name = \"users\")]",
        "#[table(name = \"users\")]\n#[table(index(name = \"ix_users_name_hash\", columns(\"display_name\"), using = \"hash\"))]\n#[table(index(name = \"ix_users_email_karma\", columns(\"email\"), include(\"karma\")))]",
    );
    // MariaDB has no partial indexes: refused, naming it, while mysql is listed.
    let r = f.schema(&["revision", "-m", "indexes"]);
    r.expect(2);
    assert!(
        r.stderr()
            .contains("index ix_posts_published_at on posts is partial"),
        "{}",
        r.stderr()
    );
    f.edit(
        "Cargo.toml",
        "dialects = [\"postgres\", \"sqlite\", \"mysql\"]",
        "dialects = [\"postgres\", \"sqlite\"]",
    );
    f.schema(&["revision", "-m", "indexes"]).expect(0);
    let text = f.newest_migration("models/migrations");
    for part in [
        "columns = [\"published_at\"], where = \"published\" }",
        "columns = [\"display_name\"], using = \"hash\" }",
        "columns = [\"email\"], include = [\"karma\"] }",
    ] {
        assert!(text.contains(part), "{part:?} in:\n{text}");
    }
    f.schema(&["check"]).expect(0);
    for db in [TestDb::postgres("indexes"), TestDb::sqlite("indexes")] {
        let url = db.url();
        f.schema(&["upgrade", "0007", "--database-url", &url])
            .expect(0);
        db.execute(
            "INSERT INTO users (id, email, display_name) VALUES (1, 'ann@example.com', 'Ann')",
        );
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        f.schema(&["check", "--database", &url]).expect(0);
        let definitions = match db.dialect() {
            schema_core::Dialect::Postgres => db.rows(
                "SELECT indexdef FROM pg_indexes WHERE indexname IN ('ix_posts_published_at', 'ix_users_name_hash', 'ix_users_email_karma') ORDER BY indexname",
            ),
            _ => db.rows(
                "SELECT sql FROM sqlite_master WHERE name IN ('ix_posts_published_at', 'ix_users_name_hash', 'ix_users_email_karma') ORDER BY name",
            ),
        };
        let all = format!("{definitions:?}");
        assert!(all.contains("WHERE published"), "{all}");
        if db.dialect() == schema_core::Dialect::Postgres {
            assert!(
                all.contains("USING hash") && all.contains("INCLUDE (karma)"),
                "{all}"
            );
        }
        f.schema(&["downgrade", "0007", "--database-url", &url])
            .expect(0);
        f.schema(&["check", "--database", &url]).expect(0);
        assert_eq!(db.rows("SELECT email FROM users"), [["ann@example.com"]]);
    }
}

/// An index over expressions (unique, partial, and one mixing a column with an
/// expression): refused while MariaDB is listed; written, built and enforced on
/// PostgreSQL and SQLite with rows, read back equal, changed (a drop and a create), and
/// reverted.
#[test]
fn expression_indexes_on_postgres_and_sqlite() {
    let f = Fixture::new("blog");
    f.edit(
        "models/src/users.rs",
        "#[table(name = \"users\")]",
        "#[table(name = \"users\")]\n#[table(index(name = \"ix_users_lower_email\", expressions(\"lower(email)\"), unique, where = \"karma >= 0\"))]\n#[table(index(name = \"ix_users_karma_name\", columns(\"karma\"), expressions(\"upper(display_name)\")))]",
    );
    let r = f.schema(&["revision", "-m", "expressions"]);
    r.expect(2);
    assert!(
        r.stderr().contains(
            "index ix_users_karma_name on users has expressions, which MariaDB does not index"
        ),
        "{}",
        r.stderr()
    );
    assert_eq!(
        f.migrations("models/migrations").len(),
        7,
        "nothing written"
    );
    f.edit(
        "Cargo.toml",
        "dialects = [\"postgres\", \"sqlite\", \"mysql\"]",
        "dialects = [\"postgres\", \"sqlite\"]",
    );
    f.schema(&["revision", "-m", "expressions"]).expect(0);
    let text = f.newest_migration("models/migrations");
    for part in [
        "index = { name = \"ix_users_lower_email\", columns = [], expressions = [\"lower(email)\"], unique = true, where = \"karma >= 0\" }",
        "index = { name = \"ix_users_karma_name\", columns = [\"karma\"], expressions = [\"upper(display_name)\"] }",
    ] {
        assert!(text.contains(part), "{part:?} in:\n{text}");
    }
    f.edit(
        "models/src/users.rs",
        "expressions(\"upper(display_name)\")",
        "expressions(\"lower(display_name)\")",
    );
    f.schema(&["revision", "-m", "lower names"]).expect(0);
    let text = f.newest_migration("models/migrations");
    assert!(
        text.contains("op = \"drop_index\"")
            && text.contains("expressions = [\"lower(display_name)\"]"),
        "{text}"
    );
    f.schema(&["check"]).expect(0);
    for db in [
        TestDb::postgres("expr_indexes"),
        TestDb::sqlite("expr_indexes"),
    ] {
        let url = db.url();
        let d = format!("{:?}", db.dialect());
        f.schema(&["upgrade", "0007", "--database-url", &url])
            .expect(0);
        db.execute(
            "INSERT INTO users (id, email, display_name, karma) VALUES (1, 'ann@example.com', 'Ann', 1), (2, 'bob@example.com', 'Bob', 0)",
        );
        f.schema(&["upgrade", "0008", "--database-url", &url])
            .expect(0);
        f.schema(&["check", "--database", &url]).expect(0);
        // The unique expression holds: another spelling of Ann's address is refused.
        assert!(
            db.try_execute("INSERT INTO users (id, email, display_name, karma) VALUES (3, 'ANN@example.com', 'Ann again', 1)")
                .is_err(),
            "{d}: the unique index over lower(email) allows a duplicate"
        );
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        f.schema(&["check", "--database", &url]).expect(0);
        let live = db.introspect();
        let ix = live.tables["users"]
            .indexes
            .iter()
            .find(|i| i.name == "ix_users_karma_name")
            .expect("index");
        assert_eq!(ix.columns, ["karma"], "{d}");
        assert_eq!(ix.expressions.len(), 1, "{d}");
        assert!(
            ix.expressions[0].to_ascii_lowercase().contains("lower"),
            "{d}: {:?}",
            ix.expressions
        );
        f.schema(&["downgrade", "0007", "--database-url", &url])
            .expect(0);
        f.schema(&["check", "--database", &url]).expect(0);
        assert_eq!(
            db.rows("SELECT email FROM users ORDER BY id"),
            [["ann@example.com"], ["bob@example.com"]]
        );
    }
}
