//! Writing the profile and the report: checked before the trace, written atomically.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, anyhow};

use crate::{Failure, usage};

/// Checks, before anything runs, that `path` (given with `flag`) can be written: its
/// directory exists and is a directory, and the path is not a directory itself nor an
/// existing file when `overwrite` is false.
pub(super) fn check_output(path: &Path, overwrite: bool, flag: &str) -> Result<(), Failure> {
    use std::os::unix::fs::FileTypeExt;
    if path.as_os_str().is_empty() {
        return Err(usage(anyhow!("{flag}: the path is empty")));
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(usage(anyhow!(
                "{flag} {} is a directory; name a file in it",
                path.display()
            )));
        }
        Ok(meta) => {
            let kind = meta.file_type();
            let special = kind.is_char_device() || kind.is_fifo() || kind.is_socket();
            if !special && !overwrite {
                return Err(usage(anyhow!(
                    "{} exists; pass --force to overwrite it",
                    path.display()
                )));
            }
            return Ok(());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(usage(anyhow!("{flag} {}: {e}", path.display())));
        }
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            if nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_err() {
                return Err(usage(anyhow!(
                    "{flag} {}: cannot write in {}",
                    path.display(),
                    dir.display()
                )));
            }
            Ok(())
        }
        Ok(_) => Err(usage(anyhow!(
            "{flag} {}: {} is not a directory",
            path.display(),
            dir.display()
        ))),
        Err(_) => Err(usage(anyhow!(
            "{flag} {}: the directory {} does not exist; create it first",
            path.display(),
            dir.display()
        ))),
    }
}

/// Writes a file through a temporary file and a rename, so a crash never leaves half
/// a profile; refuses to replace an existing file unless `overwrite`.
///
/// Only a regular file is ever replaced: a device or a FIFO (`/dev/null`,
/// `/dev/stdout`, a pipe) is written to in place, a symlink keeps pointing where it
/// did (its target is replaced), and anything else is refused.
pub(super) fn write_atomically(path: &Path, data: &[u8], overwrite: bool) -> Result<(), Failure> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let existing = std::fs::metadata(path).ok();
    if let Some(meta) = &existing {
        let kind = meta.file_type();
        if kind.is_char_device() || kind.is_fifo() || kind.is_socket() || kind.is_block_device() {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            file.write_all(data)
                .with_context(|| format!("cannot write {}", path.display()))?;
            return Ok(());
        }
        if !kind.is_file() {
            return Err(usage(anyhow!("{} is not a regular file", path.display())));
        }
        if !overwrite {
            return Err(usage(anyhow!(
                "{} exists; pass --force to overwrite it",
                path.display()
            )));
        }
    }
    // Replace the file a symlink points to, not the symlink.
    let target = match existing {
        Some(_) => std::fs::canonicalize(path)
            .with_context(|| format!("cannot resolve {}", path.display()))?,
        None => path.to_path_buf(),
    };
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .ok_or_else(|| usage(anyhow!("{}: not a file name", path.display())))?;
    let tmp = dir.join(format!(".{}.nono-tmp", name.to_string_lossy()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    let result = file.write_all(data).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = result.and_then(|()| std::fs::rename(&tmp, &target)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow!("cannot write {}: {e}", path.display()).into());
    }
    Ok(())
}
