//! Black-box tests of the real `nono` binary. One test binary; a module per command.

mod util;

mod completions;
mod corpus;
mod learn;
mod learn_safety_net;
mod learn_tui;
mod profiles;
mod proxy;
mod run;
mod setup;
mod why;
