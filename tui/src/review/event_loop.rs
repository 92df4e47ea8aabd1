//! The event loop: one channel fans in terminal input, learn messages (tracer events,
//! already classified), the command's terminal output and stop requests; a tick keeps
//! the clock going. Bursts are drained before a frame is drawn, and a frame is drawn
//! only when something visible changed. Generic over the ratatui backend, so tests
//! drive it with `TestBackend`.

use std::io;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::Event;

use nono_learn::Msg as LearnMsg;

use super::model::ReviewState;
use super::update::{Command, Msg, update};
use super::view::view;

/// Something for the loop.
#[derive(Debug)]
pub enum Input {
    /// A terminal event (key, resize…).
    Terminal(Event),
    /// For the learn model.
    Learn(LearnMsg),
    /// The command wrote to its terminal.
    Output(Vec<u8>),
    /// The command's terminal closed.
    OutputClosed,
    /// The command started (`true`) or stopped waiting for input from its terminal.
    Waiting(bool),
    /// Stop now (a signal asked nono to end).
    Stop,
}

/// The effects `update` asks for, carried out by whoever runs the loop.
pub trait Effects {
    /// Writes keys to the command's terminal.
    fn send_to_pty(&mut self, bytes: &[u8]);
    /// Resizes the command's terminal.
    fn resize_pty(&mut self, rows: u16, cols: u16);
    /// Writes the profile; the answer goes back to `update`.
    fn save(&mut self, path: &Path, contents: &str, overwrite: bool) -> Msg;
}

/// How often the clock ticks.
pub const TICK: Duration = Duration::from_millis(250);
/// At most this long is spent draining a burst before a frame is drawn.
const BURST: Duration = Duration::from_millis(25);

/// Turns an input into a message and runs `update` and its commands.
pub fn handle(state: &mut ReviewState, input: Input, effects: &mut impl Effects) {
    let msg = match input {
        Input::Terminal(Event::Key(key)) => Msg::Key(key),
        Input::Terminal(Event::Resize(width, height)) => Msg::Resize { width, height },
        Input::Terminal(_) => return,
        Input::Learn(msg) => Msg::Learn(msg),
        Input::Output(bytes) => Msg::Output(bytes),
        Input::OutputClosed => Msg::OutputClosed,
        Input::Waiting(waiting) => Msg::Waiting(waiting),
        Input::Stop => {
            state.quit = true;
            return;
        }
    };
    let mut command = update(state, msg);
    while let Some(c) = command.take() {
        match c {
            Command::SendToPty(bytes) => effects.send_to_pty(&bytes),
            Command::ResizePty { rows, cols } => effects.resize_pty(rows, cols),
            Command::Save {
                path,
                contents,
                overwrite,
            } => {
                let answer = effects.save(&path, &contents, overwrite);
                command = update(state, answer);
            }
            Command::Quit => state.quit = true,
        }
    }
}

/// Draws a frame if something changed (bringing derived data up to date first).
pub fn draw<B: Backend>(terminal: &mut Terminal<B>, state: &mut ReviewState) -> io::Result<()> {
    state.refresh();
    if state.redraw {
        terminal.draw(|frame| view(state, frame))?;
        state.redraw = false;
    }
    Ok(())
}

/// Runs until the person quits, a stop is requested, or every sender is gone.
/// `started` is when the command started (for the clock).
pub fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    state: &mut ReviewState,
    inputs: &Receiver<Input>,
    effects: &mut impl Effects,
    started: Instant,
) -> io::Result<()> {
    state.redraw = true;
    draw(terminal, state)?;
    let mut last_tick = Instant::now();
    while !state.quit {
        let wait = TICK.saturating_sub(last_tick.elapsed());
        match inputs.recv_timeout(wait) {
            Ok(input) => {
                handle(state, input, effects);
                let deadline = Instant::now() + BURST;
                let mut n = 0u32;
                while !state.quit {
                    n = n.wrapping_add(1);
                    if n.is_multiple_of(256) && Instant::now() >= deadline {
                        break;
                    }
                    match inputs.try_recv() {
                        Ok(input) => handle(state, input, effects),
                        Err(_) => break,
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            update(
                state,
                Msg::Tick {
                    elapsed: started.elapsed(),
                },
            );
        }
        if !state.quit {
            draw(terminal, state)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::mpsc;

    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent};

    use super::*;
    use crate::review::fixture;

    #[derive(Default)]
    struct Recorder {
        sent: Vec<u8>,
        saves: Vec<(PathBuf, String, bool)>,
    }

    impl Effects for Recorder {
        fn send_to_pty(&mut self, bytes: &[u8]) {
            self.sent.extend_from_slice(bytes);
        }
        fn resize_pty(&mut self, _rows: u16, _cols: u16) {}
        fn save(&mut self, path: &Path, contents: &str, overwrite: bool) -> Msg {
            self.saves
                .push((path.to_path_buf(), contents.to_string(), overwrite));
            Msg::Saved {
                path: path.to_path_buf(),
            }
        }
    }

    fn key(tx: &mpsc::Sender<Input>, code: KeyCode) {
        tx.send(Input::Terminal(Event::Key(KeyEvent::from(code))))
            .unwrap();
    }

    fn text(tx: &mpsc::Sender<Input>, text: &str) {
        for c in text.chars() {
            key(tx, KeyCode::Char(c));
        }
    }

    #[test]
    fn the_loop_applies_inputs_in_order_saves_through_its_effects_and_quits() {
        let (tx, rx) = mpsc::channel();
        let mut state = fixture::state();
        tx.send(Input::Learn(LearnMsg::Finished { exit_code: 0 }))
            .unwrap();
        tx.send(Input::Output(b"more output\r\n".to_vec())).unwrap();
        text(&tx, "/other.txt");
        key(&tx, KeyCode::Enter);
        text(&tx, "y");
        key(&tx, KeyCode::Tab);
        text(&tx, "hi");
        key(&tx, KeyCode::Tab);
        text(&tx, "s");
        key(&tx, KeyCode::Enter);
        text(&tx, "q");
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        let mut effects = Recorder::default();
        run(&mut terminal, &mut state, &rx, &mut effects, Instant::now()).expect("the loop runs");
        assert!(state.quit, "q did not end the loop");
        assert_eq!(effects.sent, b"hi", "keys typed in the terminal pane");
        assert_eq!(effects.saves.len(), 1, "{:?}", state.status);
        let (path, contents, overwrite) = &effects.saves[0];
        assert_eq!(
            path,
            Path::new("/home/u/.config/nono/profiles/learned-python3.json")
        );
        assert!(!overwrite);
        assert!(contents.contains("\"/data/other.txt\""), "{contents}");
        assert_eq!(state.saved_to.as_deref(), Some(path.as_path()));
    }

    #[test]
    fn the_loop_ends_when_every_sender_is_gone_and_on_stop() {
        let (tx, rx) = mpsc::channel::<Input>();
        drop(tx);
        let mut state = fixture::state();
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        run(
            &mut terminal,
            &mut state,
            &rx,
            &mut Recorder::default(),
            Instant::now(),
        )
        .expect("the loop runs");
        let (tx, rx) = mpsc::channel::<Input>();
        tx.send(Input::Stop).unwrap();
        run(
            &mut terminal,
            &mut state,
            &rx,
            &mut Recorder::default(),
            Instant::now(),
        )
        .expect("the loop runs");
        assert!(state.quit);
    }
}
