//! Generated columns: written by `revision`, computed by every dialect (read back from
//! the rows), compared with the catalog, changed (dropped and added back), reverted; a
//! virtual one refused while PostgreSQL 15 is among the crate's dialects.

use schema_e2e::{Fixture, TestDb};

const USERS: &str = "models/src/users.rs";

#[test]
fn a_stored_generated_column_is_computed_changed_and_reverted_on_every_dialect() {
    let f = Fixture::new("blog");
    f.edit(
        USERS,
        "    pub karma: i32,\n",
        "    pub karma: i32,\n    #[column(generated = \"karma * 2\", stored)]\n    pub karma_twice: i32,\n",
    );
    f.schema(&["revision", "-m", "karma twice"]).expect(0);
    let text = f.newest_migration("models/migrations");
    assert!(
        text.contains("column = { name = \"karma_twice\", type = \"integer\", generated = \"karma * 2\", stored = true }"),
        "{text}"
    );
    assert!(text.contains("breaking = false"), "{text}");
    f.edit(USERS, "karma * 2", "karma * 3");
    f.schema(&["revision", "-m", "karma thrice"]).expect(0);
    let text = f.newest_migration("models/migrations");
    assert!(
        text.contains("op = \"drop_column\"") && text.contains("generated = \"karma * 3\""),
        "{text}"
    );
    f.schema(&["check"]).expect(0);
    for db in TestDb::all("generated") {
        let url = db.url();
        f.schema(&["upgrade", "0007", "--database-url", &url])
            .expect(0);
        db.execute(
            "INSERT INTO users (id, email, display_name, karma) VALUES (1, 'ann@example.com', 'Ann', 21)",
        );
        f.schema(&["upgrade", "0008", "--database-url", &url])
            .expect(0);
        assert_eq!(
            db.rows("SELECT karma_twice FROM users"),
            [["42"]],
            "{:?}",
            db.dialect()
        );
        f.schema(&["check", "--database", &url]).expect(0);
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        assert_eq!(db.rows("SELECT karma_twice FROM users"), [["63"]]);
        f.schema(&["check", "--database", &url]).expect(0);
        f.schema(&["downgrade", "0007", "--database-url", &url])
            .expect(0);
        assert!(db.introspect().tables["users"]
            .column("karma_twice")
            .is_none());
        assert_eq!(db.rows("SELECT karma FROM users"), [["21"]], "rows survive");
    }
}

#[test]
fn a_virtual_generated_column_is_refused_while_postgres_is_listed() {
    let f = Fixture::new("blog");
    f.edit(
        USERS,
        "    pub karma: i32,\n",
        "    pub karma: i32,\n    #[column(generated = \"karma + 1\")]\n    pub karma_next: Option<i32>,\n",
    );
    let r = f.schema(&["revision", "-m", "karma next"]);
    r.expect(2);
    assert!(
        r.stderr().contains("column users.karma_next is a virtual generated column, which PostgreSQL 15 does not have"),
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
        "dialects = [\"sqlite\", \"mysql\"]",
    );
    f.schema(&["revision", "-m", "karma next"]).expect(0);
    assert!(f
        .newest_migration("models/migrations")
        .contains("generated = \"karma + 1\" }"));
    for db in [TestDb::sqlite("virtual"), TestDb::mysql("virtual")] {
        let url = db.url();
        f.schema(&["upgrade", "0007", "--database-url", &url])
            .expect(0);
        db.execute(
            "INSERT INTO users (id, email, display_name, karma) VALUES (1, 'ann@example.com', 'Ann', 4)",
        );
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        assert_eq!(db.rows("SELECT karma_next FROM users"), [["5"]]);
        f.schema(&["check", "--database", &url]).expect(0);
    }
}
