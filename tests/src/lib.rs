//! Shared test support.
pub mod keys_support;
// Fake Juju unit agent (JUJU.md section 5): runs the packed charm as Juju does.
pub mod sim;
