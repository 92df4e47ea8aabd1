//! Manifests: what a snapshot saw, with a Merkle root over it.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::filter::Filter;
use crate::hash::Hash;

/// The kind of a manifest entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
}

/// One path in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Which root (index into [`Manifest::roots`]).
    pub root: u32,
    /// The path relative to the root, raw bytes (empty for the root itself).
    #[serde(with = "crate::hash::bytes")]
    pub path: Vec<u8>,
    /// File, directory or symlink.
    pub kind: Kind,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Size in bytes (files), link length (symlinks), 0 (directories).
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Change time, nanoseconds (used only to decide whether to re-hash).
    pub ctime_ns: i64,
    /// Inode number (used only to decide whether to re-hash).
    pub ino: u64,
    /// The content's hash (files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<Hash>,
    /// The link target (symlinks), raw bytes.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::hash::bytes::opt"
    )]
    pub target: Option<Vec<u8>>,
}

impl Entry {
    /// Whether two entries have the same kind and content (hash or link target).
    pub fn same_content(&self, other: &Entry) -> bool {
        self.kind == other.kind && self.hash == other.hash && self.target == other.target
    }

    /// The path shown to people: root-relative, lossy for non-UTF-8 bytes.
    pub fn display(&self) -> String {
        if self.path.is_empty() {
            ".".into()
        } else {
            String::from_utf8_lossy(&self.path).into_owned()
        }
    }
}

/// A snapshot's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// The tracked roots (absolute, canonical).
    pub roots: Vec<PathBuf>,
    /// The entries, sorted by (root, path bytes).
    pub entries: Vec<Entry>,
    /// The Merkle root over the roots and entries.
    pub merkle_root: Hash,
    /// Special files (devices, fifos, sockets) seen and left out.
    #[serde(default)]
    pub skipped: u64,
}

/// A manifest could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// A file operation failed.
    #[error("manifest {}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
    /// The file is not a valid manifest.
    #[error("manifest {}: invalid: {error}", path.display())]
    Json {
        /// The path.
        path: PathBuf,
        /// The cause.
        error: serde_json::Error,
    },
}

/// Writes `value` as JSON to `path` atomically (temp + fsync + rename, 0600); returns the
/// BLAKE3 hash of the bytes written.
pub(crate) fn write_json_atomic(
    path: &Path,
    value: &impl Serialize,
) -> Result<Hash, ManifestError> {
    let io = |error| ManifestError::Io {
        path: path.to_path_buf(),
        error,
    };
    let bytes = serde_json::to_vec(value).map_err(|error| ManifestError::Json {
        path: path.to_path_buf(),
        error,
    })?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    fs::rename(&tmp, path).map_err(io)?;
    Ok(Hash::from(blake3::hash(&bytes)))
}

/// A stored snapshot file: the manifest and the filter it was taken with.
#[derive(Serialize, Deserialize)]
struct Stored<M, F> {
    manifest: M,
    filter: F,
}

impl Manifest {
    /// Saves the manifest with its filter; returns the hash of the file.
    pub fn save(&self, path: &Path, filter: &Filter) -> Result<Hash, ManifestError> {
        write_json_atomic(
            path,
            &Stored {
                manifest: self,
                filter,
            },
        )
    }

    /// Loads a manifest and its filter; also returns the hash of the file.
    pub fn load(path: &Path) -> Result<(Manifest, Filter, Hash), ManifestError> {
        let bytes = fs::read(path).map_err(|error| ManifestError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let hash = Hash::from(blake3::hash(&bytes));
        let s: Stored<Manifest, Filter> =
            serde_json::from_slice(&bytes).map_err(|error| ManifestError::Json {
                path: path.to_path_buf(),
                error,
            })?;
        Ok((s.manifest, s.filter, hash))
    }

    /// Total bytes of the files.
    pub fn bytes(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.kind == Kind::File)
            .map(|e| e.size)
            .sum()
    }

    /// Recomputes the Merkle root and compares it with the recorded one.
    pub fn root_matches(&self) -> bool {
        merkle_root(&self.roots, &self.entries) == self.merkle_root
    }
}

const LEAF: &str = "nono snapshot v1 leaf";
const NODE: &str = "nono snapshot v1 node";
const TOP: &str = "nono snapshot v1 root";

fn leaf(e: &Entry) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(LEAF);
    h.update(&e.root.to_le_bytes());
    h.update(&(e.path.len() as u64).to_le_bytes());
    h.update(&e.path);
    h.update(&[match e.kind {
        Kind::File => 1,
        Kind::Dir => 2,
        Kind::Symlink => 3,
    }]);
    h.update(&e.mode.to_le_bytes());
    match e.kind {
        Kind::File => {
            h.update(&e.size.to_le_bytes());
            h.update(&e.hash.map(|h| h.0).unwrap_or([0; 32]));
        }
        Kind::Symlink => {
            let t = e.target.as_deref().unwrap_or(b"");
            h.update(&(t.len() as u64).to_le_bytes());
            h.update(t);
        }
        Kind::Dir => {}
    }
    *h.finalize().as_bytes()
}

/// The Merkle root over `entries` (sorted): domain-separated leaves (root index, path, kind,
/// mode, size and hash or link target; not times or inode numbers) and nodes, a binary tree
/// whose odd last node is carried up, and a top hash binding the root paths and the count.
pub fn merkle_root(roots: &[PathBuf], entries: &[Entry]) -> Hash {
    use std::os::unix::ffi::OsStrExt;
    let mut level: Vec<[u8; 32]> = entries.iter().map(leaf).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => {
                    let mut h = blake3::Hasher::new_derive_key(NODE);
                    h.update(a);
                    h.update(b);
                    *h.finalize().as_bytes()
                }
                [a] => *a,
                _ => unreachable!("chunks(2)"),
            })
            .collect();
    }
    let mut h = blake3::Hasher::new_derive_key(TOP);
    h.update(&(roots.len() as u64).to_le_bytes());
    for r in roots {
        let b = r.as_os_str().as_bytes();
        h.update(&(b.len() as u64).to_le_bytes());
        h.update(b);
    }
    h.update(&(entries.len() as u64).to_le_bytes());
    h.update(&level.first().copied().unwrap_or([0; 32]));
    Hash::from(h.finalize())
}

/// What happened to one path between two snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Absent before.
    Created,
    /// Content or kind changed.
    Modified,
    /// Absent after.
    Deleted,
    /// Only the permission bits changed.
    ModeChanged,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// The entry before (absent when created).
    pub before: Option<Entry>,
    /// The entry after (absent when deleted).
    pub after: Option<Entry>,
}

impl Change {
    /// The entry that names the path.
    pub fn entry(&self) -> &Entry {
        self.after
            .as_ref()
            .or(self.before.as_ref())
            .expect("a change has a side")
    }
}

/// Counts of changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Paths created.
    pub created: u64,
    /// Paths modified.
    pub modified: u64,
    /// Paths deleted.
    pub deleted: u64,
    /// Paths whose mode alone changed.
    pub mode_changed: u64,
}

impl Summary {
    /// Counts `changes`.
    pub fn of(changes: &[Change]) -> Summary {
        let mut s = Summary::default();
        for c in changes {
            match c.kind {
                ChangeKind::Created => s.created += 1,
                ChangeKind::Modified => s.modified += 1,
                ChangeKind::Deleted => s.deleted += 1,
                ChangeKind::ModeChanged => s.mode_changed += 1,
            }
        }
        s
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == Summary::default()
    }
}

/// The changes from `before` to `after`, sorted by path. Entries are matched by root path,
/// so two manifests of the same roots compare.
pub fn diff(before: &Manifest, after: &Manifest) -> Vec<Change> {
    let key = |m: &Manifest, e: &Entry| (m.roots.get(e.root as usize).cloned(), e.path.clone());
    let old: HashMap<_, &Entry> = before.entries.iter().map(|e| (key(before, e), e)).collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for a in &after.entries {
        let k = key(after, a);
        match old.get(&k) {
            None => out.push(Change {
                kind: ChangeKind::Created,
                before: None,
                after: Some(a.clone()),
            }),
            Some(b) => {
                let kind = if !b.same_content(a) {
                    Some(ChangeKind::Modified)
                } else if b.mode != a.mode {
                    Some(ChangeKind::ModeChanged)
                } else {
                    None
                };
                if let Some(kind) = kind {
                    out.push(Change {
                        kind,
                        before: Some((*b).clone()),
                        after: Some(a.clone()),
                    });
                }
            }
        }
        seen.insert(k);
    }
    for b in &before.entries {
        if !seen.contains(&key(before, b)) {
            out.push(Change {
                kind: ChangeKind::Deleted,
                before: Some(b.clone()),
                after: None,
            });
        }
    }
    out.sort_by(|x, y| {
        let (a, b) = (x.entry(), y.entry());
        (a.root, &a.path).cmp(&(b.root, &b.path))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, mode: u32, content: &[u8]) -> Entry {
        Entry {
            root: 0,
            path: path.as_bytes().to_vec(),
            kind: Kind::File,
            mode,
            size: content.len() as u64,
            mtime_ns: 0,
            ctime_ns: 0,
            ino: 0,
            hash: Some(Hash::from(blake3::hash(content))),
            target: None,
        }
    }

    #[test]
    fn the_merkle_root_covers_content_modes_and_link_targets_but_not_times() {
        let roots = vec![PathBuf::from("/r")];
        let base = vec![file("a", 0o644, b"x"), file("b", 0o644, b"y")];
        let r = merkle_root(&roots, &base);
        let mut m = base.clone();
        m[1].mode = 0o755;
        assert_ne!(merkle_root(&roots, &m), r);
        let mut c = base.clone();
        c[0].hash = Some(Hash::from(blake3::hash(b"z")));
        assert_ne!(merkle_root(&roots, &c), r);
        let mut t = base.clone();
        t[0].mtime_ns = 5;
        t[0].ino = 9;
        assert_eq!(merkle_root(&roots, &t), r);
        let mut l = base.clone();
        l[0].kind = Kind::Symlink;
        l[0].target = Some(b"x".to_vec());
        let r1 = merkle_root(&roots, &l);
        l[0].target = Some(b"y".to_vec());
        assert_ne!(merkle_root(&roots, &l), r1);
        assert_ne!(merkle_root(&roots, &base[..1]), r);
        assert_ne!(merkle_root(&[PathBuf::from("/s")], &base), r);
    }

    #[test]
    fn raw_paths_survive_json() {
        let mut e = file("x", 0o600, b"");
        e.path = b"new\nline\xff".to_vec();
        let s = serde_json::to_string(&e).unwrap();
        let back: Entry = serde_json::from_str(&s).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn diff_counts_each_kind_of_change() {
        let roots = vec![PathBuf::from("/r")];
        let mk = |entries: Vec<Entry>| Manifest {
            version: 1,
            merkle_root: merkle_root(&roots, &entries),
            roots: roots.clone(),
            entries,
            skipped: 0,
        };
        let a = mk(vec![
            file("chmod", 0o644, b"1"),
            file("del", 0o644, b"2"),
            file("mod", 0o644, b"3"),
        ]);
        let b = mk(vec![
            file("chmod", 0o755, b"1"),
            file("mod", 0o644, b"4"),
            file("new", 0o644, b"5"),
        ]);
        let s = Summary::of(&diff(&a, &b));
        assert_eq!(
            s,
            Summary {
                created: 1,
                modified: 1,
                deleted: 1,
                mode_changed: 1
            }
        );
    }
}
