//! Running the review on the real terminal: raw mode and the alternate screen, undone
//! on every way out (return, error, panic, a termination signal); the threads that
//! read keys and the command's output into the loop's channel; the effects on disk and
//! on the command's terminal.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::{cursor, event, execute, terminal};

use super::event_loop::{self, Effects, Input};

/// Has standard input's terminal hung up (or been closed)?
fn terminal_gone() -> bool {
    use rustix::event::{PollFd, PollFlags, poll};
    let stdin = rustix::stdio::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    match poll(
        &mut fds,
        Some(&rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        }),
    ) {
        Ok(_) => fds[0]
            .revents()
            .intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL),
        Err(_) => true,
    }
}
use super::model::ReviewState;
use super::pty::PtyMaster;
use super::update::{Command, Msg};

/// Puts the terminal back: cooked mode, main screen, visible cursor. Safe to call
/// more than once.
pub fn restore() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
}

/// Restores the terminal when dropped.
#[derive(Debug)]
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Makes a panic restore the terminal before the message is printed (otherwise the
/// message lands on the alternate screen, in raw mode, and is lost).
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// The terminal's size (columns, rows), or 80×24 when it cannot be asked.
pub fn size() -> (u16, u16) {
    terminal::size().unwrap_or((80, 24))
}

/// Writes a profile; `Err` carries the message to show.
pub type Writer<'a> = &'a mut dyn FnMut(&Path, &[u8]) -> Result<(), String>;

/// The effects on the real system.
struct System<'a> {
    pty: Option<&'a PtyMaster>,
    write: Writer<'a>,
}

impl Effects for System<'_> {
    fn send_to_pty(&mut self, bytes: &[u8]) {
        if let Some(pty) = self.pty {
            let _ = pty.write_all(bytes);
        }
    }

    fn resize_pty(&mut self, rows: u16, cols: u16) {
        if let Some(pty) = self.pty {
            let _ = pty.resize(rows, cols);
        }
    }

    fn save(&mut self, path: &Path, contents: &str, overwrite: bool) -> Msg {
        save_to_disk(path, contents, overwrite, self.write)
    }
}

/// The save effect: never replaces an existing file unless told to (it answers with
/// the file's content instead, for the diff), creates the profiles directory.
pub fn save_to_disk(path: &Path, contents: &str, overwrite: bool, write: Writer<'_>) -> Msg {
    let failed = |error: String, existing: Option<String>| Msg::SaveFailed {
        path: path.to_path_buf(),
        error,
        existing,
    };
    if !overwrite && std::fs::symlink_metadata(path).is_ok() {
        let existing = std::fs::read_to_string(path)
            .unwrap_or_else(|e| format!("(cannot read the existing file: {e})\n"));
        return failed(format!("{} exists", path.display()), Some(existing));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        return failed(format!("cannot create {}: {e}", dir.display()), None);
    }
    match write(path, contents.as_bytes()) {
        Ok(()) => Msg::Saved {
            path: path.to_path_buf(),
        },
        Err(e) => failed(e, None),
    }
}

/// Where the command's output is copied, every byte as it arrives (so a crash keeps
/// what came before it): `output.log` in the session directory.
#[derive(Debug)]
pub struct OutputLog {
    file: std::fs::File,
    error: Arc<std::sync::OnceLock<String>>,
}

impl OutputLog {
    /// Copies the output to `file` (opened for appending).
    pub fn new(file: std::fs::File) -> Self {
        OutputLog {
            file,
            error: Arc::default(),
        }
    }

    /// Where a failure to write the copy is reported (the copy stops at the first).
    pub fn error(&self) -> Arc<std::sync::OnceLock<String>> {
        Arc::clone(&self.error)
    }

    fn write(&mut self, bytes: &[u8]) -> bool {
        match self.file.write_all(bytes) {
            Ok(()) => true,
            Err(e) => {
                let _ = self.error.set(e.to_string());
                false
            }
        }
    }
}

/// How the review ended.
#[derive(Debug)]
pub struct Ended {
    /// The final state (decisions, where it was saved).
    pub state: ReviewState,
    /// A termination signal ended it.
    pub signalled: bool,
}

/// Runs the review on this terminal until the person quits. `inputs` receives what
/// `sender` (clones of it go to the feeding threads) sends; key and output readers
/// are started here (the output reader copies what it reads to `log`). `started` is
/// when the command started.
pub fn run(
    mut state: ReviewState,
    sender: Sender<Input>,
    inputs: Receiver<Input>,
    pty: Option<&PtyMaster>,
    mut log: Option<OutputLog>,
    write: Writer<'_>,
    started: Instant,
) -> io::Result<Ended> {
    install_panic_hook();
    // A termination signal sets this flag; the key reader turns it into Input::Stop,
    // so the loop ends through the normal path and the terminal is restored.
    let stop = Arc::new(AtomicBool::new(false));
    let mut signals = Vec::new();
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGQUIT,
    ] {
        signals.push(signal_hook::flag::register(signal, Arc::clone(&stop))?);
    }
    terminal::enable_raw_mode()?;
    let guard = Guard;
    execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
    let mut term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    term.clear()?;
    // The screen may have changed size since the command's terminal was opened: the
    // command gets the output pane's size as drawn now.
    let (width, height) = size();
    if let Some(Command::ResizePty { rows, cols }) =
        super::update::update(&mut state, Msg::Resize { width, height })
        && let Some(pty) = pty
    {
        let _ = pty.resize(rows, cols);
    }

    let done = Arc::new(AtomicBool::new(false));
    let keys = {
        let (sender, done, stop) = (sender.clone(), Arc::clone(&done), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("nono-review-keys".into())
            .spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    if stop.load(Ordering::Relaxed) {
                        let _ = sender.send(Input::Stop);
                        break;
                    }
                    match event::poll(Duration::from_millis(100)) {
                        Ok(true) => match event::read() {
                            Ok(ev) => {
                                if sender.send(Input::Terminal(ev)).is_err() {
                                    break;
                                }
                            }
                            Err(_) => break,
                        },
                        // Nothing to read: make sure the terminal is still there. On a
                        // hung-up terminal (its emulator closed) poll keeps returning at
                        // once with nothing to read, which would spin this thread.
                        Ok(false) if terminal_gone() => {
                            let _ = sender.send(Input::Stop);
                            break;
                        }
                        Ok(false) => {}
                        Err(_) => break,
                    }
                }
            })?
    };
    // The key reader can be stuck inside crossterm when the terminal hangs up (it
    // loops on read() == 0), so it cannot be relied on to notice the stop flag: a
    // small watchdog turns the flag into Input::Stop instead.
    {
        let (sender, done, stop) = (sender.clone(), Arc::clone(&done), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("nono-review-stop".into())
            .spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    if stop.load(Ordering::Relaxed) {
                        let _ = sender.send(Input::Stop);
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })?;
    }
    if let Some(pty) = pty {
        let mut reader = pty.try_clone()?;
        let sender = sender.clone();
        std::thread::Builder::new()
            .name("nono-review-pty".into())
            .spawn(move || {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if let Some(l) = &mut log
                                && !l.write(&buf[..n])
                            {
                                log = None;
                            }
                            // Once the review has ended, the output is still copied to
                            // the log until the command's side closes.
                            if sender.send(Input::Output(buf[..n].to_vec())).is_err()
                                && log.is_none()
                            {
                                return;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        // EIO: the command's side is closed.
                        Err(_) => break,
                    }
                }
                let _ = sender.send(Input::OutputClosed);
            })?;
    }
    if let Some(pty) = pty {
        // Watches whether the command waits for input from its terminal (see
        // `waiting`): two samples in a row before saying so, so that a read between
        // two bursts of output does not move the keys.
        let master = pty.try_clone()?;
        let (sender, done) = (sender.clone(), Arc::clone(&done));
        std::thread::Builder::new()
            .name("nono-review-wait".into())
            .spawn(move || {
                let mut said = false;
                let mut streak = 0u8;
                while !done.load(Ordering::Relaxed) {
                    use std::os::fd::AsFd;
                    let now = super::waiting::command_waits(master.as_fd());
                    streak = if now { streak.saturating_add(1) } else { 0 };
                    let waiting = streak >= 2;
                    if waiting != said {
                        said = waiting;
                        if sender.send(Input::Waiting(waiting)).is_err() {
                            break;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(150));
                }
            })?;
    }
    drop(sender);

    let mut effects = System { pty, write };
    let result = event_loop::run(&mut term, &mut state, &inputs, &mut effects, started);
    done.store(true, Ordering::Relaxed);
    let signalled = stop.load(Ordering::Relaxed);
    // After a hang-up the key reader may never return (see the watchdog above); the
    // process is about to exit, so leave it behind rather than wait for it.
    if !signalled {
        let _ = keys.join();
    }
    for id in signals {
        signal_hook::low_level::unregister(id);
    }
    drop(term);
    drop(guard);
    let _ = io::stdout().flush();
    result?;
    Ok(Ended { state, signalled })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_log_appends_what_it_is_given_and_reports_its_first_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("output.log");
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        let mut log = OutputLog::new(file);
        assert!(log.write(b"one\r\n") && log.write(b"two\r\n"));
        assert_eq!(std::fs::read(&path).unwrap(), b"one\r\ntwo\r\n");
        assert!(log.error().get().is_none());

        // A full disk: the failure is kept for the warning at the end.
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let mut log = OutputLog::new(full);
        let error = log.error();
        assert!(!log.write(b"lost"));
        assert!(
            error.get().is_some_and(|e| e.contains("No space left")),
            "{error:?}"
        );
    }
}
