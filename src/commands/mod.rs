//! One module per subcommand.

pub mod completions;
pub mod learn;
pub mod profiles;
pub mod proxy;
pub mod run;
pub mod session;
mod session_diff;
pub mod setup;
pub mod why;
