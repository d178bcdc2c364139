//! Views end to end: `#[derive(View)]` written by `revision` in dependency order, run on
//! every dialect with rows read through them; a column they read changes type (a
//! PostgreSQL `ALTER TYPE`, a SQLite table rebuild, a MariaDB `MODIFY`) and the views
//! survive it; a changed query recreates the view and the one over it; compared through
//! the checksum recorded at creation; a materialized view refused unless PostgreSQL is
//! the only dialect, then built and read there.

use schema_e2e::{Fixture, TestDb};

const USERS: &str = "models/src/users.rs";

const VIEWS: &str = "
#[derive(schema::View)]
#[view(name = \"active_users\", sql = \"SELECT id, email, karma FROM users WHERE karma > 0\")]
pub struct ActiveUser {
    pub id: i64,
    pub email: String,
    pub karma: i32,
}

/// Reads the view above: created after it, dropped before it.
#[derive(schema::View)]
#[view(sql = \"SELECT email FROM active_users WHERE karma > 10\")]
pub struct TopUser {
    pub email: String,
}
";

fn emails(db: &TestDb, view: &str) -> Vec<Vec<String>> {
    db.rows(&format!("SELECT email FROM {view} ORDER BY email"))
}

#[test]
fn views_survive_a_type_change_and_a_rebuild_and_follow_their_query() {
    let f = Fixture::new("blog");
    f.write(USERS, &format!("{}{VIEWS}", f.read(USERS)));
    f.schema(&["revision", "-m", "views"]).expect(0);
    let text = f.newest_migration("models/migrations");
    let (active, top) = (
        text.find("op = \"create_view\"\nname = \"active_users\"\nsql = \"SELECT id, email, karma FROM users WHERE karma > 0\"")
            .expect(&text),
        text.find("op = \"create_view\"\nname = \"top_user\"").expect(&text),
    );
    assert!(active < top, "the view read is created first:\n{text}");
    assert!(text.contains("breaking = false"), "{text}");
    // 0009: the column both views read becomes a bigint.
    f.edit(
        USERS,
        "    #[column(default = \"0\")]\n    pub karma: i32,",
        "    #[column(default = \"0\")]\n    pub karma: i64,",
    );
    f.schema(&["revision", "-m", "bigger karma"]).expect(0);
    let text = f.newest_migration("models/migrations");
    assert!(
        text.contains("op = \"alter_column\"") && !text.contains("_view\""),
        "the views are not in the file; they are kept around the change when it runs:\n{text}"
    );
    // 0010: the first view's query changes: both views go and come back.
    f.edit(USERS, "WHERE karma > 0", "WHERE karma >= 1");
    f.schema(&["revision", "-m", "at least one"]).expect(0);
    let text = f.newest_migration("models/migrations");
    let order: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("op = ") || l.starts_with("name = "))
        .collect();
    assert_eq!(
        &order[..8],
        [
            "op = \"drop_view\"",
            "name = \"top_user\"",
            "op = \"drop_view\"",
            "name = \"active_users\"",
            "op = \"create_view\"",
            "name = \"active_users\"",
            "op = \"create_view\"",
            "name = \"top_user\"",
        ],
        "{text}"
    );
    f.schema(&["check"]).expect(0);

    for db in TestDb::all("views") {
        let url = db.url();
        let d = format!("{:?}", db.dialect());
        f.schema(&["upgrade", "0007", "--database-url", &url])
            .expect(0);
        db.execute(
            "INSERT INTO users (id, email, display_name, karma) VALUES (1, 'ann@example.com', 'Ann', 20), (2, 'bob@example.com', 'Bob', 0), (3, 'cy@example.com', 'Cy', 5)",
        );
        f.schema(&["upgrade", "0008", "--database-url", &url])
            .expect(0);
        assert_eq!(
            emails(&db, "active_users"),
            [["ann@example.com"], ["cy@example.com"]],
            "{d}"
        );
        assert_eq!(emails(&db, "top_user"), [["ann@example.com"]], "{d}");
        f.schema(&["check", "--database", &url]).expect(0);
        // The type change: PostgreSQL refuses it while a view reads the column, SQLite
        // rebuilds the table; the views are dropped and created again around it.
        f.schema(&["upgrade", "0009", "--database-url", &url])
            .expect(0);
        db.execute(
            "INSERT INTO users (id, email, display_name, karma) VALUES (4, 'di@example.com', 'Di', 5000000000)",
        );
        assert_eq!(
            emails(&db, "top_user"),
            [["ann@example.com"], ["di@example.com"]],
            "{d}: the view over the view survives the change"
        );
        f.schema(&["check", "--database", &url]).expect(0);
        f.schema(&["upgrade", "--database-url", &url]).expect(0);
        assert_eq!(
            emails(&db, "active_users"),
            [["ann@example.com"], ["cy@example.com"], ["di@example.com"]],
            "{d}"
        );
        f.schema(&["check", "--database", &url]).expect(0);
        // A view dropped by hand is drift.
        db.execute("DROP VIEW top_user");
        let r = f.schema(&["check", "--database", &url]);
        assert_ne!(r.code(), 0, "{d}");
        assert!(r.stdout().contains("top_user"), "{d}: {}", r.stdout());
        db.execute("CREATE VIEW top_user AS SELECT email FROM active_users WHERE karma > 10");
        // Di's karma does not fit the narrower type the downgrade goes back to.
        db.execute("DELETE FROM users WHERE id = 4");
        f.schema(&["downgrade", "0008", "--database-url", &url])
            .expect(0);
        f.schema(&["downgrade", "0007", "--database-url", &url])
            .expect(0);
        assert!(db.introspect().views.is_empty(), "{d}");
        f.schema(&["check", "--database", &url]).expect(0);
        assert_eq!(db.rows("SELECT count(*) FROM users"), [["3"]], "{d}");
    }
}

#[test]
fn a_materialized_view_is_postgres_only() {
    let f = Fixture::new("blog");
    f.write(
        USERS,
        &format!(
            "{}\n#[derive(schema::View)]\n#[view(name = \"karma_totals\", materialized, sql = \"SELECT count(*) AS n, sum(karma) AS total FROM users\")]\npub struct KarmaTotal {{\n    pub n: i64,\n}}\n",
            f.read(USERS)
        ),
    );
    let r = f.schema(&["revision", "-m", "totals"]);
    r.expect(2);
    assert!(
        r.stderr()
            .contains("view karma_totals is materialized, which only PostgreSQL has and `dialects` lists sqlite"),
        "{}",
        r.stderr()
    );
    f.edit(
        "Cargo.toml",
        "dialects = [\"postgres\", \"sqlite\", \"mysql\"]",
        "dialects = [\"postgres\"]",
    );
    f.schema(&["revision", "-m", "totals"]).expect(0);
    assert!(f
        .newest_migration("models/migrations")
        .contains("materialized = true"));
    let db = TestDb::postgres("materialized");
    let url = db.url();
    f.schema(&["upgrade", "0007", "--database-url", &url])
        .expect(0);
    db.execute(
        "INSERT INTO users (id, email, display_name, karma) VALUES (1, 'ann@example.com', 'Ann', 3)",
    );
    f.schema(&["upgrade", "--database-url", &url]).expect(0);
    assert_eq!(db.rows("SELECT n, total FROM karma_totals"), [["1", "3"]]);
    assert!(db.introspect().views["karma_totals"].materialized);
    f.schema(&["check", "--database", &url]).expect(0);
    f.schema(&["downgrade", "0007", "--database-url", &url])
        .expect(0);
    assert!(db.introspect().views.is_empty());
}
