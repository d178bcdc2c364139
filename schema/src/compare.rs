//! Comparing a live database with the schema the models or the migrations describe.
//! Both sides are normalised to what the dialect can express and report back.

use schema_core::render::{type_sql, Dialect};
use schema_core::{autogenerate, Schema, SqlType};

/// Strips casts and outer parentheses, and folds case and spaces, so that `'a'::text`,
/// `('a')` and `'a'` compare equal.
pub fn normalize_expr(e: &str) -> String {
    let mut s = e.trim().to_string();
    // Casts: `::typename`, `::character varying(20)`.
    while let Some(i) = s.find("::") {
        let rest = &s[i + 2..];
        let mut end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ' ' || c == '"'))
            .unwrap_or(rest.len());
        if rest[end..].starts_with('(') {
            end += rest[end..].find(')').map(|j| j + 1).unwrap_or(0);
        }
        s = format!("{}{}", &s[..i], &rest[end..]);
    }
    let mut s: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')')
        .collect();
    s.make_ascii_lowercase();
    s
}

/// The schema as the dialect would report it back.
pub fn normalize(d: Dialect, s: &Schema) -> Schema {
    let mut s = s.canonical();
    for t in s.tables.values_mut() {
        let pk_cols = t
            .primary_key
            .as_ref()
            .map(|p| p.columns.clone())
            .unwrap_or_default();
        for c in &mut t.columns {
            let rowid = d == Dialect::Sqlite && c.auto_increment && pk_cols == [c.name.clone()];
            c.ty = if rowid {
                SqlType::Integer
            } else {
                SqlType::parse(&type_sql(d, &c.ty).to_ascii_lowercase(), None)
            };
            if d == Dialect::Sqlite && !rowid {
                // Only a rowid alias is numbered by SQLite itself.
                c.auto_increment = false;
            }
            if pk_cols.contains(&c.name) {
                c.nullable = false;
            }
            c.default = c.default.as_deref().map(normalize_expr);
        }
        for ck in &mut t.checks {
            ck.expr = normalize_expr(&ck.expr);
        }
    }
    s
}

/// What would have to change for the live schema to be the expected one; empty when
/// they agree.
pub fn differences(d: Dialect, expected: &Schema, actual: &Schema) -> Vec<String> {
    let (e, a) = (normalize(d, expected), normalize(d, actual));
    if e == a {
        return vec![];
    }
    autogenerate(&a, &e)
        .upgrade
        .iter()
        .map(|o| o.summary())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::normalize_expr;

    #[test]
    fn expressions() {
        assert_eq!(normalize_expr("'abc'::text"), normalize_expr("'abc'"));
        assert_eq!(
            normalize_expr("((karma >= 0))"),
            normalize_expr("karma >= 0")
        );
        assert_eq!(normalize_expr("'x'::character varying(20)"), "'x'");
        assert_eq!(normalize_expr("CURRENT_TIMESTAMP"), "current_timestamp");
    }
}
