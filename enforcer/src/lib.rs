//! # nono-enforcer
//!
//! The part of nono that decides and enforces what a sandboxed command may do.
//!
//! * [`profile`]: upstream nono's JSON profile format (current and legacy keys),
//!   strict parsing with line/column errors, `extends`.
//! * [`policy`]: the embedded security groups, network profiles, credential services
//!   and built-in profiles.
//! * [`ProfileStore`]: finding profiles by name (user directory, then built-ins).
//! * [`capability`]: profile + command-line flags → a [`CapabilitySet`] in which every
//!   rule remembers where it came from.
//! * [`plan`]: capability set → concrete rules, with symlinks resolved and denied
//!   paths carved out of broader grants (Landlock cannot subtract a subdirectory).
//! * [`query`]: `nono why` — would a path or host be allowed, and why.
//! * [`Sandbox`] ([`facade`]): the whole way from a profile to a running, sandboxed
//!   command, as one builder: what the commands and language bindings call.
//! * [`support`]: what this machine can enforce (Landlock ABI, seccomp, namespaces).
//!
//! ```
//! use nono_enforcer::{Overrides, PathVars, ProfileStore, capability::resolve};
//! let store = ProfileStore::new("/nonexistent".into());
//! let profile = store.load("python-agent").unwrap();
//! let vars = PathVars::from_env(std::env::temp_dir());
//! let caps = resolve(&profile, &Overrides::default(), &vars, store.policy()).unwrap();
//! assert!(caps.groups.iter().any(|g| g.name == "deny_credentials" && g.required));
//! ```
//!
//! ## Security model
//! Deny wins: no plan ever contains a rule on, above or below a denied path (see
//! [`plan`]). Required deny groups apply to every profile and cannot be excluded.
//! Paths are compared after symlink resolution.
//!
//! ## Limitations
//! Path-based rules cannot see hard links to a denied file from inside a granted
//! tree. Entries created directly inside a directory that had a denied path carved
//! out of it are not reachable.
#![deny(missing_docs)]

pub mod capability;
pub mod env;
pub mod exec;
pub mod facade;
pub mod gitconfig;
pub mod plan;
pub mod policy;
pub mod profile;
pub mod query;
pub mod sandbox;
pub mod session;
pub mod store;
pub mod support;
pub mod terminal;
pub mod vars;

pub use capability::{CapabilitySet, Overrides};
pub use facade::{PreparedSandbox, Sandbox, SandboxBuilder};
pub use policy::Policy;
pub use profile::{Profile, ProfileError};
pub use store::ProfileStore;
pub use vars::PathVars;
