//! # nono-tui
//!
//! The learn model (observations turned into suggested rules, as plain data) and the
//! ratatui review screen built on it. Both arrive with `nono learn`; the crate exists
//! now so the workspace has its final shape and dependency direction
//! (`nono → tui → {tracer, enforcer}`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use nono_enforcer as enforcer;
pub use nono_tracer as tracer;
