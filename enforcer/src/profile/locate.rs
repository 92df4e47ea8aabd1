//! Where each value of a JSON document stands: a map from a key path such as
//! `filesystem.allow[0]` to its line and column.
//!
//! serde_json reports positions only for errors; provenance ("granted by
//! `filesystem.allow[0]`, line 12") and semantic errors (an unknown group name)
//! need the position of values that parsed fine. They come from `jsonc-parser`'s
//! syntax tree (byte ranges), walked once. The index is built only from text that
//! serde_json has accepted (so nesting is bounded by serde_json's recursion limit);
//! on text the tree parser refuses, the index is empty, never a hang or a panic.

use std::collections::HashMap;

use jsonc_parser::ast::{ObjectPropName, Value};
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, CommentCollectionStrategy, ParseOptions};

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
    /// Indexes `text` (JSON that serde_json accepted, comments already blanked out).
    pub fn build(text: &str) -> Self {
        let collect = CollectOptions {
            comments: CommentCollectionStrategy::Off,
            tokens: false,
        };
        let Ok(parsed) = jsonc_parser::parse_to_ast(text, &collect, &ParseOptions::default())
        else {
            return Self::default();
        };
        let mut offsets = Vec::new();
        if let Some(value) = &parsed.value {
            walk(value, String::new(), &mut offsets);
        }
        // Offsets to lines and columns in one pass over the text, in offset order.
        offsets.sort_unstable_by_key(|(offset, _)| *offset);
        let mut lines = Lines::new(text);
        let positions = offsets
            .into_iter()
            .map(|(offset, path)| (path, lines.position(offset)))
            .collect();
        Self { positions }
    }

    /// The position of the value at `path` (`a.b[2]`), if known.
    pub fn get(&self, path: &str) -> Option<Position> {
        self.positions.get(path).copied()
    }
}

/// Records the start of `value` and of everything inside it, by key path.
fn walk(value: &Value<'_>, path: String, out: &mut Vec<(usize, String)>) {
    out.push((value.range().start, path.clone()));
    match value {
        Value::Object(object) => {
            for prop in &object.properties {
                let key = match &prop.name {
                    ObjectPropName::String(s) => s.value.as_ref(),
                    ObjectPropName::Word(w) => w.value,
                };
                let child = if path.is_empty() {
                    key.to_string()
                } else {
                    format!("{path}.{key}")
                };
                walk(&prop.value, child, out);
            }
        }
        Value::Array(array) => {
            for (i, element) in array.elements.iter().enumerate() {
                walk(element, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Byte offsets to lines and columns, asked in increasing order.
struct Lines<'a> {
    text: &'a str,
    line: usize,
    line_start: usize,
    counted: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            text,
            line: 1,
            line_start: 0,
            counted: 0,
        }
    }

    fn position(&mut self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        for (i, b) in self.text.as_bytes()[self.counted..offset]
            .iter()
            .enumerate()
        {
            if *b == b'\n' {
                self.line += 1;
                self.line_start = self.counted + i + 1;
            }
        }
        self.counted = offset;
        let column = self
            .text
            .get(self.line_start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        Position {
            line: self.line,
            column,
        }
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
