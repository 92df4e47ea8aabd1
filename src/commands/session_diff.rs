//! The text of `nono session diff`: unified diffs for text files, a line for the rest.

use nono_snapshot::{Change, ChangeKind, Entry, Kind, Store};

use crate::Failure;

/// Files larger than this, or with more lines than [`MAX_LINES`], get a summary line.
const MAX_BYTES: u64 = 4 << 20;
const MAX_LINES: usize = 4000;
const CONTEXT: usize = 3;

fn content(store: &Store, e: Option<&Entry>) -> Result<Option<Vec<u8>>, Failure> {
    match e {
        Some(e) if e.kind == Kind::File && e.size <= MAX_BYTES => match e.hash {
            Some(h) => Ok(Some(store.read(&h).map_err(anyhow::Error::from)?)),
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

fn is_text(b: &[u8]) -> bool {
    !b.contains(&0) && std::str::from_utf8(b).is_ok()
}

fn describe(e: Option<&Entry>) -> String {
    match e {
        None => "absent".into(),
        Some(e) => match e.kind {
            Kind::File => format!(
                "{} bytes, {}",
                e.size,
                e.hash
                    .map(|h| h.to_hex()[..16].to_string())
                    .unwrap_or_default()
            ),
            Kind::Dir => "directory".into(),
            Kind::Symlink => format!(
                "symlink to {}",
                String::from_utf8_lossy(e.target.as_deref().unwrap_or(b""))
            ),
        },
    }
}

/// One change as text.
pub fn render(store: &Store, c: &Change) -> Result<String, Failure> {
    let path = c.entry().display();
    let (a, b) = (c.before.as_ref(), c.after.as_ref());
    let mut out = String::new();
    if c.kind == ChangeKind::ModeChanged {
        out.push_str(&format!(
            "mode {path}: {:04o} -> {:04o}\n",
            a.map(|e| e.mode).unwrap_or(0),
            b.map(|e| e.mode).unwrap_or(0)
        ));
        return Ok(out);
    }
    let both_files_or_absent = [a, b]
        .iter()
        .all(|e| e.is_none_or(|e| e.kind == Kind::File));
    if !both_files_or_absent {
        out.push_str(&format!(
            "{} {path}: {} -> {}\n",
            match c.kind {
                ChangeKind::Created => "created",
                ChangeKind::Deleted => "deleted",
                _ => "changed",
            },
            describe(a),
            describe(b)
        ));
        return Ok(out);
    }
    let old = if a.is_some() {
        content(store, a)?
    } else {
        Some(Vec::new())
    };
    let new = if b.is_some() {
        content(store, b)?
    } else {
        Some(Vec::new())
    };
    let (Some(old), Some(new)) = (old, new) else {
        out.push_str(&format!(
            "file {path} changed (too large to diff: {} -> {})\n",
            describe(a),
            describe(b)
        ));
        return Ok(out);
    };
    if !is_text(&old) || !is_text(&new) {
        out.push_str(&format!(
            "binary file {path} changed ({} -> {})\n",
            describe(a),
            describe(b)
        ));
        return Ok(out);
    }
    let old = std::str::from_utf8(&old).expect("checked");
    let new = std::str::from_utf8(&new).expect("checked");
    let x: Vec<&str> = old.split_inclusive('\n').collect();
    let y: Vec<&str> = new.split_inclusive('\n').collect();
    if x.len() > MAX_LINES || y.len() > MAX_LINES {
        out.push_str(&format!(
            "file {path} changed (too many lines to diff: {} -> {})\n",
            describe(a),
            describe(b)
        ));
        return Ok(out);
    }
    out.push_str(&format!(
        "--- {}\n+++ {}\n",
        if a.is_some() {
            format!("a/{path}")
        } else {
            "/dev/null".into()
        },
        if b.is_some() {
            format!("b/{path}")
        } else {
            "/dev/null".into()
        }
    ));
    out.push_str(&unified(&x, &y));
    Ok(out)
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Same,
    Del,
    Ins,
}

/// Line diff by longest common subsequence, printed as unified hunks.
fn unified(x: &[&str], y: &[&str]) -> String {
    let (n, m) = (x.len(), y.len());
    let mut l = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            l[at(i, j)] = if x[i] == y[j] {
                l[at(i + 1, j + 1)] + 1
            } else {
                l[at(i + 1, j)].max(l[at(i, j + 1)])
            };
        }
    }
    let mut ops = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && x[i] == y[j] {
            ops.push((Op::Same, i, j));
            i += 1;
            j += 1;
        } else if i < n && (j == m || l[at(i + 1, j)] >= l[at(i, j + 1)]) {
            ops.push((Op::Del, i, j));
            i += 1;
        } else {
            ops.push((Op::Ins, i, j));
            j += 1;
        }
    }
    let mut out = String::new();
    let mut k = 0;
    while k < ops.len() {
        if ops[k].0 == Op::Same {
            k += 1;
            continue;
        }
        let start = k.saturating_sub(CONTEXT);
        let mut end = k;
        let mut same_run = 0;
        while end < ops.len() {
            if ops[end].0 == Op::Same {
                same_run += 1;
                if same_run > 2 * CONTEXT {
                    break;
                }
            } else {
                same_run = 0;
            }
            end += 1;
        }
        let end = (end - same_run + CONTEXT.min(same_run)).min(ops.len());
        let hunk = &ops[start..end];
        let (oi, oj) = (hunk[0].1, hunk[0].2);
        let ol = hunk.iter().filter(|o| o.0 != Op::Ins).count();
        let nl = hunk.iter().filter(|o| o.0 != Op::Del).count();
        let from = |s: usize, len: usize| if len == 0 { s } else { s + 1 };
        out.push_str(&format!(
            "@@ -{},{ol} +{},{nl} @@\n",
            from(oi, ol),
            from(oj, nl)
        ));
        for &(op, i, j) in hunk {
            let (mark, line) = match op {
                Op::Same => (' ', x[i]),
                Op::Del => ('-', x[i]),
                Op::Ins => ('+', y[j]),
            };
            out.push(mark);
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
        k = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_is_one_hunk_with_context() {
        let x: Vec<&str> = "a\nb\nc\nd\ne\nf\ng\nh\n".split_inclusive('\n').collect();
        let y: Vec<&str> = "a\nb\nc\nd\nE\nf\ng\nh\n".split_inclusive('\n').collect();
        assert_eq!(
            unified(&x, &y),
            "@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n"
        );
        assert_eq!(unified(&[], &["x\n"]), "@@ -0,0 +1,1 @@\n+x\n");
    }
}
