//! Bearer-token authentication for the routes that change data (`POST /items`, `POST /stats`).
//! The token comes from `FUSEREC_SERVE_TOKEN` or a file; a server without one listens on
//! loopback only.

use std::path::Path;

/// Shortest token accepted: a guessable token is no protection.
pub const MIN_TOKEN_LEN: usize = 16;

/// The write token, checked in time independent of where a guess first differs.
#[derive(Clone)]
pub struct Token(Vec<u8>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// A token from its text (trimmed); too short or non-printable is an error.
    pub fn new(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.len() < MIN_TOKEN_LEN {
            return Err(format!("the write token must have at least {MIN_TOKEN_LEN} characters, it has {}", s.len()));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the write token must not contain whitespace or control characters".into());
        }
        Ok(Token(s.as_bytes().to_vec()))
    }

    /// The token in a file (surrounding whitespace ignored).
    pub fn from_file(p: &Path) -> Result<Self, String> {
        let s = std::fs::read_to_string(p).map_err(|e| format!("token file {}: {e}", p.display()))?;
        Self::new(&s).map_err(|e| format!("token file {}: {e}", p.display()))
    }

    /// Whether an `Authorization` header value carries this token (`Bearer <token>`).
    pub fn admits(&self, header: Option<&[u8]>) -> bool {
        let Some(h) = header else { return false };
        let Some(given) = h.strip_prefix(b"Bearer ") else { return false };
        let given = given.trim_ascii();
        // Length may leak; content does not: every byte is compared.
        given.len() == self.0.len() && given.iter().zip(&self.0).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_must_carry_the_exact_token() {
        let t = Token::new("  s3cret-token-0123456789 \n").unwrap();
        assert!(t.admits(Some(b"Bearer s3cret-token-0123456789")));
        for bad in [
            &b"Bearer s3cret-token-0123456788"[..],
            b"Bearer s3cret-token-012345678",
            b"Bearer s3cret-token-01234567890",
            b"bearer s3cret-token-0123456789",
            b"Basic s3cret-token-0123456789",
            b"s3cret-token-0123456789",
            b"Bearer ",
            b"",
        ] {
            assert!(!t.admits(Some(bad)), "{}", String::from_utf8_lossy(bad));
        }
        assert!(!t.admits(None));
        assert!(Token::new("short").unwrap_err().contains("at least 16"));
        assert!(Token::new("has a space in it!!").is_err());
        assert!(format!("{t:?}").find("s3cret").is_none(), "Debug must not print the token");
    }
}
