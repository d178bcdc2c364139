//! Nothing but tests: `tests/import.rs` migrates databases with refinery, sqlx and diesel
//! themselves, then imports their histories with the real `cargo-schema` binary (through
//! the main workspace's end-to-end support, `schema-e2e`).
