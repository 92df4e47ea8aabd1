//! Decoding what a traced system call names, shared by both backends: the system call
//! table of this architecture, paths made absolute, and socket addresses.

pub(crate) mod paths;
pub(crate) mod sockaddr;
pub(crate) mod syscalls;
