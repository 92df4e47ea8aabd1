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
}

impl Scanner<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn position(&self, offset: usize) -> Position {
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = self.text[line_start..offset].chars().count() + 1;
        Position { line, column }
    }

    fn value(&mut self, path: String) -> Option<()> {
        self.skip_ws();
        let start = self.pos;
        let first = *self.bytes.get(self.pos)?;
        self.out.insert(path.clone(), self.position(start));
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
                    return serde_json::from_str(&self.text[start..self.pos]).ok();
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
}
