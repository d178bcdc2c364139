//! Checks on the text a user writes that ends up in SQL or in a path: revision ids, type
//! spellings and SQL expressions. Identifiers need no check (they are always quoted);
//! `execute` steps are SQL by definition. Everything else passes through here, so that
//! `text; DROP TABLE ...` is an input error with a location, never a statement.

use sqlparser::dialect::{Dialect as ParserDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

/// The longest revision id.
pub const MAX_REVISION_ID: usize = 32;

/// A revision id: `[A-Za-z0-9_]{1,32}`. Ids become file names and SQL literals.
pub fn revision_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("empty revision id".into());
    }
    if id.len() > MAX_REVISION_ID || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!(
            "revision id `{}` must be 1 to {MAX_REVISION_ID} letters, digits or underscores",
            id.escape_debug()
        ));
    }
    Ok(())
}

/// The longest identifier PostgreSQL keeps (MySQL's limit is 64).
pub const MAX_IDENTIFIER: usize = 63;

/// A table, column, constraint or index name: not empty, at most 63 bytes.
pub fn identifier(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is empty".into());
    }
    if name.len() > MAX_IDENTIFIER {
        return Err(format!(
            "name `{name}` is {} bytes long; databases keep at most {MAX_IDENTIFIER}",
            name.len()
        ));
    }
    Ok(())
}

/// A type spelling: a name of one or more words (`double precision`), an optional
/// `(n)` or `(n,m)`, an optional `[]`. Nothing else reaches SQL as a type.
pub fn type_spelling(ty: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "`{}` is not a type: expected a name, optional `(n)` or `(n,m)`, optional `[]`; or `enum(type_name)`",
            ty.escape_debug()
        )
    };
    let mut rest = ty.trim();
    if let Some(r) = rest.strip_suffix("[]") {
        rest = r.trim_end();
    }
    let (name, args) = match rest.find('(') {
        Some(open) => {
            let args = rest[open + 1..].strip_suffix(')').ok_or_else(bad)?;
            (&rest[..open], Some(args))
        }
        None => (rest, None),
    };
    let words: Vec<&str> = name.split_whitespace().collect();
    let word_ok = |w: &&str| {
        w.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if words.is_empty() || !words.iter().all(word_ok) {
        return Err(bad());
    }
    // A column of a named enum type.
    if let (["enum" | "ENUM"], Some(args)) = (words.as_slice(), args) {
        return match identifier(args.trim()) {
            Ok(()) if word_ok(&args.trim()) => Ok(()),
            _ => Err(bad()),
        };
    }
    if let Some(args) = args {
        let nums: Vec<&str> = args.split(',').map(str::trim).collect();
        if nums.len() > 2
            || !nums
                .iter()
                .all(|n| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
    }
    Ok(())
}

/// A SQL expression (a default, a check): exactly one expression, as PostgreSQL or
/// SQLite parses it. `1=1); DROP TABLE t; --` is refused.
pub fn expression(expr: &str) -> Result<(), String> {
    if expr.trim().is_empty() {
        return Err("empty SQL expression".into());
    }
    // A history repeats the same few defaults and checks many times: each is parsed
    // once per thread.
    thread_local! {
        static ACCEPTED: std::cell::RefCell<std::collections::HashSet<String>> =
            Default::default();
    }
    if ACCEPTED.with(|a| a.borrow().contains(expr)) {
        return Ok(());
    }
    parse_one_expression(expr)?;
    ACCEPTED.with(|a| a.borrow_mut().insert(expr.to_string()));
    Ok(())
}

fn parse_one_expression(expr: &str) -> Result<(), String> {
    let dialects: [&dyn ParserDialect; 2] = [&PostgreSqlDialect {}, &SQLiteDialect {}];
    let mut first_error = None;
    for d in dialects {
        match one_expression(d, expr) {
            Ok(()) => return Ok(()),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(format!(
        "`{}` is not one SQL expression: {}",
        expr.escape_debug(),
        first_error.unwrap_or_default()
    ))
}

fn one_expression(d: &dyn ParserDialect, expr: &str) -> Result<(), String> {
    let mut p = Parser::new(d)
        .try_with_sql(expr)
        .map_err(|e| e.to_string())?;
    p.parse_expr().map_err(|e| e.to_string())?;
    match p.peek_token().token {
        Token::EOF => Ok(()),
        t => Err(format!("unexpected `{t}` after the expression")),
    }
}

/// A collation's name: 1 to 63 characters of letters, digits, `_`, `.`, `-` and `@`
/// (`C`, `en_US.utf8`, `und-x-icu`, `utf8mb4_bin`).
pub fn collation(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a collation name: 1 to 63 letters, digits, `_`, `.`, `-` or `@`",
            name.escape_debug()
        ))
    }
}

/// A view's query: exactly one query (`SELECT ...`, `WITH ... SELECT ...`, `VALUES`), as
/// PostgreSQL, SQLite or MySQL parses it. `SELECT 1; DROP TABLE t` is refused.
pub fn view_query(sql: &str) -> Result<(), String> {
    let text = sql.trim().trim_end_matches(';');
    if text.trim().is_empty() {
        return Err("empty view query".into());
    }
    let dialects: [&dyn ParserDialect; 3] = [
        &PostgreSqlDialect {},
        &SQLiteDialect {},
        &sqlparser::dialect::MySqlDialect {},
    ];
    let mut first_error = None;
    for d in dialects {
        let parsed = Parser::new(d)
            .try_with_sql(text)
            .and_then(|mut p| {
                let q = p.parse_query()?;
                Ok((q, p.peek_token().token))
            })
            .map_err(|e| e.to_string())
            .and_then(|(q, next)| {
                use sqlparser::ast::SetExpr;
                match *q.body {
                    SetExpr::Select(_)
                    | SetExpr::Query(_)
                    | SetExpr::SetOperation { .. }
                    | SetExpr::Values(_)
                    | SetExpr::Table(_) => Ok(next),
                    _ => Err("a view's query reads rows; it does not change them".to_string()),
                }
            });
        match parsed {
            Ok(Token::EOF) => return Ok(()),
            Ok(t) => {
                first_error.get_or_insert(format!("unexpected `{t}` after the query"));
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(format!(
        "not one query: {}",
        first_error.unwrap_or_default()
    ))
}

/// Text for a one-line SQL comment: line breaks become spaces, so nothing a user wrote
/// (a revision message) can start a statement in a script.
pub fn comment_text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_ids() {
        assert!(revision_id("0001").is_ok());
        assert!(revision_id("a_B9").is_ok());
        assert!(revision_id("").is_err());
        assert!(revision_id("a/../../x").is_err());
        assert!(revision_id("a\\b").is_err());
        assert!(revision_id(&"x".repeat(33)).is_err());
    }

    #[test]
    fn types() {
        for ok in [
            "text",
            "varchar(255)",
            "numeric(10, 2)",
            "double precision",
            "integer[]",
            "timestamp with time zone",
        ] {
            assert!(type_spelling(ok).is_ok(), "{ok}");
        }
        for bad in [
            "text; DROP TABLE post_tags; --",
            "text)",
            "varchar(x)",
            "",
            "int -- x",
            "numeric(1,2,3)",
        ] {
            assert!(type_spelling(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn view_queries() {
        for ok in [
            "SELECT id, email FROM members WHERE deleted_at IS NULL",
            "WITH a AS (SELECT 1 AS x) SELECT x FROM a;",
            "SELECT `id` FROM `users`",
        ] {
            assert!(view_query(ok).is_ok(), "{ok}: {:?}", view_query(ok));
        }
        for bad in ["SELECT 1; DROP TABLE users", "", "DELETE FROM users"] {
            assert!(view_query(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expressions() {
        for ok in [
            "0",
            "'a''b'",
            "karma >= 0",
            "now()",
            "CURRENT_TIMESTAMP",
            "'{}'::jsonb",
            "length(\"a\"\"b\") > 0 AND (\"id\" > 1)",
            "(strftime('%s', 'now'))",
        ] {
            assert!(expression(ok).is_ok(), "{ok}: {:?}", expression(ok));
        }
        for bad in [
            "1=1); DROP TABLE post_tags; --",
            "0; DROP TABLE users",
            "",
            "1 -- x\n; DROP TABLE t",
        ] {
            assert!(expression(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn comments_stay_on_one_line() {
        assert_eq!(
            comment_text("a\nDROP TABLE users; --"),
            "a DROP TABLE users; --"
        );
    }
}
