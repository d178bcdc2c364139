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
