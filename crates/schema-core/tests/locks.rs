//! PostgreSQL without long locks, as plain functions: what autogenerate writes for a
//! constraint on an existing table, how concurrent index builds and validations render on
//! each dialect, and the script of a revision that runs in parts.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use schema_core::dialect::{Dialect, Step};
use schema_core::diff::with_deferred_validation;
use schema_core::file;
use schema_core::graph::{MigrationGraph, Revision};
use schema_core::model::*;
use schema_core::plan::{parts, render_script, runs_in_parts};
use schema_core::replay::replay;
use schema_core::targets::Range;
use schema_core::{autogenerate, Operation, SqlType};

#[test]
fn constraints_on_existing_tables_are_added_not_valid_and_validated_last() {
    let users = id_table("users", vec![col("karma", SqlType::Integer)]);
    let posts = id_table("posts", vec![col("author_id", SqlType::BigInt)]);
    let old = schema(vec![users.clone(), posts.clone()]);
    let mut users2 = users.clone();
    users2.checks.push(CheckDef {
        name: "ck_users_karma".into(),
        expr: "karma >= 0".into(),
    });
    let mut posts2 = posts.clone();
    posts2.foreign_keys.push(fk("posts", "author_id", "users"));
    // A new table's foreign key is checked on an empty table: no safe form needed.
    let mut tags = id_table("tags", vec![col("post_id", SqlType::BigInt)]);
    tags.foreign_keys.push(fk("tags", "post_id", "posts"));
    let new = schema(vec![users2, posts2, tags]);
    let diff = autogenerate(&old, &new);
    let upgrade = with_deferred_validation(&old, diff.upgrade.clone());
    let summaries: Vec<String> = upgrade.iter().map(Operation::summary).collect();
    assert_eq!(
        summaries,
        [
            "+ create table tags",
            "+ add check constraint ck_users_karma on users (not valid yet)",
            "+ add foreign key constraint fk_posts_author_id_users on posts (not valid yet)",
            "~ validate constraint ck_users_karma on users",
            "~ validate constraint fk_posts_author_id_users on posts",
        ]
    );
    // The same schema either way, and the same downgrade.
    let mut s = old.clone();
    replay(&mut s, &upgrade).expect("safe form replays");
    assert_eq!(s.canonical(), new.canonical());
    replay(&mut s, &diff.downgrade).expect("downgrade replays");
    assert_eq!(s.canonical(), old.canonical());
    assert!(upgrade
        .iter()
        .all(|o| !matches!(o, Operation::ValidateConstraint { .. }) || !o.is_breaking()));
}

#[test]
fn concurrent_builds_and_validations_run_apart_on_postgres_only() {
    let mut users = id_table("users", vec![col("email", SqlType::Text)]);
    users.checks.push(CheckDef {
        name: "ck_email".into(),
        expr: "email <> ''".into(),
    });
    let state = schema(vec![users]);
    let index = IndexDef {
        name: "ix_users_email".into(),
        columns: vec!["email".into()],
        unique: true,
        concurrently: true,
        ..Default::default()
    };
    let create = Operation::CreateIndex {
        table: "users".into(),
        index: index.clone(),
    };
    let pg = Dialect::Postgres
        .render_op(&state, &create)
        .expect("renders");
    assert_eq!(
        pg,
        [Step::Detached {
            sql: r#"CREATE UNIQUE INDEX CONCURRENTLY "ix_users_email" ON "users" ("email")"#.into(),
            in_transaction: r#"CREATE UNIQUE INDEX "ix_users_email" ON "users" ("email")"#.into(),
            builds_index: Some("ix_users_email".into()),
        }]
    );
    let drop = Operation::DropIndex {
        table: "users".into(),
        index: index.clone(),
    };
    assert_eq!(
        Dialect::Postgres.render_op(&state, &drop).expect("renders")[0].to_string(),
        r#"DROP INDEX CONCURRENTLY IF EXISTS "ix_users_email""#
    );
    let validate = Operation::ValidateConstraint {
        table: "users".into(),
        name: "ck_email".into(),
    };
    assert_eq!(
        Dialect::Postgres
            .render_op(&state, &validate)
            .expect("renders"),
        [Step::Detached {
            sql: r#"ALTER TABLE "users" VALIDATE CONSTRAINT "ck_email""#.into(),
            in_transaction: r#"ALTER TABLE "users" VALIDATE CONSTRAINT "ck_email""#.into(),
            builds_index: None,
        }]
    );
    let mut without = state.clone();
    without
        .tables
        .get_mut("users")
        .expect("users")
        .checks
        .clear();
    let add = Operation::AddConstraint {
        table: "users".into(),
        constraint: Constraint::Check(CheckDef {
            name: "ck_email".into(),
            expr: "email <> ''".into(),
        }),
        not_valid: true,
    };
    assert_eq!(
        Dialect::Postgres
            .render_op(&without, &add)
            .expect("renders"),
        [Step::Sql(
            r#"ALTER TABLE "users" ADD CONSTRAINT "ck_email" CHECK (email <> '') NOT VALID"#.into()
        )]
    );
    // Elsewhere: a plain build, a plain add, and nothing to validate.
    for d in [Dialect::Sqlite, Dialect::Mysql] {
        let steps = d.render_op(&state, &create).expect("renders");
        assert!(steps.iter().all(|s| !s.is_detached()), "{d}: {steps:?}");
        assert!(d.render_op(&state, &validate).expect("renders").is_empty());
        let add = d.render_op(&without, &add).expect("renders");
        assert!(
            add.iter().all(|s| !s.to_string().contains("NOT VALID")),
            "{d}: {add:?}"
        );
    }
    // How an index is built is not what it is.
    assert_eq!(
        index,
        IndexDef {
            concurrently: false,
            ..index.clone()
        }
    );
}

const IN_PARTS: &str = r#"# cargo-schema revision. Review it, add data steps, edit freely.
revision = "0002"
down_revision = "0001"
message = "safe"
created = "2026-11-25T00:00:00Z"
breaking = true

[[upgrade]]
op = "add_column"
table = "users"
column = { name = "nick", type = "text", nullable = true }

[[upgrade]]
op = "create_index"
table = "users"
index = { name = "ix_users_nick", columns = ["nick"], concurrently = true }

[[upgrade]]
op = "add_constraint"
table = "users"
constraint = { type = "check", name = "ck_nick", expr = "nick <> ''" }
not_valid = true

[[upgrade]]
op = "validate_constraint"
table = "users"
name = "ck_nick"

[[downgrade]]
op = "drop_constraint"
table = "users"
constraint = { type = "check", name = "ck_nick", expr = "nick <> ''" }

[[downgrade]]
op = "drop_index"
table = "users"
index = { name = "ix_users_nick", columns = ["nick"], concurrently = true }

# DESTRUCTIVE: drops column users.nick and its data
[[downgrade]]
op = "drop_column"
table = "users"
column = { name = "nick", type = "text", nullable = true }
"#;

const FIRST: &str = r#"revision = "0001"
message = "users"
created = "2026-11-24T00:00:00Z"

[[upgrade]]
op = "create_table"
table = "users"
columns = [{ name = "id", type = "bigint" }]
primary_key = { name = "pk_users", columns = ["id"] }

[[downgrade]]
op = "drop_table"
table = "users"
columns = [{ name = "id", type = "bigint" }]
primary_key = { name = "pk_users", columns = ["id"] }
"#;

fn revision(text: &str, path: &str) -> Revision {
    Revision {
        file: file::parse(text, Path::new(path)).expect("parses"),
        path: PathBuf::from(path),
        checksum: schema_core::checksum::checksum(text),
    }
}

#[test]
fn the_new_fields_and_operation_read_and_write_back_unchanged() {
    let parsed = file::parse(IN_PARTS, Path::new("m/0002.toml")).expect("parses");
    assert_eq!(file::write(&parsed, &[]), IN_PARTS);
    let e = file::parse(
        &IN_PARTS.replace("name = \"ck_nick\"\n\n[[downgrade]]", "\n[[downgrade]]"),
        Path::new("m/0002.toml"),
    )
    .expect_err("validate_constraint needs a name");
    assert!(e.to_string().contains("name"), "{e}");
}

#[test]
fn a_script_runs_a_revision_in_parts_as_the_runner_does() {
    let graph = MigrationGraph::new(vec![
        revision(FIRST, "m/0001.toml"),
        revision(IN_PARTS, "m/0002.toml"),
    ])
    .expect("graph");
    let range = Range {
        from: ["0001".to_string()].into(),
        upgrade: vec!["0002".into()],
        downgrade: vec![],
    };
    let script = render_script(&graph, Dialect::Postgres, &range, "", None).expect("script");
    let body = script
        .split_once("-- upgrade 0002 (in parts): safe\n")
        .expect("the revision runs in parts")
        .1;
    let rev = graph.get("0002").expect("0002");
    let content = rev.content_checksum();
    let row = |progress: &str| {
        format!(
            "INSERT INTO \"_schema_history\" (revision, checksum, execution_ms, content_checksum, breaking, progress) \
             VALUES ('0002', '{}', 0, '{content}', true, {progress}) ON CONFLICT (revision) DO UPDATE SET \
             checksum = excluded.checksum, content_checksum = excluded.content_checksum, \
             breaking = excluded.breaking, progress = excluded.progress;\n",
            rev.checksum
        )
    };
    let (begin, commit) = Dialect::Postgres.script_transaction();
    let expected = [
        begin.clone(),
        "ALTER TABLE \"users\" ADD COLUMN \"nick\" text;\n".into(),
        row("'upgrade 1'"),
        commit.into(),
        "CREATE INDEX CONCURRENTLY \"ix_users_nick\" ON \"users\" (\"nick\");\n".into(),
        row("'upgrade 2'"),
        begin,
        "ALTER TABLE \"users\" ADD CONSTRAINT \"ck_nick\" CHECK (nick <> '') NOT VALID;\n".into(),
        row("'upgrade 3'"),
        commit.into(),
        "ALTER TABLE \"users\" VALIDATE CONSTRAINT \"ck_nick\";\n".into(),
        row("NULL"),
    ]
    .concat();
    assert_eq!(body, expected);
    // SQLite runs it whole: one transaction, a plain index, nothing to validate.
    let sqlite = render_script(&graph, Dialect::Sqlite, &range, "", None).expect("script");
    assert!(!sqlite.contains("in parts") && !sqlite.contains("CONCURRENTLY"));
}

#[test]
fn parts_group_the_operations_between_detached_steps() {
    let plain = || vec![Step::Sql("SELECT 1".into())];
    let detached = || {
        vec![Step::Detached {
            sql: "X".into(),
            in_transaction: "X".into(),
            builds_index: None,
        }]
    };
    let ops = vec![plain(), plain(), detached(), detached(), plain()];
    assert!(runs_in_parts(&ops));
    assert_eq!(
        parts(&ops, 0),
        [(0..2, false), (2..3, true), (3..4, true), (4..5, false)]
    );
    assert_eq!(parts(&ops, 3), [(3..4, true), (4..5, false)]);
    assert!(!runs_in_parts(&[plain()]));
}

#[test]
fn durations_read_as_settings_and_flags_write_them() {
    use schema_core::manifest::parse_duration;
    use std::time::Duration;
    assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
    assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
    assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
    assert!(parse_duration("soon").is_err());
}
