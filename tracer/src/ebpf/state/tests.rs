use super::*;
use nono_ebpf_common::SYSCALL_PATH1_OFFSET;

const ROOT: i32 = 100;
const TRACER: i32 = 99;

fn header(kind: u32, tgid: i32, tid: i32, nr: u32, arg: u64) -> Header {
    Header {
        kind,
        tid: tid as u32,
        tgid: tgid as u32,
        nr,
        time_ns: 1_000,
        arg,
    }
}

fn nr(call: Syscall) -> u32 {
    call.number().expect("this architecture has it") as u32
}

fn syscall(tgid: i32, call: Syscall, args: [u64; 6], ret: i64, path1: &[u8]) -> SyscallRecord {
    // SAFETY: the record is plain integers and byte arrays; all zeroes is valid.
    let mut r: SyscallRecord = unsafe { std::mem::zeroed() };
    r.header = header(RECORD_SYSCALL, tgid, tgid, nr(call), 0);
    r.args = args;
    r.ret = ret;
    if !path1.is_empty() {
        r.path1[..path1.len()].copy_from_slice(path1);
        r.path1_len = path1.len() as i32 + 1;
    }
    r
}

/// An exec record naming `path`, from system call `nr` (0: `sched_process_exec`).
fn exec_record(tgid: i32, nr: u32, path: &[u8]) -> ExecRecord {
    // SAFETY: as above.
    let mut r: ExecRecord = unsafe { std::mem::zeroed() };
    r.header = header(RECORD_EXEC, tgid, tgid, nr, 0);
    r.path[..path.len()].copy_from_slice(path);
    r.path_len = path.len() as i32 + 1;
    r
}

/// What `sched_process_exec` writes for a successful exec.
fn exec(tgid: i32, path: &[u8], argv: &[&str]) -> ExecRecord {
    let mut r = exec_record(tgid, 0, path);
    let mut at = 0;
    for arg in argv {
        r.blob[at..at + arg.len()].copy_from_slice(arg.as_bytes());
        at += arg.len() + 1;
    }
    r.blob_len = at as u32;
    r
}

/// What the exit of a failed `execve` writes.
fn failed_exec(tgid: i32, path: &[u8], argv: &[&str]) -> ExecRecord {
    let mut r = exec_record(tgid, nr(Syscall::Execve), path);
    for (slot, arg) in r.argv.iter_mut().zip(argv) {
        slot[..arg.len()].copy_from_slice(arg.as_bytes());
    }
    r.argc = argv.len() as u32;
    r
}

/// The root executes `/bin/prog -x`: the exec record, then the call's return.
fn execs_prog(state: &mut State) {
    state.record(Record::Exec(&exec(ROOT, b"/bin/prog", &["prog", "-x"])));
    state.record(Record::Syscall(&syscall(
        ROOT,
        Syscall::Execve,
        [0; 6],
        0,
        b"",
    )));
}

/// A model whose root has executed `/bin/prog` in `/work`.
fn started() -> State {
    let mut state = State::new(ROOT, TRACER, "/work".into(), 0);
    execs_prog(&mut state);
    state.out.clear();
    state
}

fn files(state: &mut State) -> Vec<(FileOp, String, i32)> {
    state
        .out
        .drain(..)
        .filter_map(|e| match e.kind {
            EventKind::File {
                op, path, result, ..
            } => Some((op, path.display().to_string(), result)),
            _ => None,
        })
        .collect()
}

const AT_FDCWD: u64 = libc::AT_FDCWD as i64 as u64;

#[test]
fn set_up_calls_before_the_first_exec_are_left_out() {
    let mut state = State::new(ROOT, TRACER, "/work".into(), 0);
    assert!(matches!(
        state.out.remove(0).kind,
        EventKind::ProcessStart { parent: TRACER }
    ));
    let flags = libc::O_PATH as u64;
    state.record(Record::Syscall(&syscall(
        ROOT,
        Syscall::Openat,
        [AT_FDCWD, 0, flags, 0, 0, 0],
        3,
        b"/etc",
    )));
    assert!(
        state.out.is_empty(),
        "the sandbox's own opens are not recorded"
    );
    execs_prog(&mut state);
    let event = state.out.remove(0);
    match event.kind {
        EventKind::Exec { path, argv, result } => {
            assert_eq!(path, PathBuf::from("/bin/prog"));
            assert_eq!(argv, vec!["prog", "-x"]);
            assert_eq!(result, 0);
        }
        other => panic!("expected the exec, got {other:?}"),
    }
    assert_eq!(event.ppid, TRACER);
}

#[test]
fn relative_paths_follow_cwd_chdir_and_directory_descriptors() {
    let mut state = started();
    let read = libc::O_RDONLY as u64;
    state.record(Record::Syscall(&syscall(
        ROOT,
        Syscall::Openat,
        [AT_FDCWD, 0, read, 0, 0, 0],
        3,
        b"a.txt",
    )));
    // A directory opened, then a file relative to it.
    state.record(Record::Syscall(&syscall(
        ROOT,
        Syscall::Openat,
        [
            AT_FDCWD,
            0,
            (libc::O_RDONLY | libc::O_DIRECTORY) as u64,
            0,
            0,
            0,
        ],
        4,
        b"/data/real",
    )));
    state.record(Record::Syscall(&syscall(
        ROOT,
        Syscall::Openat,
        [4, 0, read, 0, 0, 0],
        -2,
        b"../x/./y",
    )));
    state.record(Record::Syscall(&syscall(
        ROOT,
        Syscall::Chdir,
        [0; 6],
        0,
        b"/nonexistent-dir-for-test",
    )));
    state.record(Record::Syscall(&syscall(
        ROOT,
        Syscall::Newfstatat,
        [AT_FDCWD, 0, 0, 0, 0, 0],
        -2,
        b"z",
    )));
    // fchdir to the directory descriptor.
    let mut fchdir = syscall(ROOT, Syscall::Chdir, [4, 0, 0, 0, 0, 0], 0, b"");
    fchdir.header.nr = libc::SYS_fchdir as u32;
    state.record(Record::Syscall(&fchdir));
    state.record(Record::Syscall(&syscall(
        ROOT,
        Syscall::Unlinkat,
        [AT_FDCWD, 0, libc::AT_REMOVEDIR as u64, 0, 0, 0],
        0,
        b"sub",
    )));
    assert_eq!(
        files(&mut state),
        vec![
            (FileOp::Read, "/work/a.txt".into(), 0),
            (FileOp::Read, "/data/real".into(), 0),
            (FileOp::Read, "/data/x/y".into(), -2),
            (FileOp::Chdir, "/nonexistent-dir-for-test".into(), 0),
            (FileOp::Stat, "/nonexistent-dir-for-test/z".into(), -2),
            (FileOp::Rmdir, "/data/real/sub".into(), 0),
        ]
    );
}

#[test]
fn creation_comes_from_the_kernel() {
    let mut state = started();
    let flags = (libc::O_WRONLY | libc::O_CREAT) as u64;
    for (mode, ret) in [(FMODE_CREATED, 3), (0, 3), (0, -13)] {
        let mut record = syscall(
            ROOT,
            Syscall::Openat,
            [AT_FDCWD, 0, flags, 0o644, 0, 0],
            ret,
            b"new",
        );
        record.file_mode = mode;
        state.record(Record::Syscall(&record));
    }
    assert_eq!(
        files(&mut state),
        vec![
            (FileOp::Create, "/work/new".into(), 0),
            (FileOp::Write, "/work/new".into(), 0),
            (FileOp::Write, "/work/new".into(), -13),
        ]
    );
}

#[test]
fn io_uring_opens_pair_with_their_completion() {
    let mut state = started();
    let mut submit = syscall(
        ROOT,
        Syscall::Openat,
        [AT_FDCWD, 0, 0, 18, 0, 0],
        0,
        b"u.txt",
    );
    submit.header.kind = RECORD_URING_OPEN;
    submit.header.arg = 0xdead_beef;
    submit.args = [AT_FDCWD, libc::O_RDONLY as u64, 18, 0, 0, 0];
    state.record(Record::UringOpen(&submit));
    assert!(state.out.is_empty(), "reported at completion");
    // Another request's completion is not this one.
    state.record(Record::UringDone(&header(
        RECORD_URING_DONE,
        ROOT,
        ROOT,
        5,
        1,
    )));
    state.record(Record::UringDone(&header(
        RECORD_URING_DONE,
        ROOT,
        ROOT,
        -2i32 as u32,
        0xdead_beef,
    )));
    assert_eq!(
        files(&mut state),
        vec![(FileOp::Read, "/work/u.txt".into(), -2)]
    );
}

#[test]
fn forks_inherit_and_exits_are_reported() {
    let mut state = started();
    state.record(Record::Fork(&header(RECORD_FORK, ROOT, ROOT, 0, 200)));
    state.record(Record::Syscall(&syscall(
        200,
        Syscall::Openat,
        [AT_FDCWD, 0, 0, 0, 0, 0],
        -2,
        b"child-file",
    )));
    state.record(Record::Exit(&header(RECORD_EXIT, 200, 200, 0, 3 << 8)));
    state.record(Record::Exit(&header(RECORD_EXIT, ROOT, ROOT, 0, 9)));
    let kinds: Vec<_> = state
        .out
        .iter()
        .map(|e| (e.pid, e.ppid, e.kind.clone()))
        .collect();
    assert!(matches!(
        kinds[0],
        (200, ROOT, EventKind::ProcessStart { parent: ROOT })
    ));
    assert!(
        matches!(&kinds[1], (200, ROOT, EventKind::File { path, .. }) if path == Path::new("/work/child-file"))
    );
    assert!(matches!(
        kinds[2],
        (200, ROOT, EventKind::ProcessExit { code: 3 })
    ));
    assert!(matches!(
        kinds[3],
        (ROOT, TRACER, EventKind::ProcessExit { code: 137 })
    ));
    assert_eq!(state.live().count(), 0);
    assert!(
        state
            .out
            .iter()
            .all(|e| e.exe == Some(PathBuf::from("/bin/prog"))),
        "the exe is inherited"
    );
}

#[test]
fn restarted_calls_are_recorded_once() {
    let mut state = started();
    for ret in [-512, -2] {
        state.record(Record::Syscall(&syscall(
            ROOT,
            Syscall::Openat,
            [AT_FDCWD, 0, 0, 0, 0, 0],
            ret,
            b"/fifo",
        )));
    }
    assert_eq!(files(&mut state), vec![(FileOp::Read, "/fifo".into(), -2)]);
}

fn zeroed() -> Box<SyscallRecord> {
    // SAFETY: all zeroes is valid for the record.
    Box::new(unsafe { std::mem::zeroed() })
}

/// `bytes` copied into 8-byte-aligned memory, as the ring buffer hands them out.
fn aligned(bytes: &[u8]) -> Vec<u64> {
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    // SAFETY: the words hold at least `bytes.len()` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), words.as_mut_ptr().cast(), bytes.len())
    };
    words
}

#[test]
fn garbage_records_are_refused() {
    let mut scratch = zeroed();
    assert!(Record::parse(&[], &mut scratch).is_none());
    assert!(Record::parse(&[0u8; 7], &mut scratch).is_none());
    let mut bytes = [0u64; 8];
    bytes[0] = 77; // unknown kind
    // SAFETY: viewing u64s as bytes.
    let raw = unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<u8>(), 64) };
    assert!(Record::parse(raw, &mut scratch).is_none());
    bytes[0] = u64::from(RECORD_SYSCALL);
    // SAFETY: as above.
    let raw = unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<u8>(), 64) };
    assert!(
        Record::parse(raw, &mut scratch).is_none(),
        "a system call record shorter than its fixed part"
    );
}

#[test]
fn compact_records_are_completed_and_what_they_leave_out_is_absent() {
    let record = syscall(
        ROOT,
        Syscall::Openat,
        [AT_FDCWD, 0, 0, 0, 0, 0],
        3,
        b"/etc/hostname",
    );
    let len = record.compact_len();
    assert_eq!(len, SYSCALL_PATH1_OFFSET + "/etc/hostname".len() + 1);
    // SAFETY: viewing the record as bytes.
    let bytes =
        unsafe { std::slice::from_raw_parts((&record as *const SyscallRecord).cast::<u8>(), len) };
    let words = aligned(bytes);
    // SAFETY: the words hold `len` bytes.
    let compact = unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), len) };
    // A scratch record full of an earlier record's leftovers.
    let mut scratch = zeroed();
    scratch.addr_len = 16;
    scratch.path2_len = 9;
    let Some(Record::Syscall(parsed)) = Record::parse(compact, &mut scratch) else {
        panic!("a compact record parses");
    };
    assert_eq!(parsed.path1_len, record.path1_len);
    assert_eq!(&parsed.path1[..13], b"/etc/hostname");
    assert_eq!(
        (parsed.addr_len, parsed.path2_len),
        (0, 0),
        "leftovers are not data"
    );
    // A cut that falls inside the path keeps only what arrived.
    let short = &compact[..SYSCALL_PATH1_OFFSET + 4];
    let Some(Record::Syscall(parsed)) = Record::parse(short, &mut scratch) else {
        panic!("a short compact record parses");
    };
    assert_eq!(parsed.path1_len, 4);
}

#[test]
fn failed_execs_keep_their_arguments_and_the_old_program() {
    let mut state = started();
    state.record(Record::Exec(&failed_exec(ROOT, b"nope", &["nope", "a"])));
    state.record(Record::Syscall(&syscall(
        ROOT,
        Syscall::Execve,
        [0; 6],
        -2,
        b"",
    )));
    let event = state.out.remove(0);
    match &event.kind {
        EventKind::Exec { path, argv, result } => {
            assert_eq!(path, Path::new("/work/nope"), "relative to the cwd");
            assert_eq!(argv, &vec!["nope".to_owned(), "a".to_owned()]);
            assert_eq!(*result, -2);
        }
        other => panic!("expected the exec, got {other:?}"),
    }
    assert_eq!(
        event.exe,
        Some(PathBuf::from("/bin/prog")),
        "still the old program"
    );
}
