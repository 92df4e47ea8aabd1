//! Restoring a snapshot: contents, deletions, creations, directories, modes and symlinks.
//!
//! The restore compares the tree as it is now (under the stored filter) with the target
//! manifest and applies only the differences: deletions (files first, then directories deepest
//! first), new directories (shallowest first), file and symlink writes (each to a temporary
//! name in the same directory, verified against its hash, then renamed over the old one), and
//! last the modes, directories deepest first. Every intermediate state is a valid tree, and a
//! journal names the directories that may hold temporary files, so a restore killed at any
//! point and run again ends in the same state as one never interrupted.
//!
//! Every path is reached from its root's descriptor by `openat(O_PATH | O_NOFOLLOW)` one
//! component at a time, so a symlinked parent stops the operation instead of being followed.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, renameat};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, fchmod, fchmodat, fstatat, futimens, mkdirat};
use nix::sys::time::TimeSpec;
use nix::unistd::{UnlinkatFlags, symlinkat, unlinkat};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::filter::Filter;
use crate::hash::Hash;
use crate::manifest::{Change, ChangeKind, Entry, Kind, Manifest, ManifestError, diff};
use crate::snapshot::{SnapshotError, current};
use crate::store::Store;

/// The prefix of temporary names a restore writes beside the file it replaces.
pub const TEMP_PREFIX: &str = ".nono-restore.";

/// A restore could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// Reading the current tree failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// A root is gone or is no longer the directory that was snapshotted.
    #[error("restore root {}: {reason}", path.display())]
    Root {
        /// The root.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The journal could not be written or read.
    #[error(transparent)]
    Journal(#[from] ManifestError),
}

/// What a restore did (or, dry, would do).
#[derive(Debug, Default)]
pub struct RestoreReport {
    /// The differences from the current tree to the target.
    pub planned: Vec<Change>,
    /// Files and symlinks written.
    pub written: u64,
    /// Paths removed.
    pub deleted: u64,
    /// Directories created.
    pub dirs_created: u64,
    /// Modes set.
    pub modes_set: u64,
    /// Directories that should have gone but still hold excluded paths (left alone).
    pub kept_dirs: Vec<String>,
    /// Paths that could not be restored, with the reason.
    pub failures: Vec<String>,
    /// Whether an interrupted restore was found and completed.
    pub resumed: bool,
    /// Whether the tree afterwards has exactly the target's Merkle root.
    pub verified: bool,
}

#[derive(Serialize, Deserialize)]
struct Journal {
    target: Hash,
    pid: u32,
    /// Directories (root, path) that may hold temporary files of this restore.
    #[serde(default)]
    temp_dirs: Vec<JournalDir>,
}

#[derive(Serialize, Deserialize)]
struct JournalDir {
    root: u32,
    #[serde(with = "crate::hash::bytes")]
    dir: Vec<u8>,
}

struct Tree {
    roots: Vec<PathBuf>,
    fds: Vec<OwnedFd>,
}

fn errno_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

fn split(rel: &[u8]) -> (&[u8], &[u8]) {
    match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (b"", rel),
    }
}

fn depth(rel: &[u8]) -> usize {
    if rel.is_empty() {
        0
    } else {
        1 + rel.iter().filter(|&&b| b == b'/').count()
    }
}

impl Tree {
    /// The directory `rel` under root `root`, reached without following any symlink.
    fn dir(&self, root: u32, rel: &[u8]) -> io::Result<OwnedFd> {
        let base = &self.fds[root as usize];
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let mut fd = openat(base.as_fd(), ".", flags, Mode::empty()).map_err(errno_io)?;
        if rel.is_empty() {
            return Ok(fd);
        }
        for comp in rel.split(|&b| b == b'/') {
            fd = openat(fd.as_fd(), OsStr::from_bytes(comp), flags, Mode::empty())
                .map_err(errno_io)?;
        }
        Ok(fd)
    }

    fn parent<'e>(&self, e: &'e Entry) -> io::Result<(OwnedFd, &'e OsStr)> {
        let (dir, name) = split(&e.path);
        Ok((self.dir(e.root, dir)?, OsStr::from_bytes(name)))
    }

    fn describe(&self, e: &Entry) -> String {
        crate::filter::join(&self.roots[e.root as usize], &e.path)
            .display()
            .to_string()
    }

    /// Sets the mode of a directory or file entry (never of a symlink).
    fn chmod(&self, e: &Entry, mode: u32) -> io::Result<bool> {
        let (fd, name) = if e.path.is_empty() {
            (self.dir(e.root, b"")?, OsStr::new("."))
        } else {
            self.parent(e)?
        };
        let st = fstatat(fd.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(errno_io)?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK {
            return Err(io::Error::other("is a symlink now"));
        }
        if st.st_mode & 0o7777 == mode {
            return Ok(false);
        }
        fchmodat(
            fd.as_fd(),
            name,
            Mode::from_bits_truncate(mode),
            FchmodatFlags::FollowSymlink,
        )
        .map_err(errno_io)?;
        Ok(true)
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_name() -> String {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{TEMP_PREFIX}{}.{n}", std::process::id())
}

fn write_entry(tree: &Tree, store: &Store, e: &Entry) -> io::Result<()> {
    let (dir, name) = tree.parent(e)?;
    let tmp = temp_name();
    match e.kind {
        Kind::File => {
            let hash = e
                .hash
                .ok_or_else(|| io::Error::other("manifest entry has no hash"))?;
            let fd = openat(
                dir.as_fd(),
                tmp.as_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )
            .map_err(errno_io)?;
            let mut file = File::from(fd);
            let written = (|| -> io::Result<()> {
                store
                    .copy_verified(&hash, &mut file)
                    .map_err(io::Error::other)?;
                fchmod(file.as_fd(), Mode::from_bits_truncate(e.mode)).map_err(errno_io)?;
                let mtime = TimeSpec::new(
                    e.mtime_ns.div_euclid(1_000_000_000),
                    e.mtime_ns.rem_euclid(1_000_000_000),
                );
                futimens(file.as_fd(), &mtime, &mtime).map_err(errno_io)?;
                Ok(())
            })();
            drop(file);
            if let Err(err) = written {
                let _ = unlinkat(dir.as_fd(), tmp.as_str(), UnlinkatFlags::NoRemoveDir);
                return Err(err);
            }
        }
        Kind::Symlink => {
            let target = e.target.as_deref().unwrap_or(b"");
            symlinkat(OsStr::from_bytes(target), dir.as_fd(), tmp.as_str()).map_err(errno_io)?;
        }
        Kind::Dir => return Ok(()),
    }
    renameat(dir.as_fd(), tmp.as_str(), dir.as_fd(), name).map_err(|err| {
        let _ = unlinkat(dir.as_fd(), tmp.as_str(), UnlinkatFlags::NoRemoveDir);
        errno_io(err)
    })
}

/// Removes temporary files a killed restore left in the journal's directories.
fn sweep(tree: &Tree, journal: &Journal) {
    for d in &journal.temp_dirs {
        if d.root as usize >= tree.roots.len() {
            continue;
        }
        let Ok(fd) = tree.dir(d.root, &d.dir) else {
            continue;
        };
        let path = crate::filter::join(&tree.roots[d.root as usize], &d.dir);
        let Ok(read) = fs::read_dir(&path) else {
            continue;
        };
        for ent in read.flatten() {
            let name = ent.file_name();
            if name.as_bytes().starts_with(TEMP_PREFIX.as_bytes()) {
                let _ = unlinkat(fd.as_fd(), name.as_os_str(), UnlinkatFlags::NoRemoveDir);
            }
        }
    }
}

fn open_roots(roots: &[PathBuf]) -> Result<Tree, RestoreError> {
    let mut fds = Vec::new();
    for r in roots {
        let bad = |reason: String| RestoreError::Root {
            path: r.clone(),
            reason,
        };
        match fs::canonicalize(r) {
            Ok(c) if c == *r => {}
            Ok(c) => return Err(bad(format!("it now resolves to {}", c.display()))),
            Err(e) => return Err(bad(e.to_string())),
        }
        let fd = nix::fcntl::open(
            r.as_path(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| bad(e.to_string()))?;
        fds.push(fd);
    }
    Ok(Tree {
        roots: roots.to_vec(),
        fds,
    })
}

/// Restores the roots of `target` to it, using exactly `filter` (the one stored with the
/// session): excluded paths are neither read nor touched. `journal` is a file in the
/// session's directory. With `dry_run`, only [`RestoreReport::planned`] is filled.
pub fn restore(
    store: &Store,
    target: &Manifest,
    filter: &Filter,
    journal_path: &Path,
    dry_run: bool,
) -> Result<RestoreReport, RestoreError> {
    let tree = open_roots(&target.roots)?;
    let mut report = RestoreReport::default();
    let old_journal: Option<Journal> = fs::read(journal_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    report.resumed = old_journal.is_some();
    if let (Some(j), false) = (&old_journal, dry_run) {
        sweep(&tree, j);
    }
    let now = current(&target.roots, filter, target)?;
    report.planned = diff(&now, target);
    if dry_run {
        return Ok(report);
    }

    // Every directory a write may leave a temporary file in, journalled before the first.
    let mut temp_dirs: BTreeSet<(u32, Vec<u8>)> = BTreeSet::new();
    for c in &report.planned {
        if let Some(a) = &c.after {
            if a.kind != Kind::Dir && c.kind != ChangeKind::ModeChanged {
                temp_dirs.insert((a.root, split(&a.path).0.to_vec()));
            }
        }
    }
    if let Some(j) = &old_journal {
        for d in &j.temp_dirs {
            temp_dirs.insert((d.root, d.dir.clone()));
        }
    }
    let journal = Journal {
        target: target.merkle_root,
        pid: std::process::id(),
        temp_dirs: temp_dirs
            .into_iter()
            .map(|(root, dir)| JournalDir { root, dir })
            .collect(),
    };
    crate::manifest::write_json_atomic(journal_path, &journal)?;

    let failures = Mutex::new(Vec::new());
    let fail = |e: &Entry, what: &str, err: io::Error| {
        failures
            .lock()
            .expect("not poisoned")
            .push(format!("{}: {what}: {err}", tree.describe(e)));
    };

    // 0. Directories we must change inside get owner rwx for now; step 4 sets the modes.
    for e in now.entries.iter().filter(|e| e.kind == Kind::Dir) {
        if e.mode & 0o700 != 0o700 {
            if let Err(err) = tree.chmod(e, e.mode | 0o700) {
                fail(e, "make writable", err);
            }
        }
    }

    // 1. Deletions: what the target lacks, or has with another kind.
    let mut gone: Vec<&Entry> = report
        .planned
        .iter()
        .filter(|c| {
            c.kind == ChangeKind::Deleted
                || (c.kind == ChangeKind::Modified
                    && c.before.as_ref().map(|b| b.kind) != c.after.as_ref().map(|a| a.kind))
        })
        .filter_map(|c| c.before.as_ref())
        .collect();
    gone.sort_by_key(|e| (e.kind == Kind::Dir, std::cmp::Reverse(depth(&e.path))));
    for e in gone {
        if e.path.is_empty() {
            continue;
        }
        let result = tree.parent(e).and_then(|(dir, name)| {
            let flag = if e.kind == Kind::Dir {
                UnlinkatFlags::RemoveDir
            } else {
                UnlinkatFlags::NoRemoveDir
            };
            unlinkat(dir.as_fd(), name, flag).map_err(errno_io)
        });
        match result {
            Ok(()) => report.deleted += 1,
            Err(err) if err.raw_os_error() == Some(libc::ENOTEMPTY) => {
                report.kept_dirs.push(tree.describe(e))
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => fail(e, "remove", err),
        }
    }

    // 2. Directories, shallowest first.
    let mut mk: Vec<&Entry> = report
        .planned
        .iter()
        .filter(|c| matches!(c.kind, ChangeKind::Created | ChangeKind::Modified))
        .filter_map(|c| c.after.as_ref())
        .filter(|e| e.kind == Kind::Dir && !e.path.is_empty())
        .collect();
    mk.sort_by_key(|e| depth(&e.path));
    for e in mk {
        let result = tree.parent(e).and_then(|(dir, name)| {
            mkdirat(dir.as_fd(), name, Mode::from_bits_truncate(0o700)).map_err(errno_io)
        });
        match result {
            Ok(()) => report.dirs_created += 1,
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => fail(e, "create directory", err),
        }
    }

    // 3. Files and symlinks, in parallel.
    let writes: Vec<&Entry> = report
        .planned
        .iter()
        .filter(|c| matches!(c.kind, ChangeKind::Created | ChangeKind::Modified))
        .filter_map(|c| c.after.as_ref())
        .filter(|e| e.kind != Kind::Dir)
        .collect();
    let written = AtomicU64::new(0);
    writes
        .par_iter()
        .for_each(|e| match write_entry(&tree, store, e) {
            Ok(()) => {
                written.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => fail(e, "write", err),
        });
    report.written = written.into_inner();

    // 4. Modes: changed files, then every directory deepest first.
    for c in &report.planned {
        if let (ChangeKind::ModeChanged, Some(e)) = (c.kind, &c.after) {
            if e.kind == Kind::File {
                match tree.chmod(e, e.mode) {
                    Ok(true) => report.modes_set += 1,
                    Ok(false) => {}
                    Err(err) => fail(e, "set mode", err),
                }
            }
        }
    }
    let mut dirs: Vec<&Entry> = target
        .entries
        .iter()
        .filter(|e| e.kind == Kind::Dir)
        .collect();
    dirs.sort_by_key(|e| std::cmp::Reverse(depth(&e.path)));
    for e in dirs {
        match tree.chmod(e, e.mode) {
            Ok(true) => report.modes_set += 1,
            Ok(false) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => fail(e, "set mode", err),
        }
    }

    report.failures = failures.into_inner().expect("not poisoned");
    let after = current(&target.roots, filter, target)?;
    report.verified = after.merkle_root == target.merkle_root;
    if report.failures.is_empty() && report.verified {
        let _ = fs::remove_file(journal_path);
    }
    Ok(report)
}
