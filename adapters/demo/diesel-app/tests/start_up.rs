//! The diesel application migrates itself at start-up (blocking): two instances at once,
//! on PostgreSQL and SQLite.

#[path = "../../tests-common/start_up.rs"]
mod start_up;

use schema::testing::fresh_postgres_database;

const APP: &str = env!("CARGO_BIN_EXE_diesel-app");

#[test]
fn postgres_two_instances_at_once() {
    let url = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(fresh_postgres_database("diesel_app"))
        .unwrap();
    start_up::check_two_instances(APP, &url);
}

#[test]
fn sqlite_two_instances_at_once() {
    let path = start_up::sqlite_file("diesel-app", "app.db");
    start_up::check_two_instances(APP, &format!("sqlite://{path}"));
}
