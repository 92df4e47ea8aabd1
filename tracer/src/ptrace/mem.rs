//! Reading strings and structures out of a stopped tracee.
//!
//! Reads go through `process_vm_readv`, split at page boundaries: the kernel does not
//! split a transfer within one remote range, so a string that ends just before an
//! unmapped page would otherwise fail as a whole. Where `process_vm_readv` is refused
//! (`ENOSYS` or `EPERM` under some sandboxes), word-sized `PTRACE_PEEKDATA` reads are
//! used instead, for the rest of the trace.

use std::io;

use libc::pid_t;

use crate::sys::process as sys;

/// Pages are at least this large on every supported architecture; splitting reads at
/// this granularity is always correct.
const PAGE: u64 = 4096;

/// Reads tracee memory into buffers reused across stops.
#[derive(Debug, Default)]
pub(super) struct Memory {
    /// `process_vm_readv` was refused once; use `PTRACE_PEEKDATA`.
    peek: bool,
}

impl Memory {
    /// Appends up to `len` bytes at `addr` to `out`, stopping at the first unreadable
    /// byte. Returns how many bytes were appended.
    pub(super) fn read(&mut self, pid: pid_t, addr: u64, len: usize, out: &mut Vec<u8>) -> usize {
        let mut done = 0;
        while done < len {
            let at = addr.wrapping_add(done as u64);
            let chunk = (PAGE - at % PAGE).min((len - done) as u64) as usize;
            let n = self.read_chunk(pid, at, chunk, out);
            done += n;
            if n < chunk {
                break;
            }
        }
        done
    }

    /// Appends the NUL-terminated string at `addr` (without its NUL) to `out`, reading at
    /// most `max` bytes. Returns `false` if `addr` is NULL or unreadable, or no NUL came
    /// within `max` bytes (`out` then holds what was read).
    pub(super) fn read_cstr(
        &mut self,
        pid: pid_t,
        addr: u64,
        max: usize,
        out: &mut Vec<u8>,
    ) -> bool {
        if addr == 0 {
            return false;
        }
        let start = out.len();
        let mut done = 0;
        while done < max {
            let at = addr.wrapping_add(done as u64);
            let chunk = (PAGE - at % PAGE).min((max - done) as u64) as usize;
            let before = out.len();
            let n = self.read_chunk(pid, at, chunk, out);
            if let Some(nul) = out[before..].iter().position(|&b| b == 0) {
                out.truncate(before + nul);
                return true;
            }
            done += n;
            if n < chunk {
                break;
            }
        }
        out.truncate(start + done.min(max));
        false
    }

    /// Reads a little array of native-endian `u64`s (pointers, lengths) at `addr`.
    pub(super) fn read_words<const N: usize>(
        &mut self,
        pid: pid_t,
        addr: u64,
        scratch: &mut Vec<u8>,
    ) -> Option<[u64; N]> {
        scratch.clear();
        if addr == 0 || self.read(pid, addr, N * 8, scratch) < N * 8 {
            return None;
        }
        let mut words = [0u64; N];
        for (word, bytes) in words.iter_mut().zip(scratch.chunks_exact(8)) {
            *word = u64::from_ne_bytes(bytes.try_into().ok()?);
        }
        Some(words)
    }

    /// One read that does not cross a page boundary.
    fn read_chunk(&mut self, pid: pid_t, addr: u64, len: usize, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        out.resize(start + len, 0);
        let n = if self.peek {
            peek(pid, addr, &mut out[start..])
        } else {
            match sys::read_memory(pid, addr, &mut out[start..]) {
                Ok(n) => n,
                Err(err) if refused(&err) => {
                    self.peek = true;
                    peek(pid, addr, &mut out[start..])
                }
                Err(_) => 0,
            }
        };
        out.truncate(start + n);
        n
    }
}

/// Whether `process_vm_readv` is unusable here, as opposed to a bad address.
fn refused(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM))
}

/// Fills `buf` from `addr` with word reads; returns how many bytes were read.
fn peek(pid: pid_t, addr: u64, buf: &mut [u8]) -> usize {
    const WORD: usize = size_of::<libc::c_long>();
    let mut done = 0;
    while done < buf.len() {
        // Read the aligned word that contains the next byte.
        let at = addr + done as u64;
        let aligned = at - at % WORD as u64;
        let Ok(word) = sys::peek_word(pid, aligned) else {
            break;
        };
        let offset = (at - aligned) as usize;
        let take = (WORD - offset).min(buf.len() - done);
        buf[done..done + take].copy_from_slice(&word[offset..offset + take]);
        done += take;
    }
    done
}
