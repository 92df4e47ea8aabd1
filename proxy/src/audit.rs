//! The live audit: one JSON line per decision, written as it is made.
//!
//! Each line goes to the file in one `write` on a file opened for appending, without a
//! user-space buffer, so a `kill -9` of the process loses nothing already decided and
//! never leaves half a line from a concurrent writer.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The version written in every line's `"v"`.
pub const VERSION: u32 = 1;

/// Allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The request or tunnel went to the upstream.
    Allow,
    /// The proxy answered itself.
    Deny,
}

/// One decision, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When the request arrived.
    pub time: SystemTime,
    /// Allowed or denied.
    pub decision: Decision,
    /// The host asked for (as the client named it).
    pub host: String,
    /// The port asked for.
    pub port: u16,
    /// The request method (`CONNECT` for tunnels).
    pub method: String,
    /// The path, where the proxy sees it (not inside a tunnel).
    pub path: Option<String>,
    /// Why: the allow entry that matched, or the refusal's reason.
    pub reason: String,
    /// The status the client got.
    pub status: u16,
    /// Bytes from the client to the upstream (bodies, or the tunnel's stream).
    pub bytes_up: u64,
    /// Bytes from the upstream to the client.
    pub bytes_down: u64,
    /// From the request's arrival to its end (for tunnels, to the tunnel's close).
    pub duration: Duration,
}

impl Event {
    /// The JSON line (without the newline).
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "v": VERSION,
            "time": rfc3339(self.time),
            "decision": match self.decision { Decision::Allow => "allow", Decision::Deny => "deny" },
            "host": self.host,
            "port": self.port,
            "method": self.method,
            "path": self.path,
            "reason": self.reason,
            "status": self.status,
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "duration_ms": (self.duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        })
        .to_string()
    }
}

/// Where decisions go: a file, and optionally a callback (the supervisor's summary).
#[derive(Clone, Default)]
pub struct Audit {
    file: Option<Arc<Mutex<File>>>,
    #[allow(clippy::type_complexity)]
    observer: Option<Arc<dyn Fn(&Event) + Send + Sync>>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("file", &self.file.is_some())
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl Audit {
    /// No audit.
    pub fn none() -> Self {
        Audit::default()
    }

    /// Appends to `path`, creating it (mode 0600) if needed.
    pub fn to_file(path: &Path) -> io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(Audit {
            file: Some(Arc::new(Mutex::new(file))),
            observer: None,
        })
    }

    /// Also calls `observer` for every event.
    pub fn with_observer(mut self, observer: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Records one event. A failed write is reported once on stderr, not to the client:
    /// the decision stands either way.
    pub fn record(&self, event: &Event) {
        if let Some(observer) = &self.observer {
            observer(event);
        }
        if let Some(file) = &self.file {
            let mut line = event.to_json();
            line.push('\n');
            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = file.write_all(line.as_bytes()) {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| eprintln!("nono-proxy: the audit file cannot be written: {e}"));
            }
        }
    }
}

/// `2026-12-07T16:40:00.123Z`.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(951_782_400_500); // leap day 2000
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.500Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_796_661_296);
        assert_eq!(rfc3339(t), "2026-12-07T16:34:56.000Z");
    }

    #[test]
    fn lines_are_versioned_and_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network.jsonl");
        let audit = Audit::to_file(&path).unwrap();
        let event = Event {
            time: UNIX_EPOCH,
            decision: Decision::Deny,
            host: "a.b".into(),
            port: 443,
            method: "CONNECT".into(),
            path: None,
            reason: "not-allowed".into(),
            status: 403,
            bytes_up: 0,
            bytes_down: 0,
            duration: Duration::from_micros(1500),
        };
        audit.record(&event);
        audit.record(&event);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["v"], 1);
        assert_eq!(lines[0]["decision"], "deny");
        assert_eq!(lines[0]["duration_ms"], 1.5);
        assert_eq!(lines[0]["path"], serde_json::Value::Null);
    }
}
