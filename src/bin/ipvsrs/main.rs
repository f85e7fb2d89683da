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
//! - 6: `apply` gave up: another converger held the namespace's lock for all of `--wait`
//!
//! `diff --exit-code` exits 1 when the kernel differs from the model (git's convention).

mod changeset_yaml;
mod cli;
mod list;
mod params_url;

use std::io::{self, BufWriter, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{CommandFactory, Parser};
use ipvsrs::desired::yaml::to_yaml;
use ipvsrs::desired::{
    converge, Action, ApplyReport, Change, ConvergeError, ConvergeOptions, Converged, DiffOptions,
    KernelTable, LockError, ModelSource, ParamSources, ScopeRule,
};
use ipvsrs::metrics::{self, Scrape};
use ipvsrs::model::{DestKey, ServiceKey};
use ipvsrs::Handle;

use cli::{Cli, Command, DiffFormat, Global, MetricsFormat, Model};

const PROGRAM: &str = "ipvsrs";

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
const BUSY: u8 = 6;
/// `diff --exit-code`: the kernel differs from the model.
const DIFFERS: u8 = 1;

/// Big enough that a changeset of 110,000 lines takes a few hundred writes.
const OUTPUT_BUFFER: usize = 64 * 1024;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(e),
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(OUTPUT_BUFFER, stdout.lock());
    let result = run(cli, &mut out);
    // Before anything goes to stderr, so that the two read in order.
    let flushed = out.flush().map_err(Failure::from);
    match result.and(flushed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            for line in failure.message.lines() {
                eprintln!("{PROGRAM}: {line}");
            }
            ExitCode::from(failure.code)
        }
    }
}

/// Help and the version go to stdout (exit 0); a usage error to stderr, each line as
/// every other message of the program begins, with clap's suggestion (exit 2).
fn usage(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let text = e.render().to_string();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprintln!("{PROGRAM}: a command is needed");
            eprint!("{text}");
        }
        _ => {
            let text = text.strip_prefix("error: ").unwrap_or(&text);
            for line in text.lines().filter(|line| !line.is_empty()) {
                eprintln!("{PROGRAM}: {line}");
            }
        }
    }
    ExitCode::from(USAGE_ERROR)
}

fn run(cli: Cli, out: &mut impl Write) -> Result<(), Failure> {
    let global = &cli.global;
    if let Some(netns) = &global.netns {
        enter_netns(netns)?;
    }
    match &cli.command {
        Command::Validate(model) => validate(global, model),
        Command::Diff {
            model,
            diff,
            format,
            exit_code,
        } => {
            let options = converge_options(global, diff, "*", true)?;
            let changes = show_diff(out, &options, model, *format)?;
            match *exit_code && changes > 0 {
                true => Err(fail(DIFFERS, "")),
                false => Ok(()),
            }
        }
        Command::Apply {
            model,
            diff,
            allowed_actions,
            dry_run,
            verbose,
            wait,
        } => {
            let options = ConvergeOptions {
                wait: *wait,
                ..converge_options(global, diff, allowed_actions, *dry_run)?
            };
            run_apply(out, &options, model, *verbose)
        }
        Command::Get => get(out),
        Command::List {
            connections: true,
            json,
            ..
        } => {
            let conns = open()?
                .connections()
                .map_err(|e| fail(KERNEL, format!("reading the connections: {e}")))?;
            if *json {
                list::connections_json(out, &conns)?
            } else {
                list::connections_text(out, &conns)?
            }
            Ok(())
        }
        Command::List {
            stats, rate, json, ..
        } => {
            let mut handle = open()?;
            let table = list::Table::read(&mut handle)
                .map_err(|e| fail(KERNEL, format!("reading the table: {e}")))?;
            match (json, stats, rate) {
                (true, _, _) => list::json(out, &table)?,
                (_, true, _) => list::text(out, &table, list::View::Stats)?,
                (_, _, true) => list::text(out, &table, list::View::Rate)?,
                _ => list::text(out, &table, list::View::Table)?,
            }
            Ok(())
        }
        Command::Metrics { format } => scrape(out, *format),
        Command::Weight {
            weight,
            service,
            destination,
            time,
        } => set_weight(*weight, service, destination, *time),
        Command::Completion { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), PROGRAM, out);
            Ok(())
        }
    }
}

/// The parameter sources the options enable; none unless asked, as from C (see
/// `ParamSources`). URLs are fetched now, before the model is read.
fn param_sources(global: &Global) -> Result<ParamSources, Failure> {
    let mut documents = Vec::new();
    for url in &global.params_url {
        let text = params_url::fetch(url).map_err(|e| fail(INVALID_MODEL, e))?;
        documents.push((text, url.to_owned()));
    }
    Ok(ParamSources {
        network: global.params_network,
        env: global.params_env,
        files: global.params_file.clone(),
        documents,
    })
}

/// The model `-f` names: a file, or stdin for `-`.
fn model_source(model: &Model) -> ModelSource<'_> {
    match model.file.as_path() {
        path if path == Path::new("-") => ModelSource::Stdin,
        path => ModelSource::File(path),
    }
}

/// What `diff` and `apply` ask of the pipeline.
fn converge_options(
    global: &Global,
    diff: &cli::DiffArgs,
    allowed_actions: &str,
    dry_run: bool,
) -> Result<ConvergeOptions, Failure> {
    let mut scope = Vec::new();
    for rules in &diff.scope {
        scope.extend(ScopeRule::parse_list(rules).map_err(|e| fail(USAGE_ERROR, e))?);
    }
    let allowed = Action::parse_list(allowed_actions)
        .map_err(|e| fail(USAGE_ERROR, format!("--allowed-actions: {e}")))?;
    Ok(ConvergeOptions {
        params: param_sources(global)?,
        diff: DiffOptions {
            scope,
            keep_weights: diff.keep_weights,
        },
        allowed,
        dry_run,
        ..ConvergeOptions::default()
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
        ConvergeError::Lock(LockError::Busy { .. }) => BUSY,
        ConvergeError::Lock(LockError::Failed(_)) => KERNEL,
        ConvergeError::ApplyFailed(_) | ConvergeError::RollbackIncomplete(_) => APPLY_FAILED,
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

/// The handle for a diff or an apply of `model`; when IPVS cannot be reached, an invalid
/// model is reported as such (exit 3, every error), as `validate` would.
fn open_for(options: &ConvergeOptions, model: &Model) -> Result<Handle, Failure> {
    open().or_else(|unreachable| {
        model_source(model)
            .check(options)
            .map_err(converge_failure)?;
        Err(unreachable)
    })
}

fn validate(global: &Global, model: &Model) -> Result<(), Failure> {
    let params = param_sources(global)?.resolve().map_err(converge_failure)?;
    model_source(model)
        .load(&params)
        .map_err(converge_failure)?;
    Ok(())
}

/// Writes the changes; how many there are.
fn show_diff(
    out: &mut impl Write,
    options: &ConvergeOptions,
    model: &Model,
    format: DiffFormat,
) -> Result<usize, Failure> {
    let changes = converge(&mut open_for(options, model)?, model_source(model), options)
        .map(Converged::into_changes)
        .map_err(converge_failure)?;
    match format {
        DiffFormat::Yaml => changeset_yaml::write(out, &changes)?,
        DiffFormat::Summary => writeln!(out, "{}", summary("would apply", &changes))?,
        DiffFormat::Text => {
            for change in &changes {
                writeln!(out, "{change}")?;
            }
        }
    }
    Ok(changes.len())
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

fn run_apply(
    out: &mut impl Write,
    options: &ConvergeOptions,
    model: &Model,
    verbose: bool,
) -> Result<(), Failure> {
    match converge(&mut open_for(options, model)?, model_source(model), options) {
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
        Err(ConvergeError::ApplyFailed(report) | ConvergeError::RollbackIncomplete(report)) => {
            print_report(out, &report, verbose)?;
            Err(converge_failure(ConvergeError::of_failed_apply(report)))
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

fn get(out: &mut impl Write) -> Result<(), Failure> {
    let mut handle = open()?;
    let table = KernelTable::read(&mut handle)
        .map_err(|e| fail(KERNEL, format!("reading the table: {e}")))?;
    out.write_all(to_yaml(&table).as_bytes())?;
    Ok(())
}

/// The services and destinations with their counters, rendered by the library's
/// metrics renderer (the one `ipvsrs_metrics` uses).
fn scrape(out: &mut impl Write, format: MetricsFormat) -> Result<(), Failure> {
    let scrape =
        Scrape::read(&mut open()?).map_err(|e| fail(KERNEL, format!("reading the table: {e}")))?;
    let text = match format {
        MetricsFormat::Prometheus => metrics::prometheus(&scrape),
        MetricsFormat::Influx => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            metrics::influx(&scrape, u64::try_from(now.as_nanos()).unwrap_or(u64::MAX))
        }
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// Sets a destination's weight, in steps of one a second over `seconds`. Each step reads
/// the destination again and writes it back with only the weight changed, and stops when
/// the weight is not what the ramp last left: someone else (a health checker, an
/// operator) set it meanwhile, and theirs stands. What remains: a weight written between
/// a step's read and its write (microseconds apart) is overwritten by that step.
fn set_weight(
    target: u16,
    service: &ServiceKey,
    dest_key: &DestKey,
    seconds: u32,
) -> Result<(), Failure> {
    let mut handle = open()?;
    let read = |handle: &mut Handle| {
        let dests = handle
            .dests(service)
            .map_err(|e| fail(KERNEL, format!("reading {service}: {e}")))?;
        let dest = (dests.into_iter().map(|entry| entry.dest))
            .find(|d| d.key() == *dest_key)
            .ok_or_else(|| fail(KERNEL, format!("{service} has no destination {dest_key}")))?;
        Ok::<_, Failure>(dest)
    };
    let start = i64::from(read(&mut handle)?.weight);
    let mut left = start;
    let steps = i64::from(seconds.max(1));
    for step in 1..=steps {
        if seconds > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        let mut dest = read(&mut handle)?;
        if i64::from(dest.weight) != left {
            return Err(fail(
                APPLY_FAILED,
                format!(
                    "the weight of {dest_key} in {service} was set to {} by someone else \
                     (this ramp left {left}): stopped, leaving it",
                    dest.weight
                ),
            ));
        }
        dest.weight = (start + (i64::from(target) - start) * step / steps) as i32;
        handle.update_dest(service, &dest).map_err(|e| {
            fail(
                APPLY_FAILED,
                format!("setting the weight to {}: {e}", dest.weight),
            )
        })?;
        left = i64::from(dest.weight);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// The manual page, with roff's escaped hyphens read as hyphens.
    fn manual() -> String {
        include_str!("ipvsrs.1").replace("\\-", "-")
    }

    #[test]
    fn the_manual_names_every_command_and_option() {
        let manual = manual();
        let cli = Cli::command();
        let options = |command: &clap::Command| {
            let longs: Vec<String> = command
                .get_arguments()
                .filter_map(|a| a.get_long().map(|long| format!("--{long}")))
                .collect();
            longs
        };
        let mut missing: Vec<String> = options(&cli);
        for command in cli.get_subcommands() {
            missing.push(format!("\\fB{}\\fR", command.get_name()));
            missing.extend(options(command));
        }
        missing.retain(|name| !manual.contains(name.as_str()));
        assert_eq!(missing, Vec::<String>::new(), "not in ipvsrs.1");
    }

    #[test]
    fn the_manual_names_the_lock() {
        let name = format!("@{}", ipvsrs::desired::LOCK_NAME);
        assert!(manual().contains(&format!(".I {name}\n")), "{name}");
        assert!(include_str!("../../../README.md").contains(&format!("`{name}`")));
    }

    #[test]
    fn the_manual_gives_every_exit_code() {
        let manual = manual();
        let status = &manual[manual.find(".SH EXIT STATUS").unwrap()..];
        let status = &status[..status[1..].find(".SH").unwrap()];
        for code in [
            APPLY_FAILED,
            USAGE_ERROR,
            INVALID_MODEL,
            KERNEL,
            REFUSED,
            BUSY,
        ] {
            assert!(status.contains(&format!(".TP\n.B {code}\n")), "exit {code}");
        }
    }
}
