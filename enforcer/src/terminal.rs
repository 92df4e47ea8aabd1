//! The user's terminal, relayed to the command through a pseudo-terminal of its own.
//!
//! A sandboxed command that shares the user's terminal can keep it after `nono run`
//! exits: a process left behind that ignores `SIGTTOU` takes the foreground with
//! `tcsetpgrp` and reads the user's next shell line (bubblewrap's CVE-2017-5226). When
//! standard input is a terminal in whose foreground nono runs, the command instead
//! gets a new pseudo-terminal as its controlling terminal, in a session of its own;
//! nono copies bytes both ways with the user's terminal in raw mode, passes on window
//! size changes, and restores the terminal's settings when the relay is dropped (on
//! every path out of [`crate::exec::Child::wait`] and of a failed spawn).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The relay: the pseudo-terminal and the user's saved terminal settings.
#[derive(Debug)]
pub struct Relay {
    master: OwnedFd,
    /// The command's side, until the command has it.
    slave: Option<OwnedFd>,
    /// Which of descriptors 0, 1, 2 are terminals (bits 0, 1, 2): the command gets the
    /// pseudo-terminal there, and keeps the others (a pipe stays a pipe).
    which: u8,
    /// Where the command's terminal output goes.
    output: RawFd,
    saved: libc::termios,
    /// Input from the user's terminal not yet written to the command's.
    pending: Vec<u8>,
    input_open: bool,
    output_open: bool,
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

fn is_terminal(fd: RawFd) -> bool {
    // SAFETY: isatty takes an integer.
    unsafe { libc::isatty(fd) == 1 }
}

impl Relay {
    /// A relay when standard input is a terminal and nono is in its foreground process
    /// group (a job in the background must not take the terminal over); `None`
    /// otherwise. The user's terminal is in raw mode from here until the relay is
    /// dropped.
    pub fn open() -> io::Result<Option<Relay>> {
        if !is_terminal(0) {
            return Ok(None);
        }
        // SAFETY: integer arguments only.
        let foreground = unsafe { libc::tcgetpgrp(0) == libc::getpgrp() };
        if !foreground {
            return Ok(None);
        }
        // SAFETY: plain data, filled by tcgetattr.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: saved is a live termios.
        if unsafe { libc::tcgetattr(0, &mut saved) } < 0 {
            return Err(last_error());
        }
        // SAFETY: plain data, filled by the ioctl.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes one winsize.
        let has_size = unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut size) } == 0;
        let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
        // SAFETY: integer arguments; the result is checked.
        let master = unsafe { libc::posix_openpt(flags) };
        if master < 0 {
            return Err(last_error());
        }
        // SAFETY: master is a descriptor we just opened and now own.
        let master = unsafe { OwnedFd::from_raw_fd(master) };
        let mut name = [0 as libc::c_char; 128];
        // SAFETY: integer arguments, and a buffer of the length given.
        unsafe {
            if libc::grantpt(master.as_raw_fd()) < 0
                || libc::unlockpt(master.as_raw_fd()) < 0
                || libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) != 0
            {
                return Err(last_error());
            }
        }
        // SAFETY: ptsname_r wrote a NUL-terminated name.
        let slave = unsafe { libc::open(name.as_ptr(), flags) };
        if slave < 0 {
            return Err(last_error());
        }
        // SAFETY: slave is a descriptor we just opened and now own.
        let slave = unsafe { OwnedFd::from_raw_fd(slave) };
        // SAFETY: live termios and winsize; the descriptors are ours.
        unsafe {
            // The command's terminal starts with the user's settings and size.
            libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &saved);
            if has_size {
                libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size);
            }
            let fl = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(master.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        let which = (0..3)
            .filter(|fd| is_terminal(*fd))
            .fold(0u8, |w, fd| w | 1 << fd);
        let output = [1, 2].into_iter().find(|fd| is_terminal(*fd)).unwrap_or(0);
        let mut raw = saved;
        // SAFETY: raw is a live termios.
        unsafe {
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(0, libc::TCSADRAIN, &raw) < 0 {
                return Err(last_error());
            }
        }
        Ok(Some(Relay {
            master,
            slave: Some(slave),
            which,
            output,
            saved,
            pending: Vec::new(),
            input_open: true,
            output_open: true,
        }))
    }

    /// The command's side and which standard descriptors it replaces, for the child.
    pub(crate) fn child_side(&self) -> Option<(RawFd, u8)> {
        self.slave.as_ref().map(|s| (s.as_raw_fd(), self.which))
    }

    /// The command has its side: close nono's copy, so that the relay sees the end
    /// when the command's last process closes it. `inside`: the master of a
    /// pseudo-terminal the child opened in the sandbox's own devpts (so that its name
    /// resolves there) to relay instead; it gets the user's settings and size.
    pub(crate) fn started(&mut self, inside: Option<OwnedFd>) {
        self.slave = None;
        if let Some(master) = inside {
            // SAFETY: live termios and winsize; on a master, these set the pair's.
            unsafe {
                libc::tcsetattr(master.as_raw_fd(), libc::TCSANOW, &self.saved);
                let mut size: libc::winsize = std::mem::zeroed();
                if libc::ioctl(0, libc::TIOCGWINSZ, &mut size) == 0 {
                    libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size);
                }
                let fl = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
                libc::fcntl(master.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
            }
            self.master = master;
        }
    }

    /// Descriptors to poll: (fd, events) for the user's input and the command's
    /// terminal.
    pub(crate) fn poll_set(&self) -> Vec<(RawFd, libc::c_short)> {
        let mut set = Vec::with_capacity(2);
        if self.input_open && self.pending.len() < 65536 {
            set.push((0, libc::POLLIN));
        }
        if self.output_open {
            let mut events = libc::POLLIN;
            if !self.pending.is_empty() {
                events |= libc::POLLOUT;
            }
            set.push((self.master.as_raw_fd(), events));
        }
        set
    }

    /// Copies what is ready after a poll reported `revents` for `fd`.
    pub(crate) fn ready(&mut self, fd: RawFd, revents: libc::c_short) {
        let mut buf = [0u8; 16384];
        if fd == 0 {
            // SAFETY: reading into a stack buffer.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                self.pending.extend_from_slice(&buf[..n as usize]);
            } else if n == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                // The user's terminal hung up.
                self.input_open = false;
            }
            self.flush_input();
            return;
        }
        if revents & libc::POLLOUT != 0 {
            self.flush_input();
        }
        if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            self.drain_output();
        }
    }

    fn flush_input(&mut self) {
        while !self.pending.is_empty() {
            // SAFETY: writing our buffer to our descriptor.
            let n = unsafe {
                libc::write(
                    self.master.as_raw_fd(),
                    self.pending.as_ptr().cast(),
                    self.pending.len(),
                )
            };
            if n > 0 {
                self.pending.drain(..n as usize);
            } else {
                let error = io::Error::last_os_error().raw_os_error();
                if error != Some(libc::EINTR) {
                    if error != Some(libc::EAGAIN) {
                        self.pending.clear();
                    }
                    return;
                }
            }
        }
    }

    /// Copies everything the command's terminal holds to the user's (without
    /// waiting for more). At the end (every process closed its side: `EIO`), stops.
    pub(crate) fn drain_output(&mut self) {
        let mut buf = [0u8; 16384];
        while self.output_open {
            // SAFETY: reading into a stack buffer from our non-blocking descriptor.
            let n =
                unsafe { libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                write_all(self.output, &buf[..n as usize]);
                continue;
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) if n < 0 => return,
                _ => self.output_open = false,
            }
        }
    }

    /// Passes the user's terminal size on (after `SIGWINCH`).
    pub(crate) fn resize(&self) {
        // SAFETY: plain data, filled and read by the ioctls.
        unsafe {
            let mut size: libc::winsize = std::mem::zeroed();
            if libc::ioctl(0, libc::TIOCGWINSZ, &mut size) == 0 {
                libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size);
            }
        }
    }
}

fn write_all(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writing a live buffer.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

impl Relay {
    /// The user's terminal in the settings it had before.
    pub(crate) fn restore(&self) {
        // SAFETY: restoring the settings saved in `open`.
        unsafe { libc::tcsetattr(0, libc::TCSADRAIN, &self.saved) };
    }

    /// The user's terminal in raw mode again (after a stop).
    pub(crate) fn enter_raw(&self) {
        let mut raw = self.saved;
        // SAFETY: raw is a live termios.
        unsafe {
            libc::cfmakeraw(&mut raw);
            libc::tcsetattr(0, libc::TCSADRAIN, &raw);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.restore();
    }
}
