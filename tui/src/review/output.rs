//! The command's terminal as the review screen keeps it: a vt100 emulation with its
//! scrollback.

use std::fmt;

/// The command's terminal, as a vt100 screen.
pub struct Output {
    parser: vt100::Parser,
    /// The command's side of the terminal is closed (it and its children ended).
    pub closed: bool,
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (rows, cols) = self.parser.screen().size();
        f.debug_struct("Output")
            .field("rows", &rows)
            .field("cols", &cols)
            .field("closed", &self.closed)
            .finish()
    }
}

/// Lines of the command's output kept above its screen, for scrolling back. (The
/// whole output is also written to `output.log` in the session directory.)
pub const SCROLLBACK: usize = 10_000;

impl Output {
    /// An empty screen.
    pub fn new(rows: u16, cols: u16) -> Self {
        Output {
            parser: vt100::Parser::new(rows.max(1), cols.max(1), SCROLLBACK),
            closed: false,
        }
    }

    /// Feeds bytes the command wrote. While scrolled back, the view stays on the same
    /// lines as new ones arrive.
    pub fn process(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
    }

    /// The screen (scrolled back by [`Output::scrolled_back`] lines).
    pub fn screen(&self) -> &vt100::Screen {
        self.parser.screen()
    }

    /// Rows and columns.
    pub fn size(&self) -> (u16, u16) {
        self.parser.screen().size()
    }

    /// Resizes the screen.
    pub fn set_size(&mut self, rows: u16, cols: u16) {
        self.parser.set_size(rows.max(1), cols.max(1));
    }

    /// How many lines the view is scrolled back (0: the live screen).
    pub fn scrolled_back(&self) -> usize {
        self.parser.screen().scrollback()
    }

    /// Scrolls back (`lines` > 0) or forward, within the lines kept.
    pub fn scroll(&mut self, lines: isize) {
        let to = self.scrolled_back().saturating_add_signed(lines);
        // vt100 clamps to the lines it holds.
        self.parser.set_scrollback(to);
    }

    /// Shows the oldest line kept.
    pub fn scroll_to_oldest(&mut self) {
        self.parser.set_scrollback(usize::MAX);
    }

    /// Back to the live screen.
    pub fn scroll_to_live(&mut self) {
        self.parser.set_scrollback(0);
    }
}
