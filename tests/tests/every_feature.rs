//! One model using every schema object (an enum type, comments, an identity key, a stored
//! generated column, a collation per dialect, an index with `include`, a view, a table in
//! a PostgreSQL schema, and where the dialects allow them a partial index and one over an
//! expression): `revision` writes it, `upgrade` runs it, and `create_all` from the same
//! models gives the same database as the replayed chain, with `check --database` finding
//! no drift, on every dialect with the features it has.

use schema_core::Schema;
use schema_e2e::{assert_schema, CreateAll, Fixture, TestDb};

const USERS: &str = "models/src/users.rs";

/// The blog's models with every feature; `partial` adds a partial index and an index over
/// an expression (neither on MariaDB).
fn fixture(partial: bool) -> Fixture {
    let f = Fixture::new("blog");
    f.edit(
        USERS,
        "use schema::Table;\n",
        "use schema::{Enum, Table};\n\n#[derive(Debug, Clone, Copy, PartialEq, Enum)]\n#[enum_type(name = \"user_role\")]\npub enum Role {\n    Owner,\n    Guest,\n}\n",
    );
    let partial_index = if partial {
        "#[table(index(name = \"ix_users_active_email\", columns(\"email\"), where = \"karma > 0\"))]\n#[table(index(name = \"ix_users_lower_name\", expressions(\"lower(display_name)\"), unique))]\n"
    } else {
        ""
    };
    f.edit(
        USERS,
        "#[table(name = \"users\")]\n",
        &format!(
            "#[table(name = \"users\", comment = \"people who sign in\")]\n#[table(index(name = \"ix_users_karma\", columns(\"karma\"), include(\"bio\")))]\n{partial_index}"
        ),
    );
    f.edit(
        USERS,
        "    #[column(primary_key)]\n",
        "    #[column(primary_key, identity)]\n",
    );
    f.edit(
        USERS,
        "    #[column(renamed_from = \"fullname\")]\n",
        "    #[column(renamed_from = \"fullname\", collation(postgres = \"C\", sqlite = \"NOCASE\", mysql = \"utf8mb4_bin\"))]\n",
    );
    // A view over the table, and a table in a PostgreSQL schema of its own (a plain name
    // elsewhere) with a foreign key back.
    f.write(
        USERS,
        &format!(
            "{}{}",
            f.read(USERS),
            "
#[derive(schema::View)]
#[view(name = \"guests\", sql = \"SELECT id, email FROM users WHERE role = 'guest'\")]
pub struct Guest {
    pub id: i64,
    pub email: String,
}

#[derive(Table)]
#[table(name = \"audit_entries\", schema = \"audit\")]
pub struct AuditEntry {
    #[column(primary_key)]
    pub id: i64,
    #[column(references = \"users\", index)]
    pub user_id: i64,
}
"
        ),
    );
    f.edit(
        USERS,
        "    pub karma: i32,\n",
        "    pub karma: i32,\n    #[column(generated = \"karma * 2\", stored)]\n    pub karma_twice: i32,\n    #[column(default = \"'guest'\", comment = \"what they may do\")]\n    pub role: Role,\n",
    );
    if partial {
        f.edit(
            "Cargo.toml",
            "dialects = [\"postgres\", \"sqlite\", \"mysql\"]",
            "dialects = [\"postgres\", \"sqlite\"]",
        );
    }
    f.schema(&["revision", "-m", "every feature"]).expect(0);
    f.schema(&["check"]).expect(0);
    f
}

/// The fixture's models, read from its source as the derive and the CLI do.
fn models(f: &Fixture) -> Schema {
    let dir = f.path("models");
    let settings = schema_syntax::config::crate_settings(&dir).expect("settings");
    let found = schema_syntax::source::crate_models(
        &settings.roots[0],
        &settings.model,
        &Default::default(),
        &[],
    )
    .expect("models");
    let mut s = Schema::from_tables(found.tables.into_iter().map(|m| m.model.table));
    s.views = found
        .views
        .into_iter()
        .map(|v| (v.model.def.name.clone(), v.model.def))
        .collect();
    s.without_hints()
}

fn same_database_both_ways(f: &Fixture, dbs: Vec<(TestDb, TestDb)>) {
    let models = models(f);
    assert!(models.enums.contains_key("user_role"));
    assert!(models.views.contains_key("guests") && models.schemas.contains("audit"));
    for (replayed, created) in dbs {
        let url = replayed.url();
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        replayed.execute(
            "INSERT INTO users (email, display_name, karma) VALUES ('ann@example.com', 'Ann', 2)",
        );
        assert_eq!(
            replayed.rows("SELECT karma_twice, role FROM users"),
            [["4", "guest"]],
            "{:?}",
            replayed.dialect()
        );
        assert_eq!(
            replayed.rows("SELECT email FROM guests"),
            [["ann@example.com"]]
        );
        f.schema(&["check", "--database", &url]).expect(0);
        created.with(CreateAll(&models));
        let diff = schema::compare::differences(
            created.dialect(),
            &replayed.introspect(),
            &created.introspect(),
        );
        assert!(
            diff.is_empty(),
            "{:?}: create_all differs from replay: {diff:?}",
            created.dialect()
        );
        assert_schema(&created, &models, "create_all has the models");
    }
}

#[test]
fn create_all_equals_replay_for_every_feature_on_every_dialect() {
    let f = fixture(false);
    same_database_both_ways(
        &f,
        TestDb::all("every")
            .into_iter()
            .zip(TestDb::all("every_created"))
            .collect(),
    );
}

#[test]
fn with_a_partial_index_on_postgres_and_sqlite() {
    let f = fixture(true);
    let text = f.newest_migration("models/migrations");
    assert!(text.contains("where = \"karma > 0\""), "{text}");
    same_database_both_ways(
        &f,
        vec![
            (TestDb::sqlite("partial"), TestDb::sqlite("partial_created")),
            (
                TestDb::postgres("partial"),
                TestDb::postgres("partial_created"),
            ),
        ],
    );
}
