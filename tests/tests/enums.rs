//! Enum types end to end: `#[derive(Enum)]` in a model crate, five revisions written by
//! `revision` (created; a value added and used in the same upgrade; renamed; reordered;
//! removed), run on every dialect with rows, each step read back from the catalog and
//! compared with the history; the removal refused while a row holds the value (on
//! PostgreSQL with the count), then accepted; everything reverted with the rows kept.

use schema_e2e::{Fixture, TestDb};

const USERS: &str = "models/src/users.rs";

/// The value list the database holds for `users.role`, read back from its catalog.
fn values(db: &TestDb) -> Vec<String> {
    match &db.introspect().tables["users"]
        .column("role")
        .expect("users.role")
        .ty
    {
        schema_core::SqlType::Enum { values, .. } => values.clone(),
        // MySQL reports the column's type spelled out: enum('a','b').
        schema_core::SqlType::Custom { name, .. } => name
            .trim_start_matches("enum(")
            .trim_end_matches(')')
            .split(',')
            .map(|v| v.trim_matches('\'').to_string())
            .collect(),
        other => panic!("users.role is {other:?}"),
    }
}

fn roles(db: &TestDb) -> Vec<Vec<String>> {
    db.rows("SELECT id, role FROM users ORDER BY id")
}

fn pair(id: &str, role: &str) -> Vec<String> {
    vec![id.to_string(), role.to_string()]
}

#[test]
fn an_enum_changes_across_five_revisions_with_rows_on_every_dialect() {
    let f = Fixture::new("blog");
    // 0008: the type and a column of it.
    f.edit(
        USERS,
        "use schema::Table;\n",
        "use schema::{Enum, Table};\n\n#[derive(Debug, Clone, Copy, PartialEq, Enum)]\n#[enum_type(name = \"user_role\")]\npub enum Role {\n    Owner,\n    Guest,\n}\n",
    );
    f.edit(
        USERS,
        "    pub karma: i32,\n",
        "    pub karma: i32,\n    #[column(default = \"'guest'\")]\n    pub role: Role,\n",
    );
    f.schema(&["revision", "-m", "user roles"]).expect(0);
    let text = f.newest_migration("models/migrations");
    assert!(
        text.contains(
            "op = \"create_enum\"\nname = \"user_role\"\nvalues = [\"owner\", \"guest\"]"
        ),
        "{text}"
    );
    assert!(
        text.contains("{ name = \"role\", type = \"enum(user_role)\", default = \"'guest'\" }"),
        "{text}"
    );
    // 0009: a value added in place, and used by a data step of the same revision.
    f.edit(
        USERS,
        "    Owner,\n    Guest,\n",
        "    Owner,\n    Maintainer,\n    Guest,\n",
    );
    f.schema(&["revision", "-m", "maintainers"]).expect(0);
    let name = f.migrations("models/migrations").pop().expect("0009");
    let path = format!("models/migrations/{name}");
    let text = f.read(&path);
    assert!(
        text.contains(
            "op = \"alter_enum\"\nname = \"user_role\"\nadd = \"maintainer\"\nbefore = \"guest\""
        ),
        "{text}"
    );
    assert!(text.contains("breaking = false"), "{text}");
    f.write(
        &path,
        &text.replacen(
            "[[downgrade]]",
            "[[upgrade]]\nop = \"execute\"\nsql = \"UPDATE users SET role = 'maintainer' WHERE id = 2\"\n\n[[downgrade]]\nop = \"execute\"\nsql = \"UPDATE users SET role = 'guest' WHERE role = 'maintainer'\"\n\n[[downgrade]]",
            1,
        ),
    );
    // 0010: a value renamed, by the model's hint.
    f.edit(
        USERS,
        "    Guest,\n",
        "    #[enum_value(renamed_from = \"guest\")]\n    Viewer,\n",
    );
    // The default follows the renamed value without a change of its own.
    f.edit(USERS, "default = \"'guest'\"", "default = \"'viewer'\"");
    f.schema(&["revision", "-m", "guests are viewers"])
        .expect(0);
    let text = f.newest_migration("models/migrations");
    assert!(
        text.contains("rename = \"guest\"\nto = \"viewer\""),
        "{text}"
    );
    assert!(text.contains("breaking = true"), "{text}");
    assert!(!text.contains("alter_column"), "{text}");
    // 0011: a new order.
    f.edit(
        USERS,
        "    Owner,\n    Maintainer,\n",
        "    Maintainer,\n    Owner,\n",
    );
    f.edit(USERS, "#[enum_value(renamed_from = \"guest\")]\n", "");
    f.schema(&["revision", "-m", "maintainers first"]).expect(0);
    let text = f.newest_migration("models/migrations");
    assert!(
        text.contains("reorder = [\"maintainer\", \"owner\", \"viewer\"]\nfrom = [\"owner\", \"maintainer\", \"viewer\"]"),
        "{text}"
    );
    // 0012: a value removed.
    f.edit(USERS, "    Owner,\n", "");
    f.schema(&["revision", "-m", "no owners"]).expect(0);
    let text = f.newest_migration("models/migrations");
    assert!(
        text.contains("# DESTRUCTIVE: removes value 'owner' from enum user_role")
            && text.contains("remove = \"owner\"\nbefore = \"viewer\""),
        "{text}"
    );
    f.schema(&["check"]).expect(0);

    for db in TestDb::all("enums") {
        let url = db.url();
        let d = format!("{:?}", db.dialect());
        f.schema(&["upgrade", "0007", "--database-url", &url])
            .expect(0);
        db.execute(
            "INSERT INTO users (id, email, display_name, karma) VALUES (1, 'ann@example.com', 'Ann', 1), (2, 'bob@example.com', 'Bob', 2)",
        );
        f.schema(&["upgrade", "0008", "--database-url", &url])
            .expect(0);
        assert_eq!(values(&db), ["owner", "guest"], "{d}");
        assert_eq!(roles(&db), [pair("1", "guest"), pair("2", "guest")], "{d}");
        db.execute("UPDATE users SET role = 'owner' WHERE id = 1");
        f.schema(&["check", "--database", &url]).expect(0);
        // 0009 and 0010 in one run: the added value is used by the data step after it.
        f.schema(&["upgrade", "0010", "--database-url", &url])
            .expect(0);
        assert_eq!(values(&db), ["owner", "maintainer", "viewer"], "{d}");
        assert_eq!(
            roles(&db),
            [pair("1", "owner"), pair("2", "maintainer")],
            "{d}"
        );
        db.execute(
            "INSERT INTO users (id, email, display_name, karma) VALUES (3, 'cy@example.com', 'Cy', 3)",
        );
        assert_eq!(
            db.rows("SELECT role FROM users WHERE id = 3"),
            [["viewer"]],
            "{d}"
        );
        f.schema(&["upgrade", "0011", "--database-url", &url])
            .expect(0);
        assert_eq!(values(&db), ["maintainer", "owner", "viewer"], "{d}");
        f.schema(&["check", "--database", &url]).expect(0);
        // A row still holds the value: refused, and the database stays at 0011.
        let r = f.schema(&["upgrade", "--database-url", &url]);
        assert_ne!(r.code(), 0, "{d}: {}", r.stdout());
        if db.dialect() == schema_core::Dialect::Postgres {
            assert!(
                r.stderr()
                    .contains("1 row(s) of users.role still hold 'owner', which this revision removes from enum user_role"),
                "{}",
                r.stderr()
            );
        }
        assert!(
            f.schema(&["current", "--database-url", &url])
                .stdout()
                .contains("0011"),
            "{d}"
        );
        assert_eq!(values(&db), ["maintainer", "owner", "viewer"], "{d}");
        assert_eq!(
            roles(&db),
            [
                pair("1", "owner"),
                pair("2", "maintainer"),
                pair("3", "viewer")
            ],
            "{d}"
        );
        f.schema(&["check", "--database", &url]).expect(0);
        db.execute("UPDATE users SET role = 'viewer' WHERE role = 'owner'");
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        assert_eq!(values(&db), ["maintainer", "viewer"], "{d}");
        assert_eq!(
            roles(&db),
            [
                pair("1", "viewer"),
                pair("2", "maintainer"),
                pair("3", "viewer")
            ],
            "{d}"
        );
        f.schema(&["check", "--database", &url]).expect(0);
        // Back down, one revision at a time, each read back.
        for (to, expected) in [
            ("0011", vec!["maintainer", "owner", "viewer"]),
            ("0010", vec!["owner", "maintainer", "viewer"]),
            ("0009", vec!["owner", "maintainer", "guest"]),
            ("0008", vec!["owner", "guest"]),
        ] {
            f.schema(&["downgrade", to, "--database-url", &url])
                .expect(0);
            assert_eq!(values(&db), expected, "{d} at {to}");
            f.schema(&["check", "--database", &url]).expect(0);
        }
        assert_eq!(
            roles(&db),
            [pair("1", "guest"), pair("2", "guest"), pair("3", "guest")],
            "{d}"
        );
        f.schema(&["downgrade", "0007", "--database-url", &url])
            .expect(0);
        assert!(db.introspect().enums.is_empty(), "{d}: the type is gone");
        assert_eq!(db.rows("SELECT count(*) FROM users"), [["3"]], "{d}");
    }

    // In one transaction, PostgreSQL cannot use a value `ADD VALUE` added: the type is
    // rebuilt instead, and the data step after it sees the value.
    let db = TestDb::postgres("enums_one_tx");
    let url = db.url();
    f.schema(&["upgrade", "0008", "--database-url", &url])
        .expect(0);
    db.execute(
        "INSERT INTO users (id, email, display_name, karma) VALUES (1, 'ann@example.com', 'Ann', 1), (2, 'bob@example.com', 'Bob', 2)",
    );
    f.schema(&[
        "upgrade",
        "0010",
        "--single-transaction",
        "--database-url",
        &url,
    ])
    .expect(0);
    assert_eq!(values(&db), ["owner", "maintainer", "viewer"]);
    assert_eq!(roles(&db), [pair("1", "viewer"), pair("2", "maintainer")]);
    f.schema(&["check", "--database", &url]).expect(0);
}

/// Several model crates: the core defines an enum type (its revisions create and change
/// it), a plugin that depends on the core has a column of it (its revision depends on the
/// core's that created the type, and a value added by the core is no change of the
/// plugin's); the whole history runs on every dialect with rows.
#[test]
fn an_enum_of_the_core_used_by_a_plugin() {
    let f = Fixture::new("plugins");
    f.edit(
        "core/src/lib.rs",
        "use schema::Table;\n",
        "use schema::{Enum, Table};\n\n#[derive(Debug, Clone, Copy, PartialEq, Enum)]\npub enum Plan {\n    Free,\n    Paid,\n}\n",
    );
    f.schema(&["revision", "-p", "app-core", "-m", "plans"])
        .expect(0);
    let core = f.newest_migration("core/migrations");
    assert!(
        core.contains("op = \"create_enum\"\nname = \"plan\"\nvalues = [\"free\", \"paid\"]"),
        "an enum no core table uses is still the core's to create:\n{core}"
    );
    f.edit(
        "audit/src/lib.rs",
        "    pub detail: Option<String>,\n",
        "    pub detail: Option<String>,\n    #[column(default = \"'free'\")]\n    pub plan: app_core::Plan,\n",
    );
    f.schema(&["revision", "-p", "audit-plugin", "-m", "plan of the event"])
        .expect(0);
    let plugin = f.newest_migration("audit/migrations");
    assert!(
        plugin.contains("type = \"enum(plan)\"") && !plugin.contains("create_enum"),
        "{plugin}"
    );
    assert!(
        plugin.contains("depends_on = [\"0003\"]"),
        "the plugin's revision needs the core's that created the type:\n{plugin}"
    );
    // A value the core adds changes nothing of the plugin's.
    f.edit(
        "core/src/lib.rs",
        "    Paid,\n",
        "    Paid,\n    Enterprise,\n",
    );
    f.schema(&["revision", "-p", "app-core", "-m", "enterprise"])
        .expect(0);
    assert!(f
        .newest_migration("core/migrations")
        .contains("add = \"enterprise\""));
    let before = f.migrations("audit/migrations").len();
    f.schema(&["revision", "-p", "audit-plugin", "-m", "nothing"])
        .expect(0);
    assert_eq!(f.migrations("audit/migrations").len(), before);
    f.schema(&["check"]).expect(0);
    for db in TestDb::all("enum_crates") {
        let url = db.url();
        let d = db.dialect();
        f.schema(&["upgrade", "0002", "--database-url", &url])
            .expect(0);
        db.execute("INSERT INTO orgs (id, name) VALUES (1, 'acme')");
        db.execute("INSERT INTO accounts (id, org_id, login) VALUES (1, 1, 'ann')");
        db.execute("INSERT INTO audit_events (id, account_id, action) VALUES (1, 1, 'login')");
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        db.execute(
            "INSERT INTO audit_events (id, account_id, action, plan) VALUES (2, 1, 'upgrade', 'enterprise')",
        );
        assert_eq!(
            db.rows("SELECT id, plan FROM audit_events ORDER BY id"),
            [pair("1", "free"), pair("2", "enterprise")],
            "{d:?}"
        );
        f.schema(&["check", "--database", &url]).expect(0);
    }
}
