//! Autogenerate, one kind of change at a time, in both directions: the upgrade takes the
//! old schema to the new one, the downgrade takes it back, and the operations are the
//! expected ones.

mod common;

use common::*;
use schema_core::model::*;
use schema_core::replay::replay;
use schema_core::{autogenerate, Operation, Schema, SqlType};

/// Diffs both ways and checks that each direction replays exactly.
fn roundtrip(old: &Schema, new: &Schema) -> (Vec<String>, Vec<String>) {
    let up = autogenerate(old, new);
    let mut s = old.clone();
    replay(&mut s, &up.upgrade).expect("upgrade replays");
    assert_eq!(
        s.canonical(),
        new.canonical(),
        "upgrade reaches the new schema"
    );
    replay(&mut s, &up.downgrade).expect("downgrade replays");
    assert_eq!(
        s.canonical(),
        old.canonical(),
        "downgrade restores the old schema"
    );
    let back = autogenerate(new, old);
    let mut s = new.without_hints();
    replay(&mut s, &back.upgrade).expect("reverse diff replays");
    assert_eq!(s.canonical(), old.canonical());
    (
        up.upgrade.iter().map(Operation::summary).collect(),
        back.upgrade.iter().map(Operation::summary).collect(),
    )
}

#[test]
fn create_and_drop_table_in_dependency_order() {
    let users = id_table("users", vec![col("email", SqlType::Text)]);
    let mut posts = id_table("posts", vec![col("author_id", SqlType::BigInt)]);
    posts.foreign_keys.push(fk("posts", "author_id", "users"));
    let (up, down) = roundtrip(&Schema::new(), &schema(vec![users, posts]));
    assert_eq!(up, ["+ create table users", "+ create table posts"]);
    assert_eq!(down, ["- drop table posts", "- drop table users"]);
}

#[test]
fn foreign_key_cycle_is_closed_after_both_tables_exist() {
    let mut a = id_table("a", vec![nullable("b_id", SqlType::BigInt)]);
    a.foreign_keys.push(fk("a", "b_id", "b"));
    let mut b = id_table("b", vec![nullable("a_id", SqlType::BigInt)]);
    b.foreign_keys.push(fk("b", "a_id", "a"));
    let (up, down) = roundtrip(&Schema::new(), &schema(vec![a, b]));
    assert_eq!(up.len(), 3, "{up:?}");
    assert!(up[2].starts_with("+ add foreign key constraint"), "{up:?}");
    assert!(
        down[0].starts_with("- drop foreign key constraint"),
        "{down:?}"
    );
}

#[test]
fn add_and_drop_column_keep_the_full_definition() {
    let old = schema(vec![id_table("users", vec![])]);
    let mut c = col("karma", SqlType::Integer);
    c.default = Some("0".into());
    let new = schema(vec![id_table("users", vec![c.clone()])]);
    let (up, down) = roundtrip(&old, &new);
    assert_eq!(up, ["+ add column users.karma (integer)"]);
    assert_eq!(down, ["- drop column users.karma"]);
    let back = autogenerate(&new, &old);
    assert_eq!(
        back.upgrade,
        [Operation::DropColumn {
            table: "users".into(),
            column: c
        }]
    );
    assert!(back.upgrade[0].destructive().is_some());
}

#[test]
fn alter_type_nullability_and_default() {
    let old = schema(vec![id_table("t", vec![col("n", SqlType::Integer)])]);
    let mut n = nullable("n", SqlType::BigInt);
    n.default = Some("1".into());
    let new = schema(vec![id_table("t", vec![n])]);
    let (up, down) = roundtrip(&old, &new);
    assert_eq!(
        up,
        ["~ alter column t.n: type integer -> bigint, drop not null, default 1"]
    );
    assert_eq!(
        down,
        ["~ alter column t.n: type bigint -> integer, set not null, drop default"]
    );
    let narrowing = autogenerate(&new, &old);
    assert!(narrowing.upgrade[0]
        .destructive()
        .is_some_and(|w| w.contains("narrows")));
}

#[test]
fn rename_column_only_from_a_hint() {
    let old = schema(vec![id_table(
        "users",
        vec![col("fullname", SqlType::Text)],
    )]);
    let mut renamed = col("display_name", SqlType::Text);
    let plain = schema(vec![id_table("users", vec![renamed.clone()])]);
    let without_hint = autogenerate(&old, &plain);
    assert_eq!(without_hint.upgrade.len(), 2, "an add and a drop");
    assert_eq!(
        without_hint.hints.len(),
        1,
        "with a hint that it may be a rename"
    );
    assert!(without_hint.hints[0].contains("renamed_from"));

    renamed.renamed_from = Some("fullname".into());
    let hinted = schema(vec![id_table("users", vec![renamed])]);
    let (up, _) = roundtrip(&old, &hinted);
    assert_eq!(up, ["~ rename column users.fullname -> display_name"]);
}

#[test]
fn rename_table_from_a_hint_retargets_foreign_keys() {
    let mut posts = id_table("posts", vec![col("author_id", SqlType::BigInt)]);
    posts.foreign_keys.push(fk("posts", "author_id", "people"));
    let old = schema(vec![id_table("people", vec![]), posts.clone()]);
    let mut users = id_table("users", vec![]);
    users.renamed_from = Some("people".into());
    users.primary_key = Some(PrimaryKeyDef {
        name: "pk_people".into(),
        columns: vec!["id".into()],
    });
    let mut posts2 = posts;
    posts2.foreign_keys[0].ref_table = "users".into();
    posts2.foreign_keys[0].name = "fk_posts_author_id_people".into();
    let up = autogenerate(&old, &schema(vec![users, posts2]));
    assert_eq!(
        up.upgrade
            .iter()
            .map(Operation::summary)
            .collect::<Vec<_>>(),
        ["~ rename table people -> users"]
    );
}

#[test]
fn indexes_and_constraints_both_ways() {
    let old = schema(vec![id_table(
        "t",
        vec![col("a", SqlType::Text), col("b", SqlType::Integer)],
    )]);
    let mut t = id_table(
        "t",
        vec![col("a", SqlType::Text), col("b", SqlType::Integer)],
    );
    t.indexes.push(IndexDef {
        name: "ix_t_a".into(),
        columns: vec!["a".into(), "b".into()],
        unique: false,
        concurrently: false,
        ..Default::default()
    });
    t.uniques.push(UniqueDef {
        name: "uq_t_a".into(),
        columns: vec!["a".into()],
    });
    t.checks.push(CheckDef {
        name: "ck_t_b".into(),
        expr: "b > 0".into(),
    });
    let (up, down) = roundtrip(&old, &schema(vec![t]));
    assert_eq!(
        up,
        [
            "+ add check constraint ck_t_b on t",
            "+ add unique constraint uq_t_a on t",
            "+ create index ix_t_a on t (a, b)"
        ]
    );
    assert_eq!(down.len(), 3);
}

#[test]
fn changed_foreign_key_is_dropped_before_and_added_after() {
    let mut old_t = id_table("c", vec![col("p_id", SqlType::BigInt)]);
    old_t.foreign_keys.push(fk("c", "p_id", "p"));
    let old = schema(vec![id_table("p", vec![]), old_t.clone()]);
    let mut new_t = old_t;
    new_t.foreign_keys[0].on_delete = ReferentialAction::SetNull;
    new_t.columns[1].nullable = true;
    let (up, _) = roundtrip(&old, &schema(vec![id_table("p", vec![]), new_t]));
    assert!(
        up.first()
            .is_some_and(|s| s.starts_with("- drop foreign key")),
        "{up:?}"
    );
    assert!(
        up.last()
            .is_some_and(|s| s.starts_with("+ add foreign key")),
        "{up:?}"
    );
}

#[test]
fn composite_primary_key_change() {
    let mut old_t = TableDef {
        name: "pt".into(),
        ..Default::default()
    };
    old_t.columns = vec![
        col("a", SqlType::BigInt),
        col("b", SqlType::BigInt),
        col("c", SqlType::BigInt),
    ];
    old_t.primary_key = Some(PrimaryKeyDef {
        name: "pk_pt".into(),
        columns: vec!["a".into(), "b".into()],
    });
    let mut new_t = old_t.clone();
    new_t.primary_key = Some(PrimaryKeyDef {
        name: "pk_pt".into(),
        columns: vec!["a".into(), "b".into(), "c".into()],
    });
    let (up, _) = roundtrip(&schema(vec![old_t]), &schema(vec![new_t]));
    assert_eq!(
        up,
        [
            "- drop primary key constraint pk_pt on pt",
            "+ add primary key constraint pk_pt on pt"
        ]
    );
}

#[test]
fn dropping_a_referenced_table_drops_the_reference_first() {
    let mut c = id_table("c", vec![col("p_id", SqlType::BigInt)]);
    c.foreign_keys.push(fk("c", "p_id", "p"));
    let old = schema(vec![id_table("p", vec![]), c.clone()]);
    let mut c2 = c;
    c2.foreign_keys.clear();
    c2.columns.pop();
    let (up, down) = roundtrip(&old, &schema(vec![c2]));
    assert_eq!(
        up,
        [
            "- drop foreign key constraint fk_c_p_id_p on c",
            "- drop table p",
            "- drop column c.p_id"
        ]
    );
    assert_eq!(down[0], "+ create table p");
}

#[test]
fn no_change_no_operations() {
    let s = schema(vec![id_table("users", vec![col("a", SqlType::Text)])]);
    assert!(autogenerate(&s, &s).is_empty());
}

#[test]
fn names_that_follow_a_renamed_table_are_renamed_not_recreated() {
    let mut posts = id_table("posts", vec![col("author_id", SqlType::BigInt)]);
    posts.foreign_keys.push(fk("posts", "author_id", "people"));
    posts.indexes.push(IndexDef {
        name: "ix_posts_author_id".into(),
        columns: vec!["author_id".into()],
        unique: false,
        concurrently: false,
        ..Default::default()
    });
    let mut people = id_table("people", vec![col("email", SqlType::Text)]);
    people.uniques.push(UniqueDef {
        name: "uq_people_email".into(),
        columns: vec!["email".into()],
    });
    people.indexes.push(IndexDef {
        name: "ix_people_email".into(),
        columns: vec!["email".into()],
        unique: false,
        concurrently: false,
        ..Default::default()
    });
    let old = schema(vec![people, posts.clone()]);

    let mut users = id_table("users", vec![col("email", SqlType::Text)]);
    users.renamed_from = Some("people".into());
    users.uniques.push(UniqueDef {
        name: "uq_users_email".into(),
        columns: vec!["email".into()],
    });
    users.indexes.push(IndexDef {
        name: "ix_users_email".into(),
        columns: vec!["email".into()],
        unique: false,
        concurrently: false,
        ..Default::default()
    });
    let mut posts2 = posts;
    posts2.foreign_keys[0] = fk("posts", "author_id", "users");
    let new = schema(vec![users, posts2]);
    let (up, _) = roundtrip(&old, &new);
    assert_eq!(
        up,
        [
            "~ rename table people -> users",
            "~ rename constraint fk_posts_author_id_people -> fk_posts_author_id_users on posts",
            "~ rename constraint pk_people -> pk_users on users",
            "~ rename constraint uq_people_email -> uq_users_email on users",
            "~ rename index ix_people_email -> ix_users_email on users",
        ]
    );
    let inverse: Vec<String> = autogenerate(&old, &new)
        .downgrade
        .iter()
        .map(Operation::summary)
        .collect();
    assert_eq!(
        inverse[0],
        "~ rename index ix_users_email -> ix_people_email on users"
    );
    assert_eq!(inverse[4], "~ rename table users -> people");
    // A changed definition is still a drop and an add.
    let mut a = id_table("t", vec![col("x", SqlType::Text), col("y", SqlType::Text)]);
    a.indexes.push(IndexDef {
        name: "ix_a".into(),
        columns: vec!["x".into()],
        unique: false,
        concurrently: false,
        ..Default::default()
    });
    let mut b = a.clone();
    b.indexes[0] = IndexDef {
        name: "ix_b".into(),
        columns: vec!["y".into()],
        unique: false,
        concurrently: false,
        ..Default::default()
    };
    let (up, _) = roundtrip(&schema(vec![a]), &schema(vec![b]));
    assert_eq!(
        up,
        ["- drop index ix_a on t", "+ create index ix_b on t (y)"]
    );
}
