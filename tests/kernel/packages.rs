//! The Debian packages of `make deb`, as `make deb-install` installed them on the host (the
//! VM's root filesystem is the host's): c-examples/quickstart.c built against /usr alone,
//! Debian's python3 with python3-ipvsrs, and /usr/bin/ipvsrs, each in a fresh namespace.
//! `make test-kernel` installs the packages first; without them these tests fail.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{assert_saved, built_by, run, settled, Netns};

/// Panics unless `package` is installed at Cargo.toml's version; returns its files.
fn installed(package: &str) -> Vec<PathBuf> {
    let version = env!("CARGO_PKG_VERSION");
    let status = Command::new("dpkg-query")
        .args(["-W", "-f=${Status} ${Version}", package])
        .output()
        .expect("run dpkg-query");
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        format!("install ok installed {version}"),
        "the Debian package {package} {version} is not installed: run `make test-kernel`, \
         which installs them (make deb-install)"
    );
    run(Command::new("dpkg").args(["-L", package]))
        .lines()
        .map(PathBuf::from)
        .collect()
}

/// The shared library file of the installed libipvsrs0.
fn installed_library() -> PathBuf {
    let name = format!("libipvsrs.so.{}", env!("CARGO_PKG_VERSION"));
    installed("libipvsrs0")
        .into_iter()
        .find(|path| path.file_name().is_some_and(|file| file == name.as_str()))
        .expect("libipvsrs0 ships the library")
}

/// quickstart.c, compiled with `pkg-config --cflags --libs ipvsrs` from the installed
/// libipvsrs-dev (no run path), programs the kernel through the installed libipvsrs0.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn installed_packages_quickstart_programs_the_kernel() {
    installed("libipvsrs-dev");
    let library = installed_library();
    let ns = Netns::new();
    // Built against the installed packages by make deb-install.
    let quickstart = built_by("deb-install", "IPVSRS_DEB_CHECK", "quickstart");
    let out = run(ns.exec(&quickstart).env_remove("LD_LIBRARY_PATH"));
    assert!(out.contains("TCP  192.0.2.10:80 wrr"), "{out}");
    assert_saved(
        &ns,
        &[
            "-A -t 192.0.2.10:80 -s wrr",
            "-a -t 192.0.2.10:80 -r 198.51.100.1:8080 -m -w 100",
            "-a -t 192.0.2.10:80 -r 198.51.100.2:8080 -m -w 200",
        ],
    );
    let loaded = run(Command::new("ldd")
        .arg(&quickstart)
        .env_remove("LD_LIBRARY_PATH"));
    let resolved = loaded
        .lines()
        .find_map(|line| line.trim().strip_prefix("libipvsrs.so.0 => "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("ldd names no libipvsrs.so.0: {loaded}"));
    assert_eq!(std::fs::canonicalize(resolved).unwrap(), library);
}

/// Debian's python3 imports python3-ipvsrs's module (no IPVSRS_LIBRARY, no path into the
/// tree), which loads the installed library and applies a model; the installed ipvsrs
/// command reads back what ipvsadm reads.
#[test]
#[ignore = "needs an IPVS kernel: make test-kernel"]
fn installed_packages_python_applies_a_model_and_ipvsrs_lists_it() {
    let module = installed("python3-ipvsrs");
    let commands = installed("ipvsrs");
    let library = installed_library();
    let ns = Netns::new();
    let script = r#"
import ipvsrs
model = """
services:
  - address: tcp://192.0.2.20:443
    sched: wlc
    destinations:
      - { address: 198.51.100.7:8443, forward: nat, weight: 3 }
"""
with ipvsrs.Handle() as h:
    for change in h.apply_yaml(model):
        print("change", change.kind)
    for svc in h.services():
        print("service", svc.key, svc.scheduler, [(d.endpoint, d.forward, d.weight) for d in svc.dests])
print("module", ipvsrs.__file__)
with open("/proc/self/maps") as maps:
    print("library", next(line.split()[-1] for line in maps if "libipvsrs" in line))
"#;
    let out = run(ns
        .exec("/usr/bin/python3")
        .args(["-c", script])
        .env_remove("IPVSRS_LIBRARY")
        .env_remove("PYTHONPATH")
        .current_dir("/"));
    let line = |tag: &str| -> Vec<&str> {
        out.lines()
            .filter_map(|l| l.strip_prefix(tag)?.strip_prefix(' '))
            .collect()
    };
    assert_eq!(line("change"), ["add-service", "add-destination"], "{out}");
    assert_eq!(
        line("service"),
        ["tcp://192.0.2.20:443 wlc [('198.51.100.7:8443', 'nat', 3)]"],
        "{out}"
    );
    let module_file = PathBuf::from(line("module")[0]);
    assert!(
        module.contains(&module_file),
        "{} {module:?}",
        module_file.display()
    );
    assert_eq!(
        std::fs::canonicalize(line("library")[0]).unwrap(),
        library,
        "{out}"
    );

    let ipvsrs = PathBuf::from("/usr/bin/ipvsrs");
    assert!(commands.contains(&ipvsrs), "{commands:?}");
    let listed = settled(|| run(Command::new(&ipvsrs).args(["--netns", &ns.name, "list"])));
    assert_eq!(listed, ns.ipvsadm_listing(&["-Ln"]));
}
