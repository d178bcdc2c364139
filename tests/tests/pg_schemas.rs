//! PostgreSQL schemas: a table placed in a schema of its own by `#[table(schema = ...)]`,
//! foreign keys across schemas both ways, the schema created before it and dropped after;
//! a table moved to another schema; on SQLite and MariaDB the same history runs with
//! plain names. Every step with rows, read back and compared.

use schema_e2e::{Fixture, TestDb};

const AUDIT: &str = "
#[derive(Table)]
#[table(name = \"audit_entries\", schema = \"audit\")]
pub struct AuditEntry {
    #[column(primary_key)]
    pub id: i64,
    #[column(references = \"users\", on_delete = \"cascade\", index)]
    pub user_id: i64,
    pub action: String,
}

/// In the connection's own schema, referring into `audit`.
#[derive(Table)]
#[table(name = \"audit_notes\")]
pub struct AuditNote {
    #[column(primary_key)]
    pub id: i64,
    #[column(references = \"audit_entries\")]
    pub entry_id: i64,
    pub note: String,
}
";

#[test]
fn tables_in_schemas_with_foreign_keys_across_them() {
    let f = Fixture::new("blog");
    let users = "models/src/users.rs";
    f.write(users, &format!("{}{AUDIT}", f.read(users)));
    f.schema(&["revision", "-m", "audit"]).expect(0);
    let text = f.newest_migration("models/migrations");
    assert!(
        text.contains("[[upgrade]]\nop = \"create_schema\"\nname = \"audit\"")
            && text.contains("table = \"audit_entries\"\nschema = \"audit\""),
        "{text}"
    );
    assert!(
        text.find("op = \"drop_schema\"") > text.find("table = \"audit_entries\"\nschema"),
        "the downgrade drops the schema after its table:\n{text}"
    );
    // 0009: the table moves to another schema.
    f.edit(users, "schema = \"audit\"", "schema = \"archive\"");
    f.schema(&["revision", "-m", "archive"]).expect(0);
    let text = f.newest_migration("models/migrations");
    assert!(
        text.contains(
            "op = \"move_table\"\ntable = \"audit_entries\"\nfrom = \"audit\"\nto = \"archive\""
        ),
        "{text}"
    );
    f.schema(&["check"]).expect(0);
    for db in TestDb::all("pg_schemas") {
        let url = db.url();
        let d = db.dialect();
        let postgres = d == schema_core::Dialect::Postgres;
        f.schema(&["upgrade", "0007", "--database-url", &url])
            .expect(0);
        db.execute(
            "INSERT INTO users (id, email, display_name) VALUES (1, 'ann@example.com', 'Ann')",
        );
        f.schema(&["upgrade", "0008", "--database-url", &url])
            .expect(0);
        let at = |schema: &str| {
            if postgres {
                format!("{schema}.audit_entries")
            } else {
                "audit_entries".into()
            }
        };
        db.execute(&format!(
            "INSERT INTO {} (id, user_id, action) VALUES (1, 1, 'signed in')",
            at("audit")
        ));
        db.execute("INSERT INTO audit_notes (id, entry_id, note) VALUES (1, 1, 'first')");
        // The foreign key into the other schema holds.
        assert!(
            db.try_execute(&format!(
                "{}INSERT INTO {} (id, user_id, action) VALUES (2, 99, 'nobody')",
                if d == schema_core::Dialect::Sqlite {
                    "PRAGMA foreign_keys = ON; "
                } else {
                    ""
                },
                at("audit")
            ))
            .is_err(),
            "{d:?}"
        );
        let live = db.introspect();
        if postgres {
            assert_eq!(
                live.tables["audit_entries"].schema.as_deref(),
                Some("audit")
            );
            assert!(live.schemas.contains("audit"));
        }
        f.schema(&["check", "--database", &url]).expect(0);
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        assert_eq!(
            db.rows(&format!("SELECT action FROM {}", at("archive"))),
            [["signed in"]],
            "{d:?}"
        );
        if postgres {
            let live = db.introspect();
            assert_eq!(
                live.tables["audit_entries"].schema.as_deref(),
                Some("archive")
            );
            assert!(!live.schemas.contains("audit"), "{:?}", live.schemas);
        }
        f.schema(&["check", "--database", &url]).expect(0);
        f.schema(&["downgrade", "0007", "--database-url", &url])
            .expect(0);
        let live = db.introspect();
        assert!(live.schemas.is_empty(), "{d:?}: {:?}", live.schemas);
        assert!(!live.tables.contains_key("audit_entries"));
        f.schema(&["check", "--database", &url]).expect(0);
        assert_eq!(db.rows("SELECT email FROM users"), [["ann@example.com"]]);
    }
}

/// `history-schema` places the history table in a PostgreSQL schema of its own: the
/// runner, `current`, `check --database`, a downgrade and the `--sql` script all find it
/// there, and comparisons do not take that schema for part of the models.
#[test]
fn the_history_table_lives_where_the_workspace_says() {
    let f = Fixture::new("blog");
    f.edit(
        "Cargo.toml",
        "[workspace.metadata.schema]\n",
        "[workspace.metadata.schema]\nhistory-schema = \"meta\"\n",
    );
    let db = TestDb::postgres("history_schema");
    let url = db.url();
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    assert_eq!(
        db.rows("SELECT count(*) FROM meta._schema_history"),
        [["7"]]
    );
    assert_eq!(
        db.rows("SELECT count(*) FROM pg_tables WHERE tablename = '_schema_history' AND schemaname <> 'meta'"),
        [["0"]]
    );
    assert!(f
        .schema(&["current", "--database-url", &url])
        .stdout()
        .contains("0007"));
    f.schema(&["check", "--database", &url]).expect(0);
    f.schema(&["downgrade", "0006", "--database-url", &url])
        .expect(0);
    assert_eq!(
        db.rows("SELECT count(*) FROM meta._schema_history"),
        [["6"]]
    );
    let script = f.schema(&["upgrade", "--sql", "--database-url", &url]);
    script.expect(0);
    assert!(
        script.stdout().contains("\"meta\".\"_schema_history\""),
        "{}",
        script.stdout()
    );
    // A bad name is refused before anything runs.
    f.edit(
        "Cargo.toml",
        "history-schema = \"meta\"",
        "history-schema = 7",
    );
    let r = f.schema(&["upgrade", "--database-url", &url]);
    r.expect(2);
    assert!(
        r.stderr().contains("history-schema must be a schema name"),
        "{}",
        r.stderr()
    );
    assert_eq!(
        db.rows("SELECT count(*) FROM meta._schema_history"),
        [["6"]]
    );
}
