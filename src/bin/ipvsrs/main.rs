//! `ipvsrs`: the IPVS table as a declared model, from the command line.
//!
//! Exit codes (also in `ipvsrs --help`):
//! - 0: success (for `validate`: the model is valid; for `diff`: computed, in sync or not)
//! - 1: a kernel change failed (`apply` rolled its changes back; `weight` stopped), or
//!   standard output could not be written
//! - 2: usage error (unknown command or option, missing or malformed argument)
//! - 3: the model or a parameter file cannot be read or is invalid
//! - 4: IPVS not available, no permission, or the kernel table cannot be read
//! - 5: `apply` refused: the changeset needs actions `--allowed-actions` does not allow

mod changeset_yaml;
mod params_url;

use std::io::{self, BufWriter, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use ipvsrs::desired::yaml::to_yaml;
use ipvsrs::desired::{
    converge, Action, ApplyReport, Change, ConvergeError, ConvergeOptions, Converged, DiffOptions,
    KernelTable, ModelSource, ParamSources, ScopeRule,
};
use ipvsrs::model::{DestKey, ServiceKey};
use ipvsrs::Handle;

const PROGRAM: &str = "ipvsrs";
const DEFAULT_MODEL: &str = "/etc/ipvsrs.yaml";

const USAGE: &str = "\
Usage: ipvsrs [GLOBAL OPTIONS] COMMAND [OPTIONS]

Commands:
  validate [-f FILE]                 check a model (no root needed); silent when valid
  diff [-f FILE] [--format text|yaml|summary]
                                     the changes that would make the kernel match the model
  apply [-f FILE] [--keep-weights] [--allowed-actions=SPEC] [--scope=RULES] [--dry-run] [-v]
                                     make the kernel match the model, all or nothing
  get                                the kernel's table as a model
  weight WEIGHT --service=URL --destination=ADDR:PORT [--time=SECONDS]
                                     set one destination's weight, ramped over SECONDS

Options:
  -f, --file FILE          the model; - for stdin (default /etc/ipvsrs.yaml)
  --format FORMAT          text: one line a change; yaml: ipvsctl's changeset items;
                           summary: one line, e.g. 'would apply 3 changes: 1 add-service,
                           2 add-destination' (or 'no changes')
  --keep-weights           keep the kernel's weights of existing destinations
  --allowed-actions=SPEC   comma list of as,us,ds,ad,ud,dd (add/update/delete a service
                           or destination), ut (timeouts), ay,dy (add/delete a sync
                           daemon), or * (default); a changeset needing any other action
                           is refused whole
  --scope=RULES            the services the model owns, e.g. 10.0.0.0/24:80-443,fwmark:1-9,
                           udp://10.0.1.0/24, tcp://[2001:db8::1]:443 (a service's own key);
                           others are left alone (default: the whole table)
  --dry-run                print the changes, change nothing
  -v, --verbose            apply prints a line a change ('ok: ...', 'failed: ...', 'would
                           ...' with --dry-run); without it one summary line ('applied 3
                           changes: ...'), and on failure the failed steps

Global options:
  --netns PATH|NAME        work in a network namespace (a NAME is /run/netns/NAME); its
                           interfaces are the ones --params-network reads
  --params-env             resolve ${env.NAME} from the environment
  --params-network         resolve ${host.IFNAME} from the interfaces' addresses
  --params-file FILE       resolve ${KEY.PATH} from a YAML or JSON file (repeatable)
  --params-url URL         the same from an http:// URL (repeatable); sources are asked
                           in this order: network, env, files, URLs
                           Every source is off unless enabled: a ${...} that no enabled
                           source knows is an error (the C API's rule, IPVSRS_PARAMS_*)
  -h, --help               this text
  --version                the version

Exit codes:
  0 success          1 a kernel change failed (apply rolled back), or stdout failed
  2 usage error      3 model or parameters (file, URL) unreadable or invalid
  4 IPVS not available, no permission, or the table cannot be read
  5 refused by --allowed-actions
";

/// Why a command ended unsuccessfully: the exit code and what to print on stderr.
struct Failure {
    code: u8,
    message: String,
}

/// Standard output could not be written (a closed pipe, a full disk).
impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        fail(APPLY_FAILED, format!("writing the output: {e}"))
    }
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

const APPLY_FAILED: u8 = 1;
const USAGE_ERROR: u8 = 2;
const INVALID_MODEL: u8 = 3;
const KERNEL: u8 = 4;
const REFUSED: u8 = 5;

/// Options that take a value, and those that are switches.
const VALUE_OPTIONS: &[&str] = &[
    "--file",
    "--format",
    "--allowed-actions",
    "--scope",
    "--service",
    "--destination",
    "--time",
    "--netns",
    "--params-file",
    "--params-url",
];
const SWITCHES: &[&str] = &[
    "--keep-weights",
    "--verbose",
    "--dry-run",
    "--params-env",
    "--params-network",
    "--help",
    "--version",
];
const GLOBAL: &[&str] = &[
    "--netns",
    "--params-env",
    "--params-network",
    "--params-file",
    "--params-url",
];

/// The command line, split: the command, its positional arguments, and options by name
/// (switches with an empty value), in order.
#[derive(Default)]
struct Args {
    command: Option<String>,
    positional: Vec<String>,
    options: Vec<(String, String)>,
}

impl Args {
    fn parse(raw: impl IntoIterator<Item = String>) -> Result<Args, Failure> {
        let mut args = Args::default();
        let mut raw = raw.into_iter();
        while let Some(arg) = raw.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) if name.starts_with("--") => (name.to_owned(), Some(value)),
                _ => (arg.clone(), None),
            };
            let name = match name.as_str() {
                "-f" => "--file".to_owned(),
                "-h" => "--help".to_owned(),
                "-v" => "--verbose".to_owned(),
                _ => name,
            };
            if VALUE_OPTIONS.contains(&name.as_str()) {
                let value = match inline {
                    Some(value) => value.to_owned(),
                    None => raw
                        .next()
                        .ok_or_else(|| fail(USAGE_ERROR, format!("{name} needs a value")))?,
                };
                args.options.push((name, value));
            } else if SWITCHES.contains(&name.as_str()) && inline.is_none() {
                args.options.push((name, String::new()));
            } else if arg.starts_with('-') && arg != "-" {
                return Err(fail(USAGE_ERROR, format!("unknown option {arg}")));
            } else if args.command.is_none() {
                args.command = Some(arg);
            } else {
                args.positional.push(arg);
            }
        }
        Ok(args)
    }

    fn has(&self, name: &str) -> bool {
        self.options.iter().any(|(n, _)| n == name)
    }

    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.options
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The last value given for `name`.
    fn value<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.values(name).last()
    }

    /// Fails unless every option is global or in `allowed`, and there are at most
    /// `positional` positional arguments.
    fn check(&self, allowed: &[&str], positional: usize) -> Result<(), Failure> {
        let command = self.command.as_deref().unwrap_or_default();
        if let Some((name, _)) = self
            .options
            .iter()
            .find(|(n, _)| !GLOBAL.contains(&n.as_str()) && !allowed.contains(&n.as_str()))
        {
            return Err(fail(
                USAGE_ERROR,
                format!("{command} takes no option {name}"),
            ));
        }
        if let Some(extra) = self.positional.get(positional) {
            return Err(fail(
                USAGE_ERROR,
                format!("{command}: unexpected argument {extra}"),
            ));
        }
        Ok(())
    }
}

/// Big enough that a changeset of 110,000 lines takes a few hundred writes.
const OUTPUT_BUFFER: usize = 64 * 1024;

fn main() -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(OUTPUT_BUFFER, stdout.lock());
    let result = run(std::env::args().skip(1), &mut out);
    // Before anything goes to stderr, so that the two read in order.
    let flushed = out.flush().map_err(Failure::from);
    match result.and(flushed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            for line in failure.message.lines() {
                eprintln!("{PROGRAM}: {line}");
            }
            if failure.code == USAGE_ERROR {
                eprintln!("Try '{PROGRAM} --help'.");
            }
            ExitCode::from(failure.code)
        }
    }
}

fn run(raw: impl IntoIterator<Item = String>, out: &mut impl Write) -> Result<(), Failure> {
    let args = Args::parse(raw)?;
    if args.has("--help") {
        out.write_all(USAGE.as_bytes())?;
        return Ok(());
    }
    if args.has("--version") {
        writeln!(out, "{PROGRAM} {}", env!("CARGO_PKG_VERSION"))?;
        return Ok(());
    }
    if let Some(netns) = args.value("--netns") {
        enter_netns(netns)?;
    }
    match args.command.as_deref() {
        Some("validate") => validate(&args),
        Some("diff") => show_diff(&args, out),
        Some("apply") => run_apply(&args, out),
        Some("get") => get(&args, out),
        Some("weight") => weight(&args),
        Some(other) => Err(fail(USAGE_ERROR, format!("unknown command {other}"))),
        None => Err(fail(USAGE_ERROR, "no command given")),
    }
}

/// The parameter sources the options enable; none unless asked, as from C (see
/// `ParamSources`). URLs are fetched now, before the model is read.
fn param_sources(args: &Args) -> Result<ParamSources, Failure> {
    let mut documents = Vec::new();
    for url in args.values("--params-url") {
        let text = params_url::fetch(url).map_err(|e| fail(INVALID_MODEL, e))?;
        documents.push((text, url.to_owned()));
    }
    Ok(ParamSources {
        network: args.has("--params-network"),
        env: args.has("--params-env"),
        files: args.values("--params-file").map(PathBuf::from).collect(),
        documents,
    })
}

/// The model `-f` names: a file, or stdin for `-`.
fn model_source(args: &Args) -> ModelSource<'_> {
    match args.value("--file").unwrap_or(DEFAULT_MODEL) {
        "-" => ModelSource::Stdin,
        path => ModelSource::File(Path::new(path)),
    }
}

/// What `diff` and `apply` ask of the pipeline.
fn converge_options(args: &Args, dry_run: bool) -> Result<ConvergeOptions, Failure> {
    let mut scope = Vec::new();
    for rules in args.values("--scope") {
        scope.extend(ScopeRule::parse_list(rules).map_err(|e| fail(USAGE_ERROR, e))?);
    }
    let allowed = Action::parse_list(args.value("--allowed-actions").unwrap_or("*"))
        .map_err(|e| fail(USAGE_ERROR, format!("--allowed-actions: {e}")))?;
    Ok(ConvergeOptions {
        params: param_sources(args)?,
        diff: DiffOptions {
            scope,
            keep_weights: args.has("--keep-weights"),
        },
        allowed,
        dry_run,
    })
}

/// The exit code of each way the pipeline stops.
fn converge_failure(e: ConvergeError) -> Failure {
    let code = match e {
        ConvergeError::ModelUnreadable { .. }
        | ConvergeError::ModelInvalid { .. }
        | ConvergeError::Interfaces(_)
        | ConvergeError::Params(_) => INVALID_MODEL,
        ConvergeError::Kernel(_) => KERNEL,
        ConvergeError::Refused(_) => REFUSED,
        ConvergeError::ApplyFailed(_) => APPLY_FAILED,
    };
    fail(code, e.to_string())
}

/// Moves this (single-threaded) process into the namespace, so that the IPVS table and
/// the interfaces that `${host.IFNAME}` names are both the namespace's.
fn enter_netns(netns: &str) -> Result<(), Failure> {
    let path = match netns.contains('/') {
        true => netns.to_owned(),
        false => format!("/run/netns/{netns}"),
    };
    let file = std::fs::File::open(&path)
        .map_err(|e| fail(KERNEL, format!("opening network namespace {path}: {e}")))?;
    // SAFETY: setns on a descriptor we own; it changes only this thread's namespace, and
    // the program has no other thread yet (the model's parser thread starts later, in it).
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(fail(
            KERNEL,
            format!("entering network namespace {path}: {e}"),
        ));
    }
    Ok(())
}

fn open() -> Result<Handle, Failure> {
    Handle::open().map_err(|e| fail(KERNEL, e.to_string()))
}

fn validate(args: &Args) -> Result<(), Failure> {
    args.check(&["--file"], 0)?;
    let params = param_sources(args)?.resolve().map_err(converge_failure)?;
    model_source(args).load(&params).map_err(converge_failure)?;
    Ok(())
}

/// The changes that would make the kernel match the model.
fn planned(args: &Args) -> Result<Vec<Change>, Failure> {
    let options = converge_options(args, true)?;
    converge(&mut open()?, model_source(args), &options)
        .map(Converged::into_changes)
        .map_err(converge_failure)
}

fn show_diff(args: &Args, out: &mut impl Write) -> Result<(), Failure> {
    args.check(&["--file", "--format", "--scope", "--keep-weights"], 0)?;
    let format = args.value("--format").unwrap_or("text");
    if !matches!(format, "text" | "yaml" | "summary") {
        return Err(fail(
            USAGE_ERROR,
            format!("--format {format}: expected text, yaml or summary"),
        ));
    }
    let changes = planned(args)?;
    match format {
        "yaml" => changeset_yaml::write(out, &changes)?,
        "summary" => writeln!(out, "{}", summary("would apply", &changes))?,
        _ => {
            for change in &changes {
                writeln!(out, "{change}")?;
            }
        }
    }
    Ok(())
}

/// "applied 3 changes: 1 add-service, 2 add-destination" (with `verb` "applied"), the
/// kinds in a fixed order; "no changes" when there are none.
fn summary<'a>(verb: &str, changes: impl IntoIterator<Item = &'a Change>) -> String {
    let mut counts = [0usize; Action::ALL.len()];
    for change in changes {
        if let Some(kind) = Action::ALL.iter().position(|a| *a == change.action()) {
            counts[kind] += 1;
        }
    }
    let total: usize = counts.iter().sum();
    if total == 0 {
        return "no changes".to_owned();
    }
    let kinds: Vec<String> = Action::ALL
        .iter()
        .zip(counts)
        .filter(|(_, count)| *count > 0)
        .map(|(action, count)| format!("{count} {}", action.name()))
        .collect();
    let plural = if total == 1 { "" } else { "s" };
    format!("{verb} {total} change{plural}: {}", kinds.join(", "))
}

fn run_apply(args: &Args, out: &mut impl Write) -> Result<(), Failure> {
    let allowed = [
        "--file",
        "--keep-weights",
        "--allowed-actions",
        "--scope",
        "--dry-run",
        "--verbose",
    ];
    args.check(&allowed, 0)?;
    let verbose = args.has("--verbose");
    let options = converge_options(args, args.has("--dry-run"))?;
    match converge(&mut open()?, model_source(args), &options) {
        Ok(Converged::Planned(changes)) if verbose => {
            for change in &changes {
                writeln!(out, "would {change}")?;
            }
            Ok(())
        }
        Ok(Converged::Planned(changes)) => {
            writeln!(out, "{}", summary("would apply", &changes))?;
            Ok(())
        }
        Ok(Converged::Applied(report)) => {
            print_report(out, &report, verbose)?;
            Ok(())
        }
        Err(ConvergeError::ApplyFailed(report)) => {
            print_report(out, &report, verbose)?;
            Err(converge_failure(ConvergeError::ApplyFailed(report)))
        }
        Err(e) => Err(converge_failure(e)),
    }
}

/// Verbose: a line for each change. Otherwise the summary of a success, or the steps that
/// failed (stderr then says that the others were rolled back).
fn print_report(out: &mut impl Write, report: &ApplyReport, verbose: bool) -> io::Result<()> {
    if !verbose && report.succeeded() {
        return writeln!(out, "{}", summary("applied", &report.changes));
    }
    for (change, result) in report.results() {
        match result {
            Ok(()) if verbose => writeln!(out, "ok: {change}")?,
            Ok(()) => {}
            Err(e) => writeln!(out, "failed: {change}: {e}")?,
        }
    }
    Ok(())
}

fn get(args: &Args, out: &mut impl Write) -> Result<(), Failure> {
    args.check(&[], 0)?;
    let mut handle = open()?;
    let table = KernelTable::read(&mut handle)
        .map_err(|e| fail(KERNEL, format!("reading the table: {e}")))?;
    out.write_all(to_yaml(&table).as_bytes())?;
    Ok(())
}

/// A required option's value, parsed.
fn required<T: std::str::FromStr<Err = String>>(args: &Args, name: &str) -> Result<T, Failure> {
    let text = args
        .value(name)
        .ok_or_else(|| fail(USAGE_ERROR, format!("weight needs {name}")))?;
    text.parse()
        .map_err(|e| fail(USAGE_ERROR, format!("{name} {text:?}: {e}")))
}

fn weight(args: &Args) -> Result<(), Failure> {
    args.check(&["--service", "--destination", "--time"], 1)?;
    let target: i32 = args
        .positional
        .first()
        .and_then(|w| w.parse().ok())
        .filter(|w| (0..=65535).contains(w))
        .ok_or_else(|| fail(USAGE_ERROR, "weight needs a WEIGHT in 0..65535"))?;
    let service: ServiceKey = required(args, "--service")?;
    let dest_key: DestKey = required(args, "--destination")?;
    let seconds: u32 = match args.value("--time") {
        Some(text) => text.parse().map_err(|_| {
            fail(
                USAGE_ERROR,
                format!("--time {text:?} is not a number of seconds"),
            )
        })?,
        None => 0,
    };
    let mut handle = open()?;
    let dests = handle
        .dests(&service)
        .map_err(|e| fail(KERNEL, format!("reading {service}: {e}")))?;
    let mut dest = dests
        .into_iter()
        .map(|entry| entry.dest)
        .find(|d| d.key() == dest_key)
        .ok_or_else(|| fail(KERNEL, format!("{service} has no destination {dest_key}")))?;
    let start = i64::from(dest.weight);
    for step in 1..=seconds.max(1) {
        if seconds > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        let delta = (i64::from(target) - start) * i64::from(step) / i64::from(seconds.max(1));
        dest.weight = (start + delta) as i32;
        handle.update_dest(&service, &dest).map_err(|e| {
            fail(
                APPLY_FAILED,
                format!("setting the weight to {}: {e}", dest.weight),
            )
        })?;
    }
    Ok(())
}
