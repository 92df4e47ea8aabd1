//! Finding the pathname sockets of other services, which the mount view hides.
//!
//! Landlock before ABI 9 does not mediate connecting to a pathname socket, so the
//! mount view binds `/dev/null` over every socket (docker.sock, the D-Bus system bus,
//! agents) that no write grant covers. Finding them means listing a few dozen
//! directories under `/run` and the temporary directories on every start; a memo in
//! nono's plan cache keeps each directory's listing with the directory's stamp (see
//! [`crate::plan::cache`]) and lists again only the directories whose stamp changed.
//! A directory's entries cannot change without changing its stamp, so the memo gives
//! exactly what listing would; directories changed in the last two seconds, or on file
//! systems whose change times are not trusted, are always listed.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::capability::Access as Mode;
use crate::plan::Plan;
use crate::plan::cache::{PlanCache, Stamp, Writer};

/// Where pathname sockets of system services live, and how deep to look: `/run`
/// holds docker.sock, the D-Bus system bus and friends a few levels down; `/tmp` holds
/// X11, ssh-agent and tmux sockets one or two levels down (and often thousands of
/// unrelated files further down). `/var/run` is usually a link to `/run`.
pub(super) const ROOTS: &[(&str, usize)] =
    &[("/run", 4), ("/var/run", 4), ("/tmp", 2), ("/var/tmp", 2)];
/// How many entries the socket scan looks at before it gives up (and says so).
pub(super) const SCAN_LIMIT: usize = 5_000;
/// The memo's entry in the plan cache (one per binary).
fn memo_name() -> String {
    crate::plan::cache::slot_name("sockets-", b"")
}
/// At most this many directories are remembered.
const MEMO_LIMIT: usize = 4_096;

/// Pathname sockets of other services that no write grant covers, sorted. `skip` is a
/// directory masked as a whole. The second value is false when the scan stopped at
/// [`SCAN_LIMIT`]. With nono's state directory, unchanged directories come from the
/// memo.
pub(super) fn to_hide(
    plan: &Plan,
    skip: Option<&Path>,
    state_dir: Option<&Path>,
) -> (Vec<PathBuf>, bool) {
    let roots: Vec<(PathBuf, usize)> = ROOTS
        .iter()
        .map(|(root, depth)| (PathBuf::from(root), *depth))
        .collect();
    let (found, complete) = match state_dir {
        Some(state) => {
            let cache = PlanCache::new(state);
            let mut memo = Memo::load(&cache);
            let result = scan(&roots, skip, &mut |dir| memo.list(dir, cache.min_age()));
            memo.store(&cache);
            result
        }
        None => scan(&roots, skip, &mut |dir| {
            list(dir).map(|(_, entries)| entries)
        }),
    };
    let writable = |path: &Path| {
        plan.rules
            .iter()
            .any(|r| r.access != Mode::Read && crate::plan::is_within(path, &r.path))
    };
    (
        found.into_iter().filter(|p| !writable(p)).collect(),
        complete,
    )
}

/// What the scan needs of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    Socket,
}

/// What the scan needs of a directory's listing: how many entries it had, and the
/// directories and sockets among them (with their position in `read_dir` order, so
/// that [`SCAN_LIMIT`] stops at the same entry as it would walking the listing). The
/// other entries (files, links, devices: most of them) are only counted.
#[derive(Debug, Default, PartialEq, Eq)]
struct Listing {
    total: usize,
    kept: Vec<(usize, OsString, Kind)>,
}

type Entries = std::rc::Rc<Listing>;

/// A directory's listing, and the stamp taken just before it was listed. Entries are
/// read as `std::fs::read_dir` reads them (`.` and `..` left out, the type from the
/// directory entry or else from `lstat`), without copying every name: `/tmp` often
/// holds hundreds and changes all the time, so it is listed on most starts.
fn list(dir: &Path) -> Option<(Option<Stamp>, Entries)> {
    use nix::dir::{Dir, Type};
    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;
    use std::os::unix::fs::FileTypeExt;
    let stamp = Stamp::of(dir);
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut handle = Dir::open(dir, flags, Mode::empty()).ok()?;
    let mut listing = Listing::default();
    for entry in handle.iter().flatten() {
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = std::ffi::OsStr::from_bytes(name);
        let kind = match entry.file_type() {
            Some(Type::Directory) => Some(Kind::Dir),
            Some(Type::Socket) => Some(Kind::Socket),
            Some(_) => None,
            None => match std::fs::symlink_metadata(dir.join(name)) {
                Ok(meta) if meta.is_dir() => Some(Kind::Dir),
                Ok(meta) if meta.file_type().is_socket() => Some(Kind::Socket),
                Ok(_) => None,
                // As std's `DirEntry::file_type` failing: the entry is left out.
                Err(_) => continue,
            },
        };
        let index = listing.total;
        listing.total += 1;
        if let Some(kind) = kind {
            listing.kept.push((index, name.to_os_string(), kind));
        }
    }
    Some((stamp, std::rc::Rc::new(listing)))
}

/// The scan: sockets below `roots` (to their depth) except below `skip`, listing each
/// directory with `list`.
fn scan(
    roots: &[(PathBuf, usize)],
    skip: Option<&Path>,
    list: &mut dyn FnMut(&Path) -> Option<Entries>,
) -> (Vec<PathBuf>, bool) {
    let mut out = Vec::new();
    // Entries looked at before the current directory.
    let mut seen = 0usize;
    // (directory, depth left)
    let mut stack: Vec<(PathBuf, usize)> = roots
        .iter()
        .filter_map(|(r, depth)| std::fs::canonicalize(r).ok().map(|p| (p, *depth)))
        .collect();
    stack.sort();
    stack.dedup_by(|a, b| a.0 == b.0);
    while let Some((dir, depth_left)) = stack.pop() {
        if skip.is_some_and(|s| dir.starts_with(s)) {
            continue;
        }
        let Some(listing) = list(&dir) else {
            continue;
        };
        for (index, name, kind) in &listing.kept {
            // The entry at `index` is the scan's `seen + index + 1`th.
            if seen + index >= SCAN_LIMIT {
                out.sort();
                return (out, false);
            }
            match kind {
                Kind::Dir if depth_left > 1 && worth_descending(&dir, name) => {
                    stack.push((dir.join(name), depth_left - 1));
                }
                Kind::Dir => {}
                Kind::Socket => out.push(dir.join(name)),
            }
        }
        seen += listing.total;
        if seen > SCAN_LIMIT {
            out.sort();
            return (out, false);
        }
    }
    out.sort();
    (out, true)
}

/// Directories as last listed, with the stamp that vouches for each listing.
#[derive(Default)]
struct Memo {
    /// By the directory's path as bytes (hashing a `Path` walks its components).
    dirs: HashMap<OsString, (Stamp, Entries), rustc_hash::FxBuildHasher>,
    changed: bool,
}

impl Memo {
    fn load(cache: &PlanCache) -> Memo {
        let dirs = cache
            .read_entry(&memo_name(), b"", |r| {
                let mut dirs = HashMap::default();
                for _ in 0..r.count()? {
                    let dir = r.path()?;
                    let stamp = Stamp::decode(r)?;
                    let total = r.u32()? as usize;
                    let mut kept = Vec::new();
                    for _ in 0..r.count()? {
                        let index = r.u32()? as usize;
                        let name = OsString::from(std::ffi::OsStr::from_bytes(r.bytes()?));
                        let kind = match r.u8()? {
                            0 => Kind::Dir,
                            1 => Kind::Socket,
                            _ => return None,
                        };
                        // Positions strictly increase and stay within the listing.
                        if index >= total || kept.last().is_some_and(|(i, _, _)| *i >= index) {
                            return None;
                        }
                        kept.push((index, name, kind));
                    }
                    dirs.insert(
                        dir.into_os_string(),
                        (stamp, std::rc::Rc::new(Listing { total, kept })),
                    );
                }
                Some(dirs)
            })
            .unwrap_or_default();
        Memo {
            dirs,
            changed: false,
        }
    }

    /// `dir`'s listing: remembered when its stamp is unchanged, else listed (and
    /// remembered when the new stamp can vouch for the listing).
    fn list(&mut self, dir: &Path, min_age: std::time::Duration) -> Option<Entries> {
        let now = Stamp::of(dir);
        if let (Some(now), Some((stamp, entries))) = (now, self.dirs.get(dir.as_os_str()))
            && now == *stamp
        {
            return Some(entries.clone());
        }
        let (stamp, entries) = list(dir)?;
        let vouched = stamp.filter(|s| s.vouches(dir, SystemTime::now(), min_age).is_ok());
        match vouched {
            Some(stamp)
                if self.dirs.len() < MEMO_LIMIT || self.dirs.contains_key(dir.as_os_str()) =>
            {
                self.dirs
                    .insert(dir.as_os_str().to_os_string(), (stamp, entries.clone()));
                self.changed = true;
            }
            _ => {
                self.changed |= self.dirs.remove(dir.as_os_str()).is_some();
            }
        }
        Some(entries)
    }

    fn store(&self, cache: &PlanCache) {
        if !self.changed {
            return;
        }
        let _ = cache.write_entry(&memo_name(), b"", |w: &mut Writer| {
            w.u32(self.dirs.len() as u32);
            for (dir, (stamp, listing)) in &self.dirs {
                w.path(Path::new(dir));
                stamp.encode(w);
                w.u32(listing.total as u32);
                w.u32(listing.kept.len() as u32);
                for (index, name, kind) in &listing.kept {
                    w.u32(*index as u32);
                    w.bytes(name.as_bytes());
                    w.u8(match kind {
                        Kind::Dir => 0,
                        Kind::Socket => 1,
                    });
                }
            }
            Ok(())
        });
    }
}

/// In the shared temporary directories, only the directories that hold service
/// sockets by convention are searched (X11, ICE, ssh-agent, tmux, D-Bus, PulseAudio,
/// editors' IPC), not every project's scratch tree.
fn worth_descending(parent: &Path, name: &std::ffi::OsStr) -> bool {
    let temp = parent == Path::new("/tmp") || parent == Path::new("/var/tmp");
    if !temp {
        return true;
    }
    let name = name.as_bytes();
    [".X11-unix", ".ICE-unix", ".font-unix", ".XIM-unix"]
        .iter()
        .any(|n| name == n.as_bytes())
        || [
            "ssh-",
            "tmux-",
            "dbus-",
            "pulse-",
            "vscode-",
            "screen",
            "gpg-",
            "emacs",
            "nvim",
            "systemd-private-",
            "keyring-",
        ]
        .iter()
        .any(|p| name.starts_with(p.as_bytes()))
        || name.ends_with(b".sock")
        || name.ends_with(b".socket")
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixListener;
    use std::time::Duration;

    use super::*;

    /// A change to the tree; its argument binds a socket at a path.
    type Change<'a> = dyn Fn(&mut dyn FnMut(PathBuf)) + 'a;

    /// The memo's scan equals a fresh scan after each of a series of changes: sockets
    /// and directories appearing and disappearing at every depth, a socket replacing a
    /// file, and a directory going past the depth limit.
    #[test]
    fn the_memo_gives_what_a_fresh_scan_gives() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let base = std::fs::canonicalize(dir.path()).expect("canonicalize");
        let root = base.join("run");
        let cache = PlanCache::with_min_age(&base.join("state"), Duration::ZERO);
        let roots = vec![(root.clone(), 3)];
        let p = |s: &str| root.join(s);
        let mut listeners = Vec::new();
        let mut bind = |path: PathBuf| listeners.push(UnixListener::bind(path).expect("bind"));
        std::fs::create_dir_all(p("a/b/c")).expect("mkdir");
        std::fs::write(p("a/file"), "x").expect("write");
        bind(p("a/b/one.sock"));

        let fresh = || scan(&roots, None, &mut |d| list(d).map(|(_, e)| e));
        let memo = || {
            let mut memo = Memo::load(&cache);
            let result = scan(&roots, None, &mut |d| memo.list(d, cache.min_age()));
            memo.store(&cache);
            (result, memo.dirs.len())
        };
        let (first, remembered) = memo();
        assert_eq!(first, fresh());
        assert_eq!(first.0, [p("a/b/one.sock")]);
        assert!(remembered >= 3, "every listed directory is remembered");
        assert_eq!(memo().0, first, "from the memo");

        let changes: Vec<Box<Change<'_>>> = vec![
            Box::new(|bind| bind(p("two.sock"))),
            Box::new(|bind| bind(p("a/b/three.sock"))),
            Box::new(|_| std::fs::remove_file(p("a/b/one.sock")).expect("rm")),
            Box::new(|_| std::fs::create_dir(p("a/new")).expect("mkdir")),
            Box::new(|bind| bind(p("a/new/four.sock"))),
            Box::new(|bind| {
                std::fs::remove_file(p("a/file")).expect("rm");
                bind(p("a/file"));
            }),
            Box::new(|bind| bind(p("a/b/c/too-deep.sock"))),
            Box::new(|_| std::fs::remove_dir_all(p("a/new")).expect("rm -r")),
        ];
        for (i, change) in changes.iter().enumerate() {
            // A change in a later timestamp tick than the stamps the memo holds (the
            // real minimum age is two seconds).
            std::thread::sleep(Duration::from_millis(20));
            change(&mut bind);
            let expected = fresh();
            assert_eq!(memo().0, expected, "after change {i}");
            assert_eq!(memo().0, expected, "after change {i}, from the memo");
        }
        assert!(!fresh().0.contains(&p("a/b/c/too-deep.sock")));
    }

    /// A damaged memo is ignored: the scan lists everything again.
    #[test]
    fn a_damaged_memo_is_ignored() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let base = std::fs::canonicalize(dir.path()).expect("canonicalize");
        let root = base.join("run");
        std::fs::create_dir_all(&root).expect("mkdir");
        let _listener = UnixListener::bind(root.join("s.sock")).expect("bind");
        let cache = PlanCache::with_min_age(&base.join("state"), Duration::ZERO);
        let mut memo = Memo::load(&cache);
        memo.list(&root, Duration::ZERO);
        memo.store(&cache);
        let file = cache.dir().join(memo_name());
        let mut bytes = std::fs::read(&file).expect("read");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        std::fs::write(&file, &bytes).expect("write");
        assert!(Memo::load(&cache).dirs.is_empty());
    }

    /// The listing equals what `std::fs::read_dir` gives, position for position.
    #[test]
    fn listing_matches_read_dir() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().expect("temporary directory");
        let root = dir.path();
        for i in 0..40 {
            std::fs::write(root.join(format!("f{i}")), "x").expect("write");
        }
        std::fs::create_dir(root.join("d")).expect("mkdir");
        std::os::unix::fs::symlink("d", root.join("l")).expect("symlink");
        let _listener = UnixListener::bind(root.join("s.sock")).expect("bind");
        let mut expected = Listing::default();
        for entry in std::fs::read_dir(root).expect("read_dir").flatten() {
            let file_type = entry.file_type().expect("file type");
            let index = expected.total;
            expected.total += 1;
            if file_type.is_dir() {
                expected.kept.push((index, entry.file_name(), Kind::Dir));
            } else if file_type.is_socket() {
                expected.kept.push((index, entry.file_name(), Kind::Socket));
            }
        }
        let (stamp, listing) = list(root).expect("list");
        assert!(stamp.is_some());
        assert_eq!(*listing, expected);
        assert_eq!(listing.total, 43);
    }

    /// The memo keeps only directories and sockets, and counts the other entries; a
    /// new plain file is not remembered by name, but it changes the directory's stamp,
    /// so the memo is not reused and the count (which SCAN_LIMIT looks at) follows.
    #[test]
    fn a_new_plain_file_is_not_served_from_the_memo() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let base = std::fs::canonicalize(dir.path()).expect("canonicalize");
        let root = base.join("run");
        std::fs::create_dir_all(&root).expect("mkdir");
        std::fs::write(root.join("a"), "x").expect("write");
        let cache = PlanCache::with_min_age(&base.join("state"), Duration::ZERO);
        let listed = |cache: &PlanCache| {
            let mut memo = Memo::load(cache);
            let listing = memo.list(&root, Duration::ZERO).expect("list");
            memo.store(cache);
            listing
        };
        assert_eq!(listed(&cache).total, 1);
        assert_eq!(listed(&cache).total, 1, "from the memo");
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(root.join("b"), "x").expect("write");
        assert_eq!(listed(&cache).total, 2, "listed again after the change");
        assert!(listed(&cache).kept.is_empty());
    }
}
