//! The object store: files named by the BLAKE3 hash of their content.
//!
//! Layout: `<dir>/<first two hex digits>/<other 62>`, objects 0600, directories 0700,
//! temporary files in `<dir>/tmp/` (same filesystem, so the rename is atomic).

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::hash::Hash;

/// An object store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file operation failed.
    #[error("object store {}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
    /// An object's content does not hash to its name.
    #[error("object {hash} is corrupt (its content hashes to {actual})")]
    Corrupt {
        /// The object's name.
        hash: Hash,
        /// What its content hashes to.
        actual: Hash,
    },
    /// An object is missing.
    #[error("object {hash} is missing from the store")]
    Missing {
        /// The object's name.
        hash: Hash,
    },
}

pub(crate) fn io_err(path: &Path) -> impl Fn(io::Error) -> StoreError + '_ {
    move |error| StoreError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// A content-addressed object store shared by all sessions.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    tmp: PathBuf,
    counter: AtomicU64,
}

const BUF: usize = 1 << 16;

fn mkdir_private(path: &Path) -> Result<(), StoreError> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
    {
        Ok(()) => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

impl Store {
    /// Opens (creating, 0700) the store at `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let tmp = dir.join("tmp");
        mkdir_private(&tmp)?;
        Ok(Store {
            dir: dir.to_path_buf(),
            tmp,
            counter: AtomicU64::new(0),
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the object `hash` lives.
    pub fn object_path(&self, hash: &Hash) -> PathBuf {
        let hex = hash.to_hex();
        self.dir.join(&hex[..2]).join(&hex[2..])
    }

    /// Whether the object exists (its content is not checked).
    pub fn contains(&self, hash: &Hash) -> bool {
        self.object_path(hash).is_file()
    }

    fn temp_path(&self) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.tmp.join(format!("{}.{n}", std::process::id()))
    }

    /// Copies `reader` into the store; returns its hash and length.
    pub fn put_reader(&self, reader: &mut impl Read) -> Result<(Hash, u64), StoreError> {
        let tmp = self.temp_path();
        let result = self.put_via(&tmp, reader);
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn put_via(&self, tmp: &Path, reader: &mut impl Read) -> Result<(Hash, u64), StoreError> {
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(tmp)
            .map_err(io_err(tmp))?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; BUF];
        let mut len = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(tmp)(e)),
            };
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io_err(tmp))?;
            len += n as u64;
        }
        drop(out);
        let hash = Hash::from(hasher.finalize());
        let dest = self.object_path(&hash);
        if dest.is_file() {
            // Deduplicated: another session (or file) already stored this content.
            fs::remove_file(tmp).map_err(io_err(tmp))?;
        } else {
            let parent = dest.parent().expect("objects have a parent");
            mkdir_private(parent)?;
            fs::rename(tmp, &dest).map_err(io_err(&dest))?;
        }
        Ok((hash, len))
    }

    /// Copies the regular file at `path` (never following a symlink) into the store.
    pub fn put_file(&self, path: &Path) -> Result<(Hash, u64), StoreError> {
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(io_err(path))?;
        self.put_reader(&mut file)
    }

    /// Stores bytes.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Hash, StoreError> {
        Ok(self.put_reader(&mut &bytes[..])?.0)
    }

    fn open_object(&self, hash: &Hash) -> Result<File, StoreError> {
        let path = self.object_path(hash);
        File::open(&path).map_err(|error| {
            if error.kind() == io::ErrorKind::NotFound {
                StoreError::Missing { hash: *hash }
            } else {
                io_err(&path)(error)
            }
        })
    }

    /// Copies the object into `out`, hashing as it goes; fails (after writing) when the
    /// content does not match its name, so the caller must discard `out` on error.
    pub fn copy_verified(&self, hash: &Hash, out: &mut impl Write) -> Result<u64, StoreError> {
        let path = self.object_path(hash);
        let mut file = self.open_object(hash)?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; BUF];
        let mut len = 0u64;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(&path)(e)),
            };
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io_err(&path))?;
            len += n as u64;
        }
        let actual = Hash::from(hasher.finalize());
        if actual != *hash {
            return Err(StoreError::Corrupt {
                hash: *hash,
                actual,
            });
        }
        Ok(len)
    }

    /// Reads a whole object, verified.
    pub fn read(&self, hash: &Hash) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::new();
        self.copy_verified(hash, &mut out)?;
        Ok(out)
    }

    /// Recomputes an object's hash.
    pub fn verify(&self, hash: &Hash) -> Result<(), StoreError> {
        self.copy_verified(hash, &mut io::sink()).map(|_| ())
    }

    /// Deletes every object not in `live` (and stale temporary files); returns the number of
    /// objects and bytes freed.
    pub fn retain(&self, live: &HashSet<Hash>) -> Result<(u64, u64), StoreError> {
        let mut freed = (0u64, 0u64);
        let entries = fs::read_dir(&self.dir).map_err(io_err(&self.dir))?;
        for fan in entries {
            let fan = fan.map_err(io_err(&self.dir))?;
            let name = fan.file_name();
            let Some(prefix) = name.to_str().filter(|n| n.len() == 2) else {
                continue;
            };
            let fan_path = fan.path();
            for obj in fs::read_dir(&fan_path).map_err(io_err(&fan_path))? {
                let obj = obj.map_err(io_err(&fan_path))?;
                let Some(rest) = obj.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let Some(hash) = Hash::from_hex(&format!("{prefix}{rest}")) else {
                    continue;
                };
                if !live.contains(&hash) {
                    let path = obj.path();
                    let size = obj.metadata().map(|m| m.len()).unwrap_or(0);
                    fs::remove_file(&path).map_err(io_err(&path))?;
                    freed.0 += 1;
                    freed.1 += size;
                }
            }
        }
        Ok(freed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn objects_are_private_deduplicated_and_verified() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("objects")).unwrap();
        let a = store.put_bytes(b"hello").unwrap();
        let b = store.put_bytes(b"hello").unwrap();
        assert_eq!(a, b);
        let path = store.object_path(&a);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let parent = path.parent().unwrap();
        assert_eq!(
            fs::metadata(parent).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(store.read(&a).unwrap(), b"hello");
        // One flipped byte is caught on read.
        fs::write(&path, b"hellp").unwrap();
        assert!(matches!(store.read(&a), Err(StoreError::Corrupt { .. })));
        assert!(store.verify(&a).is_err());
    }

    #[test]
    fn retain_frees_unreferenced_objects() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let keep = store.put_bytes(b"keep").unwrap();
        let drop = store.put_bytes(b"drop").unwrap();
        let live: HashSet<Hash> = [keep].into_iter().collect();
        assert_eq!(store.retain(&live).unwrap().0, 1);
        assert!(store.contains(&keep));
        assert!(!store.contains(&drop));
    }
}
