//! `init --from-database`: a database built by each fixture's history, its history table
//! removed (a database no tool of ours manages), adopted by a fresh crate on every
//! dialect: the written models give `check` exit 0 and `check --database` no drift, the
//! database is stamped at the baseline, and its rows are untouched.

use schema_e2e::{Fixture, TestDb};

#[test]
fn a_database_of_each_fixture_is_adopted_on_every_dialect() {
    for fixture in ["blog", "plugins", "packages"] {
        for db in TestDb::all(&format!("adopt_{fixture}")) {
            let url = db.url();
            let source = Fixture::new(fixture);
            source
                .schema(&["upgrade", "--database-url", &url])
                .expect(0);
            let tables = db.introspect().tables.len();
            db.execute("DROP TABLE _schema_history");
            if fixture == "blog" {
                db.execute("INSERT INTO users (id, email, display_name) VALUES (1, 'ann@example.com', 'Ann')");
            }

            let f = Fixture::new("adopt");
            let r = f.schema(&["init", "--from-database", &url, "-p", "adopted"]);
            r.expect(0);
            assert!(
                r.stdout()
                    .contains(&format!("{tables} table(s) written as models")),
                "{fixture} on {:?}: {}",
                db.dialect(),
                r.stdout()
            );
            let models = f.read("adopted/src/tables.rs");
            assert!(
                models.contains("#[derive(Debug, Clone, Table)]"),
                "{models}"
            );
            assert!(f.read("adopted/src/lib.rs").contains("pub mod tables;"));
            let check = f.schema(&["check"]);
            assert_eq!(
                check.code(),
                0,
                "{fixture} on {:?}: {}{}\n{models}",
                db.dialect(),
                check.stdout(),
                check.stderr()
            );
            let drift = f.schema(&["check", "--database", &url]);
            assert_eq!(
                drift.code(),
                0,
                "{fixture} on {:?}: {}{}",
                db.dialect(),
                drift.stdout(),
                drift.stderr()
            );
            assert_eq!(
                f.schema(&["current", "--database-url", &url])
                    .stdout()
                    .trim(),
                "0001 (head)"
            );
            if fixture == "blog" {
                assert_eq!(db.rows("SELECT display_name FROM users"), [["Ann"]]);
            }
            // Once adopted, the database has a history: a second adoption is refused.
            let again = Fixture::new("adopt");
            let r = again.schema(&["init", "--from-database", &url, "-p", "adopted"]);
            r.expect(2);
            assert!(
                r.stderr().contains("has a migration history already"),
                "{}",
                r.stderr()
            );
            assert!(!again.path("adopted/src/tables.rs").exists());
        }
    }
}
