//! The command line, as clap types. No syscalls here: commands turn these into
//! library configuration (see `crate::context`).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod proxy;
pub use proxy::ProxyArgs;

/// Parses the command line, exiting with clap's message on an error or for `--help`.
///
/// `nono run` and `nono wrap` are started often, by scripts and agents, and clap
/// (describing every subcommand, then parsing; its code is touched for the first time
/// on every start) took a tenth of their start-up. Their usual command lines are read
/// by [`parse_run_or_wrap`] instead; whenever that meets anything it does not simply
/// accept (an unknown or repeated flag, a missing value, `--help`), the whole command
/// line is parsed by clap as usual, so every message stays the same. A test checks
/// that the short cut agrees with clap wherever it accepts.
pub fn parse() -> Cli {
    let args: Vec<OsString> = std::env::args_os().collect();
    match parse_run_or_wrap(&args) {
        Some(cli) => cli,
        None => Cli::parse_from(args),
    }
}

/// `nono run …` or `nono wrap …` with the usual flags, read without clap; `None` for
/// anything else, and for anything clap would not accept as it stands or might read
/// differently: then clap parses (and reports).
fn parse_run_or_wrap(args: &[OsString]) -> Option<Cli> {
    let wrap = match args.get(1)?.to_str()? {
        "run" => false,
        "wrap" => true,
        _ => return None,
    };
    let mut run = RunArgs {
        sandbox: SandboxArgs::default(),
        dry_run: false,
        json: false,
        require_full: false,
        no_mount_view: false,
        allow_unhidden_sockets: false,
        quiet: false,
        snapshot: SnapshotArgs::default(),
        command: Vec::new(),
    };
    // Flags and single-valued options seen, to refuse repetitions (clap does).
    let mut seen: Vec<&str> = Vec::new();
    let mut rest = args[2..].iter();
    loop {
        let arg = rest.next()?.to_str()?;
        if arg == "--" {
            run.command = rest.cloned().collect();
            break;
        }
        let (name, inline) = match arg.strip_prefix("--") {
            Some(long) => match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            },
            None => match arg {
                "-p" => ("profile", None),
                "-q" => ("quiet", None),
                _ => return None,
            },
        };
        let name = match name {
            "block-net" => "block-network",
            "proxy-credential" => "credential",
            other => other,
        };
        let flag = |set: &mut bool| -> Option<()> {
            if inline.is_some() || *set {
                return None;
            }
            *set = true;
            Some(())
        };
        // A value: after `=`, or the next argument unless that looks like a flag.
        let mut value = || -> Option<OsString> {
            match inline {
                Some(text) => (!text.is_empty()).then(|| OsString::from(text)),
                None => {
                    let value = rest.next()?;
                    let text = value.to_str()?;
                    (!text.is_empty() && !text.starts_with('-')).then(|| value.clone())
                }
            }
        };
        let s = &mut run.sandbox;
        match name {
            "allow-cwd" => flag(&mut s.allow_cwd)?,
            "block-network" => flag(&mut s.block_network)?,
            "allow-net" => flag(&mut s.allow_net)?,
            "dry-run" => flag(&mut run.dry_run)?,
            "json" => flag(&mut run.json)?,
            "require-full" => flag(&mut run.require_full)?,
            "no-mount-view" => flag(&mut run.no_mount_view)?,
            "allow-unhidden-sockets" => flag(&mut run.allow_unhidden_sockets)?,
            "quiet" => flag(&mut run.quiet)?,
            "allow" => s.allow.push(value()?),
            "read" => s.read.push(value()?),
            "write" => s.write.push(value()?),
            "allow-file" => s.allow_file.push(value()?),
            "read-file" => s.read_file.push(value()?),
            "write-file" => s.write_file.push(value()?),
            "allow-domain" => s.allow_domain.push(value()?.into_string().ok()?),
            "credential" => s.credential.push(value()?.into_string().ok()?),
            "profile" | "workdir" | "network-profile" => {
                if seen.contains(&name) {
                    return None;
                }
                seen.push(name);
                let value = value()?;
                match name {
                    "profile" => s.profile = Some(value.into_string().ok()?),
                    "workdir" => s.workdir = Some(value.into()),
                    _ => s.network_profile = Some(value.into_string().ok()?),
                }
            }
            _ => return None,
        }
    }
    // What clap would refuse: no command, --json without --dry-run, both network flags.
    let s = &run.sandbox;
    if run.command.is_empty() || (run.json && !run.dry_run) || (s.block_network && s.allow_net) {
        return None;
    }
    Some(Cli {
        command: if wrap {
            Command::Wrap(run)
        } else {
            Command::Run(run)
        },
    })
}

/// Run code you don't fully trust under kernel-enforced least privilege.
#[derive(Debug, Parser)]
#[command(
    name = "nono",
    version,
    about,
    long_about = "Run code you don't fully trust under kernel-enforced least privilege, and learn \
                  what that least privilege is.\n\nProfiles follow upstream nono's JSON format. \
                  See `nono profiles list`, `nono why` and `nono setup --check`.",
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once per process")]
pub enum Command {
    /// List, show, export and validate profiles
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// Trace a command and suggest the least privilege it needs, as a profile
    Learn(LearnArgs),
    /// Run a command in a sandbox, with nono supervising it from outside
    Run(RunArgs),
    /// Sandbox nono itself and exec the command in its place (no supervisor)
    Wrap(RunArgs),
    /// Explain whether a path or host would be allowed, and why
    Why(WhyArgs),
    /// Report what this machine can enforce and trace
    Setup(SetupArgs),
    /// Run the network proxy alone, for other tools and benchmarks
    Proxy(ProxyArgs),
    /// Print shell completions
    Completions(CompletionsArgs),
    /// Print the man page (roff)
    Man,
    /// Inspect, diff, verify and roll back the sessions of `nono run --snapshot`
    #[command(subcommand)]
    Session(SessionCommand),
}

/// `nono session …`; `latest` works wherever an ID does.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List sessions, newest first
    List(JsonFlag),
    /// Show a session: what ran, how it ended, its snapshots and what changed
    Show {
        /// Session id, or `latest`
        id: String,
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },
    /// What the command changed (baseline to final snapshot), on stdout
    Diff {
        /// Session id, or `latest`
        id: String,
        /// Only the list of changed paths with counts
        #[arg(long, conflicts_with = "json")]
        stat: bool,
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },
    /// Restore the tracked trees to a snapshot (default: the baseline, undoing the run)
    Rollback {
        /// Session id, or `latest`
        id: String,
        /// The snapshot to restore (0 is the baseline)
        #[arg(long, value_name = "N", default_value_t = 0)]
        to: u32,
        /// Print what would change and change nothing
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation (needed without a terminal)
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Recompute object hashes and Merkle roots; non-zero exit on any mismatch
    Verify {
        /// Session id, or `latest`
        id: String,
    },
    /// Delete old sessions and the objects no remaining session uses
    Cleanup {
        /// Sessions to keep, newest first
        #[arg(long, value_name = "N", default_value_t = 20)]
        keep: usize,
        /// Also drop the oldest kept sessions until their snapshots hold at most this many bytes
        #[arg(long, value_name = "BYTES")]
        max_bytes: Option<u64>,
    },
}

/// `nono run --snapshot` and its options.
#[derive(Debug, Args, Default, Clone)]
pub struct SnapshotArgs {
    /// Snapshot the writable trees before and after the command, so that
    /// `nono session rollback` can undo what it did
    #[arg(long, alias = "rollback")]
    pub snapshot: bool,
    /// Also snapshot this directory (repeatable; even a system path)
    #[arg(long, value_name = "DIR", requires = "snapshot")]
    pub snapshot_path: Vec<PathBuf>,
    /// Leave paths matching this gitignore-style pattern out of the snapshots (repeatable)
    #[arg(long, value_name = "PATTERN", requires = "snapshot")]
    pub snapshot_exclude: Vec<String>,
    /// Refuse to start when the trees hold more entries than this
    #[arg(long, value_name = "N", requires = "snapshot")]
    pub snapshot_max_entries: Option<u64>,
    /// Refuse to start when the trees hold more bytes than this
    #[arg(long, value_name = "BYTES", requires = "snapshot")]
    pub snapshot_max_bytes: Option<u64>,
}

/// `nono profiles …`
#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// List built-in and user profiles
    List(JsonFlag),
    /// Show a profile with its groups expanded and where every rule comes from
    Show {
        /// Profile name or path to a .json file
        name: String,
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },
    /// Print a profile as standalone JSON (bases merged in, current keys only)
    Export {
        /// Profile name or path to a .json file
        name: String,
    },
    /// Check a profile file and report every problem with its line and column
    Validate {
        /// Path to the profile (or a profile name)
        file: PathBuf,
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of the profile format
    Schema,
}

/// A lone `--json` flag.
#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

/// The flags that shape a sandbox; shared by `why`, and later `run` and `learn`.
#[derive(Debug, Args, Default)]
pub struct SandboxArgs {
    /// Profile name or path (default: the built-in `default`)
    #[arg(long, short = 'p', value_name = "NAME|FILE")]
    pub profile: Option<String>,
    /// Grant read-write access to a directory (repeatable)
    #[arg(long, value_name = "DIR")]
    pub allow: Vec<OsString>,
    /// Grant read access to a directory (repeatable)
    #[arg(long, value_name = "DIR")]
    pub read: Vec<OsString>,
    /// Grant write access to a directory (repeatable)
    #[arg(long, value_name = "DIR")]
    pub write: Vec<OsString>,
    /// Grant read-write access to a single file (repeatable)
    #[arg(long, value_name = "FILE")]
    pub allow_file: Vec<OsString>,
    /// Grant read access to a single file (repeatable)
    #[arg(long, value_name = "FILE")]
    pub read_file: Vec<OsString>,
    /// Grant write access to a single file (repeatable)
    #[arg(long, value_name = "FILE")]
    pub write_file: Vec<OsString>,
    /// Grant read-write access to the working directory
    #[arg(long)]
    pub allow_cwd: bool,
    /// The working directory of the command (default: the current directory)
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Block all network access
    #[arg(long, alias = "block-net", conflicts_with = "allow_net")]
    pub block_network: bool,
    /// Allow unrestricted network access, overriding the profile's network settings
    #[arg(long)]
    pub allow_net: bool,
    /// Allow only the hosts of a network profile (minimal, developer, none)
    #[arg(long, value_name = "NAME")]
    pub network_profile: Option<String>,
    /// Allow a host through the proxy; `*.example.com` for subdomains (repeatable)
    #[arg(long, value_name = "HOST")]
    pub allow_domain: Vec<String>,
    /// Inject a credential service through the proxy (repeatable)
    #[arg(long, alias = "proxy-credential", value_name = "SERVICE")]
    pub credential: Vec<String>,
}

/// `nono run` and `nono wrap`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The sandbox
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// Print the resolved plan (every rule with where it came from) and exit
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: machine-readable output
    #[arg(long, requires = "dry_run")]
    pub json: bool,
    /// Refuse to run unless every requested protection is enforced on this kernel
    #[arg(long)]
    pub require_full: bool,
    /// Do not build the read-only mount view; metadata changes (chmod, chown, utime,
    /// xattr) are then refused everywhere by seccomp instead
    #[arg(long)]
    pub no_mount_view: bool,
    /// Run even where no mount view can leave out the pathname sockets outside the
    /// grants (docker.sock, agents, D-Bus), which then stay connectable
    #[arg(long)]
    pub allow_unhidden_sockets: bool,
    /// Do not print the one-line enforcement status (a partial one is always printed)
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Snapshots and rollback
    #[command(flatten)]
    pub snapshot: SnapshotArgs,
    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

/// Tracing backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// eBPF when it can be loaded, ptrace otherwise
    Auto,
    /// ptrace + seccomp (unprivileged)
    Ptrace,
    /// eBPF (root, or CAP_BPF + CAP_PERFMON)
    Ebpf,
}

/// `nono learn`.
#[derive(Debug, Args)]
pub struct LearnArgs {
    /// The profile to build on: its groups count as granted, its denials as sensitive
    #[arg(long, short = 'p', value_name = "NAME|FILE", default_value = "default")]
    pub profile: String,
    /// Write the suggested profile (the suggestions safe to approve unreviewed) here;
    /// with the review screen, the path its save dialog proposes
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite --output if it exists
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Print the observations, every suggestion and the suggested profile as JSON (on
    /// stderr, which the command shares; use --report to keep it apart)
    #[arg(long)]
    pub json: bool,
    /// Write the JSON report to this file instead of printing it
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Stop the command (and everything it started) after this many seconds
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Run the command without the safety net (a permissive sandbox that still
    /// withholds credentials, keychains and shell files)
    #[arg(long)]
    pub no_safety_net: bool,
    /// Do not open the review screen; print the summary
    #[arg(long)]
    pub no_tui: bool,
    /// The tracing backend
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: Backend,
    /// The working directory of the command (default: the current directory)
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

/// The access `nono why --op` asks about.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Op {
    /// Read (or list, or execute)
    Read,
    /// Write (create, modify, delete)
    Write,
    /// Both
    Readwrite,
}

/// `nono why`
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["path", "host"])))]
pub struct WhyArgs {
    /// The path to ask about
    #[arg(long, value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// The access to ask about
    #[arg(long, value_enum, default_value = "read", requires = "path")]
    pub op: Op,
    /// The host to ask about
    #[arg(long, value_name = "HOST", conflicts_with = "path")]
    pub host: Option<String>,
    /// The port, with --host
    #[arg(long, default_value_t = 443, requires = "host")]
    pub port: u16,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
    /// The sandbox to ask about
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// `nono setup`
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Only check and report (the default; nono needs no installation step on Linux)
    #[arg(long)]
    pub check: bool,
    /// Machine-readable output
    #[arg(long)]
    pub json: bool,
}

/// `nono completions`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compares the short cut with clap on one command line: where the short cut
    /// accepts, clap accepts and reads the same. Returns whether it accepted.
    fn agrees(line: &[&str]) -> bool {
        let args: Vec<OsString> = std::iter::once("nono")
            .chain(line.iter().copied())
            .map(OsString::from)
            .collect();
        let Some(short) = parse_run_or_wrap(&args) else {
            return false;
        };
        let full = Cli::try_parse_from(&args)
            .unwrap_or_else(|e| panic!("{line:?}: the short cut accepts what clap refuses: {e}"));
        assert_eq!(format!("{short:?}"), format!("{full:?}"), "{line:?}");
        true
    }

    /// The usual command lines take the short cut and read as clap reads them.
    #[test]
    fn usual_run_and_wrap_lines_take_the_short_cut() {
        let lines: &[&[&str]] = &[
            &["run", "--", "true"],
            &["wrap", "-q", "--allow-cwd", "--", "true"],
            &[
                "run", "--allow", "/tmp", "--read", "a", "--read=b", "-p", "default", "--", "ls",
                "-l",
            ],
            &[
                "wrap",
                "--profile=x.json",
                "--block-net",
                "--dry-run",
                "--json",
                "--",
                "sh",
            ],
            &["run", "--", "--help"],
            &[
                "run",
                "--workdir",
                "/tmp",
                "--network-profile",
                "minimal",
                "--allow-domain",
                "a.b",
                "--credential",
                "c",
                "--",
                "x",
            ],
            &[
                "run",
                "--proxy-credential=c",
                "--allow-domain=*.x.y",
                "--",
                "x",
            ],
            &[
                "run",
                "--no-mount-view",
                "--require-full",
                "--allow-file",
                "f",
                "--read-file",
                "g",
                "--write-file",
                "h",
                "--write",
                "w",
                "--allow-file=i",
                "--",
                "x",
            ],
            &["wrap", "--", "true", "--", "x"],
            &["wrap", "--quiet", "--block-network", "--", "true", "-q"],
        ];
        for line in lines {
            assert!(
                agrees(line),
                "{line:?}: the short cut declines a usual line"
            );
        }
    }

    /// Errors, help, version and anything unusual go to clap.
    #[test]
    fn unusual_lines_go_to_clap() {
        let lines: &[&[&str]] = &[
            &["run", "--help"],
            &["wrap", "-h"],
            &["run", "--version"],
            &["wrap", "-V", "--", "true"],
            &["run"],
            &["run", "--"],
            &["run", "true"],
            &["run", "--nope", "--", "true"],
            &["run", "--allow"],
            &["run", "--allow", "--", "true"],
            &["run", "--allow", "-x", "--", "true"],
            &["run", "--allow=", "--", "true"],
            &["run", "--json", "--", "true"],
            &["run", "--allow-net", "--block-network", "--", "true"],
            &["run", "-q", "-q", "--", "true"],
            &["run", "--quiet=yes", "--", "true"],
            &["run", "-p", "a", "--profile", "b", "--", "true"],
            &["run", "-qp", "x", "--", "true"],
            &["run", "-px", "--", "true"],
            &["learn", "--", "true"],
            &["help", "run"],
            &["profiles", "list"],
        ];
        for line in lines {
            assert!(
                !agrees(line),
                "{line:?}: the short cut accepts an unusual line"
            );
        }
    }

    proptest::proptest! {
        /// On command lines made of flags, values and separators in any order, the short
        /// cut never reads differently from clap, and never accepts what clap refuses.
        #[test]
        fn the_short_cut_never_disagrees_with_clap(
            tokens in proptest::collection::vec(
                proptest::sample::select(vec![
                    "--", "-", "true", "/tmp", "x", "", "-q", "-p", "-x", "--quiet", "--json",
                    "--dry-run", "--allow-cwd", "--allow", "--allow=/a", "--read", "--write=",
                    "--workdir", "--profile", "--profile=p", "--block-net", "--block-network",
                    "--allow-net", "--network-profile", "--allow-domain", "--credential",
                    "--proxy-credential", "--require-full", "--no-mount-view", "--allow-file",
                    "--help", "-h", "--version", "--nope", "=", "--allow=-x", "--read=",
                    "--credential=c", "--workdir=/w", "-qp", "--allow-cwd=",
                ]),
                0..8,
            ),
            wrap: bool,
        ) {
            let mut line = vec![if wrap { "wrap" } else { "run" }];
            line.extend(tokens);
            agrees(&line);
        }
    }
}
