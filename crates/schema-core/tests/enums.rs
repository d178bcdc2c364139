//! Enum types as plain functions: the changes autogenerate finds between two value lists,
//! the file format, replay with exact inverses, and the SQL of each dialect.

mod common;

use std::path::Path;

use common::*;
use schema_core::dialect::Dialect;
use schema_core::diff::enum_value_changes;
use schema_core::file::{self, RevisionFile};
use schema_core::replay::replay;
use schema_core::{autogenerate, EnumChange, EnumDef, Operation, Schema, SqlType};

fn v(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

fn role(values: &[&str]) -> SqlType {
    SqlType::Enum {
        name: "channel_role".into(),
        values: v(values),
    }
}

/// A `members` table with a `role` column of the enum, and the enum with its hints.
fn members(values: &[&str], renamed: &[(&str, &str)]) -> Schema {
    let mut role_col = col("role", role(values));
    // The default names a value the type keeps (owner, until it is removed).
    let default = if values.contains(&"owner") {
        "owner"
    } else {
        values[0]
    };
    role_col.default = Some(format!("'{default}'"));
    let mut s = schema(vec![id_table("members", vec![role_col])]);
    s.enums
        .get_mut("channel_role")
        .expect("derived")
        .renamed_values = renamed
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    s
}

/// The file autogenerate writes, read back: what runs is what was written.
fn through_file(
    upgrade: &[Operation],
    downgrade: &[Operation],
) -> (Vec<Operation>, Vec<Operation>) {
    let rf = RevisionFile {
        revision: "0002".into(),
        down_revisions: vec!["0001".into()],
        branch_labels: vec![],
        depends_on: vec![],
        message: "m".into(),
        created: "2026-01-01T00:00:00Z".into(),
        breaking: None,
        upgrade: upgrade.to_vec(),
        downgrade: downgrade.to_vec(),
    };
    let text = file::write(&rf, &[]);
    let back = file::parse(&text, Path::new("m.toml")).expect("the written file parses");
    (back.upgrade, back.downgrade)
}

#[test]
fn value_changes_are_renames_removals_additions_then_a_reorder() {
    let changes = enum_value_changes(
        &v(&["owner", "guest", "banned", "maintainer"]),
        &v(&["maintainer", "owner", "admin", "viewer"]),
        &[("guest".into(), "viewer".into())],
    );
    assert_eq!(
        changes,
        [
            EnumChange::Rename {
                from: "guest".into(),
                to: "viewer".into()
            },
            EnumChange::Remove {
                value: "banned".into(),
                before: Some("maintainer".into())
            },
            EnumChange::Add {
                value: "admin".into(),
                before: Some("viewer".into())
            },
            EnumChange::Reorder {
                from: v(&["owner", "admin", "viewer", "maintainer"]),
                to: v(&["maintainer", "owner", "admin", "viewer"]),
            },
        ]
    );
    // Each applies in turn, each inverse takes it back.
    let mut cur = v(&["owner", "guest", "banned", "maintainer"]);
    for c in &changes {
        let next = c.applied_to(&cur).expect("applies");
        assert_eq!(c.inverse().applied_to(&next).expect("reverts"), cur);
        cur = next;
    }
    assert_eq!(cur, v(&["maintainer", "owner", "admin", "viewer"]));
    // An addition in order needs no reorder.
    assert_eq!(
        enum_value_changes(&v(&["a", "c"]), &v(&["a", "b", "c", "d"]), &[]),
        [
            EnumChange::Add {
                value: "b".into(),
                before: Some("c".into())
            },
            EnumChange::Add {
                value: "d".into(),
                before: None
            },
        ]
    );
}

/// Five revisions of one enum (created; a value added; renamed; reordered; removed): each
/// written, read back, replayed to the model, and reverted by its downgrade exactly.
#[test]
fn five_revisions_replay_and_revert_through_the_file() {
    let steps = [
        members(&["owner", "guest"], &[]),
        members(&["owner", "maintainer", "guest"], &[]),
        members(&["owner", "maintainer", "viewer"], &[("guest", "viewer")]),
        members(&["maintainer", "owner", "viewer"], &[]),
        members(&["maintainer", "viewer"], &[]),
    ];
    let mut state = Schema::new();
    for (i, model) in steps.iter().enumerate() {
        let diff = autogenerate(&state, model);
        let (up, down) = through_file(&diff.upgrade, &diff.downgrade);
        let kinds: Vec<String> = up.iter().map(Operation::summary).collect();
        match i {
            0 => assert_eq!(
                kinds,
                [
                    "+ create enum channel_role (owner, guest)",
                    "+ create table members"
                ]
            ),
            1 => assert_eq!(kinds, ["+ add value 'maintainer' to enum channel_role"]),
            2 => assert_eq!(
                kinds,
                ["~ rename value 'guest' -> 'viewer' of enum channel_role"]
            ),
            3 => assert_eq!(
                kinds,
                ["~ reorder enum channel_role (maintainer, owner, viewer)"]
            ),
            // The default named the removed value: it moves off it first.
            _ => assert_eq!(
                kinds,
                [
                    "~ alter column members.role: default 'maintainer'",
                    "- remove value 'owner' from enum channel_role",
                ]
            ),
        }
        let before = state.clone();
        replay(&mut state, &up).expect("upgrade replays");
        assert_eq!(
            state.canonical(),
            model.without_hints().canonical(),
            "step {i}"
        );
        // The column carries the type's values after every change.
        assert_eq!(
            state.tables["members"].column("role").expect("role").ty,
            model.tables["members"].column("role").expect("role").ty
        );
        let mut reverted = state.clone();
        replay(&mut reverted, &down).expect("downgrade replays");
        assert_eq!(reverted.canonical(), before.canonical(), "step {i} reverts");
    }
    // The drop comes after the table's.
    let diff = autogenerate(&state, &Schema::new());
    assert_eq!(
        diff.upgrade
            .iter()
            .map(Operation::summary)
            .collect::<Vec<_>>(),
        ["- drop table members", "- drop enum channel_role"]
    );
}

#[test]
fn bad_enum_operations_are_replay_errors() {
    let s = members(&["a", "b"], &[]);
    let mut state = Schema::new();
    replay(&mut state, &autogenerate(&Schema::new(), &s).upgrade).expect("creates");
    let alter = |change| Operation::AlterEnum {
        name: "channel_role".into(),
        change,
    };
    for (op, message) in [
        (
            alter(EnumChange::Add {
                value: "a".into(),
                before: None,
            }),
            "has the value `a` already",
        ),
        (
            alter(EnumChange::Remove {
                value: "zz".into(),
                before: None,
            }),
            "has no value `zz`",
        ),
        (
            alter(EnumChange::Reorder {
                from: v(&["b", "a"]),
                to: v(&["a", "b"]),
            }),
            "not b, a as the reorder says",
        ),
        (
            Operation::DropEnum {
                def: EnumDef {
                    name: "channel_role".into(),
                    values: v(&["a", "b"]),
                    renamed_values: vec![],
                },
            },
            "still used by column `members.role`",
        ),
    ] {
        let e = replay(&mut state.clone(), [&op]).expect_err("refused");
        assert!(e.to_string().contains(message), "{e}");
    }
    let e = file::parse(
        "revision = \"1\"\n[[upgrade]]\nop = \"alter_enum\"\nname = \"r\"\nadd = \"x\"\nrename = \"y\"\n",
        Path::new("m.toml"),
    )
    .expect_err("two changes in one");
    assert!(e.to_string().contains("takes one change"), "{e}");
    let e = file::parse(
        "revision = \"1\"\n[[upgrade]]\nop = \"create_table\"\ntable = \"t\"\ncolumns = [{ name = \"r\", type = \"enum(nope)\" }]\n",
        Path::new("m.toml"),
    )
    .expect("parses");
    let e2 = replay(&mut Schema::new(), &e.upgrade).expect_err("no such enum");
    assert!(
        e2.to_string().contains("enum type `nope` does not exist"),
        "{e2}"
    );
}

#[test]
fn each_dialect_renders_the_changes() {
    let state = {
        let mut s = Schema::new();
        replay(
            &mut s,
            &autogenerate(&Schema::new(), &members(&["owner", "guest"], &[])).upgrade,
        )
        .expect("creates");
        s
    };
    let render = |d: Dialect, change: EnumChange| -> Vec<String> {
        d.render_op(
            &state,
            &Operation::AlterEnum {
                name: "channel_role".into(),
                change,
            },
        )
        .expect("renders")
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let add = || EnumChange::Add {
        value: "maintainer".into(),
        before: Some("guest".into()),
    };
    let pg_add = Dialect::Postgres
        .render_op(
            &state,
            &Operation::AlterEnum {
                name: "channel_role".into(),
                change: add(),
            },
        )
        .expect("renders");
    // Its own step, committed before anything uses the value; inside one transaction, a
    // rebuilt type whose values are usable at once.
    assert!(pg_add[0].is_detached());
    assert_eq!(
        pg_add[0].to_string(),
        r#"ALTER TYPE "channel_role" ADD VALUE IF NOT EXISTS 'maintainer' BEFORE 'guest'"#
    );
    assert!(pg_add[0]
        .as_sql()
        .expect("in-transaction form")
        .starts_with(
            r#"CREATE TYPE "_schema_new_channel_role" AS ENUM ('owner', 'maintainer', 'guest')"#
        ));
    let remove = render(
        Dialect::Postgres,
        EnumChange::Remove {
            value: "guest".into(),
            before: None,
        },
    );
    assert!(
        remove[0].starts_with("DO $schema$") && remove[0].contains("'''guest'''"),
        "{remove:?}"
    );
    assert_eq!(
        &remove[1..],
        [
            r#"CREATE TYPE "_schema_new_channel_role" AS ENUM ('owner')"#,
            r#"ALTER TABLE "members" ALTER COLUMN "role" DROP DEFAULT"#,
            r#"ALTER TABLE "members" ALTER COLUMN "role" TYPE "_schema_new_channel_role" USING "role"::text::"_schema_new_channel_role""#,
            r#"ALTER TABLE "members" ALTER COLUMN "role" SET DEFAULT 'owner'"#,
            r#"DROP TYPE "channel_role""#,
            r#"ALTER TYPE "_schema_new_channel_role" RENAME TO "channel_role""#,
        ]
    );
    // SQLite: the table rebuilt with the new CHECK; a renamed value rewritten on the copy.
    let rename = render(
        Dialect::Sqlite,
        EnumChange::Rename {
            from: "guest".into(),
            to: "viewer".into(),
        },
    );
    assert!(
        rename[0].contains(
            r#""role" TEXT NOT NULL DEFAULT 'owner' CHECK ("role" IN ('owner', 'viewer'))"#
        ),
        "{rename:?}"
    );
    assert!(
        rename[1].contains(
            r#"SELECT "id", CASE "role" WHEN 'guest' THEN 'viewer' ELSE "role" END FROM "members""#
        ),
        "{rename:?}"
    );
    // MySQL: both spellings, the rows moved, the final list.
    assert_eq!(
        render(
            Dialect::Mysql,
            EnumChange::Rename {
                from: "guest".into(),
                to: "viewer".into(),
            }
        ),
        [
            "ALTER TABLE `members` MODIFY COLUMN `role` enum('owner','guest','viewer') NOT NULL DEFAULT 'owner'",
            "UPDATE `members` SET `role` = 'viewer' WHERE `role` = 'guest'",
            "ALTER TABLE `members` MODIFY COLUMN `role` enum('owner','viewer') NOT NULL DEFAULT 'owner'",
        ]
    );
    // Creation: a named type on PostgreSQL only.
    let create = autogenerate(&Schema::new(), &members(&["owner", "guest"], &[]));
    let pg: Vec<String> = Dialect::Postgres
        .render_ops(&mut Schema::new(), &create.upgrade)
        .expect("renders")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        pg[0],
        r#"CREATE TYPE "channel_role" AS ENUM ('owner', 'guest')"#
    );
    assert!(
        pg[1].contains(r#""role" "channel_role" NOT NULL DEFAULT 'owner'"#),
        "{pg:?}"
    );
    let sqlite: Vec<String> = Dialect::Sqlite
        .render_ops(&mut Schema::new(), &create.upgrade)
        .expect("renders")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(sqlite.len(), 1, "{sqlite:?}");
    // What SQLite's table reads back as equals the model, values and all.
    let checks = schema_core::dialect::enum_checks(&sqlite[0]);
    assert_eq!(checks, [("role".to_string(), v(&["owner", "guest"]))]);
}
