//! Black-box tests of the real `nono` binary. One test binary; a module per command.

mod util;

mod completions;
mod learn;
mod learn_safety_net;
mod learn_tui;
mod profiles;
mod run;
mod setup;
mod why;
