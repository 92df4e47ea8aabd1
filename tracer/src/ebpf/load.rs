//! Puts the programs into the kernel: aya-obj parses and relocates the object, aya's
//! map handles create and use the maps, and three `bpf(2)` commands of our own load,
//! attach and freeze.
//!
//! Why not `aya::EbpfLoader`: aya 0.14's loader parses the kernel's whole BTF when it is
//! created (about 35 ms here, and as much again of CPU) even when told not to use it,
//! which was half of nono's fixed cost of tracing; these programs need no BTF from the
//! loader (their offsets come as a global, see `btf.rs`), and only raw tracepoints.

use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use aya::maps::{Map, MapData};
use aya_obj::generated::{bpf_cmd, bpf_insn, bpf_prog_info, bpf_prog_type};
use aya_obj::{EbpfSectionKind, Object};

use crate::sys::probe as sys;

/// The object's maps, created, by name.
pub(super) struct Loaded {
    /// The attachments, first so that they go first (detaching) when dropped.
    links: Vec<OwnedFd>,
    programs: HashMap<String, OwnedFd>,
    maps: HashMap<String, Map>,
}

impl Loaded {
    /// Takes a map out (for an owner such as the ring buffer reader).
    pub fn take_map(&mut self, name: &str) -> io::Result<Map> {
        self.maps
            .remove(name)
            .ok_or_else(|| io::Error::other(format!("the object has no map {name}")))
    }

    /// A map, borrowed.
    pub fn map_mut(&mut self, name: &str) -> io::Result<&mut Map> {
        self.maps
            .get_mut(name)
            .ok_or_else(|| io::Error::other(format!("the object has no map {name}")))
    }

    /// Attaches programs (program, tracepoint), in this order.
    pub fn attach(&mut self, attach: &[(&str, &str)]) -> Result<(), LoadError> {
        for &(name, tracepoint) in attach {
            let program = self.programs.get(name).ok_or_else(|| {
                LoadError::new(
                    format!("attaching {name}"),
                    io::Error::other("no such program was loaded"),
                )
            })?;
            let link = attach_raw(program, tracepoint)
                .map_err(|e| LoadError::new(format!("attaching to {tracepoint}"), e))?;
            self.links.push(link);
        }
        Ok(())
    }

    /// Runs the kernel skipped because the program was already running on that CPU
    /// (`recursion_misses`: a system call tracepoint that can be preempted, with
    /// another task on the same CPU) — records lost as surely as a full ring's. An
    /// upper bound: the kernel counts the skipped runs of every task, including those
    /// the program would have let go at once as not traced.
    pub fn recursion_misses(&self) -> u64 {
        self.programs
            .values()
            .filter_map(|fd| prog_info(fd).ok())
            .map(|info| info.recursion_misses)
            .sum()
    }

    /// The loaded programs' descriptors.
    #[cfg(test)]
    pub fn program_fds(&self) -> impl Iterator<Item = &OwnedFd> {
        self.programs.values()
    }

    /// A map, borrowed.
    pub fn map(&self, name: &str) -> Option<&Map> {
        self.maps.get(name)
    }
}

/// What went wrong, and whether the kernel said `EPERM` (missing privileges).
#[derive(Debug)]
pub struct LoadError {
    /// What was being loaded or attached.
    pub what: String,
    /// What the kernel said.
    pub error: io::Error,
    /// The verifier's explanation, for a refused program.
    pub log: Option<String>,
}

impl LoadError {
    fn new(what: impl Into<String>, error: io::Error) -> LoadError {
        LoadError {
            what: what.into(),
            error,
            log: None,
        }
    }

    /// Did the kernel refuse for lack of privileges (`EPERM`)?
    pub fn permission_denied(&self) -> bool {
        self.error.raw_os_error() == Some(libc::EPERM)
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.what, self.error)?;
        if let Some(log) = &self.log {
            // The end of a verifier log says what was refused.
            let tail: String = {
                let lines: Vec<&str> = log.lines().collect();
                lines[lines.len().saturating_sub(20)..].join("\n")
            };
            write!(f, "\nverifier log (end):\n{tail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Parses `object`, sets each global of `globals` (name, bytes), creates the maps (the
/// sizes of `max_entries` overridden) and loads the programs named in `programs` as raw
/// tracepoint programs (not attached yet).
pub(super) fn load(
    object: &[u8],
    globals: &[(&str, &[u8])],
    max_entries: &[(&str, u32)],
    programs: &[&str],
) -> Result<Loaded, LoadError> {
    let parse = |e: &dyn std::fmt::Display| {
        LoadError::new(
            "reading the eBPF object",
            io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
        )
    };
    let mut obj = Object::parse(object).map_err(|e| parse(&e))?;
    obj.patch_map_data(globals.iter().map(|&(n, d)| (n, (d, true))).collect())
        .map_err(|e| parse(&e))?;

    let mut maps: HashMap<String, MapData> = HashMap::new();
    let mut defs: HashMap<String, aya_obj::Map> = HashMap::new();
    for (name, mut def) in std::mem::take(&mut obj.maps) {
        if let Some(&(_, n)) = max_entries.iter().find(|(m, _)| *m == name) {
            def.set_max_entries(n);
        }
        let data = MapData::create(def.clone(), &name, None)
            .map_err(|e| LoadError::new(format!("creating map {name}"), map_io_error(e)))?;
        let fd = data.fd().as_fd();
        if !def.data().is_empty() {
            update_elem(fd.as_raw_fd(), 0, def.data())
                .map_err(|e| LoadError::new(format!("initialising map {name}"), e))?;
        }
        if def.section_kind() == EbpfSectionKind::Rodata {
            freeze(fd.as_raw_fd()).map_err(|e| LoadError::new(format!("freezing {name}"), e))?;
        }
        defs.insert(name.clone(), def);
        maps.insert(name, data);
    }

    let text_sections: HashSet<usize> = obj.functions.keys().map(|(section, _)| *section).collect();
    obj.relocate_maps(
        maps.iter().map(|(name, data)| {
            (
                name.as_str(),
                data.fd().as_fd().as_raw_fd(),
                &defs[name.as_str()],
            )
        }),
        &text_sections,
    )
    .map_err(|e| parse(&e))?;
    obj.relocate_calls(&text_sections).map_err(|e| parse(&e))?;

    let license = obj.license.clone();
    let mut code = Vec::with_capacity(programs.len());
    for &name in programs {
        let program = obj.programs.get(name).ok_or_else(|| {
            LoadError::new(
                format!("loading {name}"),
                io::Error::other("the object has no such program"),
            )
        })?;
        code.push((name, &obj.functions[&program.function_key()].instructions));
    }
    // The kernel verifies a program on the loading thread, so the largest is verified
    // on a thread of its own while the others are (on this machine `sys_exit` takes
    // ~5.5 ms, the other five ~2.3 ms together).
    code.sort_by_key(|(_, insns)| std::cmp::Reverse(insns.len()));
    let load_all = |code: &[(&str, &Vec<bpf_insn>)]| {
        code.iter()
            .map(|&(name, insns)| Ok((name.to_owned(), load_program(name, insns, &license)?)))
            .collect::<Result<Vec<_>, LoadError>>()
    };
    let (largest, rest) = code.split_at(code.len().min(1));
    let (largest, rest) = std::thread::scope(|scope| {
        let other = (!rest.is_empty()).then(|| scope.spawn(|| load_all(rest)));
        let largest = load_all(largest);
        let rest = other.map_or(Ok(Vec::new()), |thread| {
            thread.join().unwrap_or_else(|_| {
                Err(LoadError::new(
                    "loading the programs",
                    io::Error::other("the loading thread panicked"),
                ))
            })
        });
        (largest, rest)
    });
    let programs: HashMap<String, OwnedFd> = largest?.into_iter().chain(rest?).collect();
    let maps = maps
        .into_iter()
        .map(|(name, data)| {
            Map::from_map_data(data)
                .map(|map| (name.clone(), map))
                .map_err(|e| LoadError::new(format!("map {name}"), map_io_error(e)))
        })
        .collect::<Result<_, _>>()?;
    Ok(Loaded {
        links: Vec::new(),
        programs,
        maps,
    })
}

fn map_io_error(e: aya::maps::MapError) -> io::Error {
    match e {
        aya::maps::MapError::CreateError { io_error, .. } => io_error,
        aya::maps::MapError::SyscallError(aya::sys::SyscallError { io_error, .. }) => io_error,
        other => io::Error::other(other.to_string()),
    }
}

/// `bpf(cmd, attr)` for the attributes defined here.
fn bpf<T>(cmd: bpf_cmd, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: every `T` passed in this module is a `#[repr(C)]` prefix of `union
    // bpf_attr` for its command, pointing to data that lives through the call.
    unsafe { sys::bpf(cmd as libc::c_int, attr) }
}

fn owned(fd: libc::c_long) -> OwnedFd {
    // SAFETY: `fd` was just returned by the kernel as a new descriptor, owned by no one
    // else.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

#[repr(C)]
struct ElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

fn update_elem(map_fd: i32, key: u32, value: &[u8]) -> io::Result<()> {
    let mut attr = ElemAttr {
        map_fd: map_fd as u32,
        _pad: 0,
        key: (&raw const key) as u64,
        value: value.as_ptr() as u64,
        flags: 0,
    };
    bpf(bpf_cmd::BPF_MAP_UPDATE_ELEM, &mut attr).map(drop)
}

fn freeze(map_fd: i32) -> io::Result<()> {
    let mut attr = [map_fd as u32, 0];
    bpf(bpf_cmd::BPF_MAP_FREEZE, &mut attr).map(drop)
}

/// Loads one raw tracepoint program; on a refusal, loads it again with the verifier's
/// log on, for the error.
fn load_program(name: &str, insns: &[bpf_insn], license: &CStr) -> Result<OwnedFd, LoadError> {
    let attempt = |log: Option<&mut [u8]>| {
        // SAFETY: `insns` is a slice of instructions that outlives the call.
        unsafe {
            sys::prog_load(
                bpf_prog_type::BPF_PROG_TYPE_RAW_TRACEPOINT as u32,
                insns.as_ptr().cast(),
                insns.len(),
                license,
                name,
                log,
            )
        }
    };
    attempt(None).map_err(|error| {
        let mut log = LoadError::new(format!("loading {name}"), error);
        if !log.permission_denied() {
            let mut buf = vec![0u8; 4 << 20];
            if attempt(Some(&mut buf)).is_err() {
                let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
                log.log = Some(String::from_utf8_lossy(&buf[..end]).into_owned());
            }
        }
        log
    })
}

#[repr(C)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The kernel's `struct bpf_prog_info` of a program (fields a kernel does not know of
/// are left zero: `recursion_misses` came in Linux 5.12).
pub(super) fn prog_info(program: &OwnedFd) -> io::Result<bpf_prog_info> {
    // SAFETY: `bpf_prog_info` is plain integers (and pointers given as integers); all
    // zeroes is a valid value.
    let mut info: bpf_prog_info = unsafe { std::mem::zeroed() };
    let mut attr = InfoAttr {
        bpf_fd: program.as_raw_fd() as u32,
        info_len: std::mem::size_of::<bpf_prog_info>() as u32,
        info: (&raw mut info) as u64,
    };
    bpf(bpf_cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    Ok(info)
}

#[repr(C)]
struct RawTracepointAttr {
    name: u64,
    prog_fd: u32,
    _pad: u32,
}

fn attach_raw(program: &OwnedFd, tracepoint: &str) -> io::Result<OwnedFd> {
    let name = CString::new(tracepoint).map_err(io::Error::other)?;
    let mut attr = RawTracepointAttr {
        name: name.as_ptr() as u64,
        prog_fd: program.as_raw_fd() as u32,
        _pad: 0,
    };
    bpf(bpf_cmd::BPF_RAW_TRACEPOINT_OPEN, &mut attr).map(owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A program the verifier refuses: the error names it and carries the end of the
    /// verifier's log, which says why.
    #[test]
    fn a_refused_program_brings_the_verifier_log() {
        if !crate::support::probe_ebpf().privileged {
            eprintln!("skipping: loading eBPF programs needs root or CAP_BPF + CAP_PERFMON");
            assert!(
                std::env::var_os("NONO_TEST_STRICT").is_none(),
                "NONO_TEST_STRICT: this test needs root"
            );
            return;
        }
        // `exit` with r0 never set: "R0 !read_ok".
        // SAFETY: `bpf_insn` is plain integers; all zeroes is a valid value.
        let mut exit: bpf_insn = unsafe { std::mem::zeroed() };
        exit.code = 0x95;
        let err = load_program("bad_prog", &[exit], c"GPL").unwrap_err();
        assert!(!err.permission_denied(), "{err}");
        let text = err.to_string();
        assert!(text.starts_with("loading bad_prog: "), "{text}");
        assert!(
            text.contains("verifier log") && text.contains("R0"),
            "{text}"
        );
    }
}
