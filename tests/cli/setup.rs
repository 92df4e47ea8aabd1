use crate::util::*;

/// The Landlock ABI as the kernel reports it, asked directly.
fn kernel_landlock_abi() -> Option<i64> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute pointer and size 0 and the VERSION flag, the
    // syscall only returns the ABI version (or an error); it touches no memory.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    (abi > 0).then_some(abi)
}

#[test]
fn check_json_reports_the_kernels_landlock_abi() {
    let w = World::new();
    let out = w.run(&["setup", "--check", "--json"]);
    assert_code(&out, 0, "setup --check");
    let report = json(&out);
    match kernel_landlock_abi() {
        Some(abi) => {
            assert_eq!(report["landlock"]["abi"].as_i64(), Some(abi), "{report}");
            assert_eq!(report["landlock"]["available"], true);
        }
        None => {
            assert_eq!(report["landlock"]["available"], false, "{report}");
            skip("Landlock is not available on this kernel");
        }
    }
    for key in ["seccomp", "user_namespaces", "ptrace", "ebpf"] {
        assert!(report[key].is_object(), "{key} missing: {report}");
    }
}

#[test]
fn check_text_names_each_mechanism() {
    let w = World::new();
    let out = w.run(&["setup", "--check"]);
    assert_code(&out, 0, "setup --check");
    let text = stdout(&out);
    for name in ["Landlock", "seccomp", "user namespaces", "ptrace", "eBPF"] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    assert!(
        !text.contains('\x1b'),
        "NO_COLOR is set but output has escape codes:\n{text}"
    );
}
