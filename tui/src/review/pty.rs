//! The pseudo-terminal the traced command runs on, so its output shows in the review
//! screen and keys typed there reach it.
//!
//! [`open`] creates the pair before anything forks. The command's side
//! ([`ChildTty`]) is attached in the tracer's pre-exec hook, in the forked child:
//! `setsid`, `TIOCSCTTY` (it becomes the controlling terminal, so job control and
//! `/dev/tty` work), then `dup2` onto descriptors 0, 1 and 2. Those are bare system
//! calls (rustix), with no allocation and no lock, as the hook requires.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use rustix::fs::{Mode, OFlags};
use rustix::process::Pid;
/// Signals for [`PtyMaster::signal_session`].
pub use rustix::process::Signal;
use rustix::pty::OpenptFlags;
use rustix::termios::Winsize;

/// nono's side of the terminal.
#[derive(Debug)]
pub struct PtyMaster {
    fd: OwnedFd,
}

/// The command's side, to attach in the child.
#[derive(Debug)]
pub struct ChildTty {
    fd: OwnedFd,
}

fn winsize(rows: u16, cols: u16) -> Winsize {
    Winsize {
        ws_row: rows.max(1),
        ws_col: cols.max(1),
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// Opens a pseudo-terminal of `rows`×`cols`. Both descriptors are close-on-exec.
pub fn open(rows: u16, cols: u16) -> io::Result<(PtyMaster, ChildTty)> {
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    let name = rustix::pty::ptsname(&master, Vec::new())?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rustix::termios::tcsetwinsize(&master, winsize(rows, cols))?;
    Ok((PtyMaster { fd: master }, ChildTty { fd: slave }))
}

impl ChildTty {
    /// Makes this terminal the calling process's controlling terminal and its standard
    /// input, output and error. For the pre-exec hook: async-signal-safe, no
    /// allocation. Returns the errno on failure.
    pub fn attach(&self) -> Result<(), i32> {
        let errno = |e: rustix::io::Errno| e.raw_os_error();
        rustix::process::setsid().map_err(errno)?;
        rustix::process::ioctl_tiocsctty(&self.fd).map_err(errno)?;
        rustix::stdio::dup2_stdin(&self.fd).map_err(errno)?;
        rustix::stdio::dup2_stdout(&self.fd).map_err(errno)?;
        rustix::stdio::dup2_stderr(&self.fd).map_err(errno)?;
        // If the terminal landed on 0-2 itself, dup2 was a no-op and close-on-exec
        // would close it: clear the flag.
        if self.fd.as_raw_fd() <= 2 {
            rustix::io::fcntl_setfd(&self.fd, rustix::io::FdFlags::empty()).map_err(errno)?;
        }
        Ok(())
    }
}

impl PtyMaster {
    /// A second handle for a reader thread.
    pub fn try_clone(&self) -> io::Result<std::fs::File> {
        Ok(std::fs::File::from(self.fd.try_clone()?))
    }

    /// Writes keys to the command (all of them, retrying on interruption).
    pub fn write_all(&self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match rustix::io::write(&self.fd, bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Tells the command its terminal's new size (it gets SIGWINCH).
    pub fn resize(&self, rows: u16, cols: u16) -> io::Result<()> {
        rustix::termios::tcsetwinsize(&self.fd, winsize(rows, cols))?;
        Ok(())
    }

    /// Sends a signal to the terminal's session leader's process group (the command,
    /// unless it moved itself elsewhere). Used to stop the command when the person
    /// quits while it runs.
    pub fn signal_session(&self, signal: Signal) -> io::Result<()> {
        let sid: Pid = rustix::termios::tcgetsid(&self.fd)?;
        rustix::process::kill_process_group(sid, signal)?;
        Ok(())
    }
}

impl AsFd for PtyMaster {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_master_reads_what_the_slave_writes() {
        let (master, child) = open(24, 80).expect("opening a pty");
        rustix::io::write(&child.fd, b"hello\n").expect("writing to the slave");
        let mut reader = master.try_clone().unwrap();
        let mut buf = [0u8; 64];
        let n = reader.read(&mut buf).expect("reading the master");
        // The line discipline turns \n into \r\n.
        assert_eq!(&buf[..n], b"hello\r\n");
        master.resize(10, 40).expect("resizing");
        let size = rustix::termios::tcgetwinsize(&child.fd).unwrap();
        assert_eq!((size.ws_row, size.ws_col), (10, 40));
    }
}
