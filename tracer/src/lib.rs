//! # nono-tracer
//!
//! Tracing backends for `nono learn`: ptrace + seccomp (unprivileged) and eBPF
//! (privileged), both emitting one event type for everything a traced process tree
//! does. This crate knows nothing about profiles.
//!
//! Today it holds [`support`], the probes `nono setup --check` uses to report whether
//! ptrace and eBPF tracing can work on this machine; the backends follow (see
//! DESIGN.md).
#![deny(missing_docs)]

pub mod support;
