//! Column types, dialect-neutral, with the spelling used in migration files.

use std::collections::BTreeMap;
use std::fmt;

/// A column type as the migration files spell it (`bigint`, `varchar(255)`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SqlType {
    SmallInt,
    Integer,
    BigInt,
    Real,
    Double,
    Boolean,
    Text,
    Varchar(u32),
    Bytes,
    Date,
    Timestamp,
    TimestampTz,
    Uuid,
    Decimal(Option<(u32, u32)>),
    Json,
    /// A column of a named enum type, with the type's values (kept equal to the schema's
    /// [`crate::EnumDef`] by replay; files name only the type).
    Enum {
        name: String,
        values: Vec<String>,
    },
    /// A type the core does not know: the file's `type` spelling (PostgreSQL's, and that
    /// of every dialect without its own), and spellings per dialect name where they
    /// differ (`sqlite`, `mysql`), so a new dialect adds keys, not fields.
    Custom {
        name: String,
        per_dialect: BTreeMap<String, String>,
    },
}

impl SqlType {
    /// Parse the file spelling of a type; anything unknown is a custom type that every
    /// dialect spells the same, unless `sqlite` says otherwise.
    pub fn parse(spelling: &str, sqlite: Option<&str>) -> SqlType {
        SqlType::parse_per_dialect(
            spelling,
            sqlite
                .map(|s| ("sqlite".to_string(), s.to_string()))
                .into_iter()
                .collect(),
        )
    }

    /// Parse a type with its spellings per dialect name (`sqlite`, `mysql`, ...). With
    /// any that differ from `spelling`, the type is custom.
    pub fn parse_per_dialect(spelling: &str, per_dialect: BTreeMap<String, String>) -> SqlType {
        let s = spelling.trim();
        let per_dialect: BTreeMap<String, String> = per_dialect
            .into_iter()
            .map(|(k, v)| (k, v.trim().to_string()))
            .filter(|(_, v)| v != s)
            .collect();
        let sqlite = (!per_dialect.is_empty()).then_some(());
        let lower = s.to_ascii_lowercase();
        let known = match lower.as_str() {
            "smallint" | "int2" => Some(SqlType::SmallInt),
            "integer" | "int" | "int4" => Some(SqlType::Integer),
            "bigint" | "int8" => Some(SqlType::BigInt),
            "real" | "float4" => Some(SqlType::Real),
            "double precision" | "double" | "float8" => Some(SqlType::Double),
            "boolean" | "bool" => Some(SqlType::Boolean),
            "text" => Some(SqlType::Text),
            "bytea" | "blob" | "bytes" => Some(SqlType::Bytes),
            "date" => Some(SqlType::Date),
            "timestamp" | "timestamp without time zone" => Some(SqlType::Timestamp),
            "timestamptz" | "timestamp with time zone" => Some(SqlType::TimestampTz),
            "uuid" => Some(SqlType::Uuid),
            "numeric" | "decimal" => Some(SqlType::Decimal(None)),
            "json" => Some(SqlType::Json),
            _ => None,
        };
        if sqlite.is_none() {
            if let Some(t) = known {
                return t;
            }
            if let Some(name) = enum_name(s) {
                return SqlType::Enum {
                    name: name.to_string(),
                    values: vec![],
                };
            }
            if let Some(n) = parenthesised(&lower, &["varchar", "character varying"]) {
                if let [len] = n.as_slice() {
                    return SqlType::Varchar(*len);
                }
            }
            if let Some(n) = parenthesised(&lower, &["numeric", "decimal"]) {
                if let [p, s] = n.as_slice() {
                    return SqlType::Decimal(Some((*p, *s)));
                }
            }
        }
        SqlType::Custom {
            name: s.to_string(),
            per_dialect,
        }
    }

    /// A custom type's own spelling for the dialect named, if it has one.
    pub fn spelling_for(&self, dialect: &str) -> Option<&str> {
        match self {
            SqlType::Custom { per_dialect, .. } => per_dialect.get(dialect).map(String::as_str),
            _ => None,
        }
    }

    /// Whether a change from `self` to `to` can lose data (warned about by `revision`).
    pub fn is_narrowing_to(&self, to: &SqlType) -> bool {
        use SqlType::*;
        let rank = |t: &SqlType| match t {
            SmallInt => Some((0, 1)),
            Integer => Some((0, 2)),
            BigInt => Some((0, 3)),
            Real => Some((1, 1)),
            Double => Some((1, 2)),
            Varchar(n) => Some((2, i64::from(*n))),
            Text => Some((2, i64::MAX)),
            _ => None,
        };
        match (rank(self), rank(to)) {
            (Some((fa, a)), Some((fb, b))) if fa == fb => b < a,
            _ => self != to,
        }
    }

    pub fn is_integer(&self) -> bool {
        matches!(self, SqlType::SmallInt | SqlType::Integer | SqlType::BigInt)
    }
}

/// `enum(channel_role)`: the file spelling of a column of a named enum type.
fn enum_name(s: &str) -> Option<&str> {
    let inner = s
        .strip_prefix("enum(")
        .or_else(|| s.strip_prefix("ENUM("))?
        .strip_suffix(')')?;
    let mut chars = inner.chars();
    let first = chars.next()?;
    ((first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then_some(inner)
}

fn parenthesised(s: &str, names: &[&str]) -> Option<Vec<u32>> {
    let open = s.find('(')?;
    let head = s[..open].trim();
    if !names.contains(&head) || !s.ends_with(')') {
        return None;
    }
    s[open + 1..s.len() - 1]
        .split(',')
        .map(|p| p.trim().parse().ok())
        .collect()
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqlType::SmallInt => f.write_str("smallint"),
            SqlType::Integer => f.write_str("integer"),
            SqlType::BigInt => f.write_str("bigint"),
            SqlType::Real => f.write_str("real"),
            SqlType::Double => f.write_str("double precision"),
            SqlType::Boolean => f.write_str("boolean"),
            SqlType::Text => f.write_str("text"),
            SqlType::Varchar(n) => write!(f, "varchar({n})"),
            SqlType::Bytes => f.write_str("bytea"),
            SqlType::Date => f.write_str("date"),
            SqlType::Timestamp => f.write_str("timestamp"),
            SqlType::TimestampTz => f.write_str("timestamptz"),
            SqlType::Uuid => f.write_str("uuid"),
            SqlType::Decimal(None) => f.write_str("numeric"),
            SqlType::Decimal(Some((p, s))) => write!(f, "numeric({p},{s})"),
            SqlType::Json => f.write_str("json"),
            SqlType::Custom { name, .. } => f.write_str(name),
            SqlType::Enum { name, .. } => write!(f, "enum({name})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for t in [
            SqlType::SmallInt,
            SqlType::BigInt,
            SqlType::Double,
            SqlType::Varchar(255),
            SqlType::Decimal(Some((10, 2))),
            SqlType::TimestampTz,
        ] {
            assert_eq!(SqlType::parse(&t.to_string(), None), t);
        }
        assert_eq!(
            SqlType::parse("jsonb", Some("text")),
            SqlType::Custom {
                name: "jsonb".into(),
                per_dialect: [("sqlite".to_string(), "text".to_string())].into()
            }
        );
    }

    #[test]
    fn enum_spelling() {
        let t = SqlType::parse("enum(channel_role)", None);
        assert_eq!(
            t,
            SqlType::Enum {
                name: "channel_role".into(),
                values: vec![]
            }
        );
        assert_eq!(t.to_string(), "enum(channel_role)");
        // MySQL's spelled-out values stay a custom type.
        assert!(matches!(
            SqlType::parse("enum('a','b')", None),
            SqlType::Custom { .. }
        ));
    }

    #[test]
    fn narrowing() {
        assert!(SqlType::BigInt.is_narrowing_to(&SqlType::Integer));
        assert!(!SqlType::Integer.is_narrowing_to(&SqlType::BigInt));
        assert!(SqlType::Text.is_narrowing_to(&SqlType::Varchar(10)));
        assert!(SqlType::Varchar(20).is_narrowing_to(&SqlType::Varchar(10)));
        assert!(!SqlType::Varchar(10).is_narrowing_to(&SqlType::Text));
        assert!(SqlType::Text.is_narrowing_to(&SqlType::Integer));
    }
}
