//! The command line, as clap types. No syscalls here: commands turn these into
//! library configuration (see `crate::context`).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, FromArgMatches, Parser, Subcommand, ValueEnum};

/// Parses the command line, exiting with clap's message on an error or for `--help`.
///
/// `nono run` and `nono wrap` are started often, by scripts and agents, and building
/// clap's description of every subcommand costs a good part of their start-up. For
/// them, only their own arguments are described and parsed; whenever that does not
/// simply succeed (an error, `--help`, `--version`), the whole command line is parsed
/// again as usual, so every message stays the same.
pub fn parse() -> Cli {
    let args: Vec<OsString> = std::env::args_os().collect();
    match parse_run_or_wrap(&args) {
        Some(cli) => cli,
        None => Cli::parse_from(args),
    }
}

/// `nono run …` or `nono wrap …`, parsed with only that subcommand described; `None`
/// for anything else and for anything clap would not simply accept.
fn parse_run_or_wrap(args: &[OsString]) -> Option<Cli> {
    let wrap = match args.get(1)?.to_str()? {
        "run" => false,
        "wrap" => true,
        _ => return None,
    };
    let name = if wrap { "wrap" } else { "run" };
    let command = RunArgs::augment_args(clap::Command::new(name)).no_binary_name(true);
    let matches = command.try_get_matches_from(&args[2..]).ok()?;
    let run = RunArgs::from_arg_matches(&matches).ok()?;
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
    /// Print shell completions
    Completions(CompletionsArgs),
    /// Print the man page (roff)
    Man,
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
    /// Do not print the one-line enforcement status (a partial one is always printed)
    #[arg(long, short = 'q')]
    pub quiet: bool,
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

    /// Where the short cut for `run` and `wrap` accepts a command line, it gives what
    /// parsing it with every subcommand described gives; where the full parse fails or
    /// prints help, the short cut declines (and the full parse then reports).
    #[test]
    fn parsing_run_and_wrap_alone_agrees_with_the_full_parse() {
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
            &["run", "--allow-net", "--block-network", "--", "true"],
            &["run", "--json", "--", "true"],
            &["run", "--", "--help"],
            &["run", "--help"],
            &["wrap", "-h"],
            &["run", "--version"],
            &["wrap", "-V", "--", "true"],
            &["run"],
            &["run", "true"],
            &["run", "--nope", "--", "true"],
            &["run", "--allow"],
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
                "--",
                "x",
            ],
            &["wrap", "--", "true", "--", "x"],
            &["run", "-q", "-q", "--", "true"],
            &["learn", "--", "true"],
            &["help", "run"],
        ];
        for line in lines {
            let args: Vec<OsString> = std::iter::once("nono")
                .chain(line.iter().copied())
                .map(OsString::from)
                .collect();
            let full = Cli::try_parse_from(&args);
            match parse_run_or_wrap(&args) {
                Some(short) => {
                    let full =
                        full.unwrap_or_else(|e| panic!("{line:?}: the full parse fails: {e}"));
                    assert_eq!(format!("{short:?}"), format!("{full:?}"), "{line:?}");
                }
                None => assert!(
                    full.is_err() || !matches!(line.first(), Some(&"run" | &"wrap")),
                    "{line:?}: the short cut declines what the full parse accepts"
                ),
            }
        }
    }
}
