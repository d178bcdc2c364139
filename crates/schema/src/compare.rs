//! Comparing a live database with the schema the models or the migrations describe.
//! Both sides are normalised to what the dialect can express and report back.

use schema_core::{autogenerate, Dialect, Schema};

/// What would have to change for the live schema to be the expected one; empty when
/// they agree.
pub fn differences(d: Dialect, expected: &Schema, actual: &Schema) -> Vec<String> {
    let mut actual = actual.clone();
    // Another tool's history table, left by an adopted history, is not the schema's.
    actual.tables.retain(|name, _| {
        expected.tables.contains_key(name) || !schema_core::foreign::is_history_table(name)
    });
    if d == Dialect::Sqlite {
        name_unnamed(expected, &mut actual);
    }
    let (e, a) = (d.normalize(expected), d.normalize(&actual));
    if e == a {
        return vec![];
    }
    autogenerate(&a, &e)
        .upgrade
        .iter()
        .map(|o| o.summary())
        .collect()
}

/// SQLite keeps no name for a constraint its SQL did not name (another tool's
/// migrations seldom do): such a constraint of the live schema takes the name of the
/// expected one on the same columns, so that only real differences are reported.
fn name_unnamed(expected: &Schema, actual: &mut Schema) {
    for (name, t) in actual.tables.iter_mut() {
        let Some(e) = expected.tables.get(name) else {
            continue;
        };
        if let (Some(pk), Some(epk)) = (&mut t.primary_key, &e.primary_key) {
            if pk.name.is_empty() && pk.columns == epk.columns {
                pk.name = epk.name.clone();
            }
        }
        for u in t.uniques.iter_mut().filter(|u| u.name.is_empty()) {
            if let Some(eu) = e.uniques.iter().find(|eu| eu.columns == u.columns) {
                u.name = eu.name.clone();
            }
        }
        for f in t.foreign_keys.iter_mut().filter(|f| f.name.is_empty()) {
            if let Some(ef) = e
                .foreign_keys
                .iter()
                .find(|ef| ef.columns == f.columns && ef.ref_table == f.ref_table)
            {
                f.name = ef.name.clone();
            }
        }
        for c in t.checks.iter_mut().filter(|c| c.name.is_empty()) {
            if let Some(ec) = e.checks.iter().find(|ec| {
                schema_core::dialect::normalize_expr(&ec.expr)
                    == schema_core::dialect::normalize_expr(&c.expr)
            }) {
                c.name = ec.name.clone();
            }
        }
    }
}
