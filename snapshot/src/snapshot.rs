//! Taking snapshots: walk the roots (stat only), re-hash what changed, in parallel.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ignore::gitignore::Gitignore;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::filter::{Filter, FilterError, GitignoreFile, Matcher, join};
use crate::hash::Hash;
use crate::manifest::{Entry, Kind, Manifest, merkle_root};
use crate::store::{Store, StoreError};

/// Limits on what one snapshot may hold, checked after the walk and before any copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Most entries (files, directories, symlinks).
    pub max_entries: u64,
    /// Most bytes of file content.
    pub max_bytes: u64,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            max_entries: 2_000_000,
            max_bytes: 16 << 30,
        }
    }
}

/// A snapshot could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// A root is missing or not a directory.
    #[error("snapshot root {}: {error}", path.display())]
    Root {
        /// The root.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
    /// Reading the tree failed.
    #[error("snapshot of {}: {error}", path.display())]
    Walk {
        /// The path.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The filter is invalid.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// The trees are bigger than the budget.
    #[error(
        "the snapshot would hold {entries} entries and {bytes} bytes, over the budget of {max_entries} entries and {max_bytes} bytes"
    )]
    Budget {
        /// Entries found.
        entries: u64,
        /// Bytes found.
        bytes: u64,
        /// The entry limit.
        max_entries: u64,
        /// The byte limit.
        max_bytes: u64,
    },
}

/// Canonicalizes the roots, keeps directories only, sorts them and drops any root inside
/// another (it is covered already).
pub fn normalize_roots(roots: &[PathBuf]) -> Result<Vec<PathBuf>, SnapshotError> {
    let mut out = Vec::new();
    for r in roots {
        let c = fs::canonicalize(r).map_err(|error| SnapshotError::Root {
            path: r.clone(),
            error,
        })?;
        if !c.is_dir() {
            return Err(SnapshotError::Root {
                path: r.clone(),
                error: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        out.push(c);
    }
    out.sort();
    out.dedup();
    let mut kept: Vec<PathBuf> = Vec::new();
    for r in out {
        if !kept.iter().any(|k| r.starts_with(k)) {
            kept.push(r);
        }
    }
    Ok(kept)
}

/// The baseline: reads the `.gitignore` files of the trees into the filter and snapshots with
/// it, re-hashing only what changed since `previous` (an earlier session's last snapshot of
/// the same roots, whose objects are in the store). Returns the manifest and the completed
/// filter, to be stored with the session.
pub fn baseline(
    store: &Store,
    roots: &[PathBuf],
    mut filter: Filter,
    previous: Option<&Manifest>,
    budget: Budget,
) -> Result<(Manifest, Filter), SnapshotError> {
    let roots = normalize_roots(roots)?;
    let matcher = Matcher::new(&filter, &roots, true)?;
    let (manifest, gitignores) = scan(Some(store), &roots, &matcher, previous, budget)?;
    filter.gitignores = gitignores;
    Ok((manifest, filter))
}

/// A later snapshot with a stored filter, re-hashing only what changed since `previous`.
pub fn take(
    store: &Store,
    roots: &[PathBuf],
    filter: &Filter,
    previous: Option<&Manifest>,
    budget: Budget,
) -> Result<Manifest, SnapshotError> {
    let matcher = Matcher::new(filter, roots, false)?;
    Ok(scan(Some(store), roots, &matcher, previous, budget)?.0)
}

/// The current state of the roots under a stored filter, hashing (without storing) what
/// differs from `reference`.
pub(crate) fn current(
    roots: &[PathBuf],
    filter: &Filter,
    reference: &Manifest,
) -> Result<Manifest, SnapshotError> {
    let matcher = Matcher::new(filter, roots, false)?;
    let budget = Budget {
        max_entries: u64::MAX,
        max_bytes: u64::MAX,
    };
    Ok(scan(None, roots, &matcher, Some(reference), budget)?.0)
}

fn walk_err(path: &Path) -> impl Fn(io::Error) -> SnapshotError + '_ {
    move |error| SnapshotError::Walk {
        path: path.to_path_buf(),
        error,
    }
}

fn ns(secs: i64, nsec: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

fn entry_of(root: u32, rel: Vec<u8>, abs: &Path, meta: &fs::Metadata) -> Option<Entry> {
    let ft = meta.file_type();
    let (kind, size, target) = if ft.is_file() {
        (Kind::File, meta.len(), None)
    } else if ft.is_dir() {
        (Kind::Dir, 0, None)
    } else if ft.is_symlink() {
        let t = fs::read_link(abs).ok()?.into_os_string().into_vec();
        (Kind::Symlink, t.len() as u64, Some(t))
    } else {
        return None;
    };
    Some(Entry {
        root,
        path: rel,
        kind,
        mode: meta.mode() & 0o7777,
        size,
        mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
        ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        ino: meta.ino(),
        hash: None,
        target,
    })
}

use std::os::unix::ffi::OsStringExt;

struct Walked {
    entries: Vec<Entry>,
    gitignores: Vec<GitignoreFile>,
    skipped: u64,
}

fn walk_dir(
    matcher: &Matcher,
    root: u32,
    abs: &Path,
    rel: &[u8],
    levels: &[Arc<Gitignore>],
) -> Result<Walked, SnapshotError> {
    let mut out = Walked {
        entries: Vec::new(),
        gitignores: Vec::new(),
        skipped: 0,
    };
    let (gi, content) = matcher.gitignore_for(root, rel, abs);
    if let Some(content) = content {
        out.gitignores.push(GitignoreFile {
            root,
            dir: rel.to_vec(),
            content,
        });
    }
    let mut here: Vec<Arc<Gitignore>> = Vec::with_capacity(levels.len() + 1);
    if let Some(gi) = gi {
        here.push(Arc::new(gi));
    }
    here.extend(levels.iter().cloned());
    let refs: Vec<&Gitignore> = here.iter().map(|g| g.as_ref()).collect();
    let read = match fs::read_dir(abs) {
        Ok(r) => r,
        // Removed while we walked: nothing to record.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(walk_err(abs)(e)),
    };
    let mut subdirs = Vec::new();
    for d in read {
        let d = d.map_err(walk_err(abs))?;
        let name = d.file_name();
        let name = name.as_bytes();
        let child = abs.join(OsStrExtBytes::from_bytes(name));
        let meta = match d.metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(walk_err(&child)(e)),
        };
        let is_dir = meta.is_dir();
        if matcher.excluded(root, name, &child, is_dir, &refs) {
            continue;
        }
        let mut child_rel = Vec::with_capacity(rel.len() + 1 + name.len());
        if !rel.is_empty() {
            child_rel.extend_from_slice(rel);
            child_rel.push(b'/');
        }
        child_rel.extend_from_slice(name);
        match entry_of(root, child_rel.clone(), &child, &meta) {
            Some(e) => out.entries.push(e),
            None => {
                out.skipped += 1;
                continue;
            }
        }
        if is_dir {
            subdirs.push((child, child_rel));
        }
    }
    let subs: Vec<Walked> = subdirs
        .par_iter()
        .map(|(child, child_rel)| walk_dir(matcher, root, child, child_rel, &here))
        .collect::<Result<_, _>>()?;
    for s in subs {
        out.entries.extend(s.entries);
        out.gitignores.extend(s.gitignores);
        out.skipped += s.skipped;
    }
    Ok(out)
}

use std::ffi::OsStr as OsStrExtBytes;

fn hash_file(path: &Path) -> io::Result<(Hash, u64)> {
    let mut f: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let mut h = blake3::Hasher::new();
    h.update_reader(&mut f)?;
    let len = f.metadata()?.len();
    Ok((Hash::from(h.finalize()), len))
}

fn scan(
    store: Option<&Store>,
    roots: &[PathBuf],
    matcher: &Matcher,
    reference: Option<&Manifest>,
    budget: Budget,
) -> Result<(Manifest, Vec<GitignoreFile>), SnapshotError> {
    let mut entries = Vec::new();
    let mut gitignores = Vec::new();
    let mut skipped = 0;
    for (i, root) in roots.iter().enumerate() {
        let i = i as u32;
        let meta = fs::symlink_metadata(root).map_err(|error| SnapshotError::Root {
            path: root.clone(),
            error,
        })?;
        if !meta.is_dir() {
            return Err(SnapshotError::Root {
                path: root.clone(),
                error: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        entries.extend(entry_of(i, Vec::new(), root, &meta));
        let w = walk_dir(matcher, i, root, b"", &[])?;
        entries.extend(w.entries);
        gitignores.extend(w.gitignores);
        skipped += w.skipped;
    }
    let count = entries.len() as u64;
    let bytes: u64 = entries
        .iter()
        .filter(|e| e.kind == Kind::File)
        .map(|e| e.size)
        .sum();
    if count > budget.max_entries || bytes > budget.max_bytes {
        return Err(SnapshotError::Budget {
            entries: count,
            bytes,
            max_entries: budget.max_entries,
            max_bytes: budget.max_bytes,
        });
    }
    entries.par_sort_unstable_by(|a, b| (a.root, &a.path).cmp(&(b.root, &b.path)));
    gitignores.sort_by(|a, b| (a.root, &a.dir).cmp(&(b.root, &b.dir)));

    let previous: HashMap<(u32, &[u8]), &Entry> = reference
        .filter(|r| r.roots == roots)
        .map(|r| {
            r.entries
                .iter()
                .map(|e| ((e.root, e.path.as_slice()), e))
                .collect()
        })
        .unwrap_or_default();
    entries
        .par_iter_mut()
        .filter(|e| e.kind == Kind::File)
        .try_for_each(|e| -> Result<(), SnapshotError> {
            if let Some(p) = previous.get(&(e.root, e.path.as_slice())) {
                let unchanged = p.kind == Kind::File
                    && p.size == e.size
                    && p.mtime_ns == e.mtime_ns
                    && p.ctime_ns == e.ctime_ns
                    && p.ino == e.ino;
                if let Some(h) = p
                    .hash
                    .filter(|h| unchanged && store.is_none_or(|s| s.contains(h)))
                {
                    e.hash = Some(h);
                    return Ok(());
                }
            }
            let path = join(&roots[e.root as usize], &e.path);
            let (h, len) = match store {
                Some(s) => s.put_file(&path)?,
                None => hash_file(&path).map_err(walk_err(&path))?,
            };
            e.hash = Some(h);
            e.size = len;
            Ok(())
        })?;
    let merkle_root = merkle_root(roots, &entries);
    Ok((
        Manifest {
            version: 1,
            roots: roots.to_vec(),
            entries,
            merkle_root,
            skipped,
        },
        gitignores,
    ))
}
