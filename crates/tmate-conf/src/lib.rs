#![doc = include_str!("../README.md")]

mod diagnostic;
mod document;
mod env;
mod error;
mod eval;
mod fingerprint;
mod host;
mod lex;
mod pos;
mod render;
mod server;
mod table;

pub use diagnostic::Diagnostic;
pub use document::{Document, Evaluation, ServerSettings, update_file};
pub use env::Env;
pub use error::{Error, Result};
pub use fingerprint::{Fingerprint, MD5_PREFIX, SHA256_PREFIX};
pub use host::Host;
pub use pos::{LineCol, line_col};
pub use render::{quote, render, render_action, render_option};
pub use server::{
    ED25519_FINGERPRINT_OPTION, HOST_OPTION, PORT_OPTION, RSA_FINGERPRINT_OPTION, ServerConfig,
};
