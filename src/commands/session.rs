//! `nono run --snapshot` (its begin and end hooks) and `nono session …`.

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use nono_enforcer::capability::{Access, PathKind, Source};
use nono_enforcer::session::{self, Session, SessionInfo, SessionKind, SnapshotRecord};
use nono_snapshot::{
    Budget, Change, ChangeKind, Filter, Hash, Kind, Manifest, Store, Summary, diff, restore,
    snapshot,
};
use serde::Serialize;

use crate::cli::{SessionCommand, SnapshotArgs};
use crate::context;
use crate::output::{Style, print_json};
use crate::{CmdResult, Failure, usage};
use nono_enforcer::Sandbox;

struct Paths {
    sessions: PathBuf,
    objects: PathBuf,
}

fn paths() -> Result<Paths, Failure> {
    let vars = context::vars(context::current_dir()?);
    Ok(Paths {
        sessions: session::sessions_dir(&vars.xdg_state_home),
        objects: vars.xdg_state_home.join("nono").join("objects"),
    })
}

/// A run being snapshotted.
#[derive(Debug)]
pub struct Active {
    session: Session,
    store: Store,
    baseline: Manifest,
    filter: Filter,
    budget: Budget,
}

/// System trees never snapshotted unless named with `--snapshot-path`: these exactly
/// (a directory granted inside them is snapshotted) ...
const SYSTEM: &[&str] = &["/tmp", "/var/tmp", "/run", "/var/run"];
/// ... and anything under these.
const KERNEL: &[&str] = &["/dev", "/proc", "/sys"];

/// The writable directory trees the user granted (flags and profile, not groups).
fn writable_roots(sandbox: &Sandbox, extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = sandbox
        .caps()
        .grants
        .iter()
        .filter(|g| g.access.covers(Access::Write) && g.kind == PathKind::Dir)
        .filter(|g| matches!(g.source, Source::Flag { .. } | Source::Profile { .. }))
        .filter_map(|g| std::fs::canonicalize(&g.path).ok())
        .filter(|p| {
            p != Path::new("/")
                && !SYSTEM.iter().any(|s| p == Path::new(s))
                && !KERNEL.iter().any(|s| p.starts_with(s))
        })
        .collect();
    roots.extend(extra.iter().cloned());
    roots
}

fn record(
    index: u32,
    label: &str,
    dir: &Path,
    m: &Manifest,
    filter: &Filter,
) -> anyhow::Result<SnapshotRecord> {
    std::fs::create_dir_all(dir.join("snapshots"))?;
    let name = format!("snapshots/{index}.json");
    let hash = m.save(&dir.join(&name), filter)?;
    Ok(SnapshotRecord {
        index,
        label: label.into(),
        manifest: name,
        manifest_hash: hash.to_hex(),
        merkle_root: m.merkle_root.to_hex(),
        roots: m.roots.clone(),
        entries: m.entries.len() as u64,
        bytes: m.bytes(),
    })
}

/// Before the command: the session and the baseline snapshot. `None` without `--snapshot`.
pub fn begin(
    args: &SnapshotArgs,
    sandbox: &Sandbox,
    command: &[OsString],
) -> Result<Option<Active>, Failure> {
    if !args.snapshot {
        return Ok(None);
    }
    let roots = writable_roots(sandbox, &args.snapshot_path);
    if roots.is_empty() {
        return Err(usage(anyhow!(
            "--snapshot: the sandbox grants no writable directory to snapshot (the working \
             directory is read-only here); grant one with --allow or name one with --snapshot-path"
        )));
    }
    let roots = snapshot::normalize_roots(&roots).map_err(|e| usage(anyhow!("--snapshot: {e}")))?;
    let p = paths()?;
    let store = Store::open(&p.objects).context("cannot open the snapshot object store")?;
    let filter = Filter::new(args.snapshot_exclude.clone());
    filter
        .check()
        .map_err(|e| usage(anyhow!("--snapshot-exclude: {e}")))?;
    let mut budget = Budget::default();
    if let Some(n) = args.snapshot_max_entries {
        budget.max_entries = n;
    }
    if let Some(n) = args.snapshot_max_bytes {
        budget.max_bytes = n;
    }
    let cmd = command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut session = Session::create(
        &p.sessions,
        SessionKind::Run,
        cmd,
        sandbox.caps().workdir.clone(),
    )
    .context("cannot create the session")?;
    session.info.profile = sandbox.caps().profile.clone();
    let previous = previous_snapshot(&p.sessions, &roots);
    let (baseline, filter) = match snapshot::baseline(
        &store,
        &roots,
        filter,
        previous.as_ref(),
        budget,
    ) {
        Ok(b) => b,
        Err(e) => {
            let _ = session.discard();
            let hint = if matches!(e, nono_snapshot::SnapshotError::Budget { .. }) {
                "\n  hint: exclude big trees with --snapshot-exclude, or raise --snapshot-max-entries / --snapshot-max-bytes"
            } else {
                ""
            };
            return Err(Failure::from(anyhow!(
                "the baseline snapshot failed, so the command was not started: {e}{hint}"
            )));
        }
    };
    let rec = record(0, "baseline", session.dir(), &baseline, &filter)
        .context("cannot write the baseline manifest")?;
    session.info.snapshots.push(rec);
    session.save().context("cannot write session.json")?;
    Ok(Some(Active {
        session,
        store,
        baseline,
        filter,
        budget,
    }))
}

/// The last snapshot of the newest finished session over the same roots: its stat data lets
/// the baseline skip re-hashing files that have not changed since.
fn previous_snapshot(sessions: &Path, roots: &[PathBuf]) -> Option<Manifest> {
    let s = session::list(sessions)
        .into_iter()
        .filter(|s| s.ended.is_some())
        .find(|s| s.snapshots.last().is_some_and(|r| r.roots == roots))?;
    let rec = s.snapshots.last()?;
    Manifest::load(&sessions.join(&s.id).join(&rec.manifest))
        .ok()
        .map(|(m, _, _)| m)
}

/// After the command: the final snapshot, a summary of the changes and the undo command.
pub fn end(active: Option<Active>, code: i32) -> Result<(), Failure> {
    let Some(mut a) = active else {
        return Ok(());
    };
    let style = Style::stderr();
    let roots = a.baseline.roots.clone();
    let after = snapshot::take(&a.store, &roots, &a.filter, Some(&a.baseline), a.budget).context(
        "the final snapshot failed (the baseline is kept; `nono session rollback` still works)",
    );
    match after {
        Ok(after) => {
            let rec = record(1, "final", a.session.dir(), &after, &a.filter)
                .context("cannot write the final manifest")?;
            a.session.info.snapshots.push(rec);
            let s = Summary::of(&diff(&a.baseline, &after));
            eprintln!(
                "{}",
                style.dim(&format!(
                    "nono: {} created, {} modified, {} deleted, {} mode changed",
                    s.created, s.modified, s.deleted, s.mode_changed
                ))
            );
        }
        Err(e) => eprintln!("{} {e:#}", style.warn("nono:")),
    }
    let id = a.session.info.id.clone();
    a.session
        .finish(Some(code))
        .context("cannot write session.json")?;
    eprintln!(
        "{}",
        style.dim(&format!("nono: undo with: nono session rollback {id}"))
    );
    Ok(())
}

/// Runs `nono session …`.
pub fn run(cmd: SessionCommand) -> CmdResult {
    let p = paths()?;
    match cmd {
        SessionCommand::List(flag) => list(&p, flag.json),
        SessionCommand::Show { id, json } => show(&p, &id, json),
        SessionCommand::Diff { id, stat, json } => diff_cmd(&p, &id, stat, json),
        SessionCommand::Rollback {
            id,
            to,
            dry_run,
            yes,
        } => rollback(&p, &id, to, dry_run, yes),
        SessionCommand::Verify { id } => verify(&p, &id),
        SessionCommand::Cleanup { keep, max_bytes } => cleanup(&p, keep, max_bytes),
    }
}

/// `latest` or an id; `snapshots` picks the newest session that has snapshots.
fn resolve(p: &Paths, id: &str, snapshots: bool) -> Result<(PathBuf, SessionInfo), Failure> {
    if id == "latest" {
        let all = session::list(&p.sessions);
        let found = all
            .into_iter()
            .find(|s| !snapshots || !s.snapshots.is_empty());
        return match found {
            Some(info) => Ok((p.sessions.join(&info.id), info)),
            None => Err(usage(anyhow!(
                "no session{} yet under {}",
                if snapshots {
                    " with snapshots (`nono run --snapshot`)"
                } else {
                    ""
                },
                p.sessions.display()
            ))),
        };
    }
    if id.is_empty() || id.contains('/') || id.starts_with('.') {
        return Err(usage(anyhow!("{id:?} is not a session id")));
    }
    let dir = p.sessions.join(id);
    let info = session::read(&dir).map_err(|e| usage(anyhow!("no session {id}: {e}")))?;
    if snapshots && info.snapshots.is_empty() {
        return Err(usage(anyhow!(
            "session {id} has no snapshots (it was not run with --snapshot)"
        )));
    }
    Ok((dir, info))
}

fn load(dir: &Path, rec: &SnapshotRecord) -> Result<(Manifest, Filter), Failure> {
    let (m, f, _) = Manifest::load(&dir.join(&rec.manifest)).map_err(|e| {
        Failure::from(anyhow!(
            "{e}\n  hint: `nono session verify` checks a session"
        ))
    })?;
    Ok((m, f))
}

fn changes_of(
    dir: &Path,
    info: &SessionInfo,
) -> Result<Option<(Manifest, Manifest, Vec<Change>)>, Failure> {
    let (Some(first), Some(last)) = (info.snapshots.first(), info.snapshots.last()) else {
        return Ok(None);
    };
    if first.index == last.index {
        return Ok(None);
    }
    let (a, _) = load(dir, first)?;
    let (b, _) = load(dir, last)?;
    let c = diff(&a, &b);
    Ok(Some((a, b, c)))
}

fn status(info: &SessionInfo) -> String {
    match (info.ended, info.exit_code) {
        (None, _) => "unfinished".into(),
        (Some(_), Some(c)) => format!("exit {c}"),
        (Some(_), None) => "ended".into(),
    }
}

fn list(p: &Paths, json: bool) -> CmdResult {
    let all = session::list(&p.sessions);
    if json {
        print_json(&all)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    for s in &all {
        writeln!(
            out,
            "{}  {:<5} {:<10} {:>2} snapshot(s)  {}",
            s.id,
            match s.kind {
                SessionKind::Learn => "learn",
                SessionKind::Run => "run",
            },
            status(s),
            s.snapshots.len(),
            s.command.join(" ")
        )
        .map_err(anyhow::Error::from)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct ChangeJson {
    change: ChangeKind,
    root: PathBuf,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    before: Option<Side>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<Side>,
}

#[derive(Serialize)]
struct Side {
    kind: Kind,
    mode: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<Hash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
}

fn side(e: &nono_snapshot::Entry) -> Side {
    Side {
        kind: e.kind,
        mode: format!("{:04o}", e.mode),
        size: e.size,
        hash: e.hash,
        target: e
            .target
            .as_ref()
            .map(|t| String::from_utf8_lossy(t).into_owned()),
    }
}

fn changes_json(m: &Manifest, changes: &[Change]) -> Vec<ChangeJson> {
    changes
        .iter()
        .map(|c| ChangeJson {
            change: c.kind,
            root: m
                .roots
                .get(c.entry().root as usize)
                .cloned()
                .unwrap_or_default(),
            path: c.entry().display(),
            before: c.before.as_ref().map(side),
            after: c.after.as_ref().map(side),
        })
        .collect()
}

fn word(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Created => "created",
        ChangeKind::Modified => "modified",
        ChangeKind::Deleted => "deleted",
        ChangeKind::ModeChanged => "mode changed",
    }
}

fn show(p: &Paths, id: &str, json: bool) -> CmdResult {
    let (dir, info) = resolve(p, id, false)?;
    let changes = changes_of(&dir, &info)?;
    if json {
        #[derive(Serialize)]
        struct Show<'a> {
            #[serde(flatten)]
            info: &'a SessionInfo,
            #[serde(skip_serializing_if = "Option::is_none")]
            summary: Option<Summary>,
            changes: Vec<ChangeJson>,
        }
        let (summary, list) = match &changes {
            Some((_, b, c)) => (Some(Summary::of(c)), changes_json(b, c)),
            None => (None, Vec::new()),
        };
        print_json(&Show {
            info: &info,
            summary,
            changes: list,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    let w = |out: &mut std::io::StdoutLock<'_>, s: String| {
        writeln!(out, "{s}").map_err(anyhow::Error::from)
    };
    w(&mut out, format!("session   {}", info.id))?;
    w(&mut out, format!("command   {}", info.command.join(" ")))?;
    w(&mut out, format!("cwd       {}", info.cwd.display()))?;
    if let Some(pr) = &info.profile {
        w(&mut out, format!("profile   {pr}"))?;
    }
    w(&mut out, format!("status    {}", status(&info)))?;
    for s in &info.snapshots {
        w(
            &mut out,
            format!(
                "snapshot  {} {:<8} {} entries, {} bytes, merkle root {}",
                s.index, s.label, s.entries, s.bytes, s.merkle_root
            ),
        )?;
        for r in &s.roots {
            w(&mut out, format!("            {}", r.display()))?;
        }
    }
    if let Some((_, _, c)) = &changes {
        let s = Summary::of(c);
        w(
            &mut out,
            format!(
                "changes   {} created, {} modified, {} deleted, {} mode changed",
                s.created, s.modified, s.deleted, s.mode_changed
            ),
        )?;
        for ch in c {
            w(
                &mut out,
                format!("  {:<12} {}", word(ch.kind), ch.entry().display()),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn diff_cmd(p: &Paths, id: &str, stat: bool, json: bool) -> CmdResult {
    let (dir, info) = resolve(p, id, true)?;
    let Some((_, after, changes)) = changes_of(&dir, &info)? else {
        return Err(Failure::from(anyhow!(
            "session {} has no final snapshot (it is unfinished or its final snapshot failed)",
            info.id
        )));
    };
    if json {
        print_json(&changes_json(&after, &changes))?;
        return Ok(ExitCode::SUCCESS);
    }
    let store = Store::open(&p.objects).context("cannot open the object store")?;
    let mut out = std::io::stdout().lock();
    if stat {
        for c in &changes {
            writeln!(out, "{:<12} {}", word(c.kind), c.entry().display())
                .map_err(anyhow::Error::from)?;
        }
        let s = Summary::of(&changes);
        writeln!(
            out,
            "{} created, {} modified, {} deleted, {} mode changed",
            s.created, s.modified, s.deleted, s.mode_changed
        )
        .map_err(anyhow::Error::from)?;
        return Ok(ExitCode::SUCCESS);
    }
    for c in &changes {
        let text = super::session_diff::render(&store, c)?;
        out.write_all(text.as_bytes())
            .map_err(anyhow::Error::from)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn rollback(p: &Paths, id: &str, to: u32, dry_run: bool, yes: bool) -> CmdResult {
    let (dir, info) = resolve(p, id, true)?;
    let Some(rec) = info.snapshots.iter().find(|s| s.index == to) else {
        return Err(usage(anyhow!(
            "session {} has no snapshot {to} (it has {})",
            info.id,
            info.snapshots
                .iter()
                .map(|s| s.index.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let (target, filter) = load(&dir, rec)?;
    if !target.root_matches() || target.merkle_root.to_hex() != rec.merkle_root {
        return Err(Failure::from(anyhow!(
            "snapshot {to} of session {} does not match its Merkle root; refusing to restore \
             (run `nono session verify {}`)",
            info.id,
            info.id
        )));
    }
    let store = Store::open(&p.objects).context("cannot open the object store")?;
    let journal = dir.join("restore.journal");
    let plan = restore::restore(&store, &target, &filter, &journal, true)
        .context("cannot compare the trees with the snapshot")?;
    let style = Style::stderr();
    let s = Summary::of(&plan.planned);
    if plan.planned.is_empty() {
        eprintln!(
            "nono: the trees already match snapshot {to} of session {}",
            info.id
        );
        return Ok(ExitCode::SUCCESS);
    }
    if dry_run {
        let mut out = std::io::stdout().lock();
        for c in &plan.planned {
            // From the current tree to the snapshot: what the restore would do.
            let what = match c.kind {
                ChangeKind::Created => "restore",
                ChangeKind::Deleted => "remove",
                ChangeKind::Modified => "revert",
                ChangeKind::ModeChanged => "chmod",
            };
            writeln!(out, "{what:<8} {}", c.entry().display()).map_err(anyhow::Error::from)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let question = format!(
        "restore {} to snapshot {to} of session {}: {} to restore, {} to revert, {} to remove, {} modes?",
        target
            .roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        info.id,
        s.created,
        s.modified,
        s.deleted,
        s.mode_changed
    );
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(usage(anyhow!(
                "{question}\nrefusing without confirmation: stdin is not a terminal, so nono cannot ask; pass --yes"
            )));
        }
        eprint!("{question} [y/N] ");
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(anyhow::Error::from)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            eprintln!("nono: nothing changed");
            return Ok(ExitCode::from(1));
        }
    }
    let r = restore::restore(&store, &target, &filter, &journal, false)
        .context("the restore failed")?;
    if r.resumed {
        eprintln!("nono: completed an interrupted restore");
    }
    for k in &r.kept_dirs {
        eprintln!("{} kept {k}: it holds excluded paths", style.warn("nono:"));
    }
    for f in &r.failures {
        eprintln!("{} {f}", style.error("nono:"));
    }
    eprintln!(
        "nono: {} written, {} removed, {} directories created, {} modes set",
        r.written, r.deleted, r.dirs_created, r.modes_set
    );
    if !r.failures.is_empty() || !r.verified {
        return Err(Failure::from(anyhow!(
            "the trees do not match snapshot {to} yet; run the rollback again once the causes above are fixed"
        )));
    }
    eprintln!(
        "nono: restored snapshot {to} (merkle root {})",
        target.merkle_root
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(p: &Paths, id: &str) -> CmdResult {
    let (dir, info) = resolve(p, id, true)?;
    let store = Store::open(&p.objects).context("cannot open the object store")?;
    let mut problems = Vec::new();
    let mut checked: HashSet<Hash> = HashSet::new();
    for rec in &info.snapshots {
        let path = dir.join(&rec.manifest);
        let (m, _, hash) = match Manifest::load(&path) {
            Ok(x) => x,
            Err(e) => {
                problems.push(format!("snapshot {}: {e}", rec.index));
                continue;
            }
        };
        if hash.to_hex() != rec.manifest_hash {
            problems.push(format!(
                "snapshot {}: the manifest file was changed (hash {hash}, recorded {})",
                rec.index, rec.manifest_hash
            ));
        }
        if !m.root_matches() || m.merkle_root.to_hex() != rec.merkle_root {
            problems.push(format!(
                "snapshot {}: the entries do not hash to the recorded Merkle root {}",
                rec.index, rec.merkle_root
            ));
        }
        for e in &m.entries {
            if let Some(h) = e.hash
                && checked.insert(h)
                && let Err(err) = store.verify(&h)
            {
                problems.push(format!("snapshot {}: {}: {err}", rec.index, e.display()));
            }
        }
    }
    if problems.is_empty() {
        println!(
            "session {}: {} snapshot(s), {} objects verified",
            info.id,
            info.snapshots.len(),
            checked.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for pr in &problems {
            println!("{pr}");
        }
        Err(Failure::from(anyhow!(
            "session {}: {} problem(s) found",
            info.id,
            problems.len()
        )))
    }
}

fn cleanup(p: &Paths, keep: usize, max_bytes: Option<u64>) -> CmdResult {
    let all = session::list(&p.sessions);
    let mut live: HashSet<Hash> = HashSet::new();
    let mut bytes = 0u64;
    let mut removed = 0;
    for (i, s) in all.iter().enumerate() {
        let dir = p.sessions.join(&s.id);
        let mut hashes = Vec::new();
        let mut size = 0;
        for rec in &s.snapshots {
            if let Ok((m, _, _)) = Manifest::load(&dir.join(&rec.manifest)) {
                for e in &m.entries {
                    if let Some(h) = e.hash
                        && !live.contains(&h)
                    {
                        size += e.size;
                        hashes.push(h);
                    }
                }
            }
        }
        // An unfinished session may be a run still going: never removed here.
        let over = i >= keep || max_bytes.is_some_and(|m| bytes + size > m);
        if over && s.ended.is_some() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove {}", dir.display()))?;
            removed += 1;
        } else {
            bytes += size;
            live.extend(hashes);
        }
    }
    let (objects, freed) = if p.objects.is_dir() {
        Store::open(&p.objects)
            .and_then(|s| s.retain(&live))
            .context("cannot clean the object store")?
    } else {
        (0, 0)
    };
    println!("removed {removed} session(s) and {objects} object(s) ({freed} bytes)");
    Ok(ExitCode::SUCCESS)
}
