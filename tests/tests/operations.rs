//! Every operation on both dialects, against real databases: after each upgrade the
//! introspected schema equals the replayed one, after each downgrade the one before, and
//! the rows in the tables survive (SQLite rebuilds included).

use std::path::PathBuf;

use schema_core::file::{self, RevisionFile};
use schema_core::graph::{MigrationGraph, Revision};
use schema_core::model::*;
use schema_core::replay::replay;
use schema_core::{autogenerate, ExecuteSql, Operation, Schema, SqlType};
use schema_e2e::{assert_schema, TestDb};

fn col(name: &str, ty: SqlType, nullable: bool, default: Option<&str>) -> ColumnDef {
    let mut c = ColumnDef::new(name, ty);
    c.nullable = nullable;
    c.default = default.map(str::to_string);
    c
}

fn table(name: &str, columns: Vec<ColumnDef>) -> TableDef {
    let mut id = ColumnDef::new("id", SqlType::BigInt);
    id.auto_increment = true;
    let mut cols = vec![id];
    cols.extend(columns);
    TableDef {
        name: name.into(),
        columns: cols,
        primary_key: Some(PrimaryKeyDef {
            name: format!("pk_{name}"),
            columns: vec!["id".into()],
        }),
        ..Default::default()
    }
}

/// Model states; each step's diff is one revision. Names include reserved words, mixed
/// case and a double quote, which must all be quoted correctly.
fn states() -> Vec<Schema> {
    let mut s = Vec::new();
    let orgs = table("orgs", vec![col("name", SqlType::Text, false, None)]);
    let mut users = table(
        "users",
        vec![
            col("email", SqlType::Varchar(100), true, None),
            col("name", SqlType::Text, false, None),
            col("order", SqlType::Integer, false, Some("0")),
            col("MixedCase", SqlType::Boolean, true, None),
            col("we\"ird", SqlType::Text, true, None),
        ],
    );
    users.uniques.push(UniqueDef {
        name: "uq_users_email".into(),
        columns: vec!["email".into()],
    });
    let select = table("select", vec![col("from", SqlType::Double, true, None)]);
    s.push(Schema::from_tables([
        orgs.clone(),
        users.clone(),
        select.clone(),
    ]));

    // add column + foreign key + index
    let mut u2 = users.clone();
    u2.columns.push(col("org_id", SqlType::BigInt, true, None));
    u2.foreign_keys.push(ForeignKeyDef {
        name: "fk_users_org_id_orgs".into(),
        columns: vec!["org_id".into()],
        ref_table: "orgs".into(),
        ref_columns: vec!["id".into()],
        on_delete: ReferentialAction::SetNull,
        on_update: ReferentialAction::NoAction,
    });
    u2.indexes.push(IndexDef {
        name: "ix_users_org_id".into(),
        columns: vec!["org_id".into()],
        unique: false,
        concurrently: false,
        ..Default::default()
    });
    s.push(Schema::from_tables([
        orgs.clone(),
        u2.clone(),
        select.clone(),
    ]));

    // alter column: type, nullability, default
    let mut u3 = u2.clone();
    *u3.column_mut("name").expect("name") =
        col("name", SqlType::Varchar(200), true, Some("'anon'"));
    *u3.column_mut("order").expect("order") = col("order", SqlType::BigInt, false, Some("1"));
    s.push(Schema::from_tables([
        orgs.clone(),
        u3.clone(),
        select.clone(),
    ]));

    // check constraint, composite unique, unique index
    let mut u4 = u3.clone();
    u4.checks.push(CheckDef {
        name: "ck_users_order".into(),
        expr: "\"order\" >= 0".into(),
    });
    u4.uniques.push(UniqueDef {
        name: "uq_users_name_org".into(),
        columns: vec!["name".into(), "org_id".into()],
    });
    u4.indexes.push(IndexDef {
        name: "ix_users_lower".into(),
        columns: vec!["MixedCase".into(), "email".into()],
        unique: true,
        concurrently: false,
        ..Default::default()
    });
    s.push(Schema::from_tables([
        orgs.clone(),
        u4.clone(),
        select.clone(),
    ]));

    // rename column (hint)
    let mut u5 = u4.clone();
    let c = u5.column_mut("we\"ird").expect("col");
    c.name = "plain".into();
    c.renamed_from = Some("we\"ird".into());
    s.push(Schema::from_tables([
        orgs.clone(),
        u5.clone(),
        select.clone(),
    ]));

    // rename table (hint)
    // (and the names that mention the table follow: constraints and an index are renamed)
    let mut teams = orgs.clone();
    teams.name = "teams".into();
    teams.renamed_from = Some("orgs".into());
    teams.primary_key = Some(PrimaryKeyDef {
        name: "pk_teams".into(),
        columns: vec!["id".into()],
    });
    let mut u6 = u5.clone();
    u6.columns.iter_mut().for_each(|c| c.renamed_from = None);
    u6.foreign_keys[0].ref_table = "teams".into();
    u6.foreign_keys[0].name = "fk_users_org_id_teams".into();
    u6.indexes
        .iter_mut()
        .filter(|i| i.name == "ix_users_org_id")
        .for_each(|i| i.name = "ix_users_team".into());
    s.push(Schema::from_tables([
        teams.clone(),
        u6.clone(),
        select.clone(),
    ]));

    // drop column (with its unique constraint), drop the index
    let mut u7 = u6.clone();
    u7.uniques.retain(|u| u.name != "uq_users_email");
    u7.indexes.retain(|i| i.name != "ix_users_lower");
    u7.columns.retain(|c| c.name != "email");
    let mut teams7 = teams.clone();
    teams7.renamed_from = None;
    debug_assert_eq!(
        teams7.primary_key.as_ref().map(|p| p.name.as_str()),
        Some("pk_teams")
    );
    s.push(Schema::from_tables([
        teams7.clone(),
        u7.clone(),
        select.clone(),
    ]));

    // drop a referenced table: its foreign key goes first
    let mut u8 = u7.clone();
    u8.foreign_keys.clear();
    u8.uniques.clear();
    u8.indexes.clear();
    u8.columns.retain(|c| c.name != "org_id");
    s.push(Schema::from_tables([u8, select]));
    s
}

fn revision(id: usize, upgrade: Vec<Operation>, downgrade: Vec<Operation>) -> Revision {
    let f = RevisionFile {
        revision: format!("{id:04}"),
        down_revisions: if id > 1 {
            vec![format!("{:04}", id - 1)]
        } else {
            vec![]
        },
        branch_labels: if id == 1 { vec!["ops".into()] } else { vec![] },
        message: format!("step {id}"),
        upgrade,
        downgrade,
        ..Default::default()
    };
    let text = file::write(&f, &[]);
    let path = PathBuf::from(format!("ops/{id:04}.toml"));
    schema_core::resolver::parse_revision(&text, &path).expect("written revision parses")
}

/// A table keyed by its own columns, whose primary key later grows a column.
fn pairs(key: &[&str]) -> TableDef {
    TableDef {
        name: "pairs".into(),
        columns: vec![
            col("a", SqlType::BigInt, false, None),
            col("b", SqlType::BigInt, false, Some("0")),
            col("label", SqlType::Text, true, None),
        ],
        primary_key: Some(PrimaryKeyDef {
            name: "pk_pairs".into(),
            columns: key.iter().map(|c| c.to_string()).collect(),
        }),
        ..Default::default()
    }
}

/// Every state with the `pairs` table, and a last one that changes its primary key.
fn states_with_pairs() -> Vec<Schema> {
    let mut out: Vec<Schema> = states()
        .into_iter()
        .map(|mut s| {
            s.tables.insert("pairs".into(), pairs(&["a"]));
            s
        })
        .collect();
    let mut last = out.last().cloned().unwrap_or_default();
    last.tables.insert("pairs".into(), pairs(&["a", "b"]));
    out.push(last);
    out
}

fn history() -> (MigrationGraph, Vec<Schema>) {
    let states = states_with_pairs();
    let mut revs = Vec::new();
    let mut prev = Schema::new();
    let mut expected = vec![Schema::new()];
    for (i, s) in states.iter().enumerate() {
        let d = autogenerate(&prev, s);
        assert!(!d.is_empty(), "step {i} changes something");
        let mut upgrade = d.upgrade;
        // A data step right after the tables exist: rows that every later step must keep.
        if i == 0 {
            let standard = "INSERT INTO \"orgs\" (\"name\") VALUES ('acme'); \
                 INSERT INTO \"users\" (\"email\", \"name\", \"order\", \"we\"\"ird\") VALUES ('a@x', 'Ann', 3, 'q'), ('b@x', 'Bob', 5, NULL); \
                 INSERT INTO \"pairs\" (\"a\", \"b\", \"label\") VALUES (1, 1, 'one'), (2, 1, 'two')";
            // MySQL quotes names with backquotes (a `"` inside one is plain).
            let mysql = standard
                .replace("\"\"", "\u{1}")
                .replace('"', "`")
                .replace('\u{1}', "\"");
            upgrade.push(Operation::Execute {
                sql: ExecuteSql::PerDialect(
                    [
                        ("postgres".to_string(), standard.to_string()),
                        ("sqlite".to_string(), standard.to_string()),
                        ("mysql".to_string(), mysql),
                    ]
                    .into(),
                ),
            });
        }
        revs.push(revision(i + 1, upgrade, d.downgrade));
        prev = s.without_hints();
        expected.push(prev.clone());
    }
    (MigrationGraph::new(revs).expect("graph"), expected)
}

#[test]
fn every_operation_up_and_down_on_both_dialects() {
    let (graph, expected) = history();
    // The replayed state is the model state at every step.
    let mut replayed = Schema::new();
    for (i, r) in graph.ordered().enumerate() {
        replay(&mut replayed, &r.file.upgrade).expect("replays");
        assert_eq!(replayed.canonical(), expected[i + 1].canonical());
    }
    let step6: Vec<String> = graph
        .get("0006")
        .expect("0006")
        .file
        .upgrade
        .iter()
        .map(Operation::summary)
        .collect();
    assert_eq!(
        step6,
        [
            "~ rename table orgs -> teams",
            "~ rename constraint pk_orgs -> pk_teams on teams",
            "~ rename constraint fk_users_org_id_orgs -> fk_users_org_id_teams on users",
            "~ rename index ix_users_org_id -> ix_users_team on users",
        ]
    );
    let ids: Vec<String> = graph.ordered().map(|r| r.id().to_string()).collect();
    for db in TestDb::all("ops") {
        let q = |n: &str| db.dialect().quote(n);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(db.upgrade(&graph, id).expect("upgrade"), vec![id.clone()]);
            assert_schema(&db, &expected[i + 1], &format!("after upgrade to {id}"));
            let users = db.rows(&format!(
                "SELECT {id}, {order} FROM {users} ORDER BY {id}",
                id = q("id"),
                order = q("order"),
                users = q("users")
            ));
            assert_eq!(
                users,
                [["1", "3"], ["2", "5"]],
                "rows survive {id} on {:?}",
                db.dialect()
            );
            if i > 0 {
                assert_eq!(
                    db.downgrade(&graph, "-1").expect("downgrade"),
                    vec![id.clone()]
                );
                assert_schema(&db, &expected[i], &format!("after downgrade of {id}"));
                let users = db.rows(&format!(
                    "SELECT {id}, {order} FROM {users} ORDER BY {id}",
                    id = q("id"),
                    order = q("order"),
                    users = q("users")
                ));
                assert_eq!(
                    users,
                    [["1", "3"], ["2", "5"]],
                    "rows survive the downgrade of {id}"
                );
                db.upgrade(&graph, id).expect("re-upgrade");
                assert_schema(&db, &expected[i + 1], &format!("after re-upgrade to {id}"));
            }
        }
        // Every value of a rebuilt table is kept, not just the count.
        let names = db.rows(&format!(
            "SELECT {}, {} FROM {} ORDER BY {}",
            q("name"),
            q("plain"),
            q("users"),
            q("id")
        ));
        assert_eq!(names, [["Ann", "q"], ["Bob", "NULL"]]);
        let pairs = db.rows("SELECT a, b, label FROM pairs ORDER BY a");
        assert_eq!(
            pairs,
            [["1", "1", "one"], ["2", "1", "two"]],
            "the primary key change kept every row"
        );
        db.downgrade(&graph, "base").expect("to base");
        assert!(db.introspect().tables.is_empty(), "base leaves no table");
    }
}

#[test]
fn a_sqlite_rebuild_keeps_the_tables_triggers_and_rows() {
    let mut t = table(
        "accounts",
        vec![col("balance", SqlType::Integer, true, None)],
    );
    let v1 = Schema::from_tables([t.clone()]);
    t.columns[1] = col("balance", SqlType::BigInt, false, Some("0"));
    let v2 = Schema::from_tables([t]);
    let d1 = autogenerate(&Schema::new(), &v1);
    let mut up1 = d1.upgrade;
    up1.push(Operation::Execute {
        sql: ExecuteSql::PerDialect(
            [(
                "sqlite".to_string(),
                "CREATE TABLE audit (what TEXT); \
                 CREATE TRIGGER accounts_audit AFTER INSERT ON accounts BEGIN INSERT INTO audit VALUES ('insert'); END; \
                 INSERT INTO accounts (balance) VALUES (7)"
                    .to_string(),
            )]
            .into(),
        ),
    });
    let d2 = autogenerate(&v1, &v2);
    assert!(
        schema_core::dialect::sqlite_rebuild_reason(&v1, &d2.upgrade[0]).is_some(),
        "the alter rebuilds on SQLite"
    );
    let graph = MigrationGraph::new(vec![
        revision(1, up1, d1.downgrade),
        revision(2, d2.upgrade, d2.downgrade),
    ])
    .expect("graph");
    let db = TestDb::sqlite("triggers");
    db.upgrade(&graph, "heads").expect("upgrade");
    assert_eq!(
        db.rows("SELECT name FROM sqlite_master WHERE type = 'trigger'"),
        [["accounts_audit"]]
    );
    db.execute("INSERT INTO accounts (balance) VALUES (8)");
    assert_eq!(
        db.rows("SELECT count(*) FROM audit"),
        [["2"]],
        "the trigger still fires after the rebuild"
    );
    assert_eq!(
        db.rows("SELECT balance FROM accounts ORDER BY id"),
        [["7"], ["8"]]
    );
}
