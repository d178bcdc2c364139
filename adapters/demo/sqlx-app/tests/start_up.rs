//! The sqlx application migrates itself at start-up: two instances at once, on
//! PostgreSQL, SQLite and MariaDB.

#[path = "../../tests-common/start_up.rs"]
mod start_up;

use schema_e2e::TestDb;

const APP: &str = env!("CARGO_BIN_EXE_sqlx-app");

#[test]
fn postgres_two_instances_at_once() {
    start_up::check_two_instances(APP, &TestDb::postgres("sqlx_app"));
}

#[test]
fn sqlite_two_instances_at_once() {
    start_up::check_two_instances(APP, &TestDb::sqlite("sqlx_app"));
}

#[test]
fn mysql_two_instances_at_once() {
    start_up::check_two_instances(APP, &TestDb::mysql("sqlx_app"));
}

/// The CLI reads the model struct that also derives `sqlx::FromRow` and diesel's traits
/// (beside a `diesel::table!`), and finds it matches the migrations, with no database.
#[test]
fn the_cli_reads_models_that_derive_sqlx_and_diesel_too() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new(schema_e2e::binary())
        .args(["schema", "check"])
        .current_dir(&root)
        .output()
        .expect("cargo-schema runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("demo-models: models match the migrations"),
        "{stdout}"
    );
}
