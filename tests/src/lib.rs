//! Shared test support.
pub mod keys_support;
