//! Where each value of a JSON document stands: a map from a key path such as
//! `filesystem.allow[0]` to its line and column.
//!
//! serde_json reports positions only for errors; provenance ("granted by
//! `filesystem.allow[0]`, line 12") and semantic errors (an unknown group name)
//! need the position of values that parsed fine. This is a small scanner over the
//! comment-stripped text (comments are replaced by spaces, so positions hold). It
//! runs only after serde_json accepted the document, so it may stop quietly on
//! anything it does not understand: the index is then merely incomplete.

use std::collections::HashMap;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

/// Positions of every value in a document, by key path.
#[derive(Debug, Clone, Default)]
pub struct PositionIndex {
    positions: HashMap<String, Position>,
}

impl PositionIndex {
    /// Scans `text` (valid JSON, comments already blanked out).
    pub fn build(text: &str) -> Self {
        let mut scanner = Scanner {
            bytes: text.as_bytes(),
            text,
            pos: 0,
            out: HashMap::new(),
            line: 1,
            line_start: 0,
            counted: 0,
        };
        scanner.value(String::new());
        Self {
            positions: scanner.out,
        }
    }

    /// The position of the value at `path` (`a.b[2]`), if known.
    pub fn get(&self, path: &str) -> Option<Position> {
        self.positions.get(path).copied()
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
    out: HashMap<String, Position>,
    /// The line at `counted`, and where it starts: positions are asked in increasing
    /// order, so each newline is counted once.
    line: usize,
    line_start: usize,
    counted: usize,
}

impl Scanner<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    /// The position of `offset`, which is never before the last one asked.
    fn position(&mut self, offset: usize) -> Position {
        for (i, b) in self.bytes[self.counted..offset].iter().enumerate() {
            if *b == b'\n' {
                self.line += 1;
                self.line_start = self.counted + i + 1;
            }
        }
        self.counted = offset;
        let column = self.text[self.line_start..offset].chars().count() + 1;
        Position {
            line: self.line,
            column,
        }
    }

    fn value(&mut self, path: String) -> Option<()> {
        self.skip_ws();
        let start = self.pos;
        let first = *self.bytes.get(self.pos)?;
        let position = self.position(start);
        self.out.insert(path.clone(), position);
        match first {
            b'{' => {
                self.pos += 1;
                loop {
                    self.skip_ws();
                    match *self.bytes.get(self.pos)? {
                        b'}' => {
                            self.pos += 1;
                            return Some(());
                        }
                        b',' => self.pos += 1,
                        b'"' => {
                            let key = self.string()?;
                            self.skip_ws();
                            if *self.bytes.get(self.pos)? != b':' {
                                return None;
                            }
                            self.pos += 1;
                            let child = if path.is_empty() {
                                key
                            } else {
                                format!("{path}.{key}")
                            };
                            self.value(child)?;
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                let mut index = 0usize;
                loop {
                    self.skip_ws();
                    match *self.bytes.get(self.pos)? {
                        b']' => {
                            self.pos += 1;
                            return Some(());
                        }
                        b',' => self.pos += 1,
                        _ => {
                            self.value(format!("{path}[{index}]"))?;
                            index += 1;
                        }
                    }
                }
            }
            b'"' => self.string().map(|_| ()),
            _ => {
                while self.pos < self.bytes.len()
                    && !matches!(self.bytes[self.pos], b',' | b'}' | b']')
                    && !self.bytes[self.pos].is_ascii_whitespace()
                {
                    self.pos += 1;
                }
                Some(())
            }
        }
    }

    /// Reads a string starting at `"`, returning its decoded value.
    fn string(&mut self) -> Option<String> {
        let start = self.pos;
        self.pos += 1;
        while self.pos < self.bytes.len() {
            match self.bytes[self.pos] {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    let quoted = &self.text[start..self.pos];
                    // Without escapes, the value is what stands between the quotes.
                    if !quoted.contains('\\') {
                        return Some(quoted[1..quoted.len() - 1].to_string());
                    }
                    return serde_json::from_str(quoted).ok();
                }
                _ => self.pos += 1,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values() {
        let text = "{\n  \"filesystem\": {\n    \"allow\": [\"/a\", \"/b\"]\n  },\n  \"x\": 1\n}";
        let index = PositionIndex::build(text);
        assert_eq!(
            index.get("filesystem.allow[1]"),
            Some(Position {
                line: 3,
                column: 21
            })
        );
        assert_eq!(index.get("x"), Some(Position { line: 5, column: 8 }));
        assert_eq!(index.get("nope"), None);
    }

    #[test]
    fn survives_escapes_and_unicode() {
        let text = r#"{"a\"b": ["é", "\u00e9"], "c": {"d": [1, 2]}}"#;
        let index = PositionIndex::build(text);
        assert_eq!(index.get("a\"b[1]").map(|p| p.column), Some(16));
        assert!(index.get("c.d[1]").is_some());
    }

    /// Lines and columns stay right across many lines, escaped and multi-byte keys
    /// (each newline is counted once, as the scan goes).
    #[test]
    fn positions_across_lines() {
        let text = "{\n \"é\": [\n  1,\n\n     \"x\"],\n \"k\\\"q\": {\"z\":\n true}\n}";
        let index = PositionIndex::build(text);
        let at = |path: &str| index.get(path).map(|p| (p.line, p.column));
        assert_eq!(at(""), Some((1, 1)));
        assert_eq!(at("é"), Some((2, 7)));
        assert_eq!(at("é[0]"), Some((3, 3)));
        assert_eq!(at("é[1]"), Some((5, 6)));
        assert_eq!(at("k\"q"), Some((6, 10)));
        assert_eq!(at("k\"q.z"), Some((7, 2)));
    }
}
