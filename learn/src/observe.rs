//! From tracer events to observations: which path, which access it needs.
//!
//! Landlock mediates opening (read, write), executing, creating and removing entries
//! (a right on the *parent* directory), renaming and truncating. It does not mediate
//! `stat`, `access`, `readlink` or `chdir`, so those are recorded as lookups that need
//! no grant. Paths are canonicalized by the caller-supplied function (symlinks
//! resolved; for a missing path, its parent), since rules apply to resolved paths.

use std::path::{Path, PathBuf};

use nono_tracer::event::{Event, EventKind, FileOp};
use serde::Serialize;

/// What an access needs from the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    /// Reading a file or listing a directory.
    Read,
    /// Writing (or truncating) an existing file.
    Write,
    /// Creating an entry in a directory (the path is the directory).
    Create,
    /// Removing an entry from a directory (the path is the directory).
    Delete,
    /// Executing a program.
    Exec,
    /// A lookup Landlock does not mediate (stat, access, readlink, chdir).
    Lookup,
}

impl Need {
    /// The badge letter of the review screen.
    pub fn badge(self) -> char {
        match self {
            Need::Read => 'r',
            Need::Write => 'w',
            Need::Create => 'c',
            Need::Delete => 'd',
            Need::Exec => 'x',
            Need::Lookup => 's',
        }
    }

    /// Does it need write access (to the file, or to the directory for create/delete)?
    pub fn is_write(self) -> bool {
        matches!(self, Need::Write | Need::Create | Need::Delete)
    }
}

/// One access by the traced command. The program that made it is the event's
/// ([`Event::exe`]): every observation of one event shares it, so it is not copied here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// The canonical path the access is about (for create/delete: the directory).
    pub path: PathBuf,
    /// The entry itself for create/delete (the file created or removed).
    pub entry: Option<PathBuf>,
    /// The path is a directory (always true for create/delete).
    pub dir: bool,
    /// What it needs.
    pub need: Need,
    /// `0` or `-errno`.
    pub result: i32,
    /// The process.
    pub pid: i32,
}

fn parent(path: &Path) -> PathBuf {
    path.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// A path resolved by the caller: canonical form, and whether it is a directory.
pub type Resolved = (PathBuf, bool);

/// The observations one file event amounts to (a rename is a removal from one
/// directory and a creation in another). `canon` resolves a path's symlinks and says
/// whether it is a directory (false when unknown or missing).
pub fn classify(event: &Event, canon: &mut impl FnMut(&Path) -> Resolved) -> Vec<Observation> {
    let obs =
        |(path, dir): Resolved, entry: Option<PathBuf>, need: Need, result: i32| Observation {
            path,
            entry,
            dir: dir || matches!(need, Need::Create | Need::Delete),
            need,
            result,
            pid: event.pid,
        };
    match &event.kind {
        EventKind::File {
            op,
            path,
            path2,
            result,
        } => {
            let result = *result;
            // Create/delete operations are about the parent directory: resolve it, and
            // keep the entry's name (resolving the entry itself would follow a link).
            let in_parent = |p: &Path, canon: &mut dyn FnMut(&Path) -> Resolved| {
                let (dir, _) = canon(&parent(p));
                let entry = p.file_name().map(|n| dir.join(n));
                ((dir, true), entry)
            };
            match op {
                FileOp::Read => vec![obs(canon(path), None, Need::Read, result)],
                FileOp::Write | FileOp::ReadWrite | FileOp::Truncate => {
                    let mut out = vec![obs(canon(path), None, Need::Write, result)];
                    if *op == FileOp::ReadWrite {
                        out.push(obs(canon(path), None, Need::Read, result));
                    }
                    out
                }
                FileOp::Create | FileOp::CreateReadWrite => {
                    // The opened file needs what the open asked for (Landlock checks
                    // the new file's read and write rights too), besides the right to
                    // create it in its directory.
                    let reads = *op == FileOp::CreateReadWrite;
                    let (target, is_dir) = canon(path);
                    if is_dir {
                        // `O_TMPFILE`: an unnamed file in the directory `path` itself.
                        let mut out = vec![obs((target.clone(), true), None, Need::Create, result)];
                        if reads {
                            out.push(obs((target, true), None, Need::Read, result));
                        }
                        return out;
                    }
                    let (dir, entry) = in_parent(path, canon);
                    let mut out = vec![obs(dir, entry.clone(), Need::Create, result)];
                    if let Some(file) = entry {
                        out.push(obs((file.clone(), false), None, Need::Write, result));
                        if reads {
                            out.push(obs((file, false), None, Need::Read, result));
                        }
                    }
                    out
                }
                FileOp::Mkdir | FileOp::Link | FileOp::Symlink => {
                    let (dir, entry) = in_parent(path, canon);
                    vec![obs(dir, entry, Need::Create, result)]
                }
                FileOp::Unlink | FileOp::Rmdir => {
                    let (dir, entry) = in_parent(path, canon);
                    vec![obs(dir, entry, Need::Delete, result)]
                }
                FileOp::Rename => {
                    let (from_dir, from) = in_parent(path, canon);
                    let mut out = vec![obs(from_dir, from, Need::Delete, result)];
                    if let Some(to) = path2 {
                        let (to_dir, to) = in_parent(to, canon);
                        out.push(obs(to_dir, to, Need::Create, result));
                    }
                    out
                }
                FileOp::Stat | FileOp::Access | FileOp::Readlink | FileOp::Chdir => {
                    vec![obs(canon(path), None, Need::Lookup, result)]
                }
            }
        }
        EventKind::Exec { path, result, .. } => vec![obs(canon(path), None, Need::Exec, *result)],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(op: FileOp, path: &str, path2: Option<&str>, result: i32) -> Event {
        Event {
            seq: 0,
            time_ns: 0,
            pid: 7,
            ppid: 1,
            exe: Some("/bin/sh".into()),
            kind: EventKind::File {
                op,
                path: path.into(),
                path2: path2.map(Into::into),
                result,
            },
        }
    }

    fn identity(p: &Path) -> Resolved {
        (p.to_path_buf(), false)
    }

    #[test]
    fn creates_and_removes_are_about_the_parent() {
        let o = classify(&file(FileOp::Create, "/w/new.txt", None, 0), &mut identity);
        assert_eq!(
            (o[0].path.as_path(), o[0].need),
            (Path::new("/w"), Need::Create)
        );
        assert_eq!(o[0].entry.as_deref(), Some(Path::new("/w/new.txt")));
        let o = classify(
            &file(FileOp::Rename, "/a/x", Some("/b/y"), 0),
            &mut identity,
        );
        assert_eq!(
            o.iter()
                .map(|o| (o.path.to_str().unwrap(), o.need))
                .collect::<Vec<_>>(),
            [("/a", Need::Delete), ("/b", Need::Create)]
        );
    }

    #[test]
    fn a_creating_open_needs_what_it_opened_the_new_file_for() {
        let needs = |op| {
            classify(&file(op, "/t/ccX.o", None, 0), &mut identity)
                .iter()
                .map(|o| (o.path.to_str().unwrap().to_string(), o.need))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            needs(FileOp::Create),
            [
                ("/t".into(), Need::Create),
                ("/t/ccX.o".into(), Need::Write)
            ]
        );
        assert_eq!(
            needs(FileOp::CreateReadWrite),
            [
                ("/t".into(), Need::Create),
                ("/t/ccX.o".into(), Need::Write),
                ("/t/ccX.o".into(), Need::Read)
            ]
        );
        // O_TMPFILE names the directory: the unnamed file is in it, not beside it.
        let o = classify(
            &file(FileOp::CreateReadWrite, "/tmp", None, 0),
            &mut |p: &Path| (p.to_path_buf(), true),
        );
        assert_eq!(
            o.iter()
                .map(|o| (o.path.to_str().unwrap(), o.need, o.entry.is_none()))
                .collect::<Vec<_>>(),
            [("/tmp", Need::Create, true), ("/tmp", Need::Read, true)]
        );
    }

    #[test]
    fn lookups_need_no_grant_and_failures_are_kept() {
        let o = classify(&file(FileOp::Stat, "/etc/x", None, -2), &mut identity);
        assert_eq!((o[0].need, o[0].result), (Need::Lookup, -2));
        let o = classify(&file(FileOp::ReadWrite, "/w/db", None, 0), &mut identity);
        assert_eq!(
            o.iter().map(|o| o.need).collect::<Vec<_>>(),
            [Need::Write, Need::Read]
        );
    }

    #[test]
    fn canonicalization_applies_to_the_directory_not_the_entry() {
        let mut canon = |p: &Path| {
            if p == Path::new("/link") {
                (PathBuf::from("/real"), true)
            } else {
                (p.to_path_buf(), false)
            }
        };
        let o = classify(&file(FileOp::Unlink, "/link/f", None, 0), &mut canon);
        assert_eq!(o[0].path, PathBuf::from("/real"));
        assert_eq!(o[0].entry, Some(PathBuf::from("/real/f")));
    }
}
