//! Maps keyed by paths, for the per-event work of `nono learn`.
//!
//! A trace of a million events looks paths up a few million times. `PathBuf` keys in a
//! `std` hash map are slow there: `Path`'s `Hash` walks the components (so that
//! `/a//b/` and `/a/b` hash alike) and feeds each one to SipHash. A [`PathMap`] keeps
//! its keys in normal form (as `Path::components` gives them back), so it can hash
//! and compare them as plain bytes with a cheap hash, and still treats two spellings
//! of one path as one key, as `Path`'s equality does. Paths from the canonicalizer are
//! already in normal form; checking that costs one pass over the bytes.
//!
//! The hash is not keyed: the paths come from the traced command, which could choose
//! them to collide. The cost of that is a slower learn of that command, nothing more.

use std::borrow::{Borrow, Cow};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A map from paths to `V`: one byte-wise hash per lookup, and `Path`'s equality (two
/// spellings of one path are one key).
#[derive(Debug, Clone)]
pub struct PathMap<V> {
    map: HashMap<Key, V, BuildHasherDefault<FxHasher>>,
}

impl<V> Default for PathMap<V> {
    fn default() -> Self {
        PathMap {
            map: HashMap::default(),
        }
    }
}

impl<V> PathMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of a path.
    pub fn get(&self, path: &Path) -> Option<&V> {
        self.map.get(bytes(&normal_form(path)))
    }

    /// The value of a path, to change.
    pub fn get_mut(&mut self, path: &Path) -> Option<&mut V> {
        self.map.get_mut(bytes(&normal_form(path)))
    }

    /// Is the path a key?
    pub fn contains_key(&self, path: &Path) -> bool {
        self.map.contains_key(bytes(&normal_form(path)))
    }

    /// Sets the value of a path, returning the one it had.
    pub fn insert(&mut self, path: PathBuf, value: V) -> Option<V> {
        self.map.insert(Key::new(path), value)
    }

    /// The value of a path, inserted with `default` when absent. Takes the path by
    /// value: a key that is already there costs no allocation (the path is dropped).
    pub fn entry_or_insert_with(&mut self, path: PathBuf, default: impl FnOnce() -> V) -> &mut V {
        self.map.entry(Key::new(path)).or_insert_with(default)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// No keys?
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every key and value, in no particular order. Keys are in normal form.
    pub fn iter(&self) -> impl Iterator<Item = (&PathBuf, &V)> {
        self.map.iter().map(|(k, v)| (&k.0, v))
    }
}

/// A path in normal form, hashed and compared as bytes (which for paths in normal
/// form is the same as comparing components).
#[derive(Debug, Clone)]
struct Key(PathBuf);

impl Key {
    fn new(path: PathBuf) -> Key {
        match normal_form(&path) {
            Cow::Borrowed(_) => Key(path),
            Cow::Owned(normal) => Key(normal),
        }
    }
}

fn bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        bytes(&self.0) == bytes(&other.0)
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The same as hashing the `[u8]` it borrows as, which `Borrow` requires.
        bytes(&self.0).hash(state);
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        bytes(&self.0)
    }
}

/// Is the path spelled as its components put back together would spell it: no empty
/// component (`//`, a trailing `/`) and no `.` component after the first?
pub fn is_normal(path: &Path) -> bool {
    let b = bytes(path);
    let mut from = 0;
    while let Some(at) = b[from..].iter().position(|&c| c == b'/') {
        let slash = from + at;
        let next = &b[slash + 1..];
        let trailing = next.is_empty() && slash > 0;
        if trailing || next.starts_with(b"/") || next.starts_with(b"./") || next == b"." {
            return false;
        }
        from = slash + 1;
    }
    true
}

/// The path in normal form: itself when it already is, otherwise its components put
/// back together.
pub fn normal_form(path: &Path) -> Cow<'_, Path> {
    if is_normal(path) {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(path.components().collect())
    }
}

/// The multiply-rotate hash used by rustc (FxHash), over 8-byte words.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string of up to `len` characters from `/`, `.` and `a`.
    fn spellings(len: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..len {
            last = last
                .iter()
                .flat_map(|s| ["/", ".", "a"].map(|c| format!("{s}{c}")))
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    #[test]
    fn normal_form_is_what_components_give_back() {
        for s in spellings(7) {
            let path = Path::new(&s);
            let collected: PathBuf = path.components().collect();
            assert_eq!(
                is_normal(path),
                collected.as_os_str() == path.as_os_str(),
                "{s:?}"
            );
            assert_eq!(
                normal_form(path).as_os_str(),
                collected.as_os_str(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn keys_are_equal_exactly_when_paths_are() {
        let all = spellings(5);
        let mut map = PathMap::new();
        for s in &all {
            map.entry_or_insert_with(PathBuf::from(s), Vec::new)
                .push(s.clone());
        }
        for s in &all {
            let same = map.get(Path::new(s)).expect("inserted");
            for t in &all {
                assert_eq!(
                    same.contains(t),
                    Path::new(s) == Path::new(t),
                    "{s:?} vs {t:?}"
                );
            }
        }
    }
}
