//! The authorization gate: mongod's privilege model (pure, table-driven).
//!
//! `classify` turns a command into the privileges it needs (a [`model::Formula`]);
//! `privileges` flattens a user's roles; `authorize` decides. Nothing here does I/O.

pub mod actions;
pub mod authorize;
pub mod classify;
pub mod decide;
pub mod model;
pub mod privileges;
pub mod role_config;
pub mod roles;
