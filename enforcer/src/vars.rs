//! Path variables in profiles: `~`, `$HOME`, `$WORKDIR`, `$TMPDIR`, `$UID`, `$XDG_*`.
//!
//! Expansion is purely textual and happens before any filesystem access. A variable
//! must stand for a whole path component prefix (`$HOME/x`, not `$HOMEx`); an unknown
//! `$NAME` is an error rather than being passed through, so a typo never turns into a
//! rule on a literal directory called `$HOEM`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The values path variables expand to.
///
/// Built from the environment with [`PathVars::from_env`], or field by field in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathVars {
    /// `$HOME` and `~`.
    pub home: PathBuf,
    /// `$WORKDIR`: the directory the sandboxed command starts in.
    pub workdir: PathBuf,
    /// `$TMPDIR` (default `/tmp`).
    pub tmpdir: PathBuf,
    /// `$UID`: the real user id.
    pub uid: u32,
    /// `$XDG_CONFIG_HOME` (default `$HOME/.config`).
    pub xdg_config_home: PathBuf,
    /// `$XDG_CACHE_HOME` (default `$HOME/.cache`).
    pub xdg_cache_home: PathBuf,
    /// `$XDG_DATA_HOME` (default `$HOME/.local/share`).
    pub xdg_data_home: PathBuf,
    /// `$XDG_STATE_HOME` (default `$HOME/.local/state`).
    pub xdg_state_home: PathBuf,
    /// `$XDG_RUNTIME_DIR` (default `/run/user/$UID`).
    pub xdg_runtime_dir: PathBuf,
}

/// Why a path could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// `$NAME` is not one of the supported variables.
    #[error("unknown variable `${name}` in path `{path}` (known: {known})")]
    UnknownVariable {
        /// The variable name without `$`.
        name: String,
        /// The path as written.
        path: String,
        /// The supported names, for the message.
        known: &'static str,
    },
    /// `~user` forms are not supported.
    #[error("`~user` is not supported in path `{path}`; write the full path or `~/…`")]
    TildeUser {
        /// The path as written.
        path: String,
    },
    /// After expansion the path is still relative.
    #[error(
        "path `{path}` is relative; profile paths must be absolute or start with `~` or a variable"
    )]
    Relative {
        /// The path as written.
        path: String,
    },
    /// The path is empty.
    #[error("empty path")]
    Empty,
}

const KNOWN: &str = "HOME, WORKDIR, TMPDIR, UID, XDG_CONFIG_HOME, XDG_CACHE_HOME, XDG_DATA_HOME, XDG_STATE_HOME, XDG_RUNTIME_DIR";

impl PathVars {
    /// Reads the variables from the process environment. `workdir` is usually the
    /// current directory.
    ///
    /// Empty or relative XDG variables are ignored as the XDG spec requires.
    pub fn from_env(workdir: PathBuf) -> Self {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        let uid = nix::unistd::getuid().as_raw();
        let xdg = |var: &str, default: PathBuf| -> PathBuf {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .unwrap_or(default)
        };
        Self {
            xdg_config_home: xdg("XDG_CONFIG_HOME", home.join(".config")),
            xdg_cache_home: xdg("XDG_CACHE_HOME", home.join(".cache")),
            xdg_data_home: xdg("XDG_DATA_HOME", home.join(".local/share")),
            xdg_state_home: xdg("XDG_STATE_HOME", home.join(".local/state")),
            xdg_runtime_dir: xdg("XDG_RUNTIME_DIR", PathBuf::from(format!("/run/user/{uid}"))),
            tmpdir: xdg("TMPDIR", PathBuf::from("/tmp")),
            home,
            workdir,
            uid,
        }
    }

    /// Expands one path as written in a profile or on the command line.
    ///
    /// `relative_base` says what a relative path means: `None` makes it an error
    /// (profiles), `Some(dir)` joins it to `dir` (command-line flags, relative to the
    /// current directory).
    pub fn expand(&self, raw: &str, relative_base: Option<&Path>) -> Result<PathBuf, ExpandError> {
        if raw.is_empty() {
            return Err(ExpandError::Empty);
        }
        let expanded = if raw == "~" {
            self.home.clone()
        } else if let Some(rest) = raw.strip_prefix("~/") {
            join(&self.home, self.substitute(rest, raw)?)
        } else if raw.starts_with('~') {
            return Err(ExpandError::TildeUser {
                path: raw.to_string(),
            });
        } else {
            PathBuf::from(self.substitute(raw, raw)?)
        };
        if expanded.is_absolute() {
            Ok(normalize_owned(expanded))
        } else if let Some(base) = relative_base {
            Ok(normalize_owned(base.join(expanded)))
        } else {
            Err(ExpandError::Relative {
                path: raw.to_string(),
            })
        }
    }

    /// Expands `~/` at the start and every `$NAME` in a value that is not necessarily a
    /// path (an environment variable's value): no normalization, no absolute check.
    pub fn expand_text(&self, raw: &str) -> Result<String, ExpandError> {
        let expanded = match raw.strip_prefix("~/") {
            Some(rest) => {
                let mut out = self.home.clone().into_os_string();
                out.push("/");
                out.push(self.substitute(rest, raw)?);
                out
            }
            None if raw == "~" => self.home.clone().into_os_string(),
            None => self.substitute(raw, raw)?,
        };
        Ok(expanded.to_string_lossy().into_owned())
    }

    /// Replaces every `$NAME` / `${NAME}` in `text`; `$$` is a literal `$`.
    ///
    /// Works on `OsString` so a non-UTF-8 `$HOME` is carried through byte for byte.
    fn substitute(&self, text: &str, raw: &str) -> Result<OsString, ExpandError> {
        let mut out = OsString::with_capacity(text.len());
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            out.push(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push("$");
                rest = tail;
                continue;
            }
            let (name, tail) = split_var(after);
            let value = self
                .lookup(name)
                .ok_or_else(|| ExpandError::UnknownVariable {
                    name: name.to_string(),
                    path: raw.to_string(),
                    known: KNOWN,
                })?;
            out.push(&*value);
            rest = tail;
        }
        out.push(rest);
        Ok(out)
    }

    fn lookup(&self, name: &str) -> Option<std::borrow::Cow<'_, std::ffi::OsStr>> {
        use std::borrow::Cow;
        let path = match name {
            "HOME" => &self.home,
            "WORKDIR" => &self.workdir,
            "TMPDIR" => &self.tmpdir,
            "UID" => return Some(Cow::Owned(OsString::from(self.uid.to_string()))),
            "XDG_CONFIG_HOME" => &self.xdg_config_home,
            "XDG_CACHE_HOME" => &self.xdg_cache_home,
            "XDG_DATA_HOME" => &self.xdg_data_home,
            "XDG_STATE_HOME" => &self.xdg_state_home,
            "XDG_RUNTIME_DIR" => &self.xdg_runtime_dir,
            _ => return None,
        };
        Some(Cow::Borrowed(path.as_os_str()))
    }
}

/// `base.join(rest)`, built in one buffer (`Path::join` grows its copy of `base`).
fn join(base: &Path, rest: OsString) -> PathBuf {
    let mut out = PathBuf::with_capacity(base.as_os_str().len() + 1 + rest.len());
    out.push(base);
    out.push(rest);
    out
}

/// Splits `NAME/rest` or `{NAME}/rest` into the name and the rest.
fn split_var(after_dollar: &str) -> (&str, &str) {
    if let Some(braced) = after_dollar.strip_prefix('{')
        && let Some(end) = braced.find('}')
    {
        return (&braced[..end], &braced[end + 1..]);
    }
    let end = after_dollar
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(after_dollar.len());
    (&after_dollar[..end], &after_dollar[end..])
}

/// Removes `.` components and folds `..` lexically, without touching the
/// filesystem (symlinks are resolved later, when rules are planned).
pub fn normalize(path: &Path) -> PathBuf {
    if is_normal(path) {
        return path.to_path_buf();
    }
    normalize_components(path)
}

/// [`normalize`], keeping `path`'s buffer when it is already in normal form.
fn normalize_owned(path: PathBuf) -> PathBuf {
    if is_normal(&path) {
        return path;
    }
    normalize_components(&path)
}

/// Is `path` absolute and already what [`normalize`] makes of it: no empty, `.` or
/// `..` component and no trailing `/` (most paths in profiles are)?
fn is_normal(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    if bytes == b"/" {
        return true;
    }
    match bytes.strip_prefix(b"/") {
        Some(rest) => rest
            .split(|b| *b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b".."),
        None => false,
    }
}

fn normalize_components(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if out.parent().is_some() {
                    out.pop();
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
impl PathVars {
    /// Fixed values for tests: `$HOME` is `/home/u`, `$WORKDIR` `/work/p`, uid 1000.
    pub(crate) fn fixture() -> PathVars {
        PathVars {
            home: "/home/u".into(),
            workdir: "/work/p".into(),
            tmpdir: "/tmp".into(),
            uid: 1000,
            xdg_config_home: "/home/u/.config".into(),
            xdg_cache_home: "/home/u/.cache".into(),
            xdg_data_home: "/home/u/.local/share".into(),
            xdg_state_home: "/home/u/.local/state".into(),
            xdg_runtime_dir: "/run/user/1000".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> PathVars {
        PathVars::fixture()
    }

    #[test]
    fn expands_every_variable() {
        let v = vars();
        let cases = [
            ("~", "/home/u"),
            ("~/.ssh", "/home/u/.ssh"),
            ("$HOME/.aws", "/home/u/.aws"),
            ("${HOME}/x", "/home/u/x"),
            ("$WORKDIR", "/work/p"),
            ("$TMPDIR/a", "/tmp/a"),
            ("/run/user/$UID", "/run/user/1000"),
            ("/a/$$b", "/a/$b"),
            ("$XDG_CONFIG_HOME/nono", "/home/u/.config/nono"),
            ("$XDG_CACHE_HOME", "/home/u/.cache"),
            ("$XDG_DATA_HOME/x", "/home/u/.local/share/x"),
            ("$XDG_STATE_HOME/nono", "/home/u/.local/state/nono"),
            ("$XDG_RUNTIME_DIR", "/run/user/1000"),
            ("/a/./b/../c", "/a/c"),
        ];
        for (raw, want) in cases {
            assert_eq!(
                v.expand(raw, None).unwrap(),
                PathBuf::from(want),
                "expanding {raw}"
            );
        }
    }

    #[test]
    fn rejects_unknown_variables_and_relative_paths() {
        let v = vars();
        assert!(matches!(
            v.expand("$HOEM/x", None),
            Err(ExpandError::UnknownVariable { .. })
        ));
        assert!(matches!(
            v.expand("~root/x", None),
            Err(ExpandError::TildeUser { .. })
        ));
        assert!(matches!(
            v.expand("rel/x", None),
            Err(ExpandError::Relative { .. })
        ));
        assert!(matches!(v.expand("", None), Err(ExpandError::Empty)));
        assert_eq!(
            v.expand("rel/x", Some(Path::new("/cwd"))).unwrap(),
            PathBuf::from("/cwd/rel/x")
        );
    }

    #[test]
    fn text_expansion_keeps_the_value_as_written() {
        let v = vars();
        assert_eq!(
            v.expand_text("http://localhost:$UID/x//y").unwrap(),
            "http://localhost:1000/x//y"
        );
        assert_eq!(v.expand_text("~/a/../b").unwrap(), "/home/u/a/../b");
        assert_eq!(v.expand_text("cost $$5").unwrap(), "cost $5");
        assert!(v.expand_text("cost $5").is_err());
    }

    #[test]
    fn dotdot_cannot_climb_above_root() {
        assert_eq!(normalize(Path::new("/../../etc")), PathBuf::from("/etc"));
    }

    proptest::proptest! {
        /// The fast path (a path already in normal form is copied) gives what folding
        /// the components gives, for every mix of empty, `.`, `..` and plain parts.
        #[test]
        fn the_fast_path_normalizes_like_the_components(
            parts in proptest::collection::vec(
                proptest::sample::select(vec!["", ".", "..", "a", "bc", ".d", "e."]),
                0..6,
            ),
            absolute: bool,
            trailing: bool,
        ) {
            let mut text = if absolute { "/".to_string() } else { String::new() };
            text.push_str(&parts.join("/"));
            if trailing {
                text.push('/');
            }
            let path = Path::new(&text);
            proptest::prop_assert_eq!(normalize(path), normalize_components(path));
            proptest::prop_assert_eq!(normalize_owned(path.to_path_buf()), normalize_components(path));
        }
    }

    /// The one-buffer join gives what `Path::join` gives.
    #[test]
    fn join_is_path_join() {
        for (base, rest) in [
            ("/home/u", "x"),
            ("/home/u/", "x/y"),
            ("/", "x"),
            ("/home/u", ""),
            ("/home/u", "/abs"),
            ("", "x"),
            ("/home/u", "./a/../b"),
        ] {
            assert_eq!(
                join(Path::new(base), OsString::from(rest)),
                Path::new(base).join(rest),
                "{base} + {rest}"
            );
        }
    }
}
