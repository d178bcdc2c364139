//! Other tools' histories: their directory layouts, and their SQL as operations.

use std::path::PathBuf;

use schema_core::foreign::{collect, convert, downgrade, Tool};
use schema_core::model::{Constraint, ReferentialAction};
use schema_core::ops::{ExecuteSql, Operation};
use schema_core::{Dialect, Schema, SqlType};

fn files(list: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
    list.iter()
        .map(|(p, t)| (PathBuf::from(p), t.to_string()))
        .collect()
}

#[test]
fn each_layout_in_the_order_the_tool_applies_it() {
    let refinery = collect(
        Tool::Refinery,
        &files(&[
            ("V10__ten.sql", "10"),
            ("V9__nine.sql", "9"),
            ("README.md", ""),
            ("V1__one.sql", "1"),
        ]),
    )
    .unwrap();
    let names: Vec<(&str, &str)> = refinery
        .iter()
        .map(|m| (m.version.as_str(), m.name.as_str()))
        .collect();
    assert_eq!(names, [("1", "one"), ("9", "nine"), ("10", "ten")]);
    assert!(refinery.iter().all(|m| m.down.is_none()));

    let sqlx = collect(
        Tool::Sqlx,
        &files(&[
            ("20240102_posts.up.sql", "up2"),
            ("20240102_posts.down.sql", "down2"),
            ("20240101_users.sql", "up1"),
        ]),
    )
    .unwrap();
    assert_eq!(sqlx.len(), 2);
    assert_eq!(
        (sqlx[0].name.as_str(), sqlx[0].down.as_deref()),
        ("users", None)
    );
    assert_eq!(
        (sqlx[1].up.as_str(), sqlx[1].down.as_deref()),
        ("up2", Some("down2"))
    );

    let diesel = collect(
        Tool::Diesel,
        &files(&[
            ("2024-01-02-000000_posts/up.sql", "up2"),
            ("2024-01-02-000000_posts/down.sql", "down2"),
            ("2024-01-01-000000_users/up.sql", "up1"),
            ("2024-01-01-000000_users/down.sql", "down1"),
        ]),
    )
    .unwrap();
    // diesel records the version without its dashes.
    assert_eq!(diesel[0].version, "20240101000000");
    assert_eq!(diesel[1].down.as_deref(), Some("down2"));
}

#[test]
fn rust_migrations_and_twice_used_versions_are_refused() {
    let e = collect(Tool::Refinery, &files(&[("V1__setup.rs", "")])).unwrap_err();
    assert!(e.to_string().contains("V1__setup.rs"), "{e}");
    assert!(e.message.contains("Rust"), "{e}");
    let e = collect(Tool::Sqlx, &files(&[("1_a.sql", ""), ("0001_b.sql", "")])).unwrap_err();
    assert!(e.message.contains("version"), "{e}");
}

#[test]
fn create_table_names_what_postgres_names() {
    let mut state = Schema::new();
    let sql = "CREATE TABLE users (id SERIAL PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE, \
               karma INTEGER NOT NULL DEFAULT 0 CHECK (karma >= 0), bio TEXT);\n\
               CREATE TABLE posts (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
               user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE);";
    let c = convert(sql, Dialect::Postgres, &mut state);
    assert!(c.kept.is_empty(), "{:?}", c.kept);
    assert_eq!(c.ops.len(), 2);
    let users = &state.tables["users"];
    let id = users.column("id").unwrap();
    assert_eq!(
        (id.ty.clone(), id.auto_increment, id.nullable),
        (SqlType::Integer, true, false)
    );
    assert_eq!(users.column("email").unwrap().ty, SqlType::Varchar(255));
    assert!(users.column("bio").unwrap().nullable);
    assert_eq!(users.column("karma").unwrap().default.as_deref(), Some("0"));
    assert_eq!(users.primary_key.as_ref().unwrap().name, "users_pkey");
    assert_eq!(users.uniques[0].name, "users_email_key");
    assert_eq!(users.checks[0].name, "users_karma_check");
    let posts = &state.tables["posts"];
    assert!(posts.column("id").unwrap().auto_increment);
    let fk = &posts.foreign_keys[0];
    assert_eq!(fk.name, "posts_user_id_fkey");
    assert_eq!(
        (fk.ref_table.as_str(), fk.on_delete),
        ("users", ReferentialAction::Cascade)
    );
}

#[test]
fn alterations_read_the_state_they_change() {
    let mut state = Schema::new();
    convert(
        "CREATE TABLE t (a INTEGER NOT NULL, b TEXT, CONSTRAINT ck_a CHECK (a > 0)); \
         CREATE INDEX ix_t_a ON t (a);",
        Dialect::Postgres,
        &mut state,
    );
    let c = convert(
        "ALTER TABLE t ALTER COLUMN a TYPE BIGINT; ALTER TABLE t ALTER COLUMN b SET NOT NULL; \
         ALTER TABLE t RENAME COLUMN b TO c; ALTER TABLE t DROP CONSTRAINT ck_a; \
         DROP INDEX ix_t_a; ALTER TABLE t RENAME TO u; DROP TABLE u;",
        Dialect::Postgres,
        &mut state,
    );
    assert!(c.kept.is_empty(), "{:?}", c.kept);
    let kinds: Vec<&str> = c.ops.iter().map(Operation::kind).collect();
    assert_eq!(
        kinds,
        [
            "alter_column",
            "alter_column",
            "rename_column",
            "drop_constraint",
            "drop_index",
            "rename_table",
            "drop_table"
        ]
    );
    match &c.ops[0] {
        Operation::AlterColumn { change, .. } => {
            assert_eq!(change.ty, Some((SqlType::Integer, SqlType::BigInt)))
        }
        other => panic!("{other:?}"),
    }
    match &c.ops[3] {
        Operation::DropConstraint {
            constraint: Constraint::Check(ck),
            ..
        } => assert_eq!(ck.expr, "a > 0"),
        other => panic!("{other:?}"),
    }
    // The drop carries the table as it then was, so its inverse recreates it.
    match &c.ops[6] {
        Operation::DropTable { table } => {
            assert_eq!(table.column("a").unwrap().ty, SqlType::BigInt);
            assert!(table.column("c").is_some());
        }
        other => panic!("{other:?}"),
    }
    assert!(state.tables.is_empty());
}

#[test]
fn what_is_not_a_table_change_stays_sql() {
    let mut state = Schema::new();
    let c = convert(
        "CREATE TABLE t (id INTEGER PRIMARY KEY);\n\
         INSERT INTO t VALUES (1);\n\
         CREATE VIEW v AS SELECT id FROM t;\n\
         PRAGMA user_version = 2;\n\
         ALTER TABLE missing ADD COLUMN x INTEGER;",
        Dialect::Sqlite,
        &mut state,
    );
    let kinds: Vec<&str> = c.ops.iter().map(Operation::kind).collect();
    assert_eq!(
        kinds,
        [
            "create_table",
            "execute",
            "create_view",
            "execute",
            "execute"
        ]
    );
    assert_eq!(
        state.views["v"].sql,
        ExecuteSql::All("SELECT id FROM t".into())
    );
    // SQLite numbers an INTEGER PRIMARY KEY itself.
    assert!(state.tables["t"].column("id").unwrap().auto_increment);
    // Data steps are expected; the rest is listed for review, with the reason.
    assert_eq!(c.kept.len(), 2, "{:?}", c.kept);
    assert_eq!(c.kept[0], "PRAGMA user_version = 2");
    assert!(c.kept[1].contains("no table `missing`"), "{:?}", c.kept);
    let dropped = convert("DROP VIEW v;", Dialect::Sqlite, &mut state);
    assert_eq!(dropped.ops[0].kind(), "drop_view");
    assert!(state.views.is_empty());
    // A file the parser cannot read stays whole.
    let c = convert("CREATE TABLE (;", Dialect::Sqlite, &mut state);
    assert_eq!(
        c.ops,
        [Operation::Execute {
            sql: ExecuteSql::All("CREATE TABLE (;".into())
        }]
    );
    assert!(c.kept[0].contains("parser"), "{:?}", c.kept);
}

#[test]
fn downgrades_use_the_down_sql_only_when_it_restores_the_schema() {
    let before = Schema::new();
    let mut after = before.clone();
    let up = convert(
        "CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);",
        Dialect::Postgres,
        &mut after,
    );
    let (down, used) = downgrade(
        &up.ops,
        Some("DROP TABLE t;"),
        Dialect::Postgres,
        &before,
        &after,
    );
    assert!(used);
    assert_eq!(down.ops.len(), 1);
    // A down migration that leaves the table: the inverse is generated instead.
    let (down, used) = downgrade(
        &up.ops,
        Some("SELECT 1;"),
        Dialect::Postgres,
        &before,
        &after,
    );
    assert!(!used);
    let kinds: Vec<&str> = down.ops.iter().map(Operation::kind).collect();
    assert_eq!(kinds, ["drop_table"]);
    let (generated, used) = downgrade(&up.ops, None, Dialect::Postgres, &before, &after);
    assert!(!used);
    assert_eq!(generated.ops, down.ops);
}
