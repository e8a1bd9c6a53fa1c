//! Field rules of the Atlas API, as pure functions (the caller passes the clock).

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::error::ApiError;

/// Temporary users and access-list entries live at most this long (Atlas: one week).
pub const MAX_TEMPORARY: Duration = Duration::days(7);

/// Atlas ids: 24 lowercase hex characters.
pub fn id(what: &str, s: &str) -> Result<(), ApiError> {
    if s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(ApiError::InvalidPath(format!(
            "{what} must be 24 lowercase hexadecimal characters"
        )))
    }
}

/// A database user's password: at least 8 characters (Atlas).
pub fn password(p: &str) -> Result<(), ApiError> {
    if p.chars().count() < 8 {
        return Err(ApiError::validation(
            "password must be at least 8 characters",
        ));
    }
    if p.chars().count() > 1024 {
        return Err(ApiError::validation(
            "password must be at most 1024 characters",
        ));
    }
    Ok(())
}

/// A string of 1..=max characters.
pub fn text(field: &str, s: &str, max: usize) -> Result<(), ApiError> {
    let n = s.chars().count();
    if n == 0 || n > max {
        return Err(ApiError::validation(format!(
            "{field} must be 1 to {max} characters"
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(ApiError::validation(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

/// A string of at most `max` characters (empty allowed).
pub fn optional_text(field: &str, s: &str, max: usize) -> Result<(), ApiError> {
    if s.is_empty() {
        Ok(())
    } else {
        text(field, s, max)
    }
}

/// `deleteAfterDate`: RFC 3339, later than `now` and at most one week after it. Returns the
/// canonical RFC 3339 form stored.
pub fn delete_after(s: &str, now: OffsetDateTime) -> Result<String, ApiError> {
    let at = OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| ApiError::validation("deleteAfterDate must be an ISO 8601 date and time"))?;
    if at <= now {
        return Err(ApiError::validation(
            "deleteAfterDate must be in the future",
        ));
    }
    if at - now > MAX_TEMPORARY {
        return Err(ApiError::validation(
            "deleteAfterDate must be at most one week from now",
        ));
    }
    rfc3339(at)
}

/// Formats a time as RFC 3339 in UTC.
pub fn rfc3339(at: OffsetDateTime) -> Result<String, ApiError> {
    at.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| ApiError::Internal(format!("formatting a date: {e}")))
}

/// Scope and cluster names: `^[a-zA-Z0-9][a-zA-Z0-9-]*$` (Atlas), at most 64.
pub fn cluster_name(field: &str, s: &str) -> Result<(), ApiError> {
    let mut chars = s.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || s.len() > 64 || !chars.all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(ApiError::validation(format!(
            "{field} must match ^[a-zA-Z0-9][a-zA-Z0-9-]*$ (at most 64 characters)"
        )));
    }
    Ok(())
}

/// `secretExpiresAfterHours`: 8 hours to 365 days.
pub fn secret_hours(h: i64) -> Result<u32, ApiError> {
    if (8..=8760).contains(&h) {
        Ok(h as u32)
    } else {
        Err(ApiError::validation(
            "secretExpiresAfterHours must be between 8 and 8760",
        ))
    }
}

/// A user or role name: 1..=1024 characters without control characters or `/` (it is part
/// of a store key and a URL path segment).
pub fn name(field: &str, s: &str) -> Result<(), ApiError> {
    text(field, s, 1024)?;
    if s.contains('/') {
        return Err(ApiError::validation(format!(
            "{field} must not contain '/'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn ids_are_24_lowercase_hex() {
        for (s, ok) in [
            ("5f0000000000000000000001", true),
            ("abcdef0123456789abcdef01", true),
            ("ABCDEF0123456789ABCDEF01", false),
            ("5f000000000000000000001", false),
            ("5f00000000000000000000011", false),
            ("zz0000000000000000000001", false),
            ("", false),
        ] {
            assert_eq!(id("groupId", s).is_ok(), ok, "{s}");
        }
    }

    #[test]
    fn passwords_need_8_characters() {
        assert!(password("1234567").is_err());
        assert!(password("12345678").is_ok());
        assert!(password("ééééééé").is_err(), "characters, not bytes");
    }

    #[test]
    fn delete_after_is_future_and_within_a_week() {
        let n = now();
        let f = |d: Duration| rfc3339(n + d).unwrap();
        assert!(delete_after(&f(Duration::hours(1)), n).is_ok());
        assert!(delete_after(&f(Duration::days(7)), n).is_ok());
        assert!(delete_after(&f(Duration::days(7) + Duration::seconds(1)), n).is_err());
        assert!(delete_after(&f(Duration::seconds(-1)), n).is_err());
        assert!(delete_after(&f(Duration::ZERO), n).is_err());
        assert!(delete_after("tomorrow", n).is_err());
    }

    #[test]
    fn lengths() {
        assert!(optional_text("comment", &"a".repeat(80), 80).is_ok());
        assert!(optional_text("comment", &"a".repeat(81), 80).is_err());
        assert!(optional_text("comment", "", 80).is_ok());
        assert!(text("description", &"a".repeat(100), 100).is_ok());
        assert!(text("description", &"a".repeat(101), 100).is_err());
        assert!(text("name", "", 64).is_err());
        assert!(text("name", "a\u{0}b", 64).is_err());
    }

    #[test]
    fn scope_names() {
        for (s, ok) in [
            ("prod-app", true),
            ("a", true),
            ("-a", false),
            ("a_b", false),
            ("", false),
        ] {
            assert_eq!(cluster_name("scopes.name", s).is_ok(), ok, "{s}");
        }
    }

    #[test]
    fn secret_hours_range() {
        for (h, ok) in [
            (7, false),
            (8, true),
            (8760, true),
            (8761, false),
            (-1, false),
        ] {
            assert_eq!(secret_hours(h).is_ok(), ok, "{h}");
        }
    }
}
