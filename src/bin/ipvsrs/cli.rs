//! The command line: commands, options and their help (clap derive). The commands
//! themselves are in main.rs; the manual page (ipvsrs.1) names every one of these, which
//! a test checks.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipvsrs::model::{DestKey, ServiceKey};

pub const EXIT_CODES: &str = "\
Exit codes:
  0 success          1 a kernel change failed (apply rolled back), or stdout failed;
                       diff --exit-code: the kernel differs from the model
  2 usage error      3 model or parameters (file, URL) unreadable or invalid
  4 IPVS not available, no permission, or the table cannot be read
  5 refused by --allowed-actions
  6 apply: another converger held the namespace's lock for the whole --wait";

#[derive(Parser)]
#[command(
    name = "ipvsrs",
    version,
    about = "The IPVS table as a declared model: validate, diff, apply; list and scrape it",
    after_help = EXIT_CODES,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten, next_help_heading = "Global options")]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after its name.
#[derive(Args)]
pub struct Global {
    /// Work in a network namespace (a NAME is /run/netns/NAME); its interfaces are the
    /// ones --params-network reads
    #[arg(long, global = true, value_name = "PATH|NAME")]
    pub netns: Option<String>,
    /// Resolve ${env.NAME} from the environment
    #[arg(long, global = true)]
    pub params_env: bool,
    /// Resolve ${host.IFNAME} from the interfaces' addresses
    #[arg(long, global = true)]
    pub params_network: bool,
    /// Resolve ${KEY.PATH} from a YAML or JSON file (repeatable)
    #[arg(long, global = true, value_name = "FILE")]
    pub params_file: Vec<PathBuf>,
    /// The same from an http:// URL (repeatable; 30 s and 256 MiB at most). Sources are
    /// asked in this order:
    /// network, env, files, URLs; every source is off unless enabled, and a ${...} that
    /// no enabled source knows is an error (the C API's rule, IPVSRS_PARAMS_*)
    #[arg(long, global = true, value_name = "URL")]
    pub params_url: Vec<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check a model (no root needed); silent when valid
    Validate(Model),
    /// The changes that would make the kernel match the model
    Diff {
        #[command(flatten)]
        model: Model,
        #[command(flatten)]
        diff: DiffArgs,
        /// text: one line a change; yaml: ipvsctl's changeset items; summary: one line,
        /// e.g. 'would apply 3 changes: 1 add-service, 2 add-destination' (or 'no changes')
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
        /// Exit 1 when the kernel differs from the model, 0 when it matches (as git diff
        /// --exit-code), for monitoring drift
        #[arg(long)]
        exit_code: bool,
    },
    /// Make the kernel match the model, all or nothing
    Apply {
        #[command(flatten)]
        model: Model,
        #[command(flatten)]
        diff: DiffArgs,
        /// Comma list of as,us,ds,ad,ud,dd (add/update/delete a service or destination),
        /// ut (timeouts), ay,dy (add/delete a sync daemon), or *; a changeset needing any
        /// other action is refused whole
        #[arg(long, value_name = "SPEC", default_value = "*")]
        allowed_actions: String,
        /// Print the changes, change nothing
        #[arg(long)]
        dry_run: bool,
        /// A line a change ('ok: ...', 'failed: ...', 'would ...' with --dry-run); without
        /// it one summary line ('applied 3 changes: ...'), and on failure the failed steps
        #[arg(short, long)]
        verbose: bool,
        /// How long to wait while another apply (any program's, in this network
        /// namespace) holds the namespace's lock, then give up with exit 6; 0: give up
        /// at once
        #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds)]
        wait: Duration,
    },
    /// The kernel's table as a model
    Get,
    /// The kernel's table as `ipvsadm -Ln` shows it, or as JSON
    List {
        /// The counters (as `ipvsadm -Ln --stats --exact`)
        #[arg(long, conflicts_with = "rate")]
        stats: bool,
        /// The kernel's rate estimates (as `ipvsadm -Ln --rate --exact`)
        #[arg(long)]
        rate: bool,
        /// Every service and destination with all its settings, 64-bit counters and rates
        #[arg(long, conflicts_with_all = ["stats", "rate"])]
        json: bool,
        /// The connection table instead (as `ipvsadm -Lnc`; with --json, every field)
        #[arg(long, short = 'c', conflicts_with_all = ["stats", "rate"])]
        connections: bool,
    },
    /// One scrape of the table's counters and rates, for telegraf or Prometheus
    Metrics {
        /// influx: telegraf's ipvs measurement names; prometheus: text exposition
        #[arg(long, value_enum, default_value_t = MetricsFormat::Prometheus)]
        format: MetricsFormat,
    },
    /// Set one destination's weight, ramped over --time seconds
    Weight {
        /// The new weight, 0 to 65535
        weight: u16,
        /// The service, as in a model: tcp://10.0.0.1:80, udp://[2001:db8::1]:53, fwmark:7
        #[arg(long, value_name = "URL")]
        service: ServiceKey,
        /// The destination: 10.1.0.1:8080 or [2001:db8::2]:443
        #[arg(long, value_name = "ADDR:PORT")]
        destination: DestKey,
        /// Reach the weight in steps, one a second
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        time: u32,
    },
    /// A completion script for the shell (bash: source it, or install it as
    /// /usr/share/bash-completion/completions/ipvsrs)
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args)]
pub struct Model {
    /// The model; - for stdin
    #[arg(short, long, value_name = "FILE", default_value = "/etc/ipvsrs.yaml")]
    pub file: PathBuf,
}

/// What `diff` and `apply` compare.
#[derive(Args)]
pub struct DiffArgs {
    /// Keep the kernel's weights of existing active destinations (maintenance and
    /// draining still mean weight 0)
    #[arg(long)]
    pub keep_weights: bool,
    /// The services the model owns, e.g. 10.0.0.0/24:80-443,fwmark:1-9,udp://10.0.1.0/24,
    /// tcp://[2001:db8::1]:443 (a service's own key); others are left alone, and a model
    /// service outside them is an error (default: the whole table)
    #[arg(long, value_name = "RULES")]
    pub scope: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DiffFormat {
    Text,
    Yaml,
    Summary,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum MetricsFormat {
    Influx,
    Prometheus,
}

/// A number of seconds, fractions allowed: 0, 2.5, 30.
fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("{text:?} is not a number of seconds (0 or more)"))
}
