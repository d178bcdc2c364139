//! Comparing a live database with the schema the models or the migrations describe.
//! Both sides are normalised to what the dialect can express and report back.

use schema_core::{autogenerate, Dialect, Schema};

/// What would have to change for the live schema to be the expected one; empty when
/// they agree.
pub fn differences(d: Dialect, expected: &Schema, actual: &Schema) -> Vec<String> {
    let (e, a) = (d.normalize(expected), d.normalize(actual));
    if e == a {
        return vec![];
    }
    autogenerate(&a, &e)
        .upgrade
        .iter()
        .map(|o| o.summary())
        .collect()
}
