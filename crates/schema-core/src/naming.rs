//! The naming convention for constraints and indexes (SQLAlchemy-style templates).

use std::collections::BTreeMap;

/// Templates by kind: `pk`, `ix`, `uq`, `fk`, `ck`. Tokens: `%(table)s`, `%(column_0)s`,
/// `%(column_0_N)s` (every column joined by `_`), `%(column_0_label)s` (`table_column`),
/// `%(referred_table)s`, `%(name)s`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamingConvention {
    templates: BTreeMap<String, String>,
}

/// PostgreSQL cuts identifiers at 63 bytes; longer names are shortened with a hash so the
/// name the database keeps is the name the migrations record.
pub const MAX_IDENTIFIER_LEN: usize = 63;

impl Default for NamingConvention {
    fn default() -> Self {
        let templates = [
            ("pk", "pk_%(table)s"),
            ("ix", "ix_%(table)s_%(column_0)s"),
            ("uq", "uq_%(table)s_%(column_0)s"),
            ("fk", "fk_%(table)s_%(column_0)s_%(referred_table)s"),
            ("ck", "ck_%(table)s_%(name)s"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        NamingConvention { templates }
    }
}

/// What a template may mention.
pub struct NameParts<'a> {
    pub table: &'a str,
    pub columns: &'a [String],
    pub referred_table: &'a str,
    pub name: &'a str,
}

impl NamingConvention {
    pub const KINDS: &'static [&'static str] = &["pk", "ix", "uq", "fk", "ck"];

    /// The default convention with some kinds overridden. Unknown kinds are an error.
    pub fn with_overrides<'a>(
        overrides: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<NamingConvention, String> {
        let mut nc = NamingConvention::default();
        for (k, v) in overrides {
            if !Self::KINDS.contains(&k) {
                return Err(format!(
                    "unknown naming-convention key `{k}`, expected one of {}",
                    Self::KINDS.join(", ")
                ));
            }
            nc.templates.insert(k.to_string(), v.to_string());
        }
        Ok(nc)
    }

    pub fn name(&self, kind: &str, parts: &NameParts<'_>) -> String {
        let template = self
            .templates
            .get(kind)
            .map(String::as_str)
            .unwrap_or("%(table)s");
        let col0 = parts.columns.first().map(String::as_str).unwrap_or("");
        let out = template
            .replace("%(table)s", parts.table)
            .replace("%(column_0_N)s", &parts.columns.join("_"))
            .replace("%(column_0_label)s", &format!("{}_{}", parts.table, col0))
            .replace("%(column_0)s", col0)
            .replace("%(referred_table)s", parts.referred_table)
            .replace("%(name)s", parts.name);
        shorten(out)
    }
}

/// Keeps names within the identifier limit, deterministically.
pub fn shorten(name: String) -> String {
    if name.len() <= MAX_IDENTIFIER_LEN {
        return name;
    }
    // FNV-1a: stable across platforms and releases, which is all a suffix needs.
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let mut cut = MAX_IDENTIFIER_LEN - 9;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{h:08x}", &name[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let nc = NamingConvention::default();
        let cols = vec!["org_id".to_string(), "email".to_string()];
        let parts = NameParts {
            table: "users",
            columns: &cols,
            referred_table: "orgs",
            name: "",
        };
        assert_eq!(nc.name("fk", &parts), "fk_users_org_id_orgs");
        assert_eq!(nc.name("uq", &parts), "uq_users_org_id");
        let nc = NamingConvention::with_overrides([("uq", "uq_%(table)s_%(column_0_N)s")]).unwrap();
        assert_eq!(nc.name("uq", &parts), "uq_users_org_id_email");
        assert!(NamingConvention::with_overrides([("zz", "x")]).is_err());
    }

    #[test]
    fn long_names_are_shortened_stably() {
        let long = "x".repeat(100);
        let a = shorten(long.clone());
        assert_eq!(a.len(), MAX_IDENTIFIER_LEN);
        assert_eq!(a, shorten(long));
    }
}
