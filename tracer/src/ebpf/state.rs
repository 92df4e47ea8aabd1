//! Turning the programs' records into [`Event`]s.
//!
//! The kernel side copies raw arguments and the strings they point to; everything else
//! happens here, in record order (one ring buffer, so the order in which the kernel wrote
//! them): relative paths are made absolute against the working directory and the
//! directory descriptors this model follows for every traced process (inherited at fork,
//! updated by `chdir`/`fchdir` and by every successful open), `O_CREAT` opens are told
//! apart by the kernel's `FMODE_CREATED`, io_uring opens are paired with their
//! completions, DNS payloads are decoded, and the root process's set-up calls before its
//! first exec are left out, as the ptrace backend does.
//!
//! Nothing here touches the traced processes: the model is a pure function of the
//! records (plus `canonicalize` of a `chdir` target and of an executed program, for the
//! working directory and the `exe` field), so it is tested with synthetic records.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nono_ebpf_common::{
    ARG_SLOT_LEN, ExecRecord, Header, RECORD_EXEC, RECORD_EXIT, RECORD_FORK, RECORD_SYSCALL,
    RECORD_URING_DONE, RECORD_URING_OPEN, SYSCALL_PATH1_OFFSET, SyscallRecord,
};

use super::specs::{self, Call};
use crate::decode::paths;
use crate::decode::sockaddr;
use crate::decode::syscalls::Syscall;
use crate::dns;
use crate::event::{Event, EventKind, FileOp, SockAddr};

/// `FMODE_CREATED` (`include/linux/fs.h`): the open created the file.
const FMODE_CREATED: u32 = 1 << 20;

/// A record of the ring buffer, borrowed.
#[derive(Debug)]
pub(crate) enum Record<'a> {
    Syscall(&'a SyscallRecord),
    Exec(&'a ExecRecord),
    Fork(&'a Header),
    Exit(&'a Header),
    UringOpen(&'a SyscallRecord),
    UringDone(&'a Header),
}

/// Views `bytes` as a `T` if it is long enough and aligned.
fn view<T>(bytes: &[u8]) -> Option<&T> {
    if bytes.len() < size_of::<T>() || bytes.as_ptr().align_offset(align_of::<T>()) != 0 {
        return None;
    }
    // SAFETY: the slice is long enough and aligned for T, and every T here is plain
    // `#[repr(C)]` integers and byte arrays, valid for any bit pattern.
    Some(unsafe { &*bytes.as_ptr().cast::<T>() })
}

/// A system call record sent compact (cut after its first path), completed into
/// `scratch`: only the fields its lengths say are present are meaningful, and those are
/// the ones copied.
fn syscall_record<'a>(
    bytes: &'a [u8],
    scratch: &'a mut SyscallRecord,
) -> Option<&'a SyscallRecord> {
    if bytes.len() >= size_of::<SyscallRecord>() {
        return view(bytes);
    }
    if bytes.len() < SYSCALL_PATH1_OFFSET || bytes.as_ptr().align_offset(align_of::<u64>()) != 0 {
        return None;
    }
    // SAFETY: `scratch` is a plain `#[repr(C)]` record of at least `bytes.len()` bytes
    // (checked above); any bit pattern is a valid value of it.
    let target = unsafe {
        std::slice::from_raw_parts_mut(
            (scratch as *mut SyscallRecord).cast::<u8>(),
            size_of::<SyscallRecord>(),
        )
    };
    target[..bytes.len()].copy_from_slice(bytes);
    // What a compact record leaves out is absent, whatever the scratch held before.
    let path_room = bytes.len() - SYSCALL_PATH1_OFFSET;
    scratch.path1_len = scratch.path1_len.min(path_room as i32);
    scratch.path2_len = 0;
    scratch.addr_len = 0;
    scratch.data_len = 0;
    scratch.data2_len = 0;
    Some(scratch)
}

impl<'a> Record<'a> {
    /// Parses one ring buffer item; `None` for a short, misaligned or unknown one.
    /// `scratch` completes compact system call records.
    pub(crate) fn parse(bytes: &'a [u8], scratch: &'a mut SyscallRecord) -> Option<Record<'a>> {
        let header: &Header = view(bytes)?;
        Some(match header.kind {
            RECORD_SYSCALL => Record::Syscall(syscall_record(bytes, scratch)?),
            RECORD_EXEC => Record::Exec(view(bytes)?),
            RECORD_FORK => Record::Fork(header),
            RECORD_EXIT => Record::Exit(header),
            RECORD_URING_OPEN => Record::UringOpen(syscall_record(bytes, scratch)?),
            RECORD_URING_DONE => Record::UringDone(header),
            _ => return None,
        })
    }
}

/// The bytes of a NUL-terminated string the kernel copied, `len` as the helper returned
/// it (NUL included; ≤ 0 for nothing).
fn string(buf: &[u8], len: i32) -> Option<&[u8]> {
    if len <= 0 {
        return None;
    }
    let bytes = &buf[..(len as usize).min(buf.len())];
    Some(bytes.strip_suffix(b"\0").unwrap_or(bytes))
}

/// A traced process.
#[derive(Debug, Clone)]
struct Process {
    ppid: i32,
    exe: Option<PathBuf>,
    cwd: PathBuf,
    /// Descriptors opened by traced calls, with the file's path.
    fds: PidMap<i32, PathBuf>,
    /// Sockets connected to port 53, with their peer.
    dns_sockets: PidMap<i32, SockAddr>,
    /// An exec whose result is still to come.
    exec: Option<(PathBuf, Vec<String>)>,
}

/// Maps keyed by process ids and request pointers, looked up once per record: FxHash,
/// since SipHash's protection against chosen keys buys nothing for pids.
type PidMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;

/// The model.
#[derive(Debug)]
pub(crate) struct State {
    /// The call of each system call number (an index, not a hash).
    calls: Vec<Option<Call>>,
    processes: PidMap<i32, Process>,
    /// io_uring open requests waiting for their completion: the process, the path and
    /// the flags.
    uring: PidMap<u64, (i32, PathBuf, i32)>,
    root: i32,
    root_execed: bool,
    start_ns: u64,
    /// Events ready to be sent.
    pub(crate) out: Vec<Event>,
    seq: u64,
}

impl State {
    /// A model of a trace whose command runs as `root` (a child of `tracer`) in `cwd`;
    /// `start_ns` is the `CLOCK_MONOTONIC` time the trace started.
    pub(crate) fn new(root: i32, tracer: i32, cwd: PathBuf, start_ns: u64) -> State {
        let mut state = State {
            calls: {
                let table = specs::table();
                let len = table
                    .iter()
                    .map(|(nr, _)| *nr as usize + 1)
                    .max()
                    .unwrap_or(0);
                let mut calls = vec![None; len];
                for (nr, call) in table {
                    calls[nr as usize] = Some(call);
                }
                calls
            },
            processes: PidMap::default(),
            uring: PidMap::default(),
            root,
            root_execed: false,
            start_ns,
            out: Vec::new(),
            seq: 0,
        };
        state.processes.insert(
            root,
            Process {
                ppid: tracer,
                exe: None,
                cwd,
                fds: PidMap::default(),
                dns_sockets: PidMap::default(),
                exec: None,
            },
        );
        state.emit(root, 0, EventKind::ProcessStart { parent: tracer });
        state
    }

    fn call(&self, nr: u32) -> Option<Call> {
        self.calls.get(nr as usize).copied().flatten()
    }

    /// Traced processes still alive.
    pub(crate) fn live(&self) -> impl Iterator<Item = i32> + '_ {
        self.processes.keys().copied()
    }

    /// Forgets a process that ended without an exit record (one was dropped).
    pub(crate) fn vanished(&mut self, pid: i32, code: i32) {
        if self.processes.contains_key(&pid) {
            self.emit(pid, 0, EventKind::ProcessExit { code });
            self.processes.remove(&pid);
        }
    }

    fn emit(&mut self, pid: i32, time_ns: u64, kind: EventKind) {
        let (ppid, exe) = self
            .processes
            .get(&pid)
            .map(|p| (p.ppid, p.exe.clone()))
            .unwrap_or_default();
        self.out.push(Event {
            seq: self.seq,
            time_ns: time_ns.saturating_sub(self.start_ns),
            pid,
            ppid,
            exe,
            kind,
        });
        self.seq += 1;
    }

    /// Takes in one record.
    pub(crate) fn record(&mut self, record: Record<'_>) {
        match record {
            Record::Fork(h) => self.on_fork(h),
            Record::Exit(h) => {
                let pid = h.tgid as i32;
                if self.processes.contains_key(&pid) {
                    self.emit(
                        pid,
                        h.time_ns,
                        EventKind::ProcessExit {
                            code: exit_code(h.arg as u32),
                        },
                    );
                    self.processes.remove(&pid);
                }
            }
            Record::Exec(r) => self.on_exec_entry(r),
            Record::UringOpen(r) => self.on_uring_open(r),
            Record::UringDone(h) => {
                if let Some((pid, path, flags)) = self.uring.remove(&h.arg) {
                    let res = h.nr as i32;
                    let result = res.min(0);
                    if res >= 0
                        && let Some(process) = self.processes.get_mut(&pid)
                    {
                        process.fds.insert(res, path.clone());
                    }
                    self.emit(
                        pid,
                        h.time_ns,
                        EventKind::File {
                            op: open_op(flags, false),
                            path,
                            path2: None,
                            result,
                        },
                    );
                }
            }
            Record::Syscall(r) => self.on_syscall(r),
        }
    }

    fn on_fork(&mut self, h: &Header) {
        let parent = h.tgid as i32;
        let child = h.arg as i32;
        let Some(from) = self.processes.get(&parent) else {
            return;
        };
        let mut process = from.clone();
        process.ppid = parent;
        process.exec = None;
        self.processes.insert(child, process);
        self.emit(child, h.time_ns, EventKind::ProcessStart { parent });
    }

    /// An exec's program and arguments: from `sched_process_exec` (`nr` 0: it
    /// succeeded; the arguments as the new program's memory holds them) or from a failed
    /// call's exit (the arguments in slots).
    fn on_exec_entry(&mut self, r: &ExecRecord) {
        let pid = r.header.tgid as i32;
        let call = match self.call(r.header.nr) {
            Some(Call::Traced(call)) => call,
            _ => Syscall::Execve,
        };
        let Some(raw) = string(&r.path, r.path_len) else {
            return;
        };
        let dirfd = (call == Syscall::Execveat).then_some(r.args[0] as i32);
        let Some(path) = self.absolute(pid, dirfd, raw) else {
            return;
        };
        let argv: Vec<String> = if r.header.nr == 0 {
            let blob = &r.blob[..(r.blob_len as usize).min(r.blob.len())];
            let blob = blob.strip_suffix(b"\0").unwrap_or(blob);
            if blob.is_empty() {
                Vec::new()
            } else {
                blob.split(|&b| b == 0)
                    .map(|arg| String::from_utf8_lossy(arg).into_owned())
                    .collect()
            }
        } else {
            let mut argv: Vec<String> = r
                .argv
                .iter()
                .take((r.argc as usize).min(r.argv.len()))
                .map(|slot| {
                    let end = slot.iter().position(|&b| b == 0).unwrap_or(ARG_SLOT_LEN);
                    String::from_utf8_lossy(&slot[..end]).into_owned()
                })
                .collect();
            if r.argc as usize > r.argv.len() {
                argv.push("…".to_owned());
            }
            argv
        };
        if let Some(process) = self.processes.get_mut(&pid) {
            process.exec = Some((path, argv));
        }
    }

    fn on_uring_open(&mut self, r: &SyscallRecord) {
        let pid = r.header.tgid as i32;
        if !self.started(pid) {
            return;
        }
        let Some(raw) = string(&r.path1, r.path1_len) else {
            return;
        };
        let Some(path) = self.absolute(pid, Some(r.args[0] as i32), raw) else {
            return;
        };
        self.uring
            .insert(r.header.arg, (pid, path, r.args[1] as i32));
    }

    /// Whether events of `pid` are recorded: everything but the root's set-up.
    fn started(&self, pid: i32) -> bool {
        pid != self.root || self.root_execed
    }

    fn on_syscall(&mut self, r: &SyscallRecord) {
        let pid = r.header.tgid as i32;
        let Some(call) = self.call(r.header.nr) else {
            return;
        };
        // -ERESTARTSYS … -ERESTART_RESTARTBLOCK: the call runs again and is recorded then.
        if (-516..=-512).contains(&r.ret) {
            return;
        }
        let result = if r.ret < 0 { r.ret as i32 } else { 0 };
        let Call::Traced(call) = call else {
            // fchdir(fd)
            if result == 0
                && let Some(process) = self.processes.get_mut(&pid)
                && let Some(dir) = process.fds.get(&(r.args[0] as i32)).cloned()
            {
                process.cwd = dir;
            }
            return;
        };
        if matches!(call, Syscall::Execve | Syscall::Execveat) {
            let exec = self.processes.get_mut(&pid).and_then(|p| p.exec.take());
            let Some((path, argv)) = exec else {
                return;
            };
            if pid == self.root {
                self.root_execed = true;
            }
            if result == 0
                && let Some(process) = self.processes.get_mut(&pid)
            {
                process.exe = Some(std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone()));
            }
            self.emit(
                pid,
                r.header.time_ns,
                EventKind::Exec { path, argv, result },
            );
            return;
        }
        if !self.started(pid) {
            return;
        }
        let (dirfd1, dirfd2) = specs::dirfd_args(call);
        let fd = |i: Option<usize>| i.map(|i| r.args[i] as i32);
        let path1 = string(&r.path1, r.path1_len);
        let path2 = string(&r.path2, r.path2_len);
        let time = r.header.time_ns;
        use Syscall as S;
        match call {
            S::Open | S::Openat | S::Openat2 | S::Creat => {
                let Some(path) = path1.and_then(|raw| self.absolute(pid, fd(dirfd1), raw)) else {
                    return;
                };
                let flags = match call {
                    S::Open => r.args[1] as i32,
                    S::Openat => r.args[2] as i32,
                    S::Creat => libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
                    _ => {
                        if r.addr_len >= 8 {
                            u64::from_ne_bytes(r.addr[..8].try_into().unwrap_or_default()) as i32
                        } else {
                            0
                        }
                    }
                };
                let created = result == 0
                    && (flags & libc::O_CREAT != 0 && flags & libc::O_EXCL != 0
                        || r.file_mode & FMODE_CREATED != 0);
                if result == 0
                    && let Some(process) = self.processes.get_mut(&pid)
                {
                    process.fds.insert(r.ret as i32, path.clone());
                }
                self.emit(
                    pid,
                    time,
                    EventKind::File {
                        op: open_op(flags, created),
                        path,
                        path2: None,
                        result,
                    },
                );
            }
            S::Chdir => {
                let Some(path) = path1.and_then(|raw| self.absolute(pid, None, raw)) else {
                    return;
                };
                if result == 0
                    && let Some(process) = self.processes.get_mut(&pid)
                {
                    process.cwd = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                }
                self.file(pid, time, FileOp::Chdir, path, None, result);
            }
            S::Symlink | S::Symlinkat => {
                let (Some(target), Some(link)) = (path1, path2) else {
                    return;
                };
                let Some(link) = self.absolute(pid, fd(dirfd2), link) else {
                    return;
                };
                let target = PathBuf::from(OsStr::from_bytes(target));
                self.file(pid, time, FileOp::Symlink, link, Some(target), result);
            }
            S::Rename | S::Renameat | S::Renameat2 | S::Link | S::Linkat => {
                let (Some(first), Some(second)) = (path1, path2) else {
                    return;
                };
                let (Some(first), Some(second)) = (
                    self.absolute(pid, fd(dirfd1), first),
                    self.absolute(pid, fd(dirfd2), second),
                ) else {
                    return;
                };
                // Rename: path = source, path2 = destination. Link: path = the new link,
                // path2 = the existing file.
                let (op, path, path2) = if matches!(call, S::Rename | S::Renameat | S::Renameat2) {
                    (FileOp::Rename, first, second)
                } else {
                    (FileOp::Link, second, first)
                };
                self.file(pid, time, op, path, Some(path2), result);
            }
            S::Connect | S::Bind => {
                let Some(addr) = self.sockaddr(pid, r) else {
                    return;
                };
                if call == S::Connect {
                    if (result == 0 || result == -libc::EINPROGRESS)
                        && addr.port() == Some(dns::DNS_PORT)
                        && let Some(process) = self.processes.get_mut(&pid)
                    {
                        process.dns_sockets.insert(r.args[0] as i32, addr.clone());
                    }
                    self.emit(pid, time, EventKind::Connect { addr, result });
                } else {
                    self.emit(pid, time, EventKind::Bind { addr, result });
                }
            }
            S::Sendto | S::Sendmsg | S::Sendmmsg => {
                let server = match self.sockaddr(pid, r) {
                    Some(addr) => Some(addr),
                    None => self
                        .processes
                        .get(&pid)
                        .and_then(|p| p.dns_sockets.get(&(r.args[0] as i32)).cloned()),
                };
                let Some(server) = server.filter(|s| s.port() == Some(dns::DNS_PORT)) else {
                    return;
                };
                let mut questions = Vec::new();
                for (data, len) in [(&r.data[..], r.data_len), (&r.data2[..], r.data2_len)] {
                    if len > 0 {
                        questions.extend(dns::decode_any(&data[..(len as usize).min(data.len())]));
                    }
                }
                for q in questions {
                    self.emit(
                        pid,
                        time,
                        EventKind::Dns {
                            name: q.name,
                            qtype: q.qtype,
                            server: server.clone(),
                        },
                    );
                }
            }
            _ => {
                let Some(path) = path1.and_then(|raw| self.absolute(pid, fd(dirfd1), raw)) else {
                    return;
                };
                let op = match call {
                    S::Stat | S::Lstat | S::Newfstatat | S::Statx => FileOp::Stat,
                    S::Access | S::Faccessat | S::Faccessat2 => FileOp::Access,
                    S::Readlink | S::Readlinkat => FileOp::Readlink,
                    S::Mkdir | S::Mkdirat => FileOp::Mkdir,
                    S::Rmdir => FileOp::Rmdir,
                    S::Unlinkat if r.args[2] & libc::AT_REMOVEDIR as u64 != 0 => FileOp::Rmdir,
                    S::Unlink | S::Unlinkat => FileOp::Unlink,
                    S::Truncate => FileOp::Truncate,
                    _ => return,
                };
                self.file(pid, time, op, path, None, result);
            }
        }
    }

    fn file(
        &mut self,
        pid: i32,
        time: u64,
        op: FileOp,
        path: PathBuf,
        path2: Option<PathBuf>,
        result: i32,
    ) {
        self.emit(
            pid,
            time,
            EventKind::File {
                op,
                path,
                path2,
                result,
            },
        );
    }

    /// The socket address a record copied, with a relative Unix path made absolute.
    fn sockaddr(&self, pid: i32, r: &SyscallRecord) -> Option<SockAddr> {
        if r.addr_len <= 0 {
            return None;
        }
        let bytes = &r.addr[..(r.addr_len as usize).min(r.addr.len())];
        match sockaddr::decode(bytes)? {
            SockAddr::Unix { path } if path.is_relative() => {
                let raw = path.as_os_str().as_bytes();
                Some(SockAddr::Unix {
                    path: self.absolute(pid, None, raw).unwrap_or(path.clone()),
                })
            }
            addr => Some(addr),
        }
    }

    /// `raw` made absolute against the working directory (`dirfd` `None` or
    /// `AT_FDCWD`) or the directory descriptor of process `pid`. A descriptor this model
    /// does not know (inherited, or from a call it does not follow) is looked up in
    /// `/proc` while the process lives; failing that the path stays as written.
    fn absolute(&self, pid: i32, dirfd: Option<i32>, raw: &[u8]) -> Option<PathBuf> {
        if raw.first() == Some(&b'/') {
            return Some(paths::absolute(Path::new("/"), raw));
        }
        let process = self.processes.get(&pid);
        let base = match dirfd {
            None | Some(libc::AT_FDCWD) => process.map(|p| p.cwd.clone()),
            Some(fd) => process.and_then(|p| p.fds.get(&fd).cloned()).or_else(|| {
                std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                    .ok()
                    .filter(|p| p.is_absolute())
            }),
        };
        Some(match base {
            Some(base) => paths::absolute(&base, raw),
            None => PathBuf::from(OsStr::from_bytes(raw)),
        })
    }
}

/// The operation of an open with these flags.
fn open_op(flags: i32, created: bool) -> FileOp {
    if flags & libc::O_PATH != 0 {
        FileOp::Stat
    } else if flags & libc::O_TMPFILE == libc::O_TMPFILE || created {
        if flags & libc::O_ACCMODE == libc::O_WRONLY {
            FileOp::Create
        } else {
            FileOp::CreateReadWrite
        }
    } else {
        match flags & libc::O_ACCMODE {
            libc::O_RDONLY => FileOp::Read,
            libc::O_WRONLY => FileOp::Write,
            _ => FileOp::ReadWrite,
        }
    }
}

/// A task's `exit_code` (a wait status) as a shell would report it.
fn exit_code(raw: u32) -> i32 {
    let signal = raw & 0x7f;
    if signal != 0 {
        128 + signal as i32
    } else {
        ((raw >> 8) & 0xff) as i32
    }
}

#[cfg(test)]
mod tests;
