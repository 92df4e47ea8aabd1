//! The filesystem as the planner sees it: the real one, and a caching view that can
//! record what it observed (for the plan cache).

use super::*;

/// The filesystem as the planner sees it. [`RealFs`] is the real one; tests use an
/// in-memory tree.
pub trait FsView {
    /// Resolves every symlink; fails if the path does not exist.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
    /// The kind of an existing (canonical) path.
    fn kind(&self, path: &Path) -> io::Result<EntryKind>;
    /// The names of a directory's entries.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>>;
    /// The (device, inode) identity of an existing path, following symlinks. Used to
    /// see through bind mounts, which give one directory several paths. The default
    /// (`None`) compares paths only.
    fn identity(&self, _path: &Path) -> Option<(u64, u64)> {
        None
    }
    /// Mount points, canonical. A mount below a granted directory can make a denied
    /// tree reachable under the grant; the planner checks each by identity. The
    /// default (none) compares paths only.
    fn mount_points(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    /// Could one directory be reachable under two paths (a bind mount, or one device
    /// mounted twice)? Only then does the planner compare identities. The default is
    /// the conservative yes.
    fn aliases_possible(&self) -> bool {
        true
    }
    /// The entries of a directory with their kind when it is known without following
    /// a symlink; `None` for a symlink (or when unknown). The default asks
    /// [`FsView::canonicalize`] and [`FsView::kind`] per entry.
    fn read_dir_kinds(&self, path: &Path) -> io::Result<Vec<(OsString, Option<EntryKind>)>> {
        let mut out = Vec::new();
        for name in self.read_dir(path)? {
            let child = path.join(&name);
            let kind = match self.canonicalize(&child) {
                Ok(target) if target == child => self.kind(&child).ok(),
                _ => None,
            };
            out.push((name, kind));
        }
        Ok(out)
    }
}

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl FsView for RealFs {
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }

    fn identity(&self, path: &Path) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }

    fn mount_points(&self) -> Vec<PathBuf> {
        read_mount_points()
    }

    fn aliases_possible(&self) -> bool {
        bind_mounts_present()
    }

    fn kind(&self, path: &Path) -> io::Result<EntryKind> {
        let meta = std::fs::metadata(path)?;
        Ok(if meta.is_dir() {
            EntryKind::Dir
        } else {
            EntryKind::File
        })
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect()
    }
}

/// The real filesystem with memoized path resolution, for planning.
///
/// `std::fs::canonicalize` asks the kernel about every component of every path; a
/// plan resolves a few hundred paths sharing a few dozen directories (most denied
/// paths do not exist). This resolves a path as its (memoized) resolved parent plus
/// one `lstat` of the last component (and a `readlink` for a symlink). Use one value
/// per plan: it never notices changes made after it looked.
#[derive(Debug, Default)]
pub struct CachingFs {
    nodes: std::cell::RefCell<FastMap<Node>>,
    resolved: std::cell::RefCell<FastMap<Result<(PathBuf, EntryKind), i32>>>,
    /// Directories whose every entry is in `nodes` (absent ones do not exist), and how
    /// many single lookups each directory has had before it was worth listing.
    listed: std::cell::RefCell<FastMap<bool>>,
    identities: std::cell::RefCell<FastMap<Option<(u64, u64)>>>,
    /// `/proc/self/mountinfo`, read once.
    mountinfo: std::cell::OnceCell<Option<Vec<u8>>>,
    /// Everything asked of the kernel, when recording (see [`cache`]).
    journal: Option<std::cell::RefCell<cache::Journal>>,
}

/// A map keyed by path bytes with a cheap hash (paths here are not attacker-chosen
/// keys that could degrade it: they come from the profile and the local filesystem).
type FastMap<V> = std::collections::HashMap<OsString, V, rustc_hash::FxBuildHasher>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Node {
    /// The errno of `lstat` or `readlink`.
    Missing(i32),
    Dir,
    File,
    Symlink(PathBuf),
}

/// What `lstat` (and `readlink` for a symlink) says of one path.
pub(super) fn lookup(path: &Path) -> Node {
    match std::fs::symlink_metadata(path) {
        Err(e) => Node::Missing(e.raw_os_error().unwrap_or(libc::EIO)),
        Ok(meta) if meta.file_type().is_symlink() => match std::fs::read_link(path) {
            Ok(target) => Node::Symlink(target),
            Err(e) => Node::Missing(e.raw_os_error().unwrap_or(libc::EIO)),
        },
        Ok(meta) if meta.is_dir() => Node::Dir,
        Ok(_) => Node::File,
    }
}

/// Symlinks followed before giving up, as the kernel's `MAXSYMLINKS`.
const MAX_SYMLINKS: usize = 40;

impl CachingFs {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache that also keeps a journal of what it asked the kernel, so that a
    /// plan made through it can be cached and its inputs checked later
    /// ([`cache::PlanCache`]). `min_age` is how old a listed directory's change time
    /// must be for the journal to vouch for it (see [`cache::Journal`]).
    pub(crate) fn recording(min_age: std::time::Duration) -> Self {
        CachingFs {
            journal: Some(std::cell::RefCell::new(cache::Journal::new(min_age))),
            ..Self::default()
        }
    }

    /// The journal, when recording.
    pub(crate) fn into_journal(self) -> Option<cache::Journal> {
        let mountinfo = self.mountinfo.into_inner();
        self.journal.map(|j| {
            let mut journal = j.into_inner();
            journal.set_mountinfo(mountinfo.flatten());
            journal
        })
    }

    fn mountinfo(&self) -> Option<&[u8]> {
        self.mountinfo.get_or_init(read_mountinfo).as_deref()
    }

    fn node(&self, path: &Path) -> Node {
        if let Some(node) = self.nodes.borrow().get(path.as_os_str()) {
            return node.clone();
        }
        // The second lookup in one directory lists it: one getdents answers for every
        // sibling (most denied paths sit side by side in $HOME and ~/.config).
        if let Some(parent) = path.parent() {
            let listed = self.listed.borrow().get(parent.as_os_str()).copied();
            match listed {
                Some(true) => return Node::Missing(libc::ENOENT),
                Some(false) => {
                    if self.read_dir_kinds(parent).is_ok() {
                        self.listed
                            .borrow_mut()
                            .insert(parent.as_os_str().to_os_string(), true);
                        return self
                            .nodes
                            .borrow()
                            .get(path.as_os_str())
                            .cloned()
                            .unwrap_or(Node::Missing(libc::ENOENT));
                    }
                }
                None => {
                    self.listed
                        .borrow_mut()
                        .insert(parent.as_os_str().to_os_string(), false);
                }
            }
        }
        let node = lookup(path);
        if let Some(journal) = &self.journal {
            journal.borrow_mut().looked_up(path, &node);
        }
        self.nodes
            .borrow_mut()
            .insert(path.as_os_str().to_os_string(), node.clone());
        node
    }

    fn resolve(&self, path: &Path) -> io::Result<(PathBuf, EntryKind)> {
        if !path.is_absolute() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "relative path"));
        }
        self.resolve_depth(path, &mut 0)
            .map_err(io::Error::from_raw_os_error)
    }

    fn resolve_depth(&self, path: &Path, hops: &mut usize) -> Result<(PathBuf, EntryKind), i32> {
        use std::path::Component;
        if let Some(hit) = self.resolved.borrow().get(path.as_os_str()) {
            return hit.clone();
        }
        let result = (|| {
            let (Some(parent), Some(last)) = (path.parent(), path.components().next_back()) else {
                return Ok((PathBuf::from("/"), EntryKind::Dir));
            };
            let (base, base_kind) = self.resolve_depth(parent, hops)?;
            let name = match last {
                Component::Normal(name) => name,
                Component::ParentDir => {
                    let mut up = base;
                    up.pop();
                    return Ok((up, EntryKind::Dir));
                }
                _ => return Ok((base, base_kind)),
            };
            if base_kind != EntryKind::Dir {
                return Err(libc::ENOTDIR);
            }
            let candidate = base.join(name);
            match self.node(&candidate) {
                Node::Missing(kind) => Err(kind),
                Node::Dir => Ok((candidate, EntryKind::Dir)),
                Node::File => Ok((candidate, EntryKind::File)),
                Node::Symlink(target) => {
                    *hops += 1;
                    if *hops > MAX_SYMLINKS {
                        return Err(libc::ELOOP);
                    }
                    // A relative target is relative to the link's (resolved) directory.
                    self.resolve_depth(&base.join(target), hops)
                }
            }
        })();
        // Loop errors depend on the path taken to get here; do not memoize them.
        if result != Err(libc::ELOOP) {
            self.resolved
                .borrow_mut()
                .insert(path.as_os_str().to_os_string(), result.clone());
        }
        result
    }
}

impl FsView for CachingFs {
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        self.resolve(path).map(|(p, _)| p)
    }

    fn mount_points(&self) -> Vec<PathBuf> {
        self.mountinfo().map(mount_points_in).unwrap_or_default()
    }

    fn aliases_possible(&self) -> bool {
        self.mountinfo().is_none_or(bind_mounts_in)
    }

    fn identity(&self, path: &Path) -> Option<(u64, u64)> {
        if let Some(hit) = self.identities.borrow().get(path.as_os_str()) {
            return *hit;
        }
        // A path already known not to exist needs no stat.
        let id = match self.resolve(path) {
            Ok(_) => {
                let id = RealFs.identity(path);
                if let Some(journal) = &self.journal {
                    journal.borrow_mut().identified(path, id);
                }
                id
            }
            Err(_) => None,
        };
        self.identities
            .borrow_mut()
            .insert(path.as_os_str().to_os_string(), id);
        id
    }

    fn kind(&self, path: &Path) -> io::Result<EntryKind> {
        self.resolve(path).map(|(_, k)| k)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        RealFs.read_dir(path)
    }

    fn read_dir_kinds(&self, path: &Path) -> io::Result<Vec<(OsString, Option<EntryKind>)>> {
        if let Some(journal) = &self.journal {
            // Before listing: a change made after this stamp shows in a later one.
            journal.borrow_mut().listing(path);
        }
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            // d_type from getdents: no stat unless the filesystem does not report it.
            let file_type = entry.file_type()?;
            let kind = if file_type.is_symlink() {
                None
            } else if file_type.is_dir() {
                Some(EntryKind::Dir)
            } else {
                Some(EntryKind::File)
            };
            let node = match kind {
                Some(EntryKind::Dir) => Node::Dir,
                Some(EntryKind::File) => Node::File,
                None => match std::fs::read_link(entry.path()) {
                    Ok(target) => Node::Symlink(target),
                    Err(e) => Node::Missing(e.raw_os_error().unwrap_or(libc::EIO)),
                },
            };
            self.nodes
                .borrow_mut()
                .insert(entry.path().into_os_string(), node);
            out.push((entry.file_name(), kind));
        }
        self.listed
            .borrow_mut()
            .insert(path.as_os_str().to_os_string(), true);
        Ok(out)
    }
}

/// Is `path` equal to `base` or below it? Byte-wise with a separator boundary, which
/// is exact for the normalized absolute paths the planner compares (no `.`, `..`,
/// doubled or trailing separators) and much cheaper than `Path::starts_with`.
pub fn is_within(path: &Path, base: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (p, b) = (path.as_os_str().as_bytes(), base.as_os_str().as_bytes());
    p.starts_with(b) && (p.len() == b.len() || b.ends_with(b"/") || p[b.len()] == b'/')
}

/// Canonicalizes a path that may not exist: the longest existing prefix is resolved
/// and the rest appended.
pub fn canonicalize_lenient(fs: &impl FsView, path: &Path) -> PathBuf {
    if let Ok(p) = fs.canonicalize(path) {
        return p;
    }
    let mut rest = Vec::new();
    let mut current = path.to_path_buf();
    while let Some(parent) = current.parent().map(Path::to_path_buf) {
        if let Some(name) = current.file_name() {
            rest.push(name.to_os_string());
        }
        if let Ok(mut resolved) = fs.canonicalize(&parent) {
            for name in rest.iter().rev() {
                resolved.push(name);
            }
            return resolved;
        }
        current = parent;
    }
    path.to_path_buf()
}

#[cfg(test)]
mod caching_fs_tests {
    use super::*;

    #[test]
    fn is_within_matches_path_starts_with_on_normalized_paths() {
        for (p, b) in [
            ("/a/b", "/a"),
            ("/a", "/a"),
            ("/ab", "/a"),
            ("/a", "/"),
            ("/", "/"),
            ("/a/b/c", "/a/b"),
            ("/a", "/a/b"),
        ] {
            assert_eq!(
                is_within(Path::new(p), Path::new(b)),
                Path::new(p).starts_with(b),
                "{p} within {b}"
            );
        }
    }
    use std::os::unix::fs::symlink;

    /// The memoizing resolver must agree with the kernel (`realpath`) on every path of
    /// a tree full of symlinks: absolute, relative, chained, through `..`, dangling,
    /// looping, and through a file.
    #[test]
    fn agrees_with_realpath() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let p = |s: &str| root.join(s);
        std::fs::create_dir_all(p("a/b/c")).unwrap();
        std::fs::write(p("a/file"), "x").unwrap();
        symlink(p("a/b"), p("abs")).unwrap();
        symlink("a/b/c", p("rel")).unwrap();
        symlink("../..", p("a/b/up")).unwrap();
        symlink("rel", p("chain")).unwrap();
        symlink(p("missing"), p("dangling")).unwrap();
        symlink("loop2", p("loop1")).unwrap();
        symlink("loop1", p("loop2")).unwrap();
        let fs = CachingFs::new();
        for case in [
            "a",
            "a/b/c",
            "abs",
            "abs/c",
            "rel",
            "chain",
            "a/b/up",
            "a/b/up/a/file",
            "a/b/up/abs/c/..",
            "dangling",
            "loop1",
            "a/file",
            "a/file/x",
            "nope",
            "a/nope/x",
            "abs/../file",
        ] {
            let path = p(case);
            let kernel = std::fs::canonicalize(&path).ok();
            let ours = fs.canonicalize(&path).ok();
            assert_eq!(ours, kernel, "resolving {case}");
            if let Some(resolved) = kernel {
                let is_dir = std::fs::metadata(&resolved).unwrap().is_dir();
                assert_eq!(
                    fs.kind(&path).unwrap() == EntryKind::Dir,
                    is_dir,
                    "kind of {case}"
                );
            }
        }
        let kinds = fs.read_dir_kinds(&root).unwrap();
        let kind_of = |n: &str| kinds.iter().find(|(name, _)| name == n).map(|(_, k)| *k);
        assert_eq!(kind_of("a"), Some(Some(EntryKind::Dir)));
        assert_eq!(kind_of("abs"), Some(None), "symlinks are reported as None");
    }
}
