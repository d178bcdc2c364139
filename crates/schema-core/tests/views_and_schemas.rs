//! Views and PostgreSQL schemas as plain functions: their order, what autogenerate writes
//! for a change, the file format, and the SQL each dialect runs (with a view's checksum
//! recorded at creation).

mod common;

use std::path::Path;

use common::*;
use schema_core::dialect::{view_checksum, Dialect};
use schema_core::file::{self, RevisionFile};
use schema_core::replay::replay;
use schema_core::{autogenerate, AlterColumn, ExecuteSql, Operation, Schema, SqlType, ViewDef};

fn view(name: &str, sql: &str) -> ViewDef {
    ViewDef {
        name: name.into(),
        sql: ExecuteSql::All(sql.into()),
        materialized: false,
    }
}

fn with_views(views: &[ViewDef]) -> Schema {
    let mut s = schema(vec![id_table(
        "users",
        vec![col("karma", SqlType::Integer)],
    )]);
    for v in views {
        s.views.insert(v.name.clone(), v.clone());
    }
    s
}

#[test]
fn a_changed_view_takes_the_views_over_it_along_in_order() {
    // `a_top` reads `z_active`: created after it whatever their names.
    let active = view("z_active", "SELECT id, karma FROM users WHERE karma > 0");
    let top = view("a_top", "SELECT id FROM z_active WHERE karma > 10");
    let old = with_views(&[active.clone(), top.clone()]);
    assert_eq!(old.view_order(), ["z_active", "a_top"]);
    let created = autogenerate(&Schema::new(), &old);
    assert_eq!(
        created
            .upgrade
            .iter()
            .map(Operation::summary)
            .collect::<Vec<_>>(),
        [
            "+ create table users",
            "+ create view z_active",
            "+ create view a_top"
        ]
    );
    let new = with_views(&[
        view("z_active", "SELECT id, karma FROM users WHERE karma >= 1"),
        top,
    ]);
    let diff = autogenerate(&old, &new);
    assert_eq!(
        diff.upgrade
            .iter()
            .map(Operation::summary)
            .collect::<Vec<_>>(),
        [
            "- drop view a_top",
            "- drop view z_active",
            "+ create view z_active",
            "+ create view a_top"
        ]
    );
    // Written and read back, replayed, reverted.
    let rf = RevisionFile {
        revision: "2".into(),
        down_revisions: vec!["1".into()],
        branch_labels: vec![],
        depends_on: vec![],
        message: "m".into(),
        created: String::new(),
        breaking: None,
        upgrade: diff.upgrade.clone(),
        downgrade: diff.downgrade.clone(),
    };
    let back = file::parse(&file::write(&rf, &[]), Path::new("m.toml")).expect("parses");
    assert_eq!(back.upgrade, diff.upgrade);
    let mut s = old.clone();
    replay(&mut s, &back.upgrade).expect("upgrade");
    assert_eq!(s, new);
    replay(&mut s, &back.downgrade).expect("downgrade");
    assert_eq!(s, old);
    // A view's query is one query.
    let e = file::parse(
        "revision = \"1\"\n[[upgrade]]\nop = \"create_view\"\nname = \"v\"\nsql = \"SELECT 1; DROP TABLE users\"\n",
        Path::new("m.toml"),
    )
    .expect_err("refused");
    assert!(e.to_string().contains("view `v`: not one query"), "{e}");
}

#[test]
fn each_dialect_creates_the_view_and_records_its_checksum() {
    let v = view("active", "SELECT \"id\" FROM users WHERE karma > 0");
    let sql = |d: Dialect| -> Vec<String> {
        d.render_op(&with_views(&[]), &Operation::CreateView { view: v.clone() })
            .expect("renders")
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let sum = view_checksum("SELECT \"id\" FROM users WHERE karma > 0");
    let pg = sql(Dialect::Postgres);
    assert_eq!(
        pg[0],
        "CREATE VIEW \"active\" AS SELECT \"id\" FROM users WHERE karma > 0"
    );
    assert_eq!(
        pg[3],
        format!("INSERT INTO \"_schema_views\" (name, checksum) VALUES ('active', '{sum}')")
    );
    // MySQL reads the standard quotes as its own.
    assert_eq!(
        sql(Dialect::Mysql)[0],
        "CREATE VIEW `active` AS SELECT `id` FROM users WHERE karma > 0"
    );
    // Comparison: the model's query becomes the checksum the database records.
    let normalized = Dialect::Sqlite.normalize(&with_views(std::slice::from_ref(&v)));
    assert_eq!(normalized.views["active"].sql, ExecuteSql::All(sum));

    // A type change of a column a view reads: PostgreSQL drops and creates the view
    // around it.
    let change = Operation::AlterColumn {
        table: "users".into(),
        column: "karma".into(),
        change: AlterColumn {
            ty: Some((SqlType::Integer, SqlType::BigInt)),
            ..Default::default()
        },
    };
    let steps: Vec<String> = Dialect::Postgres
        .render_op(&with_views(&[v]), &change)
        .expect("renders")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        steps,
        [
            "DROP VIEW \"active\"",
            "ALTER TABLE \"users\" ALTER COLUMN \"karma\" TYPE bigint USING \"karma\"::bigint",
            "CREATE VIEW \"active\" AS SELECT \"id\" FROM users WHERE karma > 0",
        ]
    );
}

/// A table in a PostgreSQL schema: created after its schema, named qualified wherever a
/// statement names it (its indexes, foreign keys into it, comments), and moved; the
/// other dialects keep plain names and have no schemas.
#[test]
fn tables_in_schemas_are_qualified_on_postgres_only() {
    let mut audit = id_table("entries", vec![col("user_id", SqlType::BigInt)]);
    audit.schema = Some("audit".into());
    audit.foreign_keys.push(fk("entries", "user_id", "users"));
    audit.indexes.push(schema_core::IndexDef {
        name: "ix_entries_user_id".into(),
        columns: vec!["user_id".into()],
        ..Default::default()
    });
    let mut notes = id_table("notes", vec![col("entry_id", SqlType::BigInt)]);
    notes.foreign_keys.push(fk("notes", "entry_id", "entries"));
    let model = schema(vec![id_table("users", vec![]), audit, notes]);
    assert!(model.schemas.contains("audit"));
    let diff = autogenerate(&Schema::new(), &model);
    assert_eq!(diff.upgrade[0].summary(), "+ create schema audit");
    assert_eq!(
        diff.downgrade.last().map(Operation::summary).as_deref(),
        Some("- drop schema audit")
    );
    let pg: Vec<String> = Dialect::Postgres
        .render_ops(&mut Schema::new(), &diff.upgrade)
        .expect("renders")
        .iter()
        .map(|s| s.to_string())
        .collect();
    let all = pg.join("\n");
    assert!(all.contains("CREATE SCHEMA \"audit\""), "{all}");
    assert!(all.contains("CREATE TABLE \"audit\".\"entries\""), "{all}");
    assert!(
        all.contains("ON \"audit\".\"entries\" (\"user_id\")"),
        "{all}"
    );
    assert!(
        all.contains("REFERENCES \"audit\".\"entries\" (\"id\")"),
        "{all}"
    );
    let sqlite = Dialect::Sqlite
        .render_ops(&mut Schema::new(), &diff.upgrade)
        .expect("renders")
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!sqlite.contains("audit"), "{sqlite}");
    assert_eq!(
        Dialect::Sqlite.normalize(&model).tables["entries"].schema,
        None
    );
    // Moving it: written, replayed, reverted.
    let mut moved = model.clone();
    moved.tables.get_mut("entries").expect("entries").schema = Some("archive".into());
    moved.schemas = ["archive".to_string()].into();
    let diff = autogenerate(&model, &moved);
    assert_eq!(
        diff.upgrade
            .iter()
            .map(Operation::summary)
            .collect::<Vec<_>>(),
        [
            "+ create schema archive",
            "~ move table entries to schema archive",
            "- drop schema audit"
        ]
    );
    let mut s = model.clone();
    replay(&mut s, &diff.upgrade).expect("upgrade");
    assert_eq!(s, moved);
    replay(&mut s, &diff.downgrade).expect("downgrade");
    assert_eq!(s, model);
}

/// A downgrade that leaves a view behind is no inverse: found when the history is read,
/// before anything runs.
#[test]
fn a_downgrade_that_keeps_a_view_is_refused() {
    let dir = std::env::temp_dir().join(format!("schema-views-inverse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("20260101_0001_view.toml"),
        "revision = \"0001\"\n\n[[upgrade]]\nop = \"create_view\"\nname = \"v\"\nsql = \"SELECT 1 AS one\"\n",
    )
    .expect("write");
    let graph = schema_core::resolver::load_graph(std::slice::from_ref(&dir)).expect("loads");
    let e = schema_core::replay::replay_revisions(&mut Schema::new(), graph.ordered())
        .expect_err("no inverse");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        e.to_string()
            .contains("the downgrade does not put view `v` back as the upgrade found it"),
        "{e}"
    );
}
