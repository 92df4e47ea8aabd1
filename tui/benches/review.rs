//! The review screen under load: ingesting a million tracer events over 100,000
//! distinct paths through `update` (the learn model and the review tree), rendering a
//! frame of a 100,000-path tree, and the memory a path costs.
//!
//! `cargo bench -p nono-tui --bench review` (results in docs/PERFORMANCE.md).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nono_enforcer::capability::Access;
use nono_learn::model::{Coverage, GroupInfo, LearnContext, SensitivePath};
use nono_learn::observe::classify;
use nono_learn::{LearnModel, Msg as LearnMsg};
use nono_tracer::event::{Event, EventKind, FileOp};
use nono_tui::review::{Msg, ReviewConfig, ReviewState, update, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// Counts live heap bytes, for the memory-per-path figure.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const PATHS: usize = 100_000;
const EVENTS: usize = 1_000_000;

fn ctx() -> LearnContext {
    LearnContext {
        home: "/home/u".into(),
        workdir: "/home/u/proj".into(),
        base_profile: "default".into(),
        sensitive: vec![SensitivePath {
            path: "/home/u/.ssh".into(),
            label: "group `deny_credentials`".into(),
        }],
        groups: vec![GroupInfo {
            name: "system_read_linux".into(),
            included: true,
            grants: vec![Coverage {
                path: "/usr".into(),
                access: Access::Read,
                dir: true,
            }],
        }],
        base_grants: vec![],
        net_no_create: vec![],
        temp_dirs: vec!["/tmp".into()],
    }
}

fn state() -> ReviewState {
    ReviewState::new(
        LearnModel::new(ctx()),
        ReviewConfig {
            command: "bench".into(),
            backend: "ptrace".into(),
            base_profile: "default".into(),
            color: true,
            ..ReviewConfig::default()
        },
        (100, 30),
    )
}

/// The `i`-th synthetic path: 1,000 directories of 100 files under a few roots.
fn path(i: usize, paths: usize) -> PathBuf {
    let p = i % paths;
    let root = [
        "/usr/share/bench",
        "/srv/data",
        "/home/u/proj/src",
        "/opt/tool",
    ][p % 4];
    PathBuf::from(format!("{root}/d{:03}/f{:05}.dat", p / 100 % 1000, p))
}

/// The `i`-th event: each pass over the paths is one kind of access (mostly reads,
/// then writes, creations and failed probes), so every path is seen as a file.
fn message(i: usize) -> LearnMsg {
    message_over(i, PATHS)
}

fn message_over(i: usize, paths: usize) -> LearnMsg {
    let pass = i / paths;
    let op = match pass % 10 {
        0..=6 => FileOp::Read,
        7 => FileOp::Write,
        8 => FileOp::Create,
        _ => FileOp::Stat,
    };
    let event = Event {
        seq: i as u64,
        time_ns: i as u64,
        pid: 100 + (i % 7) as i32,
        ppid: 1,
        exe: Some("/usr/bin/bench".into()),
        kind: EventKind::File {
            op,
            path: path(i, paths),
            path2: None,
            result: if pass % 10 == 9 { -2 } else { 0 },
        },
    };
    let observations = classify(&event, &mut |p: &Path| (p.to_path_buf(), false));
    LearnMsg::Event {
        event: Box::new(event),
        observations,
    }
}

/// Feeds `EVENTS` events to a fresh state; only the feeding is timed.
fn ingest(state: &mut ReviewState) -> Duration {
    const CHUNK: usize = 50_000;
    let mut timed = Duration::ZERO;
    for start in (0..EVENTS).step_by(CHUNK) {
        let batch: Vec<LearnMsg> = (start..start + CHUNK).map(message).collect();
        let t = Instant::now();
        for msg in batch {
            update(state, Msg::Learn(msg));
        }
        timed += t.elapsed();
    }
    timed
}

fn filled() -> ReviewState {
    let mut s = state();
    ingest(&mut s);
    s.refresh_suggestions();
    s.rebuild_rows();
    s
}

fn benches_ingest(c: &mut Criterion) {
    let mut group = c.benchmark_group("review");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function(BenchmarkId::new("learn model only", "1M events"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut m = LearnModel::new(ctx());
                for start in (0..EVENTS).step_by(50_000) {
                    let batch: Vec<LearnMsg> = (start..start + 50_000).map(message).collect();
                    let t = Instant::now();
                    for msg in batch {
                        m.update(msg);
                    }
                    total += t.elapsed();
                }
            }
            total
        })
    });
    group.bench_function(BenchmarkId::new("ingest", "1M events / 100k paths"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut s = state();
                total += ingest(&mut s);
            }
            total
        })
    });
    group.finish();
}

fn benches_frame(c: &mut Criterion) {
    let mut s = filled();
    let mut group = c.benchmark_group("review");
    group.sample_size(20);
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    group.bench_function(BenchmarkId::new("frame", "100k paths, 100x30"), |b| {
        b.iter(|| {
            // Move so every frame differs, as when scrolling.
            update(
                &mut s,
                Msg::Key(ratatui::crossterm::event::KeyEvent::from(
                    ratatui::crossterm::event::KeyCode::Char('j'),
                )),
            );
            terminal.draw(|f| view(&s, f)).unwrap();
        })
    });
    group.bench_function(BenchmarkId::new("rebuild rows", "100k paths"), |b| {
        b.iter(|| s.rebuild_rows())
    });
    group.bench_function(BenchmarkId::new("suggest() alone", "100k paths"), |b| {
        b.iter(|| nono_learn::suggest(&s.learn))
    });
    group.bench_function(BenchmarkId::new("suggestions", "100k paths"), |b| {
        b.iter(|| s.refresh_suggestions())
    });
    group.finish();
}

criterion_group!(benches, benches_ingest, benches_frame);

/// Heap bytes per distinct path (files and the directories creations name), for the
/// learn model alone and for the whole review state, at two sizes: the figure stays
/// flat, i.e. memory grows with distinct paths, not with events.
fn memory() {
    for paths in [10_000, PATHS] {
        let events = paths * 10;
        let before = LIVE.load(Ordering::Relaxed);
        let mut learn = LearnModel::new(ctx());
        for i in 0..events {
            learn.update(message_over(i, paths));
        }
        let learn_bytes = LIVE.load(Ordering::Relaxed) - before;
        let distinct = learn.files.len();
        drop(learn);
        let before = LIVE.load(Ordering::Relaxed);
        let mut s = state();
        for i in 0..events {
            update(&mut s, Msg::Learn(message_over(i, paths)));
        }
        s.refresh_suggestions();
        s.rebuild_rows();
        let review_bytes = LIVE.load(Ordering::Relaxed) - before;
        println!(
            "memory: {events} events, {distinct} distinct paths: learn model {:.0} B/path, \
             review state (model, tree, rows, suggestions) {:.0} B/path",
            learn_bytes as f64 / distinct as f64,
            review_bytes as f64 / distinct as f64,
        );
    }
}

fn main() {
    memory();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
