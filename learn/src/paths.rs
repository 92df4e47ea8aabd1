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
use std::ffi::OsStr;
use std::hash::{Hash, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A map from paths to `V`: one byte-wise hash per lookup, and `Path`'s equality (two
/// spellings of one path are one key).
#[derive(Debug, Clone)]
pub struct PathMap<V> {
    map: HashMap<Key, V, rustc_hash::FxBuildHasher>,
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
        self.get_key_value(path).map(|(_, v)| v)
    }

    /// The key equal to a path (its normal form) and its value.
    pub fn get_key_value(&self, path: &Path) -> Option<(&PathBuf, &V)> {
        // Keys are in normal form, so a key with the path's very bytes is the path:
        // only a miss needs to know whether the path was in normal form.
        if let Some((key, value)) = self.map.get_key_value(bytes(path)) {
            return Some((&key.0, value));
        }
        match normal_form(path) {
            Cow::Borrowed(_) => None,
            Cow::Owned(normal) => self
                .map
                .get_key_value(bytes(&normal))
                .map(|(key, value)| (&key.0, value)),
        }
    }

    /// The value of a path, to change.
    pub fn get_mut(&mut self, path: &Path) -> Option<&mut V> {
        if self.map.contains_key(bytes(path)) {
            return self.map.get_mut(bytes(path));
        }
        match normal_form(path) {
            Cow::Borrowed(_) => None,
            Cow::Owned(normal) => self.map.get_mut(bytes(&normal)),
        }
    }

    /// Is the path a key?
    pub fn contains_key(&self, path: &Path) -> bool {
        self.get_key_value(path).is_some()
    }

    /// Sets the value of a path, returning the one it had.
    pub fn insert(&mut self, path: PathBuf, value: V) -> Option<V> {
        self.map.insert(Key::new(path), value)
    }

    /// The key equal to a path and its value, inserted with `default` when absent
    /// (looked up once, and the path copied only when it is new). `default` is given
    /// the path in normal form, the key it will have.
    pub fn get_or_insert_with(
        &mut self,
        path: &Path,
        default: impl FnOnce(&Path) -> V,
    ) -> (&PathBuf, &V) {
        if !self.map.contains_key(bytes(path)) {
            let key = match normal_form(path) {
                Cow::Borrowed(path) => path.to_path_buf(),
                Cow::Owned(normal) => normal,
            };
            if !self.map.contains_key(bytes(&key)) {
                let value = default(&key);
                self.map.insert(Key(key), value);
            }
        }
        self.get_key_value(path).expect("present or just inserted")
    }

    /// The value of a path, inserted with `default` when absent. Takes the path by
    /// value: a key that is already there costs no allocation (the path is dropped).
    pub fn entry_or_insert_with(&mut self, path: PathBuf, default: impl FnOnce() -> V) -> &mut V {
        // Looked up by its bytes first (two cheap hashes when present), so that only a
        // new key pays for the normal-form check.
        if self.map.contains_key(bytes(&path)) {
            return self.map.get_mut(bytes(&path)).expect("just found");
        }
        self.map.entry(Key::new(path)).or_insert_with(default)
    }

    /// Calls `f` with each of the path's ancestors that is a key (the path itself
    /// first, then up to the root, as `Path::ancestors` goes) and its value.
    pub fn ancestors<'m>(&'m self, path: &Path, mut f: impl FnMut(&Path, &'m V)) {
        for at in normal_ancestors(&normal_form(path)) {
            if let Some(value) = self.map.get(bytes(at)) {
                f(at, value);
            }
        }
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
    if (b.len() > 1 && b.ends_with(b"/")) || b.ends_with(b"/.") {
        return false;
    }
    // `//` or `/./` anywhere. This runs for every new path, so it looks at eight bytes
    // at a time, in windows that overlap by two: a three-byte pattern always lies
    // wholly inside one of them.
    let mut start = 0;
    while start < b.len() {
        let word = match b.get(start..start + 8) {
            Some(eight) => u64::from_le_bytes(eight.try_into().expect("8 bytes")),
            None => {
                // Padded with zeros, which match neither pattern.
                let mut last = [0u8; 8];
                last[..b.len() - start].copy_from_slice(&b[start..]);
                u64::from_le_bytes(last)
            }
        };
        let slash = bytes_equal(word, b'/');
        let dot = bytes_equal(word, b'.');
        // Little-endian: shifting right by 8 brings byte i + 1 under byte i.
        let double_slash = slash & (slash >> 8);
        let dot_component = slash & (dot >> 8) & (slash >> 16);
        if double_slash | dot_component != 0 {
            return false;
        }
        start += 6;
    }
    true
}

/// The bytes of `word` equal to `byte`, as the top bit of each (exactly: no carry
/// crosses from one byte to the next).
fn bytes_equal(word: u64, byte: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = word ^ (u64::from(byte) * 0x0101_0101_0101_0101);
    // A byte's top bit ends up set when it is non-zero: its low seven bits plus 0x7f
    // carry into the top bit, or the top bit was set already.
    !(((x & LOW7) + LOW7) | x | LOW7)
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

/// `Path::ancestors` of a path in normal form, found by bytes instead of parsing
/// components (the ancestors of a path in normal form are in normal form).
fn normal_ancestors(path: &Path) -> impl Iterator<Item = &Path> {
    std::iter::successors(Some(bytes(path)), |b| normal_parent(b))
        .map(|b| Path::new(OsStr::from_bytes(b)))
}

/// `Path::parent` of a path in normal form.
fn normal_parent(b: &[u8]) -> Option<&[u8]> {
    if b.is_empty() || b == b"/" {
        return None;
    }
    Some(match b.iter().rposition(|&c| c == b'/') {
        None => &b[..0],
        Some(0) => &b[..1],
        Some(slash) => &b[..slash],
    })
}

/// `Path::parent` and `Path::file_name` of a path in normal form, when it has both,
/// found by bytes instead of parsing components.
pub fn split_normal(path: &Path) -> Option<(&Path, &OsStr)> {
    let b = bytes(path);
    let slash = b.iter().rposition(|&c| c == b'/');
    let name = slash.map_or(b, |slash| &b[slash + 1..]);
    if name.is_empty() || name == b"." || name == b".." {
        return None;
    }
    let parent = match slash {
        None => &b[..0],
        Some(0) => &b[..1],
        Some(slash) => &b[..slash],
    };
    Some((
        Path::new(OsStr::from_bytes(parent)),
        OsStr::from_bytes(name),
    ))
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
        // Up to ten characters: past the eight-byte windows `is_normal` reads.
        for s in spellings(10) {
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
    fn bytes_equal_is_exact_for_every_byte() {
        for x in 0..=255u8 {
            for y in 0..=255u8 {
                let word = [x, y, x, y, b'/', y, x, b'.'];
                for byte in [b'/', b'.'] {
                    let want = (0..8)
                        .filter(|&i| word[i] == byte)
                        .fold(0u64, |acc, i| acc | 0x80 << (8 * i));
                    assert_eq!(
                        bytes_equal(u64::from_le_bytes(word), byte),
                        want,
                        "{word:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn ancestors_of_a_normal_path_are_what_path_gives() {
        for s in spellings(7) {
            let path = Path::new(&s);
            if !is_normal(path) {
                continue;
            }
            let ours: Vec<&Path> = normal_ancestors(path).collect();
            let std: Vec<&Path> = path.ancestors().collect();
            let bytes_of = |v: &[&Path]| v.iter().map(|p| bytes(p).to_vec()).collect::<Vec<_>>();
            assert_eq!(bytes_of(&ours), bytes_of(&std), "{s:?}");
        }
        let mut map = PathMap::new();
        map.insert(PathBuf::from("/a"), 1);
        map.insert(PathBuf::from("/a/b/c"), 3);
        map.insert(PathBuf::from("/x"), 9);
        let mut seen = Vec::new();
        map.ancestors(Path::new("/a//b/./c/d/"), |at, v| {
            seen.push((at.to_path_buf(), *v))
        });
        assert_eq!(seen, [("/a/b/c".into(), 3), ("/a".into(), 1)]);
    }

    #[test]
    fn parent_and_name_of_a_normal_path_are_what_path_gives() {
        for s in spellings(7) {
            let path = Path::new(&s);
            if !is_normal(path) {
                continue;
            }
            let std = path.parent().zip(path.file_name());
            let std = std.map(|(p, n)| (bytes(p).to_vec(), n.as_bytes().to_vec()));
            let ours = split_normal(path).map(|(p, n)| (bytes(p).to_vec(), n.as_bytes().to_vec()));
            assert_eq!(ours, std, "{s:?}");
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
