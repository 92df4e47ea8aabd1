//! A cache of the kernel structure offsets the programs need (see `btf.rs`), so that
//! only the first trace after a boot pays for reading the kernel's BTF.
//!
//! The file holds a key — nono's record layout, the kernel's release, version and
//! architecture, the size of its BTF and the boot's id — and the offsets. It is used
//! only when the key matches exactly, and rewritten (atomically) otherwise. A file that
//! cannot be read, written or parsed is ignored: the offsets then come from BTF, as
//! without a cache. The offsets only steer what the programs copy (every kernel read
//! of theirs is fault-checked by `bpf_probe_read_kernel`), so a wrong file can make
//! records wrong, never the kernel unsafe; the file sits in nono's own state directory,
//! which sandboxed commands cannot reach.
//!
//! But the file is the user's, and a nono given `cap_bpf,cap_perfmon` as file
//! capabilities runs with privileges its user lacks: offsets chosen by the user would
//! steer the programs' pointer chains (task → files → fdt → fd → file) to kernel memory
//! of the user's choosing and copy it into records the user reads. So in such a
//! process (`AT_SECURE`: file capabilities, setuid or setgid) the cache is neither read
//! nor written.

use std::io::Write;
use std::path::Path;

use nono_ebpf_common::KernelOffsets;

use super::EbpfError;

const WORDS: usize = std::mem::size_of::<KernelOffsets>() / 4;

/// The key describing this kernel and boot, `None` when part of it cannot be read.
fn key() -> Option<String> {
    let uts = nix::sys::utsname::uname().ok()?;
    let btf = std::fs::metadata("/sys/kernel/btf/vmlinux").ok()?;
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(format!(
        "nono-ebpf-offsets v1 {WORDS} {}\n{}\n{}\n{}\n{}\n{}",
        env!("CARGO_PKG_VERSION"),
        uts.release().to_string_lossy(),
        uts.version().to_string_lossy(),
        uts.machine().to_string_lossy(),
        btf.len(),
        boot.trim()
    ))
}

fn to_words(offsets: &KernelOffsets) -> [u32; WORDS] {
    // SAFETY: KernelOffsets is `#[repr(C)]` and made of `u32`s only, exactly WORDS of
    // them, so it has the size, alignment and validity of `[u32; WORDS]`.
    unsafe { std::mem::transmute_copy(offsets) }
}

fn from_words(words: [u32; WORDS]) -> KernelOffsets {
    // SAFETY: as in `to_words`; every bit pattern is a valid KernelOffsets.
    unsafe { std::mem::transmute_copy(&words) }
}

/// Parses a cache file's text for `key`.
fn parse(text: &str, key: &str) -> Option<KernelOffsets> {
    let rest = text.strip_prefix(key)?.strip_prefix('\n')?;
    let line = rest.strip_suffix('\n')?;
    let mut words = [0u32; WORDS];
    let mut values = line.split(' ');
    for word in &mut words {
        *word = values.next()?.parse().ok()?;
    }
    values.next().is_none().then(|| from_words(words))
}

fn render(offsets: &KernelOffsets, key: &str) -> String {
    let words: Vec<String> = to_words(offsets).iter().map(u32::to_string).collect();
    format!("{key}\n{}\n", words.join(" "))
}

/// The offsets from `cache` when it matches this kernel and boot, otherwise from
/// `read` (and then stored in `cache`).
pub(super) fn cached(
    cache: Option<&Path>,
    read: impl FnOnce() -> Result<KernelOffsets, EbpfError>,
) -> Result<KernelOffsets, EbpfError> {
    let Some((cache, key)) = usable(cache, secure_execution()).and_then(|c| Some((c, key()?)))
    else {
        return read();
    };
    if let Some(offsets) = std::fs::read_to_string(cache)
        .ok()
        .and_then(|text| parse(&text, &key))
    {
        return Ok(offsets);
    }
    let offsets = read()?;
    let _ = store(cache, &render(&offsets, &key));
    Ok(offsets)
}

/// Whether this process runs with privileges its user lacks (see the module doc).
fn secure_execution() -> bool {
    // SAFETY: getauxval only reads the auxiliary vector; 0 means unset or false.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// The cache to use: none in a process that runs with privileges its user lacks.
fn usable(cache: Option<&Path>, secure: bool) -> Option<&Path> {
    cache.filter(|_| !secure)
}

fn store(cache: &Path, text: &str) -> std::io::Result<()> {
    let dir = cache.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let (tmp, mut file) = tempfile_in(dir)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, cache));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A new file beside the cache (mode 0600), removed by `rename` on success.
fn tempfile_in(dir: &Path) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(format!(".ebpf-offsets.{}.tmp", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    Ok((path, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> KernelOffsets {
        KernelOffsets {
            task_pid: 1,
            task_tgid: 2,
            regs_args: [3, 4, 5, 6, 7, 8],
            mm_arg_start: 99,
            ..KernelOffsets::default()
        }
    }

    /// A nono with file capabilities (or setuid) does not take offsets from its user's
    /// file.
    #[test]
    fn a_privileged_process_uses_no_cache() {
        let file = Path::new("/tmp/ebpf-offsets");
        assert_eq!(usable(Some(file), false), Some(file));
        assert_eq!(usable(Some(file), true), None);
        assert_eq!(usable(None, false), None);
        // This test process itself is not one.
        assert!(!secure_execution());
    }

    #[test]
    fn a_rendered_cache_parses_back_for_the_same_key_only() {
        let text = render(&sample(), "k1\nline");
        assert_eq!(parse(&text, "k1\nline"), Some(sample()));
        assert_eq!(parse(&text, "k2\nline"), None);
        assert_eq!(parse(&text, "k1"), None);
    }

    #[test]
    fn truncated_or_padded_files_are_refused() {
        let text = render(&sample(), "k");
        let cut = text.rsplit_once(' ').unwrap().0.to_owned() + "\n";
        assert_eq!(parse(&cut, "k"), None);
        let extra = text.trim_end().to_owned() + " 5\n";
        assert_eq!(parse(&extra, "k"), None);
        assert_eq!(parse(&text.replace(" 3 ", " x "), "k"), None);
        assert_eq!(parse("", "k"), None);
    }

    #[test]
    fn the_cache_is_written_then_used_and_a_stale_key_is_replaced() {
        let Some(key) = key() else {
            eprintln!("skipping: no /sys/kernel/btf/vmlinux or boot id on this machine");
            assert!(
                std::env::var_os("NONO_TEST_STRICT").is_none(),
                "NONO_TEST_STRICT: this machine has no kernel BTF"
            );
            return;
        };
        let dir = std::env::temp_dir().join(format!("nono-offsets-test-{}", std::process::id()));
        let file = dir.join("sub/ebpf-offsets");
        let _ = std::fs::remove_dir_all(&dir);
        let mut reads = 0;
        let got = cached(Some(&file), || {
            reads += 1;
            Ok(sample())
        })
        .unwrap();
        assert_eq!((got, reads), (sample(), 1));
        // Now from the file: the reader is not called.
        let got = cached(Some(&file), || panic!("read BTF despite a valid cache")).unwrap();
        assert_eq!(got, sample());
        // A file for another kernel or boot is not used, and is replaced.
        std::fs::write(&file, render(&KernelOffsets::default(), "another kernel")).unwrap();
        let got = cached(Some(&file), || Ok(sample())).unwrap();
        assert_eq!(got, sample());
        assert_eq!(
            parse(&std::fs::read_to_string(&file).unwrap(), &key),
            Some(sample())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
