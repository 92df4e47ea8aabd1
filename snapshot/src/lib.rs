//! Snapshots of directory trees for nono sessions: a content-addressed object store, manifests
//! with Merkle roots, incremental parallel snapshots and a crash-safe restore.
//!
//! ```no_run
//! use nono_snapshot::{Budget, Filter, Store, snapshot, restore};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::open("/home/me/.local/state/nono/objects".as_ref())?;
//! let roots = vec!["/home/me/project".into()];
//! let (baseline, filter) = snapshot::baseline(&store, &roots, Filter::new(vec![]), None, Budget::default())?;
//! // ... the command runs ...
//! let after = snapshot::take(&store, &roots, &filter, Some(&baseline), Budget::default())?;
//! let changes = nono_snapshot::diff(&baseline, &after);
//! restore::restore(&store, &baseline, &filter, "/tmp/journal".as_ref(), false)?;
//! # Ok(()) }
//! ```
//!
//! **Store.** Objects are named by the BLAKE3 hash of their content, shared by every session,
//! written to a temporary file and renamed into place, mode 0600 in directories 0700; every
//! read recomputes the hash and refuses a mismatch.
//!
//! **Filter.** `.gitignore` files at every level, built-in heavy directories and extra
//! gitignore-syntax patterns. The `.gitignore` contents seen at the baseline are stored in the
//! [`Filter`]; later snapshots and restores use exactly that filter, never the tree's current
//! `.gitignore` files, so a file excluded at the baseline is never touched by a restore.
//!
//! **Security model.** A restore opens every parent directory component by component with
//! `O_NOFOLLOW` from the tracked root and works with `*at` calls relative to it, so it never
//! writes outside the roots or through a symlinked parent. It assumes the sandboxed command has
//! ended (nothing races the restore). Compatibility: Linux. Limitations: only regular files,
//! directories and symlinks are tracked (devices, fifos and sockets are skipped and counted);
//! ownership, extended attributes and hard-link identity are not restored.

#![deny(missing_docs)]

mod filter;
mod hash;
mod manifest;
pub mod restore;
pub mod snapshot;
mod store;

pub use filter::{BUILTIN_EXCLUDES, Filter, FilterError, GitignoreFile};
pub use hash::Hash;
pub use manifest::{
    Change, ChangeKind, Entry, Kind, Manifest, ManifestError, Summary, diff, merkle_root,
};
pub use snapshot::{Budget, SnapshotError};
pub use store::{Store, StoreError};
