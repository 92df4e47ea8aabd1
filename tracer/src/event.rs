//! The one event type every tracing backend emits.
//!
//! A backend turns what a traced process tree does into a stream of [`Event`]s: file
//! accesses (with the path made absolute at trace time and the result the process saw),
//! program executions, socket connects and binds, DNS questions, and process starts and
//! exits. The stream is written as JSON lines to a session's `events.jsonl`, so every type
//! here is serde-serializable and deserializable with a stable, externally tagged shape:
//!
//! ```json
//! {"seq":3,"time_ns":81234,"pid":4242,"ppid":4241,"exe":"/usr/bin/cat",
//!  "kind":{"File":{"op":"Read","path":"/etc/hostname","path2":null,"result":0}}}
//! ```
//!
//! Results follow the kernel's convention: `0` on success, `-errno` on failure. A failed
//! probe (say `-ENOENT` for a configuration file that does not exist) is still an event:
//! what a program looked for matters when learning what it needs, even if it is not a
//! grant suggestion.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One thing a traced process did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the trace, starting at 0 and increasing by one per event produced
    /// (events dropped because the receiver went away still use up a number).
    pub seq: u64,
    /// Nanoseconds since the trace started.
    pub time_ns: u64,
    /// The process (thread group) id, as seen from the tracer's pid namespace.
    pub pid: i32,
    /// The id of the process that started `pid` (for the traced command itself, the
    /// tracing process). It is not updated when the parent dies and `pid` is reparented.
    pub ppid: i32,
    /// The program the process runs, once known: `/proc/PID/exe` read after its last
    /// exec (inherited across fork). `None` before the traced command's first exec.
    pub exe: Option<PathBuf>,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// Whether the operation failed: a file access, exec, connect or bind whose result is
    /// a negative errno. DNS questions and process starts and exits never fail.
    pub fn is_failed(&self) -> bool {
        match &self.kind {
            EventKind::File { result, .. }
            | EventKind::Exec { result, .. }
            | EventKind::Connect { result, .. }
            | EventKind::Bind { result, .. } => *result < 0,
            EventKind::Dns { .. }
            | EventKind::ProcessStart { .. }
            | EventKind::ProcessExit { .. } => false,
        }
    }
}

/// What a traced process did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A file-system operation.
    File {
        /// What was done.
        op: FileOp,
        /// The path the system call named, made absolute at the time of the call
        /// (relative paths are joined to the directory file descriptor or the working
        /// directory, and `.` and `..` are folded lexically). Symbolic links are *not*
        /// resolved: this is the name the program used. For [`FileOp::Link`] and
        /// [`FileOp::Symlink`] it is the new link that is created.
        path: PathBuf,
        /// The second path of a two-path operation: the destination of a
        /// [`FileOp::Rename`], the existing file a [`FileOp::Link`] points to (made
        /// absolute), or the target text of a [`FileOp::Symlink`] exactly as written (a
        /// relative target is relative to the link's directory and is left as is).
        path2: Option<PathBuf>,
        /// `0` on success, `-errno` on failure.
        result: i32,
    },
    /// An `execve` or `execveat`.
    Exec {
        /// The program path as named, made absolute like [`EventKind::File`] paths.
        path: PathBuf,
        /// The argument vector, argv\[0\] included (non-UTF-8 bytes replaced; long
        /// vectors are cut short, see the backend's documentation).
        argv: Vec<String>,
        /// `0` on success, `-errno` on failure.
        result: i32,
    },
    /// A `connect` on a socket.
    Connect {
        /// The peer address.
        addr: SockAddr,
        /// `0` on success (or `-EINPROGRESS` for a non-blocking connect), `-errno` on
        /// failure.
        result: i32,
    },
    /// A `bind` of a socket.
    Bind {
        /// The local address.
        addr: SockAddr,
        /// `0` on success, `-errno` on failure.
        result: i32,
    },
    /// A DNS question sent to a name server (a packet to port 53).
    Dns {
        /// The name asked for, without the trailing dot of a fully qualified name.
        name: String,
        /// The record type asked for, e.g. `A`, `AAAA`, `HTTPS`.
        qtype: String,
        /// The name server the question was sent to.
        server: SockAddr,
    },
    /// A new process appeared in the traced tree (fork, vfork, or clone without
    /// `CLONE_THREAD`); threads are not reported.
    ProcessStart {
        /// The process that created it (the same as the event's `ppid`).
        parent: i32,
    },
    /// A process of the traced tree ended.
    ProcessExit {
        /// The exit status, or 128 + the signal number when it was killed by a signal.
        code: i32,
    },
}

/// A file-system operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FileOp {
    /// An open for reading (`O_RDONLY`, including directories opened for listing).
    Read,
    /// An open for writing (`O_WRONLY`) of a file that already existed.
    Write,
    /// An open for reading and writing (`O_RDWR`) of a file that already existed.
    ReadWrite,
    /// An open that created the file (`O_CREAT` when the file did not exist before, or
    /// `creat`) for writing only (`O_WRONLY`), or an `O_WRONLY` `O_TMPFILE` open in the
    /// directory `path`.
    Create,
    /// The same, opened for reading too (`O_RDWR`, or `O_RDONLY` with `O_CREAT`; an
    /// `O_RDWR` `O_TMPFILE` open), as `mkstemp` and `tmpfile` do: Landlock checks the
    /// new file's read right as well as its write right.
    CreateReadWrite,
    /// A metadata lookup: `stat` and friends, or an `O_PATH` open.
    Stat,
    /// An `access`/`faccessat` permission check.
    Access,
    /// A `readlink`.
    Readlink,
    /// A directory creation.
    Mkdir,
    /// A directory removal (`rmdir`, or `unlinkat` with `AT_REMOVEDIR`).
    Rmdir,
    /// A file removal.
    Unlink,
    /// A rename; the destination is in `path2`.
    Rename,
    /// A hard link creation.
    Link,
    /// A symbolic link creation.
    Symlink,
    /// A `truncate` by path.
    Truncate,
    /// A change of working directory.
    Chdir,
}

impl FileOp {
    /// Whether the operation changes the file system or needs write access: everything
    /// except [`Read`](Self::Read), [`Stat`](Self::Stat), [`Access`](Self::Access),
    /// [`Readlink`](Self::Readlink) and [`Chdir`](Self::Chdir).
    pub fn is_write(self) -> bool {
        !matches!(
            self,
            FileOp::Read | FileOp::Stat | FileOp::Access | FileOp::Readlink | FileOp::Chdir
        )
    }
}

/// A socket address as passed to `connect`, `bind` or `sendto`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SockAddr {
    /// An IPv4 or IPv6 address and port.
    Inet {
        /// The address (an IPv4-mapped IPv6 address stays IPv6).
        ip: IpAddr,
        /// The port.
        port: u16,
    },
    /// A Unix socket bound to a path (made absolute like file paths).
    Unix {
        /// The socket's path.
        path: PathBuf,
    },
    /// A Unix socket in the abstract namespace (no file), e.g. `@/tmp/.X11-unix/X0`.
    AbstractUnix {
        /// The name without its leading NUL (non-UTF-8 bytes replaced).
        name: String,
    },
    /// Any other address family, or an unnamed Unix socket.
    Other {
        /// The `sa_family` value.
        family: u16,
    },
}

impl SockAddr {
    /// The port of an Internet address.
    pub fn port(&self) -> Option<u16> {
        match self {
            SockAddr::Inet { port, .. } => Some(*port),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn event(kind: EventKind) -> Event {
        Event {
            seq: 0,
            time_ns: 1,
            pid: 10,
            ppid: 9,
            exe: Some(PathBuf::from("/usr/bin/cat")),
            kind,
        }
    }

    #[test]
    fn failed_means_negative_result() {
        let file = |result| {
            event(EventKind::File {
                op: FileOp::Read,
                path: "/etc/hostname".into(),
                path2: None,
                result,
            })
        };
        assert!(file(-2).is_failed(), "-ENOENT is a failure");
        assert!(!file(0).is_failed(), "0 is success");
        assert!(
            !event(EventKind::ProcessExit { code: 1 }).is_failed(),
            "an exit is not a failed operation"
        );
        let connect = event(EventKind::Connect {
            addr: SockAddr::Inet {
                ip: Ipv4Addr::LOCALHOST.into(),
                port: 80,
            },
            result: -111,
        });
        assert!(connect.is_failed(), "ECONNREFUSED is a failure");
    }

    #[test]
    fn write_ops() {
        for op in [
            FileOp::Read,
            FileOp::Stat,
            FileOp::Access,
            FileOp::Readlink,
            FileOp::Chdir,
        ] {
            assert!(!op.is_write(), "{op:?} must not count as a write");
        }
        for op in [
            FileOp::Write,
            FileOp::ReadWrite,
            FileOp::Create,
            FileOp::CreateReadWrite,
            FileOp::Mkdir,
            FileOp::Rmdir,
            FileOp::Unlink,
            FileOp::Rename,
            FileOp::Link,
            FileOp::Symlink,
            FileOp::Truncate,
        ] {
            assert!(op.is_write(), "{op:?} must count as a write");
        }
    }

    #[test]
    fn json_round_trip_and_shape() {
        let original = event(EventKind::File {
            op: FileOp::Rename,
            path: "/tmp/a".into(),
            path2: Some("/tmp/b".into()),
            result: 0,
        });
        let json = serde_json::to_string(&original).expect("serialize");
        assert_eq!(
            json,
            r#"{"seq":0,"time_ns":1,"pid":10,"ppid":9,"exe":"/usr/bin/cat","kind":{"File":{"op":"Rename","path":"/tmp/a","path2":"/tmp/b","result":0}}}"#,
            "the JSON line shape is part of the session format"
        );
        let back: Event = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, original, "round trip");

        let dns = event(EventKind::Dns {
            name: "example.com".into(),
            qtype: "AAAA".into(),
            server: SockAddr::Inet {
                ip: "::1".parse().expect("ip"),
                port: 53,
            },
        });
        let json = serde_json::to_string(&dns).expect("serialize");
        let back: Event = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, dns, "round trip of {json}");
    }
}
