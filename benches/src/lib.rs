#![doc = include_str!("../README.md")]

mod corpus;
mod error;
mod machine;
mod process;
mod report;
mod stats;

pub use corpus::{CORPUS_ED25519, CORPUS_RSA, CORPUS_RSA_DISTINCT, Corpus};
pub use error::{Error, Result};
pub use machine::{Machine, utc_date};
pub use process::{Job, children_cpu_time};
pub use report::Table;
pub use stats::{
    DifferenceSummary, RatioSummary, Summary, format_count, format_duration, format_signed_nanos,
};
