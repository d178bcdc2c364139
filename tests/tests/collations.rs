//! Collations per column, named per dialect: written by `revision`, applied on every
//! dialect with rows (and felt in how values compare), read back from the catalog and
//! compared, changed back to the default, reverted.

use schema_e2e::{Fixture, TestDb};

const USERS: &str = "models/src/users.rs";

#[test]
fn a_column_collation_per_dialect_is_applied_compared_and_reverted() {
    let f = Fixture::new("blog");
    f.edit(
        USERS,
        "    #[column(renamed_from = \"fullname\")]\n",
        "    #[column(renamed_from = \"fullname\", collation(postgres = \"C\", sqlite = \"NOCASE\", mysql = \"utf8mb4_bin\"))]\n",
    );
    f.schema(&["revision", "-m", "name collation"]).expect(0);
    let text = f.newest_migration("models/migrations");
    assert!(
        text.contains("collation = { to = { mysql = \"utf8mb4_bin\", postgres = \"C\", sqlite = \"NOCASE\" } }"),
        "{text}"
    );
    assert!(text.contains("breaking = false"), "{text}");
    // Back to each database's default.
    f.edit(
        USERS,
        ", collation(postgres = \"C\", sqlite = \"NOCASE\", mysql = \"utf8mb4_bin\")",
        "",
    );
    f.schema(&["revision", "-m", "default collation"]).expect(0);
    f.schema(&["check"]).expect(0);
    for db in TestDb::all("collations") {
        let url = db.url();
        let d = db.dialect();
        f.schema(&["upgrade", "0007", "--database-url", &url])
            .expect(0);
        db.execute(
            "INSERT INTO users (id, email, display_name) VALUES (1, 'ann@example.com', 'Ann')",
        );
        let same_as_lower = |db: &TestDb| {
            db.rows("SELECT count(*) FROM users WHERE display_name = 'ann'")[0][0].clone()
        };
        let before = same_as_lower(&db);
        f.schema(&["upgrade", "0008", "--database-url", &url])
            .expect(0);
        let live = db.introspect();
        let collation = live.tables["users"]
            .column("display_name")
            .and_then(|c| c.collation.clone());
        let expected = match d {
            schema_core::Dialect::Postgres => "C",
            schema_core::Dialect::Sqlite => "NOCASE",
            schema_core::Dialect::Mysql => "utf8mb4_bin",
        };
        assert_eq!(
            collation,
            Some(schema_core::Collation::All(expected.into())),
            "{d:?}"
        );
        // SQLite's NOCASE finds Ann as ann; MariaDB's binary collation no longer does.
        match d {
            schema_core::Dialect::Sqlite => {
                assert_eq!((before.as_str(), same_as_lower(&db).as_str()), ("0", "1"))
            }
            schema_core::Dialect::Mysql => {
                assert_eq!((before.as_str(), same_as_lower(&db).as_str()), ("1", "0"))
            }
            schema_core::Dialect::Postgres => {}
        }
        f.schema(&["check", "--database", &url]).expect(0);
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        assert_eq!(
            db.introspect().tables["users"]
                .column("display_name")
                .and_then(|c| c.collation.clone()),
            None,
            "{d:?}"
        );
        f.schema(&["check", "--database", &url]).expect(0);
        f.schema(&["downgrade", "0007", "--database-url", &url])
            .expect(0);
        f.schema(&["check", "--database", &url]).expect(0);
        assert_eq!(
            db.rows("SELECT display_name FROM users"),
            [["Ann"]],
            "{d:?}"
        );
    }
}
