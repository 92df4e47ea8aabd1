//! Observed paths as rules name them: symbolic links resolved (for a missing path, as
//! far as it exists), and whether each is a directory.
//!
//! This runs for every event of a trace, so it is built to cost little per new path:
//! each directory is resolved once, from its already-resolved parent (one `lstat` of
//! one name, a full resolution only when that name is a symbolic link), and a new
//! entry costs one `fstatat` of its name relative to a descriptor of its directory,
//! kept open while the following paths are in the same directory (as they mostly are:
//! programs work through directories). A full-path `lstat` walks every component
//! again (~4 µs here against ~1 µs).

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag, fstatat};

use nono_enforcer::plan::{self, EntryKind, FsView};
use nono_learn::observe::Resolved;
use nono_learn::paths::{self, PathMap};

/// What `lstat` says of an entry, as far as resolving goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Dir,
    Link,
    Other,
    Missing,
}

/// Resolves observed paths, remembering the answers.
#[derive(Default)]
pub(super) struct Canonicalizer {
    /// Observed path (normal form) → its resolution, `None` when it resolves to
    /// itself (most do; they keep no second copy), and whether it is a directory.
    paths: PathMap<(Option<PathBuf>, bool)>,
    /// Directory (normal form) → resolved.
    dirs: PathMap<PathBuf>,
    /// The resolved directory last looked into, open (`O_PATH`).
    open: Option<(PathBuf, OwnedFd)>,
}

impl Canonicalizer {
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// The resolved path and whether it is a directory.
    pub(super) fn resolve(&mut self, path: &Path) -> Resolved {
        if let Some((key, (target, is_dir))) = self.paths.get_key_value(path) {
            return (target.as_ref().unwrap_or(key).clone(), *is_dir);
        }
        let normal = paths::normal_form(path).into_owned();
        let (target, is_dir) = self.resolve_new(&normal);
        let itself = target == normal;
        self.paths
            .insert(normal, ((!itself).then(|| target.clone()), is_dir));
        (target, is_dir)
    }

    fn resolve_new(&mut self, normal: &Path) -> (PathBuf, bool) {
        let Some((parent, name)) = paths::split_normal(normal) else {
            let target = plan::canonicalize_lenient(&plan::RealFs, normal);
            let is_dir = plan::RealFs
                .kind(&target)
                .is_ok_and(|k| k == EntryKind::Dir);
            return (target, is_dir);
        };
        let dir = self.dir(parent);
        self.entry_in(dir, name)
    }

    /// `dir/name` (with `dir` resolved) resolved, and whether it is a directory.
    fn entry_in(&mut self, dir: PathBuf, name: &OsStr) -> (PathBuf, bool) {
        let entry = self.lstat_in(&dir, name);
        let mut candidate = dir;
        candidate.push(name);
        match entry {
            Entry::Link => {
                let target = plan::canonicalize_lenient(&plan::RealFs, &candidate);
                let is_dir = plan::RealFs
                    .kind(&target)
                    .is_ok_and(|k| k == EntryKind::Dir);
                (target, is_dir)
            }
            Entry::Dir => (candidate, true),
            Entry::Other | Entry::Missing => (candidate, false),
        }
    }

    /// The directory `dir` (normal form) resolved, from its resolved parent.
    fn dir(&mut self, dir: &Path) -> PathBuf {
        if let Some(resolved) = self.dirs.get(dir) {
            return resolved.clone();
        }
        let resolved = match paths::split_normal(dir) {
            Some((parent, name)) => {
                let parent = self.dir(parent);
                self.entry_in(parent, name).0
            }
            // The root, or a path that is not in normal form after all.
            None => plan::canonicalize_lenient(&plan::RealFs, dir),
        };
        self.dirs.insert(dir.to_path_buf(), resolved.clone());
        resolved
    }

    /// `lstat` of `name` in the resolved directory `dir`.
    fn lstat_in(&mut self, dir: &Path, name: &OsStr) -> Entry {
        if !matches!(&self.open, Some((at, _)) if at == dir) {
            self.open = open_dir(dir).map(|fd| (dir.to_path_buf(), fd));
        }
        let at_fd = self
            .open
            .as_ref()
            .map(|(_, fd)| fstatat(fd, name, AtFlags::AT_SYMLINK_NOFOLLOW));
        let stat = match at_fd {
            // The directory may have been replaced since it was opened (`rm -rf d;
            // mkdir d`), and the descriptor still names the old, deleted one: a miss
            // is asked again by the full path, with the descriptor dropped.
            Some(Err(nix::errno::Errno::ENOENT)) => {
                self.open = None;
                nix::sys::stat::lstat(&dir.join(name))
            }
            Some(answer) => answer,
            // Not an open-able directory (missing, or not a directory): ask with the
            // full path, which says the same in the ordinary case.
            None => nix::sys::stat::lstat(&dir.join(name)),
        };
        match stat {
            Ok(st) => match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
                SFlag::S_IFLNK => Entry::Link,
                SFlag::S_IFDIR => Entry::Dir,
                _ => Entry::Other,
            },
            Err(_) => Entry::Missing,
        }
    }
}

fn open_dir(dir: &Path) -> Option<OwnedFd> {
    nix::fcntl::open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// Against `realpath` (lenient) and `is_dir` on every kind of path: files, dirs,
    /// symlinked files and dirs, links in the middle, missing leaves and missing dirs,
    /// paths spelled with `//` and `.`, asked in an order that switches directories.
    #[test]
    fn resolutions_match_a_full_resolution() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let d = |p: &str| root.join(p);
        std::fs::create_dir_all(d("real/sub")).unwrap();
        std::fs::write(d("real/f"), "").unwrap();
        std::fs::write(d("real/sub/g"), "").unwrap();
        symlink(d("real"), d("linkdir")).unwrap();
        symlink("sub/g", d("real/rel")).unwrap();
        symlink(d("real/sub"), d("real/sublink")).unwrap();
        symlink(d("nowhere"), d("dangling")).unwrap();
        let asked = [
            "real/f",
            "linkdir/f",
            "real/sub/g",
            "linkdir/sub/g",
            "real/rel",
            "linkdir/rel",
            "real/sublink/g",
            "real/sublink",
            "linkdir",
            "real",
            "real/missing",
            "missing/dir/x",
            "linkdir/missing/x",
            "dangling",
            "dangling/x",
            "real//sub/./g",
            "real/f",
            "real/sub",
        ];
        let mut canon = Canonicalizer::new();
        for _ in 0..2 {
            for p in asked {
                let path = d(p);
                let want = plan::canonicalize_lenient(&plan::RealFs, &path);
                let want_dir = want.is_dir();
                assert_eq!(canon.resolve(&path), (want, want_dir), "{p}");
            }
        }
    }

    /// A directory deleted and made again while its descriptor is kept open: entries
    /// made in the new one are still found (not looked up in the deleted one).
    #[test]
    fn a_directory_made_again_is_looked_into_afresh() {
        let tmp = tempfile::tempdir().unwrap();
        let build = tmp.path().canonicalize().unwrap().join("build");
        std::fs::create_dir(&build).unwrap();
        std::fs::write(build.join("old"), "").unwrap();
        let mut canon = Canonicalizer::new();
        assert_eq!(
            canon.resolve(&build.join("old")),
            (build.join("old"), false)
        );
        std::fs::remove_dir_all(&build).unwrap();
        std::fs::create_dir_all(build.join("out")).unwrap();
        assert_eq!(canon.resolve(&build.join("out")), (build.join("out"), true));
        std::fs::write(build.join("new"), "").unwrap();
        assert_eq!(
            canon.resolve(&build.join("new")),
            (build.join("new"), false)
        );
    }
}
