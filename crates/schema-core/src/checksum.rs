//! Checksums of migration files: SHA-256 over the text with a BOM removed and line
//! endings normalised, so a checkout with CRLF endings is not mistaken for an edit.

use sha2::{Digest, Sha256};

pub fn checksum(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut h = Sha256::new();
    let mut rest = text;
    while let Some(i) = rest.find('\r') {
        h.update(&rest.as_bytes()[..i]);
        if !rest[i + 1..].starts_with('\n') {
            h.update(b"\n");
        }
        rest = &rest[i + 1..];
    }
    h.update(rest.as_bytes());
    hex(&h.finalize())
}

/// One digest of a whole history: SHA-256 (hex) of `id:checksum\n` for every revision,
/// ids in byte order. A database computes the same from its history table in one query,
/// so "at head" is one short answer however long the history is.
pub fn history_digest<'a>(revisions: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = revisions.into_iter().collect();
    pairs.sort();
    let mut h = Sha256::new();
    for (id, sum) in pairs {
        h.update(id.as_bytes());
        h.update(b":");
        h.update(sum.as_bytes());
        h.update(b"\n");
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        s.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::checksum;

    #[test]
    fn line_endings_and_bom_do_not_count() {
        let a = checksum("a = 1\nb = 2\n");
        assert_eq!(a, checksum("a = 1\r\nb = 2\r\n"));
        assert_eq!(a, checksum("\u{feff}a = 1\r\nb = 2\n"));
        assert_eq!(a, checksum("a = 1\rb = 2\r"));
        assert_ne!(a, checksum("a = 1\nb = 3\n"));
        assert_eq!(a.len(), 64);
    }
}
