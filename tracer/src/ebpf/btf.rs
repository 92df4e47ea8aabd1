//! Just enough of the kernel's BTF (`/sys/kernel/btf/vmlinux`) to find where a field
//! sits in a kernel structure and how many arguments a tracepoint passes.
//!
//! nono's eBPF programs are Rust, and rustc does not emit CO-RE relocations, so the
//! programs cannot have field offsets fixed up by the loader. Instead the tracer reads
//! the few offsets the programs need from the running kernel's BTF and hands them over
//! as read-only globals, which the verifier treats as constants. The format is the one
//! documented in the kernel's `Documentation/bpf/btf.rst`.

/// A parse or look-up failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BtfError {
    /// The kernel's BTF file could not be read.
    #[error("cannot read the kernel's BTF ({path}): {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The data is not well-formed BTF.
    #[error("malformed BTF: {0}")]
    Malformed(&'static str),
    /// A structure or one of its fields is missing.
    #[error("the kernel's BTF has no field `{ty}.{field}`")]
    NoField {
        /// The structure.
        ty: String,
        /// The field.
        field: String,
    },
    /// The field is a bit field (no byte offset).
    #[error("`{ty}.{field}` is a bit field")]
    BitField {
        /// The structure.
        ty: String,
        /// The field.
        field: String,
    },
    /// A tracepoint is missing.
    #[error("the kernel's BTF has no tracepoint `{0}`")]
    NoTracepoint(String),
    /// The structures are there, but not laid out as the programs expect.
    #[error("unexpected layout of {0}")]
    Layout(&'static str),
}

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// One type: its kind, name, `size_or_type` word and where its members (struct, union
/// and function-prototype parameters) start in the data.
#[derive(Debug, Clone, Copy)]
struct Type {
    kind: u32,
    name: u32,
    kind_flag: bool,
    vlen: u32,
    size_or_type: u32,
    members_at: usize,
}

/// Parsed BTF: the type headers are indexed once; names and members are read from the
/// data when asked for (the kernel's BTF has over 100,000 types, and nono asks about a
/// dozen).
#[derive(Debug)]
pub struct Btf {
    data: Vec<u8>,
    big: bool,
    strings_at: usize,
    strings_len: usize,
    /// Index 0 is the implicit `void`.
    types: Vec<Type>,
}

impl Btf {
    /// Reads the running kernel's BTF.
    pub fn kernel() -> Result<Btf, BtfError> {
        let path = "/sys/kernel/btf/vmlinux";
        let data = std::fs::read(path).map_err(|source| BtfError::Read {
            path: path.to_string(),
            source,
        })?;
        Btf::parse(data)
    }

    /// Parses raw BTF (little- or big-endian, as the magic says).
    pub fn parse(data: Vec<u8>) -> Result<Btf, BtfError> {
        let bad = BtfError::Malformed;
        let big = match data.get(..2) {
            Some([0x9f, 0xeb]) => false,
            Some([0xeb, 0x9f]) => true,
            Some(_) => return Err(bad("bad magic")),
            None => return Err(bad("too short")),
        };
        let mut btf = Btf {
            data,
            big,
            strings_at: 0,
            strings_len: 0,
            types: Vec::new(),
        };
        let u32_at = |btf: &Btf, at: usize| btf.u32_at(at).ok_or_else(|| bad("truncated"));
        let hdr_len = u32_at(&btf, 4)? as usize;
        let type_off = u32_at(&btf, 8)? as usize;
        let type_len = u32_at(&btf, 12)? as usize;
        let str_off = u32_at(&btf, 16)? as usize;
        let str_len = u32_at(&btf, 20)? as usize;
        btf.strings_at = hdr_len.saturating_add(str_off);
        btf.strings_len = str_len;
        if btf.strings_at.saturating_add(str_len) > btf.data.len() {
            return Err(bad("string section out of range"));
        }
        let mut at = hdr_len.saturating_add(type_off);
        let end = at.saturating_add(type_len);
        if end > btf.data.len() {
            return Err(bad("type section out of range"));
        }
        let mut types = Vec::with_capacity(type_len / 16);
        types.push(Type {
            kind: 0,
            name: 0,
            kind_flag: false,
            vlen: 0,
            size_or_type: 0,
            members_at: 0,
        });
        while at < end {
            let name = u32_at(&btf, at)?;
            let info = u32_at(&btf, at + 4)?;
            let size_or_type = u32_at(&btf, at + 8)?;
            at += 12;
            let kind = (info >> 24) & 0x1f;
            let vlen = info & 0xffff;
            let members_at = at;
            at += match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen as usize,
                KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen as usize,
                _ => 0,
            };
            types.push(Type {
                kind,
                name,
                kind_flag: info >> 31 != 0,
                vlen,
                size_or_type,
                members_at,
            });
        }
        if at > end {
            return Err(bad("a type runs past the type section"));
        }
        btf.types = types;
        Ok(btf)
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let bytes: [u8; 4] = self.data.get(at..at + 4)?.try_into().ok()?;
        Some(if self.big {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        })
    }

    fn string(&self, offset: u32) -> &[u8] {
        let strings = &self.data[self.strings_at..self.strings_at + self.strings_len];
        let tail = strings.get(offset as usize..).unwrap_or_default();
        &tail[..tail.iter().position(|&b| b == 0).unwrap_or(tail.len())]
    }

    fn named(&self, name: &str, kind: u32) -> Option<&Type> {
        self.types
            .iter()
            .find(|t| t.kind == kind && self.string(t.name) == name.as_bytes())
    }

    /// The members of a struct, union or function prototype: (name, type, offset).
    fn members(&self, t: &Type) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
        let (stride, with_offset) = match t.kind {
            KIND_STRUCT | KIND_UNION => (12, true),
            KIND_FUNC_PROTO => (8, false),
            _ => (0, false),
        };
        let count = if stride == 0 { 0 } else { t.vlen as usize };
        let at = t.members_at;
        (0..count).filter_map(move |i| {
            let m = at + i * stride;
            Some((
                self.u32_at(m)?,
                self.u32_at(m + 4)?,
                if with_offset { self.u32_at(m + 8)? } else { 0 },
            ))
        })
    }

    /// Skips typedefs and qualifiers.
    fn resolve(&self, mut id: u32) -> Option<&Type> {
        for _ in 0..32 {
            let t = self.types.get(id as usize)?;
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_or_type
                }
                _ => return Some(t),
            }
        }
        None
    }

    /// The byte offset of `field` in `struct name`, looking through anonymous struct and
    /// union members.
    pub fn offset(&self, name: &str, field: &str) -> Result<u32, BtfError> {
        let missing = || BtfError::NoField {
            ty: name.to_string(),
            field: field.to_string(),
        };
        let t = self.named(name, KIND_STRUCT).ok_or_else(missing)?;
        let bits = self
            .find_member(t, field.as_bytes(), 0, 0)
            .ok_or_else(missing)?;
        if bits % 8 != 0 {
            return Err(BtfError::BitField {
                ty: name.to_string(),
                field: field.to_string(),
            });
        }
        Ok(bits / 8)
    }

    fn find_member(&self, t: &Type, field: &[u8], base: u32, depth: u32) -> Option<u32> {
        if depth > 8 {
            return None;
        }
        for (name, ty, offset) in self.members(t) {
            // With kind_flag, the low 24 bits are the offset, the high 8 the bit size.
            let offset = base
                + if t.kind_flag {
                    offset & 0xff_ffff
                } else {
                    offset
                };
            let member = self.string(name);
            if member == field {
                return Some(offset);
            }
            if member.is_empty()
                && let Some(inner) = self.resolve(ty)
                && matches!(inner.kind, KIND_STRUCT | KIND_UNION)
                && let Some(found) = self.find_member(inner, field, offset, depth + 1)
            {
                return Some(found);
            }
        }
        None
    }

    /// How many arguments the raw tracepoint `name` passes to a program (the parameters
    /// of `btf_trace_<name>` but its leading context pointer).
    pub fn tracepoint_args(&self, name: &str) -> Result<usize, BtfError> {
        let missing = || BtfError::NoTracepoint(name.to_string());
        let typedef = self
            .named(&format!("btf_trace_{name}"), KIND_TYPEDEF)
            .ok_or_else(missing)?;
        let ptr = self
            .types
            .get(typedef.size_or_type as usize)
            .filter(|t| t.kind == KIND_PTR)
            .ok_or_else(missing)?;
        let proto = self
            .types
            .get(ptr.size_or_type as usize)
            .filter(|t| t.kind == KIND_FUNC_PROTO)
            .ok_or_else(missing)?;
        Ok((proto.vlen as usize).saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_offsets_from_this_kernel() {
        let Ok(btf) = Btf::kernel() else {
            assert!(
                std::env::var_os("NONO_TEST_STRICT").is_none(),
                "no kernel BTF here, and NONO_TEST_STRICT is set"
            );
            eprintln!("skipped: this kernel has no /sys/kernel/btf/vmlinux");
            return;
        };
        let pid = btf.offset("task_struct", "pid").unwrap();
        let tgid = btf.offset("task_struct", "tgid").unwrap();
        assert_eq!(tgid, pid + 4, "tgid follows pid in task_struct");
        assert!(btf.offset("file", "f_path").is_ok());
        assert!(btf.offset("file", "f_flags").is_ok());
        assert!(btf.offset("file", "f_mode").is_ok());
        assert_eq!(
            btf.offset("pt_regs", "di").ok(),
            if cfg!(target_arch = "x86_64") {
                Some(112)
            } else {
                None
            },
            "pt_regs.di is at 112 on x86-64"
        );
        assert!(btf.offset("task_struct", "no_such_field").is_err());
        assert_eq!(btf.tracepoint_args("sys_enter").unwrap(), 2);
        assert_eq!(btf.tracepoint_args("sched_process_fork").unwrap(), 2);
        assert!((1..=2).contains(&btf.tracepoint_args("sched_process_exit").unwrap()));
    }

    #[test]
    fn rejects_garbage() {
        assert!(Btf::parse(b"".to_vec()).is_err());
        assert!(Btf::parse(b"\x9f\xeb\x01\x00\xff\xff\xff\xff".to_vec()).is_err());
        let mut header = vec![0x9f, 0xeb, 1, 0];
        for word in [24u32, 0, 1_000_000, 0, 0] {
            header.extend_from_slice(&word.to_le_bytes());
        }
        assert!(Btf::parse(header).is_err(), "type section past the end");
    }
}
