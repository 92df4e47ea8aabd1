//! # nono-tui
//!
//! The learn model — what a traced command did, turned into suggested rules, as plain
//! data with a pure `update` — and (with `nono learn` in a terminal) the review screen
//! built on it. The non-interactive learn summary uses the same model.
//!
//! Dependency direction: `nono → tui → {tracer, enforcer}`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod learn;
pub mod review;

pub use nono_enforcer as enforcer;
pub use nono_tracer as tracer;
