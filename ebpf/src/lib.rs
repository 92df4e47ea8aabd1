//! nono's eBPF programs.
//!
//! Placeholder until the eBPF backend lands (see DESIGN.md): the programs will be
//! `no_std` Rust built for `bpfel-unknown-none` by the tracer's build script, with
//! the `#[repr(C)]` event structs they share with userspace in a small crate beside
//! this one. This crate is a workspace member but not a default member, so a plain
//! `cargo build` never tries to compile it for the BPF target.
#![no_std]
