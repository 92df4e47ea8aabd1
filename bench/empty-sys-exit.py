#!/usr/bin/env python3
"""Runs a command with an empty eBPF program attached to the `sys_exit` raw tracepoint.

    sudo bench/empty-sys-exit.py -- CMD [ARGS...]

This is the floor of nono's eBPF tracing on a kernel without kprobes or fentry: the
attachment alone sends every system call of every process through the slow exit path
and the tracepoint's call of a program, before the program does anything. bench/learn.sh
runs its workloads under it beside `nono learn`, so that the two costs are compared in
one run. Standard library only (ctypes); needs root or CAP_BPF + CAP_PERFMON.
"""

import ctypes
import os
import struct
import subprocess
import sys

BPF_PROG_LOAD = 5
BPF_RAW_TRACEPOINT_OPEN = 17
BPF_PROG_TYPE_RAW_TRACEPOINT = 17
SYS_BPF = {"x86_64": 321, "aarch64": 280}


def bpf(libc, nr, cmd, attr):
    buf = ctypes.create_string_buffer(bytes(attr), len(attr))
    fd = libc.syscall(nr, cmd, buf, len(attr))
    if fd < 0:
        err = ctypes.get_errno()
        sys.exit(f"empty-sys-exit: bpf command {cmd}: {os.strerror(err)}")
    return fd


def main():
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit("usage: empty-sys-exit.py -- CMD [ARGS...]")
    nr = SYS_BPF.get(os.uname().machine)
    if nr is None:
        sys.exit(f"empty-sys-exit: no bpf(2) number known for {os.uname().machine}")
    libc = ctypes.CDLL(None, use_errno=True)
    # r0 = 0; exit
    insns = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)
    code = ctypes.create_string_buffer(insns)
    license = ctypes.create_string_buffer(b"GPL")
    attr = bytearray(160)
    struct.pack_into(
        "<IIQQ", attr, 0, BPF_PROG_TYPE_RAW_TRACEPOINT, 2, ctypes.addressof(code), ctypes.addressof(license)
    )
    prog = bpf(libc, nr, BPF_PROG_LOAD, attr)
    name = ctypes.create_string_buffer(b"sys_exit")
    link_attr = struct.pack("<QI", ctypes.addressof(name), prog) + bytes(52)
    link = bpf(libc, nr, BPF_RAW_TRACEPOINT_OPEN, link_attr)
    try:
        code = subprocess.call(args)
        # Killed by signal N: exit 128 + N, as a shell reports it.
        return 128 - code if code < 0 else code
    finally:
        os.close(link)
        os.close(prog)


if __name__ == "__main__":
    sys.exit(main())
