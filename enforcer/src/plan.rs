//! From a capability set to concrete rules: symlinks resolved, kinds checked, and
//! denied paths carved out of broader grants.
//!
//! Landlock only ever *adds* access: a rule on a directory grants everything below it
//! and there is no way to subtract a subdirectory. So when a denied path lies inside
//! a granted directory (`--allow ~` with `~/.ssh` denied), the planner does not grant
//! the directory. It grants each entry of it instead, except the one leading to the
//! denied path, and descends along that one the same way ("sibling expansion"). The
//! result never contains a rule on, above, or below a denied path:
//!
//! * no rule's path is a denied path or inside one;
//! * no directory rule's path is an ancestor of a denied path;
//! * every rule lies inside the grant it implements (carving never widens).
//!
//! That invariant is property-tested below over random trees. The price is that new
//! entries created directly in a carved directory after the sandbox starts are not
//! covered (there is no rule on the directory itself), and the number of rules is
//! bounded: a carve that would need more than [`MAX_CARVED_RULES`] rules is refused
//! with an error naming the grant and the denial, never silently widened.
//!
//! Symlinks: every path is canonicalized before it is compared. An entry met while
//! carving that is a symlink gets no rule: a rule placed on a symlink applies to its
//! target, which may be outside the grant or a denied path, while the uncarved grant
//! would never have reached through it (Landlock checks the resolved path).
//!
//! Hard links to a denied file from inside a granted tree cannot be detected by path
//! and are outside what a path-based sandbox can express (docs/security-model.md).

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::capability::{
    Access, CapabilitySet, GrantFlag, OverrideKind, PathKind, Source, Suggestion,
};

pub mod cache;

/// At most this many rules may come out of carving one grant.
pub const MAX_CARVED_RULES: usize = 4096;

/// What a path is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// Anything else (regular file, device, socket, fifo).
    File,
}

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
enum Node {
    /// The errno of `lstat` or `readlink`.
    Missing(i32),
    Dir,
    File,
    Symlink(PathBuf),
}

/// What `lstat` (and `readlink` for a symlink) says of one path.
fn lookup(path: &Path) -> Node {
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

/// One Landlock rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Canonical path.
    pub path: PathBuf,
    /// Directory or file.
    pub kind: EntryKind,
    /// Access granted.
    pub access: Access,
    /// The grant it implements (shared by every rule carved from one grant).
    pub source: Arc<Source>,
    /// When the rule is one of the entries a grant was split into: the granted
    /// directory and the denied path carved out of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carved: Option<Arc<Carve>>,
    /// Only listing the directory itself (Landlock's `READ_DIR`): a carved directory
    /// keeps it so that `ls DIR` works. `READ_DIR` reaches every directory below, so
    /// it is given only where no denied directory exists below (see `Carver::carve`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub list_only: bool,
}

/// Why a rule is a sibling rather than the grant itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Carve {
    /// The directory the grant named.
    pub granted: PathBuf,
    /// A denied path inside it (the first one, when there are several).
    pub denied: PathBuf,
}

/// A denied path, as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedDeny {
    /// The path as expanded.
    pub path: PathBuf,
    /// Its canonical form (the longest existing prefix resolved).
    pub canonical: PathBuf,
    /// Where the denial came from.
    pub source: Source,
}

/// A grant that produced no rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The path as expanded.
    pub path: PathBuf,
    /// The grant's access.
    pub access: Access,
    /// Where the grant came from.
    pub source: Source,
    /// Why it produced no rule.
    pub reason: SkipReason,
}

/// Why a grant produced no rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum SkipReason {
    /// The path does not exist (profile and group grants only).
    Missing,
    /// The path is a denied path or inside one.
    Denied {
        /// The denied path.
        denied: PathBuf,
        /// Where the denial came from.
        deny_source: Source,
    },
}

/// The rules a sandbox is built from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Landlock rules.
    pub rules: Vec<Rule>,
    /// Denied paths (kept out of every rule, or hidden by a mask).
    pub denies: Vec<PlannedDeny>,
    /// Grants that produced no rule, and why.
    pub skipped: Vec<Skipped>,
    /// Denied paths inside read-only system grants that the sandbox must hide with a
    /// mount (see [`PlanOptions::mask_system_denies`]); empty unless asked for.
    pub masks: Vec<Mask>,
}

/// A denied path hidden by a mount instead of carved out of a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mask {
    /// The canonical path to cover.
    pub path: PathBuf,
    /// A directory (covered by an empty tmpfs) or a file (by an empty file), both
    /// with mode 000.
    pub dir: bool,
    /// The denial.
    pub source: Source,
}

/// How to plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// The sandbox will have a mount namespace of its own, so denied paths inside a
    /// **read-only** grant outside `home` can be hidden by mounts instead of carving
    /// the grant into its entries (which costs a rule per entry and makes the
    /// directory unlistable). Existing denied paths become [`Plan::masks`]; a denied
    /// path that does not exist needs nothing — the grant is read-only, so the sandbox
    /// cannot create it. (Something outside the sandbox could create it during the
    /// run, which is why trees in or above `home`, where credentials appear, are
    /// always carved.)
    pub mask_system_denies: bool,
    /// `$HOME`, for [`PlanOptions::mask_system_denies`].
    pub home: Option<PathBuf>,
    /// The sandbox will have a mount namespace of its own and every grant may keep
    /// its denied paths hidden by mounts (`nono learn`'s safety net): every existing
    /// denied path inside any grant, read-only or writable, in `$HOME` or not, becomes
    /// a [`Plan::masks`] entry, so no directory on the way to one needs carving. A
    /// denied path that does not exist cannot be hidden: the grant is still carved
    /// around it (its nearest existing directory, and every directory above that,
    /// get no rule, so nothing can be created there).
    pub mask_all_denies: bool,
}

/// Planning failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// A command-line grant names a path that does not exist.
    #[error(
        "{source_desc}: {} does not exist{}",
        path.display(),
        match create_in {
            Some(dir) => format!(
                "; to let the command create it, grant its directory ({})",
                Suggestion::grant(GrantFlag::Allow, dir)
            ),
            None => String::new(),
        }
    )]
    Missing {
        /// The path.
        path: PathBuf,
        /// The grant.
        source_desc: String,
        /// For a file: the directory whose grant would let the command create it.
        create_in: Option<PathBuf>,
    },
    /// A directory grant names a file, or a file grant a directory.
    #[error("{source_desc}: {} is {what}; use {suggestion}", path.display())]
    WrongKind {
        /// The path.
        path: PathBuf,
        /// The grant.
        source_desc: String,
        /// "a file" or "a directory".
        what: &'static str,
        /// The grant or key to use instead.
        suggestion: Suggestion,
    },
    /// A grant's path passes through a symbolic link that lies inside a directory
    /// this sandbox may write: an earlier run could have planted it (replaced a
    /// granted directory with a link to `$HOME`, say), so it is not followed.
    #[error(
        "{source_desc}: {} passes through the symbolic link {} (to {}), which is inside \
         {}, a directory the sandbox may write; a sandboxed command could have planted it. \
         Grant the link's target by its own path, or replace the link with a directory",
        path.display(),
        link.display(),
        target.display(),
        writable.display()
    )]
    PlantableSymlink {
        /// The grant's path.
        path: PathBuf,
        /// Where the grant came from.
        source_desc: String,
        /// The symbolic link (its parent resolved).
        link: PathBuf,
        /// Where it points (resolved).
        target: PathBuf,
        /// The write-granted directory that holds it.
        writable: PathBuf,
    },
    /// A profile or group grant reaches, through a symbolic link, a directory that
    /// holds denied paths (`~/.cache/pip` made a link to `~`): the link, not the
    /// profile, would decide that a home full of secrets is granted.
    #[error(
        "{source_desc}: {} leads through the symbolic link {} to {}, which holds the denied \
         path {}; a link that widens a profile's grant onto denied paths is not followed. \
         Remove the link (or make it point elsewhere), or grant {} on purpose on the \
         command line",
        path.display(),
        link.display(),
        target.display(),
        denied.display(),
        target.display()
    )]
    SymlinkOntoDenied {
        /// The grant's path.
        path: PathBuf,
        /// Where the grant came from.
        source_desc: String,
        /// The first symbolic link on the way.
        link: PathBuf,
        /// What the grant resolves to.
        target: PathBuf,
        /// A denied path inside it.
        denied: PathBuf,
    },
    /// Carving a denied path out of a grant would need too many rules.
    #[error(
        "cannot grant {} ({grant_source}) without exposing {} ({deny_source}): carving it out \
         would need more than {limit} rules; grant narrower directories instead",
        grant.display(),
        denied.display()
    )]
    TooManyRules {
        /// The granted directory.
        grant: PathBuf,
        /// Where the grant came from.
        grant_source: String,
        /// The denied path.
        denied: PathBuf,
        /// Where the denial came from.
        deny_source: String,
        /// The limit.
        limit: usize,
    },
    /// A directory could not be listed while carving.
    #[error("cannot list {} while carving denied paths out of a grant: {error}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
}

/// Plans the rules for `caps` against `fs`.
pub fn plan(caps: &CapabilitySet, fs: &impl FsView) -> Result<Plan, PlanError> {
    plan_with(caps, fs, &PlanOptions::default())
}

/// Refuses a grant whose path goes through a symbolic link inside a directory that a
/// write grant of the same sandbox covers: the sandbox (this run or an earlier one)
/// could have put it there to point the grant elsewhere (`~/.cache/pip` replaced by a
/// link to `~`). A write grant of `/` itself (learn's safety net) is left out: every
/// path is below it, so the check would refuse every symlinked system path.
fn refuse_plantable_symlinks(caps: &CapabilitySet, fs: &impl FsView) -> Result<(), PlanError> {
    let writable: Vec<PathBuf> = caps
        .grants
        .iter()
        .filter(|g| g.access != Access::Read && g.kind != PathKind::File)
        .filter_map(|g| fs.canonicalize(&g.path).ok())
        .filter(|p| p != Path::new("/") && fs.kind(p).is_ok_and(|k| k == EntryKind::Dir))
        .collect();
    let mut denied: Option<Vec<(PathBuf, PathBuf)>> = None;
    for grant in &caps.grants {
        let mut first_link: Option<PathBuf> = None;
        let mut complete = true;
        let mut plantable = None;
        // Each prefix of the path as written: a symlink is a prefix whose resolution
        // differs from its resolved parent joined with its name.
        let mut parent = PathBuf::from("/");
        let mut written = PathBuf::new();
        for component in grant.path.components() {
            written.push(component);
            let std::path::Component::Normal(name) = component else {
                if let Ok(p) = fs.canonicalize(&written) {
                    parent = p;
                }
                continue;
            };
            let Ok(resolved) = fs.canonicalize(&written) else {
                complete = false;
                break;
            };
            let at = parent.join(name);
            if resolved != at && first_link.is_none() {
                first_link = Some(at.clone());
            }
            if resolved != at
                && plantable.is_none()
                && let Some(dir) = writable.iter().find(|w| is_within(&at, w) && at != **w)
            {
                plantable = Some(PlanError::PlantableSymlink {
                    path: grant.path.clone(),
                    source_desc: grant.source.to_string(),
                    link: at,
                    target: resolved.clone(),
                    writable: dir.clone(),
                });
            }
            parent = resolved;
        }
        if let Some(link) = first_link
            && complete
            && !grant.strict
        {
            let denied = denied.get_or_insert_with(|| {
                caps.denies
                    .iter()
                    .map(|d| (d.path.clone(), canonicalize_lenient(fs, &d.path)))
                    .collect()
            });
            if let Some((path, _)) = denied.iter().find(|(_, c)| is_within(c, &parent)) {
                return Err(PlanError::SymlinkOntoDenied {
                    path: grant.path.clone(),
                    source_desc: grant.source.to_string(),
                    link,
                    target: parent,
                    denied: path.clone(),
                });
            }
        }
        if let Some(error) = plantable {
            return Err(error);
        }
    }
    Ok(())
}

/// Plans the rules for `caps` against `fs`, with options.
pub fn plan_with(
    caps: &CapabilitySet,
    fs: &impl FsView,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    refuse_plantable_symlinks(caps, fs)?;
    let denies: Vec<PlannedDeny> = caps
        .denies
        .iter()
        .map(|d| PlannedDeny {
            path: d.path.clone(),
            canonical: canonicalize_lenient(fs, &d.path),
            source: d.source.clone(),
        })
        .collect();
    let mut rules = Vec::new();
    let mut skipped = Vec::new();
    let mut masks: Vec<Mask> = Vec::new();
    let mut aliases: Vec<PlannedDeny> = Vec::new();
    let alias_index = if fs.aliases_possible() {
        AliasIndex::new(fs, &denies)
    } else {
        AliasIndex {
            denied: Default::default(),
            ancestors: Default::default(),
        }
    };
    let mounts = if alias_index.ancestors.is_empty() && alias_index.denied.is_empty() {
        Vec::new()
    } else {
        fs.mount_points()
    };
    for grant in &caps.grants {
        let canonical = match fs.canonicalize(&grant.path) {
            Ok(p) => p,
            Err(_) if grant.strict => {
                let create_in = match grant.kind {
                    PathKind::File => {
                        Some(grant.path.parent().unwrap_or(Path::new("/")).to_path_buf())
                    }
                    _ => None,
                };
                return Err(PlanError::Missing {
                    path: grant.path.clone(),
                    source_desc: grant.source.to_string(),
                    create_in,
                });
            }
            Err(_) => {
                skipped.push(Skipped {
                    path: grant.path.clone(),
                    access: grant.access,
                    source: grant.source.clone(),
                    reason: SkipReason::Missing,
                });
                continue;
            }
        };
        let kind = fs.kind(&canonical).map_err(|source| PlanError::Io {
            path: canonical.clone(),
            error: source,
        })?;
        check_kind(grant, kind)?;
        let aliased_within = alias_index.within(fs, &canonical, &denies);
        if let Some(deny) = denies
            .iter()
            .find(|d| is_within(&canonical, &d.canonical))
            .or(aliased_within)
        {
            skipped.push(Skipped {
                path: grant.path.clone(),
                access: grant.access,
                source: grant.source.clone(),
                reason: SkipReason::Denied {
                    denied: deny.path.clone(),
                    deny_source: deny.source.clone(),
                },
            });
            continue;
        }
        // Denied paths below the grant, by path, and by identity: a bind mount can make
        // the granted directory, or a mount point below it, another name for a denied
        // path or one of its ancestors.
        let mut found = alias_index.below(fs, &canonical, &denies);
        if kind == EntryKind::Dir {
            for mount in mounts
                .iter()
                .filter(|m| is_within(m, &canonical) && **m != canonical)
            {
                if let Some(deny) = alias_index.within(fs, mount, &denies)
                    && !is_within(mount, &deny.canonical)
                {
                    found.push(PlannedDeny {
                        path: deny.path.clone(),
                        canonical: mount.clone(),
                        source: deny.source.clone(),
                    });
                }
                found.extend(alias_index.below(fs, mount, &denies));
            }
        }
        for alias in found {
            if !aliases
                .iter()
                .any(|a: &PlannedDeny| a.canonical == alias.canonical)
            {
                aliases.push(alias);
            }
        }
        let inside: Vec<&PlannedDeny> = denies
            .iter()
            .chain(aliases.iter())
            .filter(|d| is_within(&d.canonical, &canonical) && d.canonical != canonical)
            .collect();
        if options.mask_all_denies && !inside.is_empty() && kind == EntryKind::Dir {
            // Hide what exists; carve only around what does not.
            let mut missing = Vec::new();
            for &deny in &inside {
                match fs.kind(&deny.canonical) {
                    Ok(kind) => {
                        if !masks.iter().any(|m| m.path == deny.canonical) {
                            masks.push(Mask {
                                path: deny.canonical.clone(),
                                dir: kind == EntryKind::Dir,
                                source: deny.source.clone(),
                            });
                        }
                    }
                    Err(_) => missing.push(deny),
                }
            }
            if missing.is_empty() {
                rules.push(Rule {
                    path: canonical,
                    kind,
                    access: grant.access,
                    source: Arc::new(grant.source.clone()),
                    carved: None,
                    list_only: false,
                });
                continue;
            }
            // A hidden path met while carving gets no rule of its own either.
            let hidden: Vec<PathBuf> = masks.iter().map(|m| m.path.clone()).collect();
            carve_grant(fs, grant, canonical, &missing, &hidden, &mut rules)?;
            continue;
        }
        let maskable = options.mask_system_denies
            && grant.access == Access::Read
            && options
                .home
                .as_ref()
                .is_none_or(|home| !is_within(&canonical, home) && !is_within(home, &canonical));
        if maskable && !inside.is_empty() && kind == EntryKind::Dir {
            for deny in &inside {
                // Only what exists can (and needs to) be hidden: see PlanOptions.
                let Ok(kind) = fs.kind(&deny.canonical) else {
                    continue;
                };
                if !masks.iter().any(|m| m.path == deny.canonical) {
                    masks.push(Mask {
                        path: deny.canonical.clone(),
                        dir: kind == EntryKind::Dir,
                        source: deny.source.clone(),
                    });
                }
            }
        }
        // Masks are a second layer only: a mount is dropped when something outside
        // the sandbox renames over or unlinks what it covers (`passwd` rewriting
        // /etc/shadow), so every denial is also carved, and holds in Landlock alone.
        if inside.is_empty() || kind == EntryKind::File {
            rules.push(Rule {
                path: canonical,
                kind,
                access: grant.access,
                source: Arc::new(grant.source.clone()),
                carved: None,
                list_only: false,
            });
            continue;
        }
        carve_grant(fs, grant, canonical, &inside, &[], &mut rules)?;
    }
    // Aliased denials are part of the plan, so `nono why` sees them too.
    let mut denies = denies;
    denies.extend(aliases);
    masks.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Plan {
        masks,
        rules,
        denies,
        skipped,
    })
}

/// Carves the denied paths `inside` (all strictly below it) out of the directory
/// grant `canonical`, adding the rules to `rules`.
fn carve_grant(
    fs: &impl FsView,
    grant: &crate::capability::PathGrant,
    canonical: PathBuf,
    inside: &[&PlannedDeny],
    hidden: &[PathBuf],
    rules: &mut Vec<Rule>,
) -> Result<(), PlanError> {
    let carve = Arc::new(Carve {
        granted: canonical.clone(),
        denied: inside[0].path.clone(),
    });
    let mut carver = Carver {
        fs,
        access: grant.access,
        source: Arc::new(grant.source.clone()),
        carve,
        hidden,
        out: Vec::new(),
    };
    carver.carve(&canonical, inside).map_err(|e| match e {
        CarveError::TooMany => PlanError::TooManyRules {
            grant: grant.path.clone(),
            grant_source: grant.source.to_string(),
            denied: inside[0].path.clone(),
            deny_source: inside[0].source.to_string(),
            limit: MAX_CARVED_RULES,
        },
        CarveError::Io(path, source) => PlanError::Io {
            path,
            error: source,
        },
    })?;
    rules.extend(carver.out);
    Ok(())
}

/// The mount points of this process's mount namespace, from `/proc/self/mountinfo`
/// (field 5, with the kernel's octal escapes for space, tab, newline and backslash).
pub fn read_mount_points() -> Vec<PathBuf> {
    read_mountinfo()
        .map(|text| mount_points_in(&text))
        .unwrap_or_default()
}

/// `/proc/self/mountinfo`, read in as few system calls as the table allows.
/// `std::fs::read` asks the size first (a /proc file has none) and then reads in
/// growing steps from 32 bytes: ten system calls for a table of 1.5 KiB, which the
/// plan cache reads on every start. Here it is open, one read per 16 KiB, close.
pub(crate) fn read_mountinfo() -> Option<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open("/proc/self/mountinfo").ok()?;
    let mut text = vec![0u8; 16 << 10];
    let mut len = 0;
    loop {
        if len == text.len() {
            text.resize(len * 2, 0);
        }
        match file.read(&mut text[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    text.truncate(len);
    Some(text)
}

/// The mount points listed in the text of a `mountinfo` file.
fn mount_points_in(text: &[u8]) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let mut out = Vec::new();
    for line in text.split(|b| *b == b'\n') {
        let Some(field) = line.split(|b| *b == b' ').nth(4) else {
            continue;
        };
        let mut decoded = Vec::with_capacity(field.len());
        let mut i = 0;
        while i < field.len() {
            if field[i] == b'\\'
                && i + 3 < field.len()
                && field[i + 1..i + 4]
                    .iter()
                    .all(|c| (b'0'..=b'7').contains(c))
            {
                let value =
                    (field[i + 1] - b'0') * 64 + (field[i + 2] - b'0') * 8 + (field[i + 3] - b'0');
                decoded.push(value);
                i += 4;
            } else {
                decoded.push(field[i]);
                i += 1;
            }
        }
        out.push(PathBuf::from(OsString::from_vec(decoded)));
    }
    out.sort();
    out.dedup();
    out
}

/// Does the mount table hold a bind mount: an entry whose root is not the root of its
/// filesystem (field 4), or a device (field 3) mounted more than once? Unreadable
/// mountinfo counts as yes.
pub fn bind_mounts_present() -> bool {
    read_mountinfo().is_none_or(|text| bind_mounts_in(&text))
}

/// [`bind_mounts_present`] for the text of a `mountinfo` file.
fn bind_mounts_in(text: &[u8]) -> bool {
    let mut devices: Vec<&[u8]> = Vec::new();
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let mut fields = line.split(|b| *b == b' ');
        let (Some(device), Some(root)) = (fields.nth(2), fields.next()) else {
            return true;
        };
        if root != b"/" || devices.contains(&device) {
            return true;
        }
        devices.push(device);
    }
    false
}

/// Identities of the denied paths and their ancestors, to see through bind mounts
/// (one directory reachable under several paths).
struct AliasIndex {
    /// Identity of an existing denied path → its index.
    denied: std::collections::HashMap<(u64, u64), usize>,
    /// Identity of an existing ancestor of a denied path → (deny index, ancestor path).
    ancestors: std::collections::HashMap<(u64, u64), Vec<(usize, PathBuf)>>,
}

impl AliasIndex {
    fn new(fs: &impl FsView, denies: &[PlannedDeny]) -> Self {
        let mut index = AliasIndex {
            denied: Default::default(),
            ancestors: Default::default(),
        };
        for (i, deny) in denies.iter().enumerate() {
            for ancestor in deny.canonical.ancestors() {
                let Some(id) = fs.identity(ancestor) else {
                    continue;
                };
                if ancestor == deny.canonical {
                    index.denied.insert(id, i);
                } else {
                    index
                        .ancestors
                        .entry(id)
                        .or_default()
                        .push((i, ancestor.to_path_buf()));
                }
            }
        }
        index
    }

    /// A denial that `granted` lies inside by identity (the granted path or one of its
    /// ancestors is a denied directory under another name).
    fn within<'a>(
        &self,
        fs: &impl FsView,
        granted: &Path,
        denies: &'a [PlannedDeny],
    ) -> Option<&'a PlannedDeny> {
        if self.denied.is_empty() {
            return None;
        }
        granted.ancestors().find_map(|a| {
            fs.identity(a)
                .and_then(|id| self.denied.get(&id))
                .map(|i| &denies[*i])
        })
    }

    /// Denials below `granted` by identity but not by path, re-expressed under it.
    fn below(&self, fs: &impl FsView, granted: &Path, denies: &[PlannedDeny]) -> Vec<PlannedDeny> {
        let Some(hits) = fs.identity(granted).and_then(|id| self.ancestors.get(&id)) else {
            return Vec::new();
        };
        hits.iter()
            .filter(|(i, _)| !is_within(&denies[*i].canonical, granted))
            .filter_map(|(i, ancestor)| {
                let deny = &denies[*i];
                let rest = deny.canonical.strip_prefix(ancestor).ok()?;
                Some(PlannedDeny {
                    path: deny.path.clone(),
                    canonical: granted.join(rest),
                    source: deny.source.clone(),
                })
            })
            .collect()
    }
}

fn check_kind(grant: &crate::capability::PathGrant, kind: EntryKind) -> Result<(), PlanError> {
    let mismatch = match (grant.kind, kind) {
        (PathKind::Dir, EntryKind::File) => Some("a file"),
        (PathKind::File, EntryKind::Dir) => Some("a directory"),
        _ => None,
    };
    let Some(what) = mismatch else { return Ok(()) };
    let suggestion = match &grant.source {
        Source::Flag { value, .. } => {
            let flag = GrantFlag::for_access(
                grant.access,
                if kind == EntryKind::Dir {
                    PathKind::Dir
                } else {
                    PathKind::File
                },
            );
            Suggestion::Override {
                what: OverrideKind::Grant(flag),
                value: value.clone(),
            }
        }
        _ => {
            let key = match (grant.access, kind) {
                (Access::Read, EntryKind::Dir) => "filesystem.read",
                (Access::Write, EntryKind::Dir) => "filesystem.write",
                (Access::ReadWrite, EntryKind::Dir) => "filesystem.allow",
                (Access::Read, EntryKind::File) => "filesystem.read_file",
                (Access::Write, EntryKind::File) => "filesystem.write_file",
                (Access::ReadWrite, EntryKind::File) => "filesystem.allow_file",
            };
            Suggestion::ProfileKey { key }
        }
    };
    Err(PlanError::WrongKind {
        path: grant.path.clone(),
        source_desc: grant.source.to_string(),
        what,
        suggestion,
    })
}

enum CarveError {
    TooMany,
    Io(PathBuf, io::Error),
}

struct Carver<'a, F: FsView> {
    fs: &'a F,
    access: Access,
    source: Arc<Source>,
    carve: Arc<Carve>,
    /// Denied paths the mount view hides: skipped, not descended into.
    hidden: &'a [PathBuf],
    out: Vec<Rule>,
}

impl<F: FsView> Carver<'_, F> {
    fn push(&mut self, path: PathBuf, kind: EntryKind) -> Result<(), CarveError> {
        if self.out.len() >= MAX_CARVED_RULES {
            return Err(CarveError::TooMany);
        }
        self.out.push(Rule {
            path,
            kind,
            access: self.access,
            source: Arc::clone(&self.source),
            carved: Some(Arc::clone(&self.carve)),
            list_only: false,
        });
        Ok(())
    }

    /// Grants every entry of `dir` except those on the way to a denied path in
    /// `inside` (all strictly below `dir`), descending along those.
    fn carve(&mut self, dir: &Path, inside: &[&PlannedDeny]) -> Result<(), CarveError> {
        let mut entries = self
            .fs
            .read_dir_kinds(dir)
            .map_err(|e| CarveError::Io(dir.to_path_buf(), e))?;
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, kind) in entries {
            let child = dir.join(&name);
            let below: Vec<&PlannedDeny> = inside
                .iter()
                .copied()
                .filter(|d| is_within(&d.canonical, &child))
                .collect();
            if below.iter().any(|d| d.canonical == child) || self.hidden.contains(&child) {
                continue; // the denied entry itself
            }
            // A symlink gets no rule: a rule on it would apply to its target, which may
            // lie outside the grant, while a single rule on the granted directory never
            // reaches through a symlink (Landlock checks the resolved path). A target
            // inside the grant gets its own rule anyway.
            let Some(kind) = kind else { continue };
            if below.is_empty() {
                self.push(child, kind)?;
            } else if kind == EntryKind::Dir {
                self.carve(&child, &below)?;
            }
        }
        // The directory itself may be listed when no denied directory below it could
        // be listed through that right (READ_DIR reaches every directory below). What
        // remains is a denied directory that something outside creates during the run:
        // its names, never its contents, could be listed. (The mount view lists carved
        // directories its own way: they are its directories, with nothing denied
        // below them.)
        let lists_denied = || {
            inside.iter().any(|d| {
                self.fs
                    .kind(&d.canonical)
                    .is_ok_and(|k| k == EntryKind::Dir)
            })
        };
        if self.access != Access::Write && !lists_denied() {
            self.push(dir.to_path_buf(), EntryKind::Dir)?;
            if let Some(rule) = self.out.last_mut() {
                rule.list_only = true;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

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

#[cfg(test)]
mod masking_tests {
    use super::*;
    use crate::capability::{EnvPolicy, NetworkMode, NetworkPolicy, PathDeny, PathGrant};

    fn caps(grants: Vec<(PathBuf, Access)>, denies: Vec<PathBuf>) -> CapabilitySet {
        let source = Source::Flag {
            what: crate::capability::OverrideKind::AllowCwd,
            flag: "test".into(),
            value: String::new(),
        };
        CapabilitySet {
            profile: None,
            profile_chain: vec![],
            profile_files: vec![],
            workdir: "/".into(),
            groups: vec![],
            grants: grants
                .into_iter()
                .map(|(path, access)| PathGrant {
                    path,
                    kind: PathKind::Dir,
                    access,
                    strict: false,
                    source: source.clone(),
                })
                .collect(),
            denies: denies
                .into_iter()
                .map(|path| PathDeny {
                    path,
                    source: source.clone(),
                })
                .collect(),
            bypassed: vec![],
            network: NetworkPolicy {
                mode: NetworkMode::Allowed,
                credentials: vec![],
                listen_ports: vec![],
                open_ports: vec![],
            },
            environment: EnvPolicy::default(),
            security: Default::default(),
            notes: vec![],
        }
    }

    #[test]
    fn read_only_system_grants_mask_existing_denials_and_carve_them_too() {
        let root = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(root.path()).unwrap();
        let etc = root.join("etc");
        let home = root.join("home");
        std::fs::create_dir_all(etc.join("sudoers.d")).unwrap();
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        for f in ["shadow", "passwd", "hosts"] {
            std::fs::write(etc.join(f), "x").unwrap();
        }
        let denies = vec![
            etc.join("shadow"),
            etc.join("sudoers.d"),
            etc.join("absent"),
            home.join(".ssh"),
        ];
        let options = PlanOptions {
            mask_system_denies: true,
            home: Some(home.clone()),
            mask_all_denies: false,
        };

        // Read-only /etc: existing denials masked (for the host view), and carved: a
        // mount is dropped when something outside renames over what it covers, so the
        // denial must hold in Landlock alone. /etc itself is not listable: READ_DIR
        // would reach sudoers.d.
        let plan = plan_with(
            &caps(vec![(etc.clone(), Access::Read)], denies.clone()),
            &RealFs,
            &options,
        )
        .unwrap();
        let paths: Vec<_> = plan
            .rules
            .iter()
            .map(|r| (r.path.clone(), r.list_only))
            .collect();
        assert_eq!(
            paths,
            [(etc.join("hosts"), false), (etc.join("passwd"), false)]
        );
        let masked: Vec<_> = plan.masks.iter().map(|m| (m.path.clone(), m.dir)).collect();
        assert_eq!(
            masked,
            [(etc.join("shadow"), false), (etc.join("sudoers.d"), true)]
        );

        // With only denied files inside, the carved directory may be listed.
        std::fs::remove_dir(etc.join("sudoers.d")).unwrap();
        let plan = plan_with(
            &caps(vec![(etc.clone(), Access::Read)], denies.clone()),
            &RealFs,
            &options,
        )
        .unwrap();
        assert!(
            plan.rules.iter().any(|r| r.path == etc && r.list_only),
            "{:?}",
            plan.rules
        );
        std::fs::create_dir(etc.join("sudoers.d")).unwrap();

        // Writable /etc: carved as always (the sandbox could create the absent one).
        let plan = plan_with(
            &caps(vec![(etc.clone(), Access::ReadWrite)], denies.clone()),
            &RealFs,
            &options,
        )
        .unwrap();
        assert!(plan.masks.is_empty());
        assert!(
            plan.rules
                .iter()
                .all(|r| (r.path != etc || r.list_only) && r.path != etc.join("shadow")),
            "{:?}",
            plan.rules
        );

        // A read-only tree holding $HOME is carved (credentials appear there mid-run).
        let plan = plan_with(
            &caps(vec![(root.clone(), Access::Read)], denies.clone()),
            &RealFs,
            &options,
        )
        .unwrap();
        assert!(
            plan.rules.iter().all(|r| r.path != root || r.list_only),
            "{:?}",
            plan.rules
        );
        assert!(plan.masks.iter().all(|m| !m.path.starts_with(&home)));

        // Without the option nothing is masked.
        let carved =
            super::plan(&caps(vec![(etc.clone(), Access::Read)], denies), &RealFs).unwrap();
        assert!(carved.masks.is_empty());
        assert!(carved.rules.len() > 1);
    }

    /// `nono learn`'s safety net: every existing denial is masked, wherever it is, so
    /// the directories above it keep one rule; only an absent denial is carved around
    /// (its nearest existing directory and everything above get no rule), and a masked
    /// path met while carving gets no rule of its own.
    #[test]
    fn mask_all_denies_masks_what_exists_and_carves_only_around_what_does_not() {
        let root = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(root.path()).unwrap();
        let home = root.join("home");
        let other = root.join("other");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::create_dir_all(home.join("src")).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(home.join(".bashrc"), "x").unwrap();
        let options = PlanOptions {
            mask_all_denies: true,
            home: Some(home.clone()),
            ..PlanOptions::default()
        };
        let present = vec![home.join(".ssh"), home.join(".bashrc")];
        let plan = plan_with(
            &caps(vec![(root.clone(), Access::ReadWrite)], present.clone()),
            &RealFs,
            &options,
        )
        .unwrap();
        assert_eq!(plan.rules.len(), 1, "{:?}", plan.rules);
        assert_eq!(plan.rules[0].path, root);
        let masked: Vec<_> = plan.masks.iter().map(|m| (m.path.clone(), m.dir)).collect();
        assert_eq!(
            masked,
            [(home.join(".bashrc"), false), (home.join(".ssh"), true)]
        );

        let mut denies = present;
        denies.push(home.join(".aws"));
        let plan = plan_with(
            &caps(vec![(root.clone(), Access::ReadWrite)], denies),
            &RealFs,
            &options,
        )
        .unwrap();
        // Listing the carved directories (READ_DIR only) is no right to create in them.
        let paths: Vec<_> = plan
            .rules
            .iter()
            .filter(|r| !r.list_only)
            .map(|r| r.path.clone())
            .collect();
        assert_eq!(paths, [home.join("src"), other], "{:?}", plan.rules);
        assert_eq!(plan.masks.len(), 2);
    }
}
