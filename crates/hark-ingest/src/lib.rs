//! placeholder
pub mod dedupe;
