//! The first two gates, as pure modules: the IP access list (with the PROXY protocol
//! parser that feeds it) and SCRAM authentication (credentials, server/client state
//! machines, failure throttling). The session loop calls them; they never do I/O.

pub mod access_list;
pub mod credentials;
pub mod proxy_protocol;
pub mod scram;
pub mod throttle;
pub mod users;
