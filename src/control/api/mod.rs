//! The admin API: HTTPS, shaped like the Atlas Administration API v2.
//!
//! Every handler authenticates the caller (`state::Caller`), asks the pure
//! [`crate::control::authz::authorize`], and writes its change and the change's event in
//! one `Store::apply` with an Expect on what it read (409 on a concurrent change).

pub mod error;
pub mod extract;
pub mod paging;
pub mod types;
pub mod validate;

pub use error::{ApiError, ApiErrorBody};
