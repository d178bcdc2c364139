//! The diesel application migrates itself at start-up (blocking): two instances at once,
//! on PostgreSQL and SQLite.

#[path = "../../tests-common/start_up.rs"]
mod start_up;

use schema_e2e::TestDb;

const APP: &str = env!("CARGO_BIN_EXE_diesel-app");

#[test]
fn postgres_two_instances_at_once() {
    start_up::check_two_instances(APP, &TestDb::postgres("diesel_app"));
}

#[test]
fn sqlite_two_instances_at_once() {
    start_up::check_two_instances(APP, &TestDb::sqlite("diesel_app"));
}
