//! # nono-tui
//!
//! The review screen of `nono learn` in a terminal, built on the learn model of
//! [`nono_learn`] (which has no UI; the non-interactive summary uses it too).
//!
//! Dependency direction: `nono → tui → learn → {tracer, enforcer}`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod review;

pub use nono_enforcer as enforcer;
pub use nono_tracer as tracer;
