//! `ipvsrs`: the IPVS table as a declared model, from the command line.
//!
//! Exit codes (also in `ipvsrs --help`):
//! - 0: success (for `validate`: the model is valid; for `diff`: computed, in sync or not)
//! - 1: a kernel change failed (`apply` rolled its changes back; `weight` stopped)
//! - 2: usage error (unknown command or option, missing or malformed argument)
//! - 3: the model or a parameter file cannot be read or is invalid
//! - 4: IPVS not available, no permission, or the kernel table cannot be read
//! - 5: `apply` refused: the changeset needs actions `--allowed-actions` does not allow

mod params_url;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::Duration;

use ipvsrs::desired::yaml::{self, to_yaml, Params};
use ipvsrs::desired::DesiredTable;
use ipvsrs::desired::{apply, diff, Action, Change, DiffOptions, KernelTable, ScopeRule};
use ipvsrs::model::{DestKey, ServiceKey};
use ipvsrs::Handle;
use serde_yaml::{Mapping, Value};

const PROGRAM: &str = "ipvsrs";
const DEFAULT_MODEL: &str = "/etc/ipvsrs.yaml";

const USAGE: &str = "\
Usage: ipvsrs [GLOBAL OPTIONS] COMMAND [OPTIONS]

Commands:
  validate [-f FILE]                 check a model (no root needed); silent when valid
  diff [-f FILE] [--format text|yaml]
                                     the changes that would make the kernel match the model
  apply [-f FILE] [--keep-weights] [--allowed-actions=SPEC] [--scope=RULES] [--dry-run]
                                     make the kernel match the model, all or nothing
  get                                the kernel's table as a model
  weight WEIGHT --service=URL --destination=ADDR:PORT [--time=SECONDS]
                                     set one destination's weight, ramped over SECONDS

Options:
  -f, --file FILE          the model; - for stdin (default /etc/ipvsrs.yaml)
  --format text|yaml       text: one line a change; yaml: ipvsctl's changeset items
  --keep-weights           keep the kernel's weights of existing destinations
  --allowed-actions=SPEC   comma list of as,us,ds,ad,ud,dd (add/update/delete a service
                           or destination), ut (timeouts), ay,dy (add/delete a sync
                           daemon), or * (default); a changeset needing any other action
                           is refused whole
  --scope=RULES            the services the model owns, e.g. 10.0.0.0/24:80-443,fwmark:1-9,
                           udp://10.0.1.0/24, tcp://[2001:db8::1]:443 (a service's own key);
                           others are left alone (default: the whole table)
  --dry-run                print the changes, change nothing

Global options:
  --netns PATH|NAME        work in a network namespace (a NAME is /run/netns/NAME); its
                           interfaces are the ones --params-network reads
  --params-env             resolve ${env.NAME} from the environment
  --params-network         resolve ${host.IFNAME} from the interfaces' addresses
  --params-file FILE       resolve ${KEY.PATH} from a YAML or JSON file (repeatable)
  --params-url URL         the same from an http:// URL (repeatable); sources are asked
                           in this order: network, env, files, URLs
  -h, --help               this text
  --version                the version

Exit codes:
  0 success          1 a kernel change failed (apply rolled back)
  2 usage error      3 model or parameters (file, URL) unreadable or invalid
  4 IPVS not available, no permission, or the table cannot be read
  5 refused by --allowed-actions
";

/// Why a command ended unsuccessfully: the exit code and what to print on stderr.
struct Failure {
    code: u8,
    message: String,
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

fn main() -> ExitCode {
    match run(std::env::args().skip(1)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("{PROGRAM}: {}", failure.message);
            }
            if failure.code == USAGE_ERROR {
                eprintln!("Try '{PROGRAM} --help'.");
            }
            ExitCode::from(failure.code)
        }
    }
}

fn run(raw: impl IntoIterator<Item = String>) -> Result<(), Failure> {
    let args = Args::parse(raw)?;
    if args.has("--help") {
        print!("{USAGE}");
        return Ok(());
    }
    if args.has("--version") {
        println!("{PROGRAM} {}", env!("CARGO_PKG_VERSION"));
        return Ok(());
    }
    if let Some(netns) = args.value("--netns") {
        enter_netns(netns)?;
    }
    match args.command.as_deref() {
        Some("validate") => validate(&args),
        Some("diff") => show_diff(&args),
        Some("apply") => run_apply(&args),
        Some("get") => get(&args),
        Some("weight") => weight(&args),
        Some(other) => Err(fail(USAGE_ERROR, format!("unknown command {other}"))),
        None => Err(fail(USAGE_ERROR, "no command given")),
    }
}

fn params(args: &Args) -> Result<Params, Failure> {
    let mut params = Params::new();
    if args.has("--params-network") {
        params = params.with_host_interfaces().map_err(|e| {
            fail(
                INVALID_MODEL,
                format!("reading the interfaces' addresses: {e}"),
            )
        })?;
    }
    if args.has("--params-env") {
        params = params.with_process_env();
    }
    for file in args.values("--params-file") {
        params = params
            .with_values_file(file.as_ref())
            .map_err(|e| fail(INVALID_MODEL, e.to_string()))?;
    }
    for url in args.values("--params-url") {
        let text = params_url::fetch(url).map_err(|e| fail(INVALID_MODEL, e))?;
        params = params
            .with_values_text(&text, url)
            .map_err(|e| fail(INVALID_MODEL, e.to_string()))?;
    }
    Ok(params)
}

/// Reads and validates the model named by `-f`.
fn model(args: &Args) -> Result<DesiredTable, Failure> {
    let path = args.value("--file").unwrap_or(DEFAULT_MODEL);
    let text = if path == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| fail(INVALID_MODEL, format!("cannot read {path}: {e}")))?;
    let shown = if path == "-" { "<stdin>" } else { path };
    yaml::parse(&text, &params(args)?).map_err(|errors| {
        let lines: Vec<String> = errors.0.iter().map(|e| format!("{shown}: {e}")).collect();
        fail(INVALID_MODEL, lines.join(&format!("\n{PROGRAM}: ")))
    })
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
    // the program has no other thread.
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

fn kernel_table(handle: &mut Handle) -> Result<KernelTable, Failure> {
    KernelTable::read(handle).map_err(|e| fail(KERNEL, format!("reading the table: {e}")))
}

fn validate(args: &Args) -> Result<(), Failure> {
    args.check(&["--file"], 0)?;
    model(args).map(|_| ())
}

/// The model, an open handle, and the changes between them.
fn changes(args: &Args) -> Result<(Handle, Vec<Change>), Failure> {
    let model = model(args)?;
    let scope = args
        .values("--scope")
        .flat_map(|rules| rules.split(','))
        .map(|rule| rule.trim().parse::<ScopeRule>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(USAGE_ERROR, e))?;
    let options = DiffOptions {
        scope,
        keep_weights: args.has("--keep-weights"),
    };
    let mut handle = open()?;
    let table = kernel_table(&mut handle)?;
    Ok((handle, diff(&model, &table, &options)))
}

fn show_diff(args: &Args) -> Result<(), Failure> {
    args.check(&["--file", "--format", "--scope", "--keep-weights"], 0)?;
    let format = args.value("--format").unwrap_or("text");
    if !matches!(format, "text" | "yaml") {
        return Err(fail(
            USAGE_ERROR,
            format!("--format {format}: expected text or yaml"),
        ));
    }
    let (_, changes) = changes(args)?;
    if format == "yaml" {
        print!("{}", changeset_yaml(&changes));
    } else {
        changes.iter().for_each(|change| println!("{change}"));
    }
    Ok(())
}

/// ipvsctl's changeset: `items:` with type, description, service and destination; `{}`
/// when there is nothing to do. Timeout and daemon items have neither service nor
/// destination.
fn changeset_yaml(changes: &[Change]) -> String {
    let text = |s: &str| Value::String(s.to_owned());
    let items: Vec<Value> = changes
        .iter()
        .map(|change| {
            let mut item = Mapping::new();
            item.insert(text("type"), text(change.action().name()));
            item.insert(text("description"), text(&change.to_string()));
            if let Some(service) = change.service() {
                item.insert(text("service"), text(&service.key.to_string()));
            }
            if let Some(dest) = change.dest() {
                item.insert(text("destination"), text(&dest.key().to_string()));
            }
            Value::Mapping(item)
        })
        .collect();
    let mut root = Mapping::new();
    if !items.is_empty() {
        root.insert(text("items"), Value::Sequence(items));
    }
    serde_yaml::to_string(&root).expect("a mapping of strings serialises")
}

fn run_apply(args: &Args) -> Result<(), Failure> {
    let allowed = [
        "--file",
        "--keep-weights",
        "--allowed-actions",
        "--scope",
        "--dry-run",
    ];
    args.check(&allowed, 0)?;
    let actions = Action::parse_list(args.value("--allowed-actions").unwrap_or("*"))
        .map_err(|e| fail(USAGE_ERROR, format!("--allowed-actions: {e}")))?;
    let (mut handle, changes) = changes(args)?;
    if args.has("--dry-run") {
        changes.iter().for_each(|change| println!("would {change}"));
        return Ok(());
    }
    let report = apply(&mut handle, changes, &actions).map_err(|e| fail(REFUSED, e.to_string()))?;
    for (change, result) in &report.results {
        match result {
            Ok(()) => println!("ok: {change}"),
            Err(e) => println!("failed: {change}: {e}"),
        }
    }
    if report.succeeded() {
        return Ok(());
    }
    let mut message = "apply failed; the changes made were rolled back".to_owned();
    for e in &report.rollback_failures {
        message.push_str(&format!("\n{PROGRAM}: rollback step failed: {e}"));
    }
    Err(fail(APPLY_FAILED, message))
}

fn get(args: &Args) -> Result<(), Failure> {
    args.check(&[], 0)?;
    let mut handle = open()?;
    print!("{}", to_yaml(&kernel_table(&mut handle)?));
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
