//! Sessions: every `nono learn` and `nono run` leaves a directory that can be
//! inspected later.
//!
//! Layout (DESIGN.md): `$XDG_STATE_HOME/nono/sessions/<id>/`, mode 0700, holding
//! `session.json` (what ran, how it was sandboxed, how it ended; rewritten atomically
//! when the session ends) and `events.jsonl` (one traced event per line). The id sorts
//! by start time: `20261123-041502-<pid>`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What kind of session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// `nono learn`.
    Learn,
    /// `nono run` / `nono wrap`.
    Run,
}

/// `session.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The id (the directory name).
    pub id: String,
    /// Learn or run.
    pub kind: SessionKind,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Its working directory.
    pub cwd: PathBuf,
    /// The profile used, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Start, seconds since the epoch.
    pub started: f64,
    /// End, seconds since the epoch (absent while running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<f64>,
    /// The command's exit code (absent while running or if it never started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The enforcement status line, for runs and learns with a safety net.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<String>,
    /// The tracing backend, for learns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Events recorded.
    #[serde(default)]
    pub events: u64,
    /// Events lost.
    #[serde(default)]
    pub dropped: u64,
    /// Snapshots of the writable trees (`nono run --snapshot`), baseline first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<SnapshotRecord>,
}

/// One snapshot of a session: its manifest file (in the session directory) and the
/// hashes that let it be verified later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRecord {
    /// 0 for the baseline, then in order.
    pub index: u32,
    /// `baseline` or `final`.
    pub label: String,
    /// The manifest file, relative to the session directory.
    pub manifest: String,
    /// The BLAKE3 hash of that file (hex).
    pub manifest_hash: String,
    /// The snapshot's Merkle root (hex).
    pub merkle_root: String,
    /// The roots snapshotted.
    pub roots: Vec<PathBuf>,
    /// Entries recorded.
    pub entries: u64,
    /// Bytes of file content.
    pub bytes: u64,
}

/// A session could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A file or directory operation failed.
    #[error("session {}: {error}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
    /// `session.json` is malformed.
    #[error("session {}: invalid session.json: {error}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: serde_json::Error,
    },
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> SessionError + '_ {
    move |error| SessionError::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The sessions directory under a state home (`$XDG_STATE_HOME/nono/sessions`).
pub fn sessions_dir(state_home: &Path) -> PathBuf {
    state_home.join("nono").join("sessions")
}

/// A session being recorded.
#[derive(Debug)]
pub struct Session {
    dir: PathBuf,
    /// Its `session.json` contents.
    pub info: SessionInfo,
    events: Option<BufWriter<File>>,
    /// The line being recorded (kept to reuse its allocation).
    line: Vec<u8>,
}

/// `20261118-110640`: the UTC time as a session id's prefix (sorts by start time).
fn utc_stamp(secs: u64) -> String {
    let time = UNIX_EPOCH + std::time::Duration::from_secs(secs);
    // `2026-11-18T11:06:40Z` without its separators.
    let text = humantime::format_rfc3339_seconds(time).to_string();
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    format!("{}-{}", &digits[..8], &digits[8..14])
}

impl Session {
    /// Creates a new session directory (0700) under `sessions` and writes the initial
    /// `session.json`.
    pub fn create(
        sessions: &Path,
        kind: SessionKind,
        command: Vec<String>,
        cwd: PathBuf,
    ) -> Result<Session, SessionError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(sessions)
            .map_err(io_err(sessions))?;
        let started = now();
        let base = format!("{}-{}", utc_stamp(started as u64), std::process::id());
        let mut id = base.clone();
        let mut n = 1;
        let dir = loop {
            let dir = sessions.join(&id);
            match fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    n += 1;
                    id = format!("{base}-{n}");
                }
                Err(e) => return Err(io_err(&dir)(e)),
            }
        };
        let info = SessionInfo {
            id,
            kind,
            command,
            cwd,
            profile: None,
            started,
            ended: None,
            exit_code: None,
            enforcement: None,
            backend: None,
            events: 0,
            dropped: 0,
            snapshots: Vec::new(),
        };
        let session = Session {
            dir,
            info,
            events: None,
            line: Vec::new(),
        };
        session.save()?;
        Ok(session)
    }

    /// Removes the session (for one that recorded nothing: the command never ran).
    pub fn discard(self) -> Result<(), SessionError> {
        fs::remove_dir_all(&self.dir).map_err(io_err(&self.dir))
    }

    /// The session's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one event (any serializable value) to `events.jsonl`.
    ///
    /// Lines are buffered (64 KiB): a crash loses at most that much of the end of the
    /// trace; [`Session::finish`] writes the rest.
    pub fn record(&mut self, event: &impl Serialize) -> Result<(), SessionError> {
        let events_path = || self.dir.join("events.jsonl");
        if self.events.is_none() {
            let path = events_path();
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)
                .map_err(io_err(&path))?;
            self.events = Some(BufWriter::with_capacity(1 << 16, file));
        }
        // The line is put together in memory, then handed to the buffer in one write
        // (serde_json writes a few dozen pieces per event).
        self.line.clear();
        serde_json::to_writer(&mut self.line, event).map_err(|error| SessionError::Json {
            path: events_path(),
            error,
        })?;
        self.line.push(b'\n');
        let writer = self.events.as_mut().expect("opened above");
        writer
            .write_all(&self.line)
            .map_err(|error| io_err(&events_path())(error))?;
        self.info.events += 1;
        Ok(())
    }

    /// Writes `session.json` atomically (temporary file, then rename).
    pub fn save(&self) -> Result<(), SessionError> {
        let path = self.dir.join("session.json");
        let tmp = self.dir.join(".session.json.tmp");
        let text = serde_json::to_vec_pretty(&self.info).map_err(|error| SessionError::Json {
            path: path.clone(),
            error,
        })?;
        {
            let mut file = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io_err(&tmp))?;
            file.write_all(&text).map_err(io_err(&tmp))?;
            file.sync_all().map_err(io_err(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io_err(&path))
    }

    /// Ends the session: flushes the events and records the exit code.
    pub fn finish(mut self, exit_code: Option<i32>) -> Result<SessionInfo, SessionError> {
        if let Some(mut writer) = self.events.take() {
            let path = self.dir.join("events.jsonl");
            writer.flush().map_err(io_err(&path))?;
        }
        self.info.ended = Some(now());
        self.info.exit_code = exit_code;
        self.save()?;
        Ok(self.info)
    }
}

/// Reads every session under `sessions`, newest first. Unreadable ones are skipped.
pub fn list(sessions: &Path) -> Vec<SessionInfo> {
    let Ok(entries) = fs::read_dir(sessions) else {
        return Vec::new();
    };
    let mut out: Vec<SessionInfo> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| read(&e.path()).ok())
        .collect();
    out.sort_by(|a, b| b.id.cmp(&a.id));
    out
}

/// Reads one session's `session.json`.
pub fn read(dir: &Path) -> Result<SessionInfo, SessionError> {
    let path = dir.join("session.json");
    let text = fs::read(&path).map_err(io_err(&path))?;
    serde_json::from_slice(&text).map_err(|error| SessionError::Json { path, error })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_session_is_a_private_directory_with_info_and_events() {
        let state = tempfile::tempdir().unwrap();
        let sessions = sessions_dir(state.path());
        let mut session = Session::create(
            &sessions,
            SessionKind::Learn,
            vec!["true".into()],
            "/w".into(),
        )
        .unwrap();
        let mode = fs::metadata(session.dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        session.record(&serde_json::json!({"n": 1})).unwrap();
        session.record(&serde_json::json!({"n": 2})).unwrap();
        let dir = session.dir().to_path_buf();
        let info = session.finish(Some(3)).unwrap();
        assert_eq!(info.events, 2);
        let lines = fs::read_to_string(dir.join("events.jsonl")).unwrap();
        assert_eq!(lines.lines().count(), 2);
        let listed = list(&sessions);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].exit_code, Some(3));
        assert!(listed[0].ended.unwrap() >= listed[0].started);
    }

    #[test]
    fn ids_are_dated_and_unique() {
        // Checked against Python's datetime.utcfromtimestamp.
        assert_eq!(utc_stamp(1_795_000_000), "20261118-110640");
        assert_eq!(utc_stamp(951_782_400), "20000229-000000");
        let state = tempfile::tempdir().unwrap();
        let sessions = sessions_dir(state.path());
        let a = Session::create(&sessions, SessionKind::Run, vec![], "/".into()).unwrap();
        let b = Session::create(&sessions, SessionKind::Run, vec![], "/".into()).unwrap();
        assert_ne!(a.info.id, b.info.id);
    }
}
