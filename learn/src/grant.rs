//! What is safe to grant, and the path and host arithmetic behind widening, narrowing
//! and editing a rule. Any front end (the review screen, a binding) applies these
//! rules; they decide what may be granted, never how a person asks for it.
//!
//! A rule starts at the observed path (its *anchor*) and can be widened one directory
//! at a time (AppArmor's `aa-logprof` style) and narrowed back towards the anchor,
//! never below it, so the rule always covers what was observed. Nono profiles have no
//! globs, so there is no `*.ext` step: widening goes straight to the directory. `/`,
//! `$HOME` and anything above `$HOME` are never granted whole.

use std::path::{Component, Path, PathBuf};

use crate::model::LearnContext;

/// Why a rule on `path` may never be granted: `/`, `$HOME` and anything above `$HOME`
/// would hand over the whole home directory.
pub fn never_whole(path: &Path, home: &Path) -> Option<String> {
    if path == Path::new("/") {
        Some("/ is never granted whole".into())
    } else if home.starts_with(path) {
        Some(format!(
            "{} is never granted whole (it holds $HOME)",
            if path == home {
                "$HOME"
            } else {
                "a directory above $HOME"
            }
        ))
    } else {
        None
    }
}

/// The rule's path one directory up, unless that would be `/`, `$HOME` or above.
pub fn widen(path: &Path, home: &Path) -> Result<PathBuf, String> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Err("nothing above this path".into());
    };
    match never_whole(parent, home) {
        Some(why) => Err(format!("cannot widen further: {why}")),
        None => Ok(parent.to_path_buf()),
    }
}

/// The rule's path one directory back towards the anchor.
pub fn narrow(path: &Path, anchor: &Path) -> Result<PathBuf, String> {
    if path == anchor || !anchor.starts_with(path) {
        return Err("already at the observed path".into());
    }
    anchor
        .ancestors()
        .find(|a| a.parent() == Some(path))
        .map(Path::to_path_buf)
        .ok_or_else(|| "already at the observed path".into())
}

/// Parses a path typed by hand: `~/…`, `$HOME/…` and `$WORKDIR/…` are expanded, the
/// result must be absolute and free of `.`/`..`. A trailing `/` asks for a directory
/// rule. Returns the path and whether a directory was asked for.
pub fn parse_path(input: &str, home: &Path, workdir: &Path) -> Result<(PathBuf, bool), String> {
    let text = input.trim();
    if text.is_empty() {
        return Err("empty path".into());
    }
    let dir = text.len() > 1 && text.ends_with('/');
    let expanded = if text == "~" || text == "$HOME" {
        home.to_path_buf()
    } else if let Some(rest) = text
        .strip_prefix("~/")
        .or_else(|| text.strip_prefix("$HOME/"))
    {
        home.join(rest)
    } else if text == "$WORKDIR" {
        workdir.to_path_buf()
    } else if let Some(rest) = text.strip_prefix("$WORKDIR/") {
        workdir.join(rest)
    } else if text.contains('$') {
        return Err("only $HOME and $WORKDIR can be used here".into());
    } else {
        PathBuf::from(text)
    };
    if !expanded.is_absolute() {
        return Err(format!("{text}: not an absolute path"));
    }
    let mut clean = PathBuf::from("/");
    for c in expanded.components() {
        match c {
            Component::Normal(part) => clean.push(part),
            Component::RootDir => {}
            _ => return Err(format!("{text}: no `.` or `..` components, please")),
        }
    }
    Ok((clean, dir))
}

/// `api.github.com` → `*.github.com`; a wildcard loses one more label. Stops before a
/// bare top-level domain (`*.com`).
pub fn widen_host(pattern: &str) -> Result<String, String> {
    let bare = pattern.strip_prefix("*.").unwrap_or(pattern);
    let Some((_, suffix)) = bare.split_once('.') else {
        return Err("cannot widen a single-label host".into());
    };
    if !suffix.contains('.') {
        return Err(format!(
            "cannot widen {pattern} to a whole top-level domain"
        ));
    }
    Ok(format!("*.{suffix}"))
}

/// One label back towards the observed host: with `a.b.example.org` observed,
/// `*.example.org` → `*.b.example.org` → `a.b.example.org`.
pub fn narrow_host(pattern: &str, host: &str) -> Result<String, String> {
    let Some(suffix) = pattern.strip_prefix("*.") else {
        return Err("already at the observed host".into());
    };
    let Some(head) = host.strip_suffix(suffix).and_then(|h| h.strip_suffix('.')) else {
        return Err("already at the observed host".into());
    };
    match head.rsplit_once('.') {
        Some((_, last)) => Ok(format!("*.{last}.{suffix}")),
        None => Ok(host.to_string()),
    }
}

/// Why a path typed (or edited) as the rule for the observed `anchor` cannot be used:
/// it is never granted whole, or it does not cover the anchor.
pub fn check_edited(path: &Path, anchor: &Path, home: &Path) -> Result<(), String> {
    if let Some(why) = never_whole(path, home) {
        return Err(format!("not allowed: {why}"));
    }
    if !anchor.starts_with(path) {
        return Err(format!(
            "{} does not cover the observed path {}",
            path.display(),
            anchor.display()
        ));
    }
    Ok(())
}

/// May a grant of `path`, suggested as `safe` or not, be accepted without a person
/// looking at it (as "accept every safe suggestion" does)? Only a safe suggestion, never
/// `/`, `$HOME` or above, and never a path the base profile denies.
pub fn may_accept_unasked(path: &Path, safe: bool, ctx: &LearnContext) -> bool {
    safe && never_whole(path, &ctx.home).is_none() && ctx.sensitive(path).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_stops_below_root_and_home() {
        let home = Path::new("/home/u");
        assert_eq!(
            widen(Path::new("/data/set/a.csv"), home),
            Ok(PathBuf::from("/data/set"))
        );
        assert!(
            widen(Path::new("/data"), home).is_err(),
            "/ is never granted"
        );
        assert!(widen(Path::new("/home/u/x"), home).is_err(), "$HOME never");
        assert!(
            never_whole(Path::new("/home"), home).is_some(),
            "above $HOME"
        );
        assert!(never_whole(Path::new("/home/u/x"), home).is_none());
    }

    #[test]
    fn narrowing_walks_back_to_the_anchor_and_no_further() {
        let anchor = Path::new("/a/b/c/file");
        assert_eq!(narrow(Path::new("/a"), anchor), Ok(PathBuf::from("/a/b")));
        assert_eq!(
            narrow(Path::new("/a/b/c"), anchor),
            Ok(PathBuf::from("/a/b/c/file"))
        );
        assert!(narrow(anchor, anchor).is_err());
    }

    #[test]
    fn typed_paths_expand_home_and_refuse_relative_or_dotted() {
        let (home, wd) = (Path::new("/home/u"), Path::new("/w"));
        assert_eq!(
            parse_path("~/x/", home, wd),
            Ok((PathBuf::from("/home/u/x"), true))
        );
        assert_eq!(
            parse_path("$WORKDIR/src", home, wd),
            Ok((PathBuf::from("/w/src"), false))
        );
        assert!(parse_path("x/y", home, wd).is_err());
        assert!(parse_path("/a/../etc", home, wd).is_err());
        assert!(parse_path("$TMP/x", home, wd).is_err());
    }

    #[test]
    fn hosts_widen_by_label_and_never_to_a_tld() {
        assert_eq!(widen_host("api.github.com").as_deref(), Ok("*.github.com"));
        assert!(widen_host("*.github.com").is_err());
        assert!(widen_host("github.com").is_err());
        assert_eq!(
            widen_host("a.b.example.org").as_deref(),
            Ok("*.b.example.org")
        );
        assert_eq!(
            widen_host("*.b.example.org").as_deref(),
            Ok("*.example.org")
        );
        assert_eq!(
            narrow_host("*.example.org", "a.b.example.org").as_deref(),
            Ok("*.b.example.org")
        );
        assert_eq!(
            narrow_host("*.b.example.org", "a.b.example.org").as_deref(),
            Ok("a.b.example.org")
        );
    }
}
