#![doc = include_str!("../README.md")]

mod error;
mod fingerprint;
mod host;
mod render;
mod server;

pub use error::{Error, Result};
pub use fingerprint::{Fingerprint, MD5_PREFIX, SHA256_PREFIX};
pub use host::Host;
pub use render::{quote, render, render_action, render_option};
pub use server::{
    ED25519_FINGERPRINT_OPTION, HOST_OPTION, PORT_OPTION, RSA_FINGERPRINT_OPTION, ServerConfig,
};
