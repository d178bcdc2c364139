//! Comments and generated columns as plain functions: autogenerate, the file format,
//! replay, and the SQL of each dialect.

mod common;

use std::path::Path;

use common::*;
use schema_core::dialect::Dialect;
use schema_core::file;
use schema_core::replay::replay;
use schema_core::{autogenerate, Operation, SqlType};

#[test]
fn comments_are_diffed_replayed_and_rendered_per_dialect() {
    let old = schema(vec![id_table("users", vec![col("email", SqlType::Text)])]);
    let mut users = id_table("users", vec![col("email", SqlType::Text)]);
    users.comment = Some("who signs in".into());
    users.columns[1].comment = Some("it's lower-cased".into());
    let new = schema(vec![users]);
    let diff = autogenerate(&old, &new);
    assert_eq!(
        diff.upgrade
            .iter()
            .map(Operation::summary)
            .collect::<Vec<_>>(),
        ["~ comment on users.email", "~ comment on users"]
    );
    assert!(diff.upgrade.iter().all(|o| !o.is_breaking()));
    let mut s = old.clone();
    replay(&mut s, &diff.upgrade).expect("replays");
    assert_eq!(s.canonical(), new.canonical());
    replay(&mut s, &diff.downgrade).expect("reverts");
    assert_eq!(s.canonical(), old.canonical());

    let render = |d: Dialect, op: &Operation| -> Vec<String> {
        d.render_op(&old, op)
            .expect("renders")
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    assert_eq!(
        render(Dialect::Postgres, &diff.upgrade[0]),
        [r#"COMMENT ON COLUMN "users"."email" IS 'it''s lower-cased'"#]
    );
    assert_eq!(
        render(Dialect::Postgres, &diff.downgrade[1]),
        [r#"COMMENT ON COLUMN "users"."email" IS NULL"#]
    );
    assert_eq!(
        render(Dialect::Mysql, &diff.upgrade[0]),
        ["ALTER TABLE `users` MODIFY COLUMN `email` longtext NOT NULL COMMENT 'it''s lower-cased'"]
    );
    assert_eq!(
        render(Dialect::Mysql, &diff.upgrade[1]),
        ["ALTER TABLE `users` COMMENT = 'who signs in'"]
    );
    assert!(render(Dialect::Sqlite, &diff.upgrade[0]).is_empty());

    // A new table carries its comments.
    let create = autogenerate(&schema(vec![]), &new);
    let pg = render(Dialect::Postgres, &create.upgrade[0]);
    assert_eq!(
        &pg[1..],
        [
            r#"COMMENT ON TABLE "users" IS 'who signs in'"#,
            r#"COMMENT ON COLUMN "users"."email" IS 'it''s lower-cased'"#
        ]
    );
    let my = render(Dialect::Mysql, &create.upgrade[0]);
    assert!(
        my[0].contains("`email` longtext NOT NULL COMMENT 'it''s lower-cased'")
            && my[0].ends_with(") COMMENT='who signs in'"),
        "{my:?}"
    );
    // SQLite keeps them in the model only: comparing with its database ignores them.
    assert_eq!(
        Dialect::Sqlite.normalize(&new),
        Dialect::Sqlite.normalize(&old)
    );
    assert_ne!(
        Dialect::Postgres.normalize(&new),
        Dialect::Postgres.normalize(&old)
    );

    // The file format keeps them, and the writer writes them only when there are any.
    let rev = file::RevisionFile {
        revision: "0002".into(),
        down_revisions: vec!["0001".into()],
        message: "comments".into(),
        created: "2026-11-25T00:00:00Z".into(),
        upgrade: create.upgrade.clone(),
        downgrade: create.downgrade.clone(),
        ..Default::default()
    };
    let text = file::write(&rev, &[]);
    assert!(text.contains("comment = \"who signs in\""), "{text}");
    assert!(text.contains("comment = \"it's lower-cased\" }"), "{text}");
    assert_eq!(file::parse(&text, Path::new("x")).expect("parses"), rev);
    let e = file::parse(
        "revision = \"1\"\n[[upgrade]]\nop = \"set_comment\"\ntable = \"t\"\ncomment = {}\n",
        Path::new("m/0001.toml"),
    )
    .expect_err("changes nothing");
    assert!(e.to_string().contains("changes nothing"), "{e}");
}

#[test]
fn generated_columns_render_per_dialect_and_change_by_drop_and_add() {
    let base = id_table(
        "items",
        vec![col("price", SqlType::Integer), col("qty", SqlType::Integer)],
    );
    let mut with = base.clone();
    let mut total = col("total", SqlType::Integer);
    total.generated = Some(schema_core::Generated {
        expr: "price * qty".into(),
        stored: true,
    });
    with.columns.push(total);
    let old = schema(vec![base]);
    let new = schema(vec![with.clone()]);
    let diff = autogenerate(&old, &new);
    assert!(
        diff.upgrade.iter().all(|o| !o.is_breaking()),
        "computed, not given by code"
    );
    let sql = |d: Dialect| -> String {
        d.render_op(&old, &diff.upgrade[0])
            .expect("renders")
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    assert_eq!(
        sql(Dialect::Postgres),
        r#"ALTER TABLE "items" ADD COLUMN "total" integer GENERATED ALWAYS AS (price * qty) STORED NOT NULL"#
    );
    assert_eq!(
        sql(Dialect::Mysql),
        "ALTER TABLE `items` ADD COLUMN `total` int GENERATED ALWAYS AS (price * qty) STORED",
        "MariaDB refuses NOT NULL on a generated column"
    );
    assert!(
        sql(Dialect::Sqlite).contains("CREATE TABLE"),
        "a stored one needs a rebuild on SQLite"
    );
    let mut changed = with.clone();
    changed.columns[3].generated = Some(schema_core::Generated {
        expr: "price * qty * 2".into(),
        stored: true,
    });
    let again = autogenerate(&new, &schema(vec![changed]));
    assert_eq!(
        again
            .upgrade
            .iter()
            .map(Operation::summary)
            .collect::<Vec<_>>(),
        [
            "- drop column items.total",
            "+ add column items.total (integer)"
        ]
    );
    let virtual_one = Operation::AddColumn {
        table: "items".into(),
        column: schema_core::ColumnDef {
            generated: Some(schema_core::Generated {
                expr: "price + 1".into(),
                stored: false,
            }),
            ..col("next", SqlType::Integer)
        },
    };
    assert_eq!(
        schema_core::plan::unsupported_on(std::slice::from_ref(&virtual_one), &[Dialect::Sqlite]),
        Vec::<String>::new()
    );
    assert_eq!(
        schema_core::plan::unsupported_on(&[virtual_one], &Dialect::ALL).len(),
        1
    );
}
