//! Turning a system call seen at its seccomp stop into what the tracer records.
//!
//! At the stop the tracee has not run the call yet, so its arguments are intact: paths
//! are read from its memory and made absolute against its working directory or directory
//! file descriptor *now*, before the call can change either. What is known only when the
//! call returns (the result, whether `O_CREAT` created the file) is completed by
//! [`Pending::finish`] at the syscall-exit stop.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use libc::pid_t;

use super::mem::Memory;
use crate::decode::paths;
use crate::decode::sockaddr;
use crate::decode::syscalls::Syscall;
use crate::dns::{self, DNS_PORT, Question};
use crate::event::{EventKind, FileOp, SockAddr};

/// The longest path the kernel accepts, NUL included.
const PATH_MAX: usize = libc::PATH_MAX as usize;
/// At most this many arguments of an `execve` are recorded.
const MAX_ARGS: usize = 4096;
/// At most this many bytes of `execve` arguments are recorded, in total.
const MAX_ARGV_BYTES: usize = 256 * 1024;
/// Only the head of a payload sent to port 53 is read: the header and the question.
const DNS_HEAD: usize = 1024;
/// At most this many messages of a `sendmmsg`, and iovecs of a message, are inspected.
const MAX_MESSAGES: u64 = 8;
const MAX_IOVECS: u64 = 8;
/// `sizeof(struct mmsghdr)` on 64-bit Linux: a 56-byte `struct msghdr`, the `u32`
/// `msg_len` and padding.
const MMSGHDR_SIZE: u64 = 64;

/// What to do with a system call after its seccomp stop.
#[derive(Debug)]
pub(super) enum Entry {
    /// Nothing to record: let it run without stopping at its exit.
    Skip,
    /// DNS questions sent to `server`: recorded now, no exit stop needed.
    Dns {
        /// The questions.
        questions: Vec<Question>,
        /// Where they were sent.
        server: SockAddr,
    },
    /// Recorded when the call returns.
    Pending(Pending),
}

/// A system call waiting for its result.
#[derive(Debug)]
pub(super) enum Pending {
    /// A file operation.
    File {
        op: FileOp,
        path: PathBuf,
        path2: Option<PathBuf>,
        create: Create,
    },
    /// An exec.
    Exec { path: PathBuf, argv: Vec<String> },
    /// A connect of socket `fd`.
    Connect { fd: i32, addr: SockAddr },
    /// A bind.
    Bind { addr: SockAddr },
}

/// How an open with `O_CREAT` tells whether it created the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Create {
    /// Not an `O_CREAT` open.
    No,
    /// `O_CREAT | O_EXCL`: success means it created the file.
    Exclusive,
    /// `O_CREAT`: the file did (`true`) or did not exist just before the call.
    Existed(bool),
}

impl Pending {
    /// The event for the call's return value (`0`, or `-errno`).
    pub(super) fn finish(self, result: i32) -> EventKind {
        match self {
            Pending::File {
                op,
                path,
                path2,
                create,
            } => {
                let created = result == 0
                    && match create {
                        Create::No => false,
                        Create::Exclusive => true,
                        Create::Existed(existed) => !existed,
                    };
                EventKind::File {
                    op: match (created, op) {
                        (false, op) => op,
                        (true, FileOp::Write) => FileOp::Create,
                        (true, _) => FileOp::CreateReadWrite,
                    },
                    path,
                    path2,
                    result,
                }
            }
            Pending::Exec { path, argv } => EventKind::Exec { path, argv, result },
            Pending::Connect { addr, .. } => EventKind::Connect { addr, result },
            Pending::Bind { addr } => EventKind::Bind { addr, result },
        }
    }
}

/// Decodes system calls of stopped tracees, reusing its buffers across stops.
#[derive(Debug, Default)]
pub(super) struct Decoder {
    memory: Memory,
    /// Scratch for strings and structures read from the tracee.
    scratch: Vec<u8>,
    /// Scratch for a second path.
    scratch2: Vec<u8>,
}

/// The per-process facts decoding needs.
pub(super) struct Context<'a> {
    /// The stopped thread.
    pub tid: pid_t,
    /// Sockets of its process known to be connected to port 53, with their peer.
    pub dns_sockets: &'a HashMap<i32, SockAddr>,
}

impl Decoder {
    /// Decodes the call `syscall(args)` that thread `cx.tid` is about to make.
    pub(super) fn entry(&mut self, syscall: Syscall, args: &[u64; 6], cx: &Context<'_>) -> Entry {
        let tid = cx.tid;
        let fd = |i: usize| args[i] as i32;
        let cwd = libc::AT_FDCWD;
        use Syscall as S;
        match syscall {
            S::Open => self.open(tid, cwd, args[0], args[1]),
            S::Openat => self.open(tid, fd(0), args[1], args[2]),
            S::Openat2 => {
                // struct open_how { u64 flags; u64 mode; u64 resolve; }
                let mut scratch = std::mem::take(&mut self.scratch);
                let flags = self.memory.read_words::<1>(tid, args[2], &mut scratch);
                self.scratch = scratch;
                match flags {
                    Some([flags]) => self.open(tid, fd(0), args[1], flags),
                    None => Entry::Skip,
                }
            }
            S::Creat => self.open(
                tid,
                cwd,
                args[0],
                (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64,
            ),
            S::Stat | S::Lstat => self.path_op(tid, FileOp::Stat, cwd, args[0]),
            S::Newfstatat => self.path_op(tid, FileOp::Stat, fd(0), args[1]),
            S::Statx => self.path_op(tid, FileOp::Stat, fd(0), args[1]),
            S::Access => self.path_op(tid, FileOp::Access, cwd, args[0]),
            S::Faccessat => self.path_op(tid, FileOp::Access, fd(0), args[1]),
            S::Faccessat2 => self.path_op(tid, FileOp::Access, fd(0), args[1]),
            S::Readlink => self.path_op(tid, FileOp::Readlink, cwd, args[0]),
            // readlinkat(fd, "") reads the link an O_PATH descriptor refers to.
            S::Readlinkat => self.path_op(tid, FileOp::Readlink, fd(0), args[1]),
            S::Execve => self.exec(tid, cwd, args[0], args[1]),
            S::Execveat => self.exec(tid, fd(0), args[1], args[2]),
            S::Mkdir => self.path_op(tid, FileOp::Mkdir, cwd, args[0]),
            S::Mkdirat => self.path_op(tid, FileOp::Mkdir, fd(0), args[1]),
            S::Rmdir => self.path_op(tid, FileOp::Rmdir, cwd, args[0]),
            S::Unlink => self.path_op(tid, FileOp::Unlink, cwd, args[0]),
            S::Unlinkat => {
                let op = if args[2] & libc::AT_REMOVEDIR as u64 != 0 {
                    FileOp::Rmdir
                } else {
                    FileOp::Unlink
                };
                self.path_op(tid, op, fd(0), args[1])
            }
            S::Rename => self.two_paths(tid, FileOp::Rename, (cwd, args[0]), (cwd, args[1])),
            S::Renameat | S::Renameat2 => {
                self.two_paths(tid, FileOp::Rename, (fd(0), args[1]), (fd(2), args[3]))
            }
            // path = the new link, path2 = the existing file.
            S::Link => self.two_paths(tid, FileOp::Link, (cwd, args[1]), (cwd, args[0])),
            S::Linkat => self.two_paths(tid, FileOp::Link, (fd(2), args[3]), (fd(0), args[1])),
            S::Symlink => self.symlink(tid, args[0], cwd, args[1]),
            S::Symlinkat => self.symlink(tid, args[0], fd(1), args[2]),
            S::Truncate => self.path_op(tid, FileOp::Truncate, cwd, args[0]),
            S::Chdir => self.path_op(tid, FileOp::Chdir, cwd, args[0]),
            S::Connect => match self.sockaddr(tid, args[1], args[2]) {
                Some(addr) => Entry::Pending(Pending::Connect { fd: fd(0), addr }),
                None => Entry::Skip,
            },
            S::Bind => match self.sockaddr(tid, args[1], args[2]) {
                Some(addr) => Entry::Pending(Pending::Bind { addr }),
                None => Entry::Skip,
            },
            S::Sendto => {
                let server = if args[4] != 0 {
                    self.sockaddr(tid, args[4], args[5])
                } else {
                    cx.dns_sockets.get(&fd(0)).cloned()
                };
                match server {
                    Some(server) if server.port() == Some(DNS_PORT) => {
                        self.scratch.clear();
                        let len = (args[2] as usize).min(DNS_HEAD);
                        self.memory.read(tid, args[1], len, &mut self.scratch);
                        dns_entry(dns::decode_any(&self.scratch), server)
                    }
                    _ => Entry::Skip,
                }
            }
            S::Sendmsg => match self.message(tid, fd(0), args[1], cx) {
                Some((questions, server)) => dns_entry(questions, server),
                None => Entry::Skip,
            },
            S::Sendmmsg => {
                let mut all = Vec::new();
                let mut server = None;
                for i in 0..args[2].min(MAX_MESSAGES) {
                    let at = args[1].wrapping_add(i * MMSGHDR_SIZE);
                    if let Some((questions, to)) = self.message(tid, fd(0), at, cx) {
                        all.extend(questions);
                        server.get_or_insert(to);
                    }
                }
                match server {
                    Some(server) => dns_entry(all, server),
                    None => Entry::Skip,
                }
            }
        }
    }

    /// An `open`-family call with these flags.
    fn open(&mut self, tid: pid_t, dirfd: i32, path_addr: u64, flags: u64) -> Entry {
        let flags = flags as i32;
        let Some(path) = self.path(tid, dirfd, path_addr) else {
            return Entry::Skip;
        };
        let (op, create) = if flags & libc::O_PATH != 0 {
            (FileOp::Stat, Create::No)
        } else if flags & libc::O_TMPFILE == libc::O_TMPFILE {
            let op = if flags & libc::O_ACCMODE == libc::O_WRONLY {
                FileOp::Create
            } else {
                FileOp::CreateReadWrite
            };
            (op, Create::No)
        } else {
            let op = match flags & libc::O_ACCMODE {
                libc::O_RDONLY => FileOp::Read,
                libc::O_WRONLY => FileOp::Write,
                _ => FileOp::ReadWrite,
            };
            let create = if flags & libc::O_CREAT == 0 {
                Create::No
            } else if flags & libc::O_EXCL != 0 {
                Create::Exclusive
            } else {
                Create::Existed(exists_for(tid, &path))
            };
            (op, create)
        };
        Entry::Pending(Pending::File {
            op,
            path,
            path2: None,
            create,
        })
    }

    /// A call with one path argument. With `AT_EMPTY_PATH` and an empty path (say
    /// `readlinkat(fd, "")`), the path is the file `dirfd` refers to.
    fn path_op(&mut self, tid: pid_t, op: FileOp, dirfd: i32, path_addr: u64) -> Entry {
        match self.path(tid, dirfd, path_addr) {
            Some(path) => Entry::Pending(Pending::File {
                op,
                path,
                path2: None,
                create: Create::No,
            }),
            None => Entry::Skip,
        }
    }

    /// A rename or link: `first` becomes `path`, `second` becomes `path2` (for `linkat`
    /// with `AT_EMPTY_PATH`, the file the descriptor refers to).
    fn two_paths(
        &mut self,
        tid: pid_t,
        op: FileOp,
        first: (i32, u64),
        second: (i32, u64),
    ) -> Entry {
        let (Some(path), Some(path2)) = (
            self.path(tid, first.0, first.1),
            self.path(tid, second.0, second.1),
        ) else {
            return Entry::Skip;
        };
        Entry::Pending(Pending::File {
            op,
            path,
            path2: Some(path2),
            create: Create::No,
        })
    }

    /// `symlink(target, linkpath)`: the link is `path`, the target text `path2`, verbatim.
    fn symlink(&mut self, tid: pid_t, target_addr: u64, dirfd: i32, link_addr: u64) -> Entry {
        let mut target = std::mem::take(&mut self.scratch2);
        target.clear();
        let read = self
            .memory
            .read_cstr(tid, target_addr, PATH_MAX, &mut target);
        let target_path = PathBuf::from(OsStr::from_bytes(&target));
        self.scratch2 = target;
        if !read {
            return Entry::Skip;
        }
        match self.path(tid, dirfd, link_addr) {
            Some(path) => Entry::Pending(Pending::File {
                op: FileOp::Symlink,
                path,
                path2: Some(target_path),
                create: Create::No,
            }),
            None => Entry::Skip,
        }
    }

    /// `execve`/`execveat`: the program path and the argument vector.
    fn exec(&mut self, tid: pid_t, dirfd: i32, path_addr: u64, argv_addr: u64) -> Entry {
        let Some(path) = self.path(tid, dirfd, path_addr) else {
            return Entry::Skip;
        };
        let argv = self.argv(tid, argv_addr);
        Entry::Pending(Pending::Exec { path, argv })
    }

    /// Reads a NULL-terminated argument vector, within [`MAX_ARGS`] and
    /// [`MAX_ARGV_BYTES`].
    fn argv(&mut self, tid: pid_t, addr: u64) -> Vec<String> {
        let mut argv = Vec::new();
        let mut pointers = Vec::new();
        let mut budget = MAX_ARGV_BYTES;
        if addr == 0 {
            return argv;
        }
        'outer: while argv.len() < MAX_ARGS {
            // Read the next batch of pointers.
            pointers.clear();
            let at = addr.wrapping_add(argv.len() as u64 * 8);
            let got = self.memory.read(tid, at, 64 * 8, &mut pointers) / 8;
            if got == 0 {
                break;
            }
            for bytes in pointers.chunks_exact(8).take(got) {
                let Ok(bytes) = bytes.try_into() else {
                    break 'outer;
                };
                let pointer = u64::from_ne_bytes(bytes);
                if pointer == 0 || argv.len() >= MAX_ARGS || budget == 0 {
                    break 'outer;
                }
                self.scratch.clear();
                self.memory
                    .read_cstr(tid, pointer, budget, &mut self.scratch);
                budget = budget.saturating_sub(self.scratch.len() + 1);
                argv.push(String::from_utf8_lossy(&self.scratch).into_owned());
            }
        }
        argv
    }

    /// Reads a path argument and makes it absolute. `None` if it cannot be read (a bad
    /// pointer: the call fails with EFAULT and nothing was accessed).
    fn path(&mut self, tid: pid_t, dirfd: i32, addr: u64) -> Option<PathBuf> {
        self.scratch.clear();
        if !self
            .memory
            .read_cstr(tid, addr, PATH_MAX, &mut self.scratch)
            && self.scratch.len() < PATH_MAX
        {
            return None;
        }
        Some(resolve(tid, dirfd, &self.scratch))
    }

    /// Reads and decodes a socket address; a relative Unix path is made absolute.
    fn sockaddr(&mut self, tid: pid_t, addr: u64, len: u64) -> Option<SockAddr> {
        if addr == 0 {
            return None;
        }
        self.scratch.clear();
        let len = (len as usize).min(sockaddr::MAX_LEN);
        self.memory.read(tid, addr, len, &mut self.scratch);
        match sockaddr::decode(&self.scratch)? {
            SockAddr::Unix { path } if path.is_relative() => Some(SockAddr::Unix {
                path: resolve(tid, libc::AT_FDCWD, path.as_os_str().as_bytes()),
            }),
            addr => Some(addr),
        }
    }

    /// The DNS questions of the `struct msghdr` at `addr` sent on socket `fd`, if it goes
    /// to port 53.
    fn message(
        &mut self,
        tid: pid_t,
        fd: i32,
        addr: u64,
        cx: &Context<'_>,
    ) -> Option<(Vec<Question>, SockAddr)> {
        // struct msghdr { void *name; socklen_t namelen; struct iovec *iov; size_t iovlen; ... }
        let mut scratch = std::mem::take(&mut self.scratch2);
        let header = self.memory.read_words::<4>(tid, addr, &mut scratch);
        self.scratch2 = scratch;
        let [name, namelen, iov, iovlen] = header?;
        let server = if name != 0 {
            self.sockaddr(tid, name, namelen & 0xffff_ffff)?
        } else {
            cx.dns_sockets.get(&fd)?.clone()
        };
        if server.port() != Some(DNS_PORT) {
            return None;
        }
        // Gather the head of the payload from the iovecs.
        let mut payload = Vec::new();
        for i in 0..iovlen.min(MAX_IOVECS) {
            let mut scratch = std::mem::take(&mut self.scratch2);
            let vec = self
                .memory
                .read_words::<2>(tid, iov.wrapping_add(i * 16), &mut scratch);
            self.scratch2 = scratch;
            let Some([base, len]) = vec else { break };
            let want = (len as usize).min(DNS_HEAD - payload.len());
            self.memory.read(tid, base, want, &mut payload);
            if payload.len() >= DNS_HEAD {
                break;
            }
        }
        Some((dns::decode_any(&payload), server))
    }
}

fn dns_entry(questions: Vec<Question>, server: SockAddr) -> Entry {
    if questions.is_empty() {
        Entry::Skip
    } else {
        Entry::Dns { questions, server }
    }
}

/// Makes `raw` absolute for thread `tid`: against its working directory
/// (`/proc/TID/cwd`) or the directory `dirfd` refers to (`/proc/TID/fd/N`), with `.` and
/// `..` folded lexically. An empty `raw` names the directory (or file) itself, as with
/// `AT_EMPTY_PATH`. If the base cannot be read (the thread died, `dirfd` is not a
/// directory) the path is returned as written.
pub(super) fn resolve(tid: pid_t, dirfd: i32, raw: &[u8]) -> PathBuf {
    if raw.first() == Some(&b'/') {
        return paths::absolute(Path::new("/"), raw);
    }
    let base = if dirfd == libc::AT_FDCWD {
        fs::read_link(format!("/proc/{tid}/cwd"))
    } else {
        fs::read_link(format!("/proc/{tid}/fd/{dirfd}"))
    };
    match base {
        Ok(base) if base.is_absolute() => paths::absolute(&base, raw),
        _ => PathBuf::from(OsStr::from_bytes(raw)),
    }
}

/// Whether `path` exists in the file-system view of thread `tid` (its root and mount
/// namespace, through `/proc/TID/root`), following symbolic links as `open` does. Errors
/// other than "not found" count as existing, so an open is never wrongly called a
/// creation.
fn exists_for(tid: pid_t, path: &Path) -> bool {
    if !path.is_absolute() {
        return true;
    }
    let mut through_root = PathBuf::from(format!("/proc/{tid}/root"));
    through_root.push(path.strip_prefix("/").unwrap_or(path));
    match fs::metadata(&through_root) {
        Ok(_) => true,
        Err(err) => !matches!(
            err.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_classifies_creation() {
        let pending = |create| Pending::File {
            op: FileOp::Write,
            path: "/tmp/f".into(),
            path2: None,
            create,
        };
        let op = |kind: EventKind| match kind {
            EventKind::File { op, .. } => op,
            other => panic!("expected a file event, got {other:?}"),
        };
        assert_eq!(
            op(pending(Create::Existed(false)).finish(0)),
            FileOp::Create,
            "new file"
        );
        assert_eq!(
            op(pending(Create::Existed(true)).finish(0)),
            FileOp::Write,
            "existing file"
        );
        assert_eq!(
            op(pending(Create::Exclusive).finish(0)),
            FileOp::Create,
            "O_EXCL success"
        );
        assert_eq!(
            op(pending(Create::Exclusive).finish(-libc::EEXIST)),
            FileOp::Write,
            "O_EXCL failure created nothing"
        );
        assert_eq!(
            op(pending(Create::Existed(false)).finish(-libc::EACCES)),
            FileOp::Write,
            "a denied creation is reported as the write it tried"
        );
        assert_eq!(
            op(pending(Create::No).finish(0)),
            FileOp::Write,
            "plain write"
        );
        let read_write = Pending::File {
            op: FileOp::ReadWrite,
            path: "/tmp/f".into(),
            path2: None,
            create: Create::Exclusive,
        };
        assert_eq!(
            op(read_write.finish(0)),
            FileOp::CreateReadWrite,
            "mkstemp's O_RDWR | O_CREAT | O_EXCL: the new file is read and written"
        );
    }

    #[test]
    fn resolve_absolute_without_proc() {
        assert_eq!(
            resolve(-1, libc::AT_FDCWD, b"/etc/../etc/./hostname"),
            PathBuf::from("/etc/hostname"),
            "absolute paths need no base"
        );
        assert_eq!(
            resolve(-1, libc::AT_FDCWD, b"relative"),
            PathBuf::from("relative"),
            "an unreadable base leaves the path as written"
        );
    }
}
