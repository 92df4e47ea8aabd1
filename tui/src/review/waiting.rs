//! Is the traced command waiting for input from its terminal?
//!
//! Keys typed for the command (an answer to `Name? `) must never become decisions in
//! the review, so the review asks the kernel, a few times a second, whether a process
//! of the terminal's foreground process group (`tcgetpgrp` on the master: only that
//! group may read the terminal, the others get `SIGTTIN`) is blocked reading it:
//!
//! * `/proc/PID/task/TID/syscall` names the system call a blocked thread sleeps in,
//!   and its arguments;
//! * `read`, `readv`, `pread64` on a descriptor that is the terminal
//!   (`/proc/PID/fd/N` links to the pseudo-terminal's slave, or `/dev/tty`) is a wait
//!   for input;
//! * `select`, `pselect6`, `poll`, `ppoll` are one when the terminal is among the
//!   descriptors watched for reading: their `fd_set` or `pollfd` array is read from
//!   `/proc/PID/mem` (Python's REPL and line editors wait this way).
//!
//! Reading another process's `/proc/PID/syscall` and `mem` needs the right to trace it
//! (`ptrace_may_access`): nono is the command's parent (and its tracer with ptrace),
//! so it has it; when it has not, nothing is seen and the review behaves as before.
//! Waits in `epoll_wait` (the interest list is not in these files) are not seen.

use std::fs::File;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::FileExt;
use std::path::Path;

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const READ: &[u64] = &[0, 17, 19]; // read, pread64, readv
    pub const SELECT: &[u64] = &[23, 270]; // select, pselect6
    pub const POLL: &[u64] = &[7, 271]; // poll, ppoll
}

#[cfg(target_arch = "aarch64")]
mod nr {
    pub const READ: &[u64] = &[63, 65, 67]; // read, readv, pread64
    pub const SELECT: &[u64] = &[72]; // pselect6
    pub const POLL: &[u64] = &[73]; // ppoll
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod nr {
    pub const READ: &[u64] = &[];
    pub const SELECT: &[u64] = &[];
    pub const POLL: &[u64] = &[];
}

/// The most descriptors of a `select` or `poll` looked at.
const MAX_FDS: u64 = 4096;

/// Does a process of the terminal's foreground process group wait to read it?
/// `master` is nono's side of the pseudo-terminal.
pub fn command_waits(master: BorrowedFd<'_>) -> bool {
    let Ok(pgrp) = rustix::termios::tcgetpgrp(master) else {
        return false;
    };
    let Ok(name) = rustix::pty::ptsname(master, Vec::new()) else {
        return false;
    };
    let slave = name.to_string_lossy().into_owned();
    let pgrp = pgrp.as_raw_nonzero().get();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if process_group(pid) != Some(pgrp) {
            continue;
        }
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            if task_waits(pid, &task.path(), &slave) {
                return true;
            }
        }
    }
    false
}

/// The process group of a process, from `/proc/PID/stat` (the fields after the
/// command name, which may itself hold spaces and parentheses).
fn process_group(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    // state, ppid, pgrp
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// Is this thread blocked reading the terminal `slave`?
fn task_waits(pid: i32, task: &Path, slave: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(task.join("syscall")) else {
        return false;
    };
    let Some((nr, args)) = parse_syscall(&text) else {
        return false;
    };
    let is_tty = |fd: u64| is_terminal(pid, fd, slave);
    if nr::READ.contains(&nr) {
        return is_tty(args[0]);
    }
    if nr::SELECT.contains(&nr) {
        let (nfds, readfds) = (args[0].min(MAX_FDS), args[1]);
        if readfds == 0 || nfds == 0 {
            return false;
        }
        let mut set = vec![0u8; nfds.div_ceil(8) as usize];
        if !read_memory(pid, readfds, &mut set) {
            return false;
        }
        return (0..nfds).any(|fd| set[(fd / 8) as usize] & (1 << (fd % 8)) != 0 && is_tty(fd));
    }
    if nr::POLL.contains(&nr) {
        let (fds, nfds) = (args[0], args[1].min(MAX_FDS));
        if fds == 0 || nfds == 0 {
            return false;
        }
        // struct pollfd { int fd; short events; short revents; }
        let mut buf = vec![0u8; nfds as usize * 8];
        if !read_memory(pid, fds, &mut buf) {
            return false;
        }
        const POLLIN: i16 = 0x1;
        const POLLRDNORM: i16 = 0x40;
        return buf.chunks_exact(8).any(|p| {
            let fd = i32::from_ne_bytes([p[0], p[1], p[2], p[3]]);
            let events = i16::from_ne_bytes([p[4], p[5]]);
            fd >= 0 && events & (POLLIN | POLLRDNORM) != 0 && is_tty(fd as u64)
        });
    }
    false
}

/// `/proc/PID/syscall`: `NR ARG0 … ARG5 SP PC` for a blocked thread (`running`, or
/// `-1 SP PC` outside a system call, give `None`).
fn parse_syscall(text: &str) -> Option<(u64, [u64; 6])> {
    let mut words = text.split_whitespace();
    let nr: u64 = words.next()?.parse().ok()?;
    let mut args = [0u64; 6];
    for arg in &mut args {
        let word = words.next()?;
        *arg = u64::from_str_radix(word.strip_prefix("0x").unwrap_or(word), 16).ok()?;
    }
    Some((nr, args))
}

/// Is descriptor `fd` of `pid` the command's terminal?
fn is_terminal(pid: i32, fd: u64, slave: &str) -> bool {
    match std::fs::read_link(format!("/proc/{pid}/fd/{fd}")) {
        Ok(target) => target == Path::new(slave) || target == Path::new("/dev/tty"),
        Err(_) => false,
    }
}

fn read_memory(pid: i32, address: u64, buf: &mut [u8]) -> bool {
    match File::open(format!("/proc/{pid}/mem")) {
        Ok(mem) => mem.read_exact_at(buf, address).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::fd::AsFd;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::review::pty;

    /// Waits up to 10 s for `command_waits` to say `want`.
    fn settles_to(master: &pty::PtyMaster, want: bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if command_waits(master.as_fd()) == want {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// A real program on a real pseudo-terminal: `read` at its prompt is seen, and
    /// once it got its line and sleeps, it is not waiting any more.
    #[test]
    fn a_shell_reading_its_terminal_is_seen_waiting_and_a_sleeping_one_is_not() {
        let (master, child) = pty::open(24, 80).expect("opening a pty");
        let name = rustix::pty::ptsname(master.as_fd(), Vec::new()).unwrap();
        let name = name.to_string_lossy().into_owned();
        // `setsid` makes the shell a session leader with no terminal; opening the
        // slave then makes it its controlling terminal, with the shell in the
        // foreground (what ChildTty::attach does for nono learn).
        let mut shell = Command::new("setsid")
            .args([
                "sh",
                "-c",
                &format!(
                    "exec <{name} >{name} 2>&1; printf 'Name? '; read name; echo \"hi $name\"; exec sleep 30"
                ),
            ])
            .stdin(Stdio::null())
            .spawn()
            .expect("running setsid (util-linux), which this test needs");
        let mut reader = master.try_clone().unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(&seen).contains("Name? ") {
            let n = reader.read(&mut buf).expect("reading the prompt");
            seen.extend_from_slice(&buf[..n]);
        }
        drop(child);
        assert!(
            settles_to(&master, true),
            "the shell waits at its prompt, but command_waits does not see it"
        );
        master.write_all(b"dan\n").unwrap();
        assert!(
            settles_to(&master, false),
            "the shell sleeps now, but command_waits still says it waits"
        );
        let _ = shell.kill();
        let _ = shell.wait();
    }

    #[test]
    fn syscall_lines_are_parsed_and_running_is_not_a_wait() {
        assert_eq!(
            parse_syscall("0 0x0 0x7ffd 0x1 0x0 0x2 0x3 0x7ffc 0x7f00\n"),
            Some((0, [0, 0x7ffd, 1, 0, 2, 3]))
        );
        assert_eq!(parse_syscall("running\n"), None);
        assert_eq!(parse_syscall("-1 0x7ffc 0x7f00\n"), None);
    }
}
