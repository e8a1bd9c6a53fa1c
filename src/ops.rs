//! Operations: audit events for security teams and metrics for operators. Both are off
//! the data path: sessions only bump atomics or push onto a bounded queue.

pub mod audit;
pub mod metrics;
pub mod ratelimit;
