//! A lazy walk over the top-level fields of a command body (`wire::elements`): the
//! classifier needs the values of only a few fields, so each element's type and length
//! are read and nothing else is decoded. The wire layer has already validated the body;
//! any inconsistency here is still reported, never indexed past.

use bson::RawDocument;

use super::ctx::Generic;
use super::error::ClassifyError;
use crate::wire::elements::elements;

fn bad(reason: &str) -> ClassifyError {
    ClassifyError::malformed("body", reason)
}

/// One pass over the top-level fields: `$db` and the generic flags.
pub(crate) fn scan(body: &RawDocument) -> Result<Generic<'_>, ClassifyError> {
    let mut g = Generic::default();
    for e in elements(body.as_bytes()) {
        let e = e.map_err(|m| bad(m.0))?;
        match e.key {
            b"$db" if e.kind == 0x02 => {
                g.db_str = Some(e.as_str().ok_or_else(|| bad("invalid UTF-8"))?)
            }
            b"$db" => g.db_str = None,
            b"term" => g.term = true,
            b"bypassDocumentValidation" => g.bypass = e.truthy(),
            b"$tenant" => g.tenant = true,
            b"$audit" | b"$impersonatedUser" | b"$impersonatedUsers" | b"$impersonatedRoles" => {
                g.impersonate = true
            }
            _ => {}
        }
    }
    Ok(g)
}
