//! Making the paths a system call names absolute, without touching the file system.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// `base` joined with `raw` (or `raw` alone when it is absolute), with `.` components
/// dropped, repeated slashes collapsed and `..` folded lexically (`/a/b/../c` is `/a/c`,
/// `/..` is `/`). Symbolic links are not resolved, so `/link/..` becomes `/` even when
/// `link` points elsewhere: the result names what the program asked for, not where the
/// kernel went. An empty `raw` yields `base`.
pub(crate) fn absolute(base: &Path, raw: &[u8]) -> PathBuf {
    // Most paths programs pass are absolute and already clean: no folding to do.
    if is_clean_absolute(raw) {
        return PathBuf::from(OsStr::from_bytes(raw));
    }
    let raw = Path::new(OsStr::from_bytes(raw));
    let joined;
    let path = if raw.is_absolute() {
        raw
    } else {
        joined = base.join(raw);
        &joined
    };
    normalize(path)
}

/// Whether `raw` is absolute and has nothing [`normalize`] would change: no empty, `.`
/// or `..` component and no trailing slash (`/` itself is clean).
fn is_clean_absolute(raw: &[u8]) -> bool {
    if raw.first() != Some(&b'/') {
        return false;
    }
    if raw.len() == 1 {
        return true;
    }
    raw[1..]
        .split(|&b| b == b'/')
        .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// Folds `.` and `..` of a path lexically; see [`absolute`].
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::RootDir => out.push("/"),
            Component::CurDir => {}
            Component::ParentDir => {
                if out.parent().is_some() {
                    out.pop();
                } else if !out.has_root() {
                    // A relative path keeps leading `..`s it cannot fold.
                    out.push("..");
                }
            }
            Component::Normal(name) => out.push(name),
            Component::Prefix(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_are_folded() {
        let base = Path::new("/work/dir");
        for (raw, expected) in [
            ("/etc/passwd", "/etc/passwd"),
            ("/etc//./passwd", "/etc/passwd"),
            ("/a/b/../c", "/a/c"),
            ("/../../x", "/x"),
            ("/", "/"),
            ("/tmp/dir/", "/tmp/dir"),
        ] {
            assert_eq!(
                absolute(base, raw.as_bytes()),
                PathBuf::from(expected),
                "{raw}"
            );
        }
    }

    #[test]
    fn relative_paths_join_the_base() {
        let base = Path::new("/work/dir");
        for (raw, expected) in [
            ("file", "/work/dir/file"),
            ("./file", "/work/dir/file"),
            ("../other/file", "/work/other/file"),
            ("../../../../x", "/x"),
            (".", "/work/dir"),
            ("", "/work/dir"),
        ] {
            assert_eq!(
                absolute(base, raw.as_bytes()),
                PathBuf::from(expected),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn the_clean_fast_path_agrees_with_folding() {
        for raw in [
            "/",
            "/etc",
            "/etc/passwd",
            "//etc",
            "/etc/",
            "/etc/.",
            "/etc/..",
            "/./x",
            "/a//b",
            "/a/.hidden",
            "/a/..b",
            "/a/b..",
            "/...",
            "relative",
            "",
        ] {
            let folded = normalize(&Path::new("/base").join(raw));
            assert_eq!(
                absolute(Path::new("/base"), raw.as_bytes()),
                folded,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn non_utf8_bytes_survive() {
        let path = absolute(Path::new("/d"), b"caf\xe9");
        assert_eq!(path.as_os_str().as_bytes(), b"/d/caf\xe9", "bytes kept");
    }
}
