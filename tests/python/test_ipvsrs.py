"""The installed ipvsrs package (pip install c-examples/python) against a real IPVS kernel,
in the network namespace this process runs in (tests/kernel/python.rs starts it in a fresh
one, with lo up, as root).

The library is the one IPVSRS_LIBRARY names. StructLayout, ConnectionEntry and Package need
no kernel: tests/python/check runs them on the host.
"""

import ctypes
import errno
import importlib.metadata
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple, TypeVar, Union

import ipvsrs

MODEL = """\
services:
  - address: tcp://10.0.0.1:80
    sched: wrr
    destinations:
      - { address: 10.1.0.1:8080, forward: nat, weight: 5 }
      - { address: 10.1.0.2:8080, forward: nat, weight: 7, thresholds: { upper: 100, lower: 10 } }
  - address: udp://10.0.0.2:53
    persistence: { timeout: 300, netmask: 255.255.255.0 }
    destinations:
      - { address: 10.2.0.1:53, forward: direct, weight: 2 }
  - address: fwmark:7
    sched: sh
    destinations:
      - { address: 10.3.0.1, forward: tunnel }
  - address: tcp://[2001:db8::1]:443
    sched: lc
    destinations:
      - { address: "[2001:db8::10]:8443", forward: nat, weight: 3 }
"""

# MODEL as ipvsadm -Sn prints it: services sorted by fwmark, family, protocol, address,
# port; destinations by address. ipvsadm does not save thresholds.
MODEL_SAVED = [
    "-A -t 10.0.0.1:80 -s wrr",
    "-a -t 10.0.0.1:80 -r 10.1.0.1:8080 -m -w 5",
    "-a -t 10.0.0.1:80 -r 10.1.0.2:8080 -m -w 7",
    "-A -u 10.0.0.2:53 -s rr -p 300 -M 255.255.255.0",
    "-a -u 10.0.0.2:53 -r 10.2.0.1:53 -g -w 2",
    "-A -t [2001:db8::1]:443 -s lc",
    "-a -t [2001:db8::1]:443 -r [2001:db8::10]:8443 -m -w 3",
    "-A -f 7 -s sh",
    "-a -f 7 -r 10.3.0.1:0 -i -w 1 --tun-type ipip",
]

HASHED = 0x2  # IP_VS_SVC_F_HASHED: the kernel sets it on every listed service
PERSISTENT = 0x1  # IP_VS_SVC_F_PERSISTENT

# (destination, forward, weight, upper threshold, lower threshold)
DestinationRow = Tuple[str, str, int, int, int]
# (key, scheduler, flags, persistence timeout, netmask, engine, [DestinationRow])
ServiceRow = Tuple[str, str, int, int, Union[str, int], str, List[DestinationRow]]
# (kind, service, destination) of a change
ChangeIdentity = Tuple[str, Optional[str], Optional[str]]

# MODEL's services, sorted by key.
MODEL_LISTED: List[ServiceRow] = [
    ("fwmark:7", "sh", HASHED, 0, "255.255.255.255", "", [("10.3.0.1:0", "tunnel", 1, 0, 0)]),
    (
        "tcp://10.0.0.1:80",
        "wrr",
        HASHED,
        0,
        "255.255.255.255",
        "",
        [("10.1.0.1:8080", "nat", 5, 0, 0), ("10.1.0.2:8080", "nat", 7, 100, 10)],
    ),
    (
        "tcp://[2001:db8::1]:443",
        "lc",
        HASHED,
        0,
        128,
        "",
        [("[2001:db8::10]:8443", "nat", 3, 0, 0)],
    ),
    (
        "udp://10.0.0.2:53",
        "rr",
        HASHED | PERSISTENT,
        300,
        "255.255.255.0",
        "",
        [("10.2.0.1:53", "direct", 2, 0, 0)],
    ),
]

# The first apply of MODEL on an empty table: each service, then its destinations.
MODEL_CHANGES: List[ChangeIdentity] = [
    ("add-service", "tcp://10.0.0.1:80", None),
    ("add-destination", "tcp://10.0.0.1:80", "10.1.0.1:8080"),
    ("add-destination", "tcp://10.0.0.1:80", "10.1.0.2:8080"),
    ("add-service", "udp://10.0.0.2:53", None),
    ("add-destination", "udp://10.0.0.2:53", "10.2.0.1:53"),
    ("add-service", "fwmark:7", None),
    ("add-destination", "fwmark:7", "10.3.0.1:0"),
    ("add-service", "tcp://[2001:db8::1]:443", None),
    ("add-destination", "tcp://[2001:db8::1]:443", "[2001:db8::10]:8443"),
]

MAX_READS = 20

Reading = TypeVar("Reading")


def settled(read: Callable[[], Optional[Reading]]) -> Reading:
    """Reads until two reads in a row agree (a read may return None: not usable). IPVS keeps one service table for all
    namespaces and resumes a dump by position in it: other namespaces changing theirs
    (the kernel tests run in parallel) can make a dump repeat or skip services."""
    last = read()
    for _ in range(MAX_READS - 1):
        current = read()
        if current is not None and current == last:
            return current
        last = current
    raise AssertionError(f"{MAX_READS} reads of the table in a row all differed")


def ipvsadm(*args: str) -> str:
    return subprocess.run(
        ["ipvsadm", *args], check=True, capture_output=True, text=True
    ).stdout


def saved() -> List[str]:
    """ipvsadm -Sn, one line per item. A reading that lists a service twice is a dump
    that repeated it (see settled), never the table: it is read again."""

    def read() -> Optional[List[str]]:
        lines = ipvsadm("-Sn").splitlines()
        services = [line for line in lines if line.startswith("-A ")]
        return lines if len(services) == len(set(services)) else None

    return settled(read)


def listed(handle: ipvsrs.Handle) -> List[ServiceRow]:
    """handle.services() in the shape of MODEL_LISTED."""

    def dest(d: ipvsrs.Destination) -> DestinationRow:
        return (d.endpoint, d.forward, d.weight, d.upper_threshold, d.lower_threshold)

    def read() -> List[ServiceRow]:
        return sorted(
            (
                s.key,
                s.scheduler,
                s.flags,
                s.timeout,
                s.netmask,
                s.pe_name,
                sorted(dest(d) for d in s.dests),
            )
            for s in handle.services()
        )

    return settled(read)


def identities(changes: Iterable[ipvsrs.Change]) -> List[ChangeIdentity]:
    return [(c.kind, c.service, c.destination) for c in changes]


class IpvsTest(unittest.TestCase):
    def setUp(self) -> None:
        ipvsadm("-C")
        self.handle = ipvsrs.Handle()
        self.addCleanup(self.handle.close)

    def apply_model(self) -> None:
        changes = self.handle.apply_yaml(MODEL)
        self.assertEqual(identities(changes), MODEL_CHANGES)
        self.assertEqual(saved(), MODEL_SAVED)


class StructLayout(unittest.TestCase):
    def test_sizes_and_offsets_match_the_c_header(self) -> None:
        # From tests/c/layout.c, which asserts them against include/ipvsrs.h at compile time.
        sizes = {
            ipvsrs.nf_inet_addr: 16,
            ipvsrs.ip_vs_stats_user: 56,
            ipvsrs.ip_vs_stats64: 80,
            ipvsrs.ipvs_service_t: 84,
            ipvsrs.ipvs_dest_t: 52,
            ipvsrs.ipvs_service_entry_t: 224,
            ipvsrs.ipvs_dest_entry_t: 208,
            ipvsrs.ipvs_timeout_t: 12,
            ipvsrs.ipvs_daemon_t: 52,
        }
        for struct, size in sizes.items():
            self.assertEqual(ctypes.sizeof(struct), size, struct.__name__)
        offsets = [
            (ipvsrs.ip_vs_stats_user, "inbytes", 16),
            (ipvsrs.ip_vs_stats_user, "cps", 32),
            (ipvsrs.ipvs_service_t, "port", 8),
            (ipvsrs.ipvs_service_t, "sched_name", 16),
            (ipvsrs.ipvs_service_t, "af", 44),
            (ipvsrs.ipvs_service_t, "addr", 48),
            (ipvsrs.ipvs_service_t, "pe_name", 64),
            (ipvsrs.ipvs_dest_t, "conn_flags", 8),
            (ipvsrs.ipvs_dest_t, "addr", 28),
            (ipvsrs.ipvs_dest_t, "tun_flags", 48),
            (ipvsrs.ipvs_service_entry_t, "num_dests", 44),
            (ipvsrs.ipvs_service_entry_t, "stats", 48),
            (ipvsrs.ipvs_service_entry_t, "addr", 108),
            (ipvsrs.ipvs_service_entry_t, "pe_name", 124),
            (ipvsrs.ipvs_service_entry_t, "stats64", 144),
            (ipvsrs.ipvs_dest_entry_t, "activeconns", 24),
            (ipvsrs.ipvs_dest_entry_t, "stats", 40),
            (ipvsrs.ipvs_dest_entry_t, "addr", 100),
            (ipvsrs.ipvs_dest_entry_t, "stats64", 120),
            (ipvsrs.ipvs_dest_entry_t, "tun_type", 200),
            (ipvsrs.ipvs_daemon_t, "mcast_group", 36),
        ]
        for struct, name, offset in offsets:
            self.assertEqual(getattr(struct, name).offset, offset, f"{struct.__name__}.{name}")

    def test_changeset_types_match_the_c_header(self) -> None:
        # layout.c does not cover these; cc's sizeof and offsetof on include/ipvsrs.h
        # (x86_64) gave them.
        self.assertEqual(ctypes.sizeof(ipvsrs.ipvsrs_apply_options), 40)
        self.assertEqual(ipvsrs.ipvsrs_apply_options.scope.offset, 16)
        self.assertEqual(ipvsrs.ipvsrs_apply_options.params_files.offset, 24)
        self.assertEqual(ipvsrs.ipvsrs_apply_options.wait_ms.offset, 32)
        self.assertEqual(ctypes.sizeof(ipvsrs.ipvsrs_change), 224)
        self.assertEqual(ipvsrs.ipvsrs_change.dest.offset, 88)
        self.assertEqual(ipvsrs.ipvsrs_change.daemon.offset, 152)
        self.assertEqual(ipvsrs.ipvsrs_change.description.offset, 208)
        self.assertEqual(ipvsrs.ipvsrs_change.result.offset, 216)

    def test_connection_entry_matches_the_c_header(self) -> None:
        # tests/c/layout.c asserts the same numbers on include/ipvsrs.h.
        self.assertEqual(ctypes.sizeof(ipvsrs.ipvsrs_conn), 384)
        for name, offset in [("caddr", 12), ("daddr", 44), ("fwmark", 60),
                             ("is_template", 72), ("state", 76), ("pe_name", 108),
                             ("pe_data", 125)]:
            self.assertEqual(getattr(ipvsrs.ipvsrs_conn, name).offset, offset, name)


class ConnectionEntry(unittest.TestCase):
    def test_engine_data_that_is_not_utf8_keeps_its_bytes(self) -> None:
        entry = ipvsrs.ipvsrs_conn(af=socket.AF_INET, daf=socket.AF_INET,
                                   protocol=socket.IPPROTO_UDP, state=b"UDP",
                                   pe_name=b"sip", pe_data=b"a8\xff4b@pc33")
        conn = ipvsrs._connection(entry)
        self.assertEqual(conn.pe_name, "sip")
        self.assertEqual(conn.pe_data.encode(errors="surrogateescape"), b"a8\xff4b@pc33")


class Package(unittest.TestCase):
    def test_the_distribution_is_this_version(self) -> None:
        self.assertEqual(importlib.metadata.version("ipvsrs"), ipvsrs.__version__)

    def test_a_missing_library_says_what_to_install(self) -> None:
        missing = "/nonexistent/libipvsrs.so.0"
        env = dict(os.environ, IPVSRS_LIBRARY=missing, LD_LIBRARY_PATH="")
        imported = subprocess.run(
            [sys.executable, "-c", "import ipvsrs"], env=env, capture_output=True, text=True
        )
        self.assertNotEqual(imported.returncode, 0)
        last_line = imported.stderr.splitlines()[-1]
        self.assertTrue(last_line.startswith("ImportError: "), imported.stderr)
        for needed in (
            "the C library libipvsrs.so.0",
            f"IPVSRS_LIBRARY={missing} names no loadable library",
            "make install",
        ):
            self.assertIn(needed, last_line)


class Apply(IpvsTest):
    def test_apply_then_services_list_the_model(self) -> None:
        changes = self.handle.apply_yaml(MODEL)
        self.assertEqual(identities(changes), MODEL_CHANGES)
        self.assertEqual([c.result for c in changes], [0] * len(MODEL_CHANGES))
        self.assertFalse(changes.rolled_back)
        self.assertEqual(changes[0].description, "add service tcp://10.0.0.1:80 (wrr)")
        self.assertEqual(saved(), MODEL_SAVED)
        self.assertEqual(listed(self.handle), MODEL_LISTED)

    def test_services_without_destinations(self) -> None:
        self.apply_model()
        alone = self.handle.services(dests=False)
        self.assertEqual(sorted(s.key for s in alone), sorted(m[0] for m in MODEL_LISTED))
        self.assertEqual([s.dests for s in alone], [[]] * len(MODEL_LISTED))

    def test_services_decode_families_and_addresses(self) -> None:
        self.apply_model()
        by_key = {s.key: s for s in self.handle.services()}
        v6 = by_key["tcp://[2001:db8::1]:443"]
        self.assertEqual(
            (v6.family, v6.protocol, v6.address, v6.port, v6.fwmark),
            (socket.AF_INET6, "tcp", "2001:db8::1", 443, 0),
        )
        self.assertEqual(
            (v6.dests[0].family, v6.dests[0].address), (socket.AF_INET6, "2001:db8::10")
        )
        mark = by_key["fwmark:7"]
        self.assertEqual(
            (mark.family, mark.protocol, mark.address, mark.port, mark.fwmark),
            (socket.AF_INET, None, None, 0, 7),
        )
        udp = by_key["udp://10.0.0.2:53"]
        self.assertEqual((udp.protocol, udp.address, udp.port), ("udp", "10.0.0.2", 53))

    def test_stats_are_64_bit_ints(self) -> None:
        self.apply_model()
        for service in self.handle.services():
            for stats in [service.stats] + [d.stats for d in service.dests]:
                for name, value in vars(stats).items():
                    self.assertIs(type(value), int, name)
                    self.assertGreaterEqual(value, 0, name)
            for d in service.dests:
                for count in (d.active_conns, d.inactive_conns, d.persistent_conns):
                    self.assertIs(type(count), int)

    def test_second_apply_changes_nothing(self) -> None:
        self.apply_model()
        again = self.handle.apply_yaml(MODEL)
        self.assertEqual(list(again), [])
        self.assertFalse(again.rolled_back)
        self.assertEqual(self.handle.diff_yaml(MODEL), [])
        self.assertEqual(saved(), MODEL_SAVED)

    def test_dry_run_and_diff_change_nothing(self) -> None:
        dry = self.handle.apply_yaml(MODEL, dry_run=True)
        self.assertEqual(identities(dry), MODEL_CHANGES)
        self.assertEqual([c.result for c in dry], [None] * len(MODEL_CHANGES))
        diff = self.handle.diff_yaml(MODEL)
        self.assertEqual([c.description for c in diff], [c.description for c in dry])
        self.assertEqual(saved(), [])
        self.assertEqual(self.handle.services(), [])

    def test_model_from_a_file(self) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as model:
            model.write(MODEL)
            model.flush()
            changes = self.handle.apply_yaml(model.name, path=True)
        self.assertEqual(identities(changes), MODEL_CHANGES)
        self.assertEqual(saved(), MODEL_SAVED)

    def test_update_keeps_weights_when_asked(self) -> None:
        self.apply_model()
        heavier = MODEL.replace("weight: 5", "weight: 50")
        self.assertEqual(self.handle.apply_yaml(heavier, keep_weights=True), [])
        changes = self.handle.apply_yaml(heavier)
        self.assertEqual(
            identities(changes),
            [("update-destination", "tcp://10.0.0.1:80", "10.1.0.1:8080")],
        )
        self.assertIn("(weight 5 -> 50)", changes[0].description)
        self.assertIn("-a -t 10.0.0.1:80 -r 10.1.0.1:8080 -m -w 50", saved())


class Connections(IpvsTest):
    """The connection table through ipvsrs_conns, against ipvsadm -Lnc: UDP flows of a
    local client to a persistent service whose real server is this namespace itself."""

    MODEL = """\
services:
  - address: udp://10.9.0.1:53
    persistence: { timeout: 600 }
    destinations:
      - { address: 10.9.0.1:5353, forward: nat }
"""

    def test_flows_and_their_template_are_what_ipvsadm_lists(self) -> None:
        subprocess.run(["ip", "addr", "replace", "10.9.0.1/32", "dev", "lo"], check=True)
        self.assertEqual(self.handle.connections(), [])
        self.handle.apply_yaml(self.MODEL)
        ports = []
        for _ in range(2):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                s.sendto(b"ping", ("10.9.0.1", 53))
                ports.append(s.getsockname()[1])

        # (protocol, client, virtual, real, state)
        Row = Tuple[str, str, str, str, str]

        def theirs() -> Set[Row]:
            rows = set()
            for line in ipvsadm("-Lnc").splitlines()[2:]:
                pro, _expire, state, source, virtual, destination = line.split()
                rows.add((pro, source, virtual, destination, state))
            return rows

        def ours(conns: List[ipvsrs.Connection]) -> Set[Row]:
            return {
                ((c.protocol or "").upper(), c.client, c.virtual, c.real, c.state) for c in conns
            }

        deadline = time.monotonic() + 30
        while True:
            conns = self.handle.connections()
            if len(conns) == 3 and ours(conns) == theirs():
                break
            self.assertLess(time.monotonic(), deadline, f"{conns} vs {theirs()}")
            time.sleep(0.05)
        flows = sorted((c for c in conns if not c.template), key=lambda c: c.client)
        self.assertEqual([c.client for c in flows], sorted(f"127.0.0.1:{p}" for p in ports))
        (template,) = [c for c in conns if c.template]
        self.assertEqual(template.client, "127.0.0.1:0")
        for c in conns:
            self.assertEqual((c.family, c.protocol, c.virtual), (socket.AF_INET, "udp", "10.9.0.1:53"))
            self.assertEqual((c.real, c.forward, c.fwmark), ("10.9.0.1:5353", "nat", 0))
            self.assertTrue(0 < c.expires <= 600, c)
        self.assertEqual({c.state for c in flows}, {"UDP"})

    def test_a_closed_handle_is_refused(self) -> None:
        self.handle.close()
        with self.assertRaises(ipvsrs.IpvsError) as caught:
            self.handle.connections()
        self.assertEqual(caught.exception.errno, errno.EBADF)


class Failures(IpvsTest):
    def test_invalid_model_names_line_and_column(self) -> None:
        self.apply_model()
        bad = "services:\n  - address: tcp://10.0.0.2:80\n    sched: nosuch\n"
        with self.assertRaises(ipvsrs.IpvsError) as caught:
            self.handle.apply_yaml(bad)
        self.assertEqual(caught.exception.errno, errno.EINVAL)
        self.assertIn("line 3, column 12", caught.exception.message)
        self.assertIsNone(caught.exception.changeset)
        with self.assertRaises(ipvsrs.IpvsError) as caught:
            self.handle.diff_yaml(bad)
        self.assertEqual(caught.exception.errno, errno.EINVAL)
        self.assertIn("line 3, column 12", str(caught.exception))
        self.assertEqual(saved(), MODEL_SAVED)

    def test_missing_model_file(self) -> None:
        with self.assertRaises(ipvsrs.IpvsError) as caught:
            self.handle.apply_yaml("/nonexistent/model.yaml", path=True)
        self.assertEqual(caught.exception.errno, errno.ENOENT)

    def test_refused_action_changes_nothing(self) -> None:
        # Adding is allowed, but the model also needs destinations added.
        with self.assertRaises(ipvsrs.IpvsError) as caught:
            self.handle.apply_yaml(MODEL, allowed_actions="as")
        self.assertEqual(caught.exception.errno, errno.EINVAL)
        self.assertIn("(ad)", caught.exception.message)
        self.assertEqual(saved(), [])
        self.apply_model()
        with self.assertRaises(ipvsrs.IpvsError):
            self.handle.apply_yaml("{}", allowed_actions=["as", "us", "ad", "ud"])
        self.assertEqual(saved(), MODEL_SAVED)

    def test_failing_step_rolls_back(self) -> None:
        self.apply_model()
        # The kernel refuses a multicast destination with EINVAL; the weight update before
        # it must be undone.
        poisoned = MODEL.replace(
            "weight: 5 }", "weight: 50 }\n      - { address: 224.0.0.1:8080, forward: nat }"
        )
        with self.assertRaises(ipvsrs.IpvsError) as caught:
            self.handle.apply_yaml(poisoned)
        error = caught.exception
        self.assertEqual(error.errno, errno.EINVAL)
        changeset = error.changeset
        assert changeset is not None, "a failed apply carries its changeset"
        self.assertTrue(changeset.rolled_back)
        self.assertEqual(changeset.left_changed, 0)
        self.assertEqual(
            [(c.kind, c.destination) for c in changeset],
            [
                ("update-destination", "10.1.0.1:8080"),
                ("add-destination", "224.0.0.1:8080"),
            ],
        )
        self.assertEqual([c.result for c in changeset], [0, errno.EINVAL])
        self.assertEqual(saved(), MODEL_SAVED)

    def test_scope_leaves_other_services(self) -> None:
        # SCTP sorts after UDP and before IPv6 in ipvsadm's listing.
        ipvsadm("-A", "--sctp-service", "192.168.1.1:3868", "-s", "rr")
        changes = self.handle.apply_yaml(MODEL, scope="10.0.0.0/8,fwmark:1-100,2001:db8::/32")
        self.assertEqual(identities(changes), MODEL_CHANGES)
        foreign = "-A --sctp-service 192.168.1.1:3868 -s rr"
        self.assertEqual(saved(), MODEL_SAVED[:5] + [foreign] + MODEL_SAVED[5:])


PARAM_MODEL = """\
services:
  - address: tcp://${host.lo}:${env.IPVSRS_TEST_PORT}
    destinations:
      - address: ${backends.web.0}:8080
"""


class Parameters(IpvsTest):
    """Every parameter source is off unless enabled, as with ipvsrs --params-*."""

    def setUp(self) -> None:
        super().setUp()
        os.environ["IPVSRS_TEST_PORT"] = "8443"
        self.addCleanup(os.environ.pop, "IPVSRS_TEST_PORT")
        values = tempfile.NamedTemporaryFile("w", suffix=".yaml")
        self.addCleanup(values.close)
        values.write("backends:\n  web: [10.1.0.7, 10.1.0.8]\n")
        values.flush()
        self.values = values.name

    def test_enabled_sources_resolve(self) -> None:
        changes = self.handle.diff_yaml(
            PARAM_MODEL, params_env=True, params_network=True, params_files=[self.values]
        )
        self.assertEqual(
            [c.description for c in changes],
            [
                "add service tcp://127.0.0.1:8443 (rr)",
                "add destination 10.1.0.7:8080 to tcp://127.0.0.1:8443 (weight 1)",
            ],
        )

    def test_each_source_is_off_unless_enabled(self) -> None:
        enabled: Dict[str, Any] = {
            "params_env": True,
            "params_network": True,
            "params_files": [self.values],
        }
        for missing, name in [
            ("params_env", "env.IPVSRS_TEST_PORT"),
            ("params_network", "host.lo"),
            ("params_files", "backends.web.0"),
        ]:
            options = {k: v for k, v in enabled.items() if k != missing}
            with self.assertRaises(ipvsrs.IpvsError) as caught:
                self.handle.diff_yaml(PARAM_MODEL, **options)
            self.assertEqual(caught.exception.errno, errno.EINVAL, missing)
            self.assertIn(f"parameter ${{{name}}} is not defined", caught.exception.message)

    def test_a_missing_parameter_file(self) -> None:
        with self.assertRaises(ipvsrs.IpvsError) as caught:
            self.handle.apply_yaml("{}", params_files=["/nonexistent/values.yaml"])
        self.assertEqual(caught.exception.errno, errno.ENOENT)
        self.assertIn("/nonexistent/values.yaml", caught.exception.message)


class OneGrammar(IpvsTest):
    def test_printed_keys_name_their_services_as_scopes_and_in_models(self) -> None:
        self.apply_model()
        keys = sorted(s.key for s in self.handle.services())
        self.assertIn("tcp://[2001:db8::1]:443", keys)
        for key in keys:
            changes = self.handle.diff_yaml("{}", scope=key)
            self.assertEqual([(c.kind, c.service) for c in changes], [("delete-service", key)])
        model = "services:\n" + "".join(f'  - address: "{key}"\n' for key in keys)
        # Every service is there already: its settings and destinations change, nothing else.
        kinds = {c.kind for c in self.handle.diff_yaml(model)}
        self.assertLessEqual(kinds, {"update-service", "delete-destination"})
        self.assertEqual(saved(), MODEL_SAVED)

    def test_fwmark_0_is_refused_everywhere(self) -> None:
        calls: List[Callable[[], object]] = [
            lambda: self.handle.diff_yaml("services:\n  - address: fwmark:0\n"),
            lambda: self.handle.diff_yaml("{}", scope="fwmark:0"),
        ]
        for call in calls:
            with self.assertRaises(ipvsrs.IpvsError) as caught:
                call()
            self.assertEqual(caught.exception.errno, errno.EINVAL)
            self.assertIn('fwmark "0" is not a number in 1..4294967295', caught.exception.message)


class HandleMisuse(unittest.TestCase):
    def test_closed_handle_raises(self) -> None:
        ipvsadm("-C")
        handle = ipvsrs.Handle()
        handle.close()
        handle.close()
        for call in (
            handle.services,
            lambda: handle.apply_yaml(MODEL),
            lambda: handle.diff_yaml(MODEL),
        ):
            with self.assertRaises(ipvsrs.IpvsError) as caught:
                call()
            self.assertEqual(caught.exception.errno, errno.EBADF)
        # Not applied through the library's process-wide connection either.
        self.assertEqual(saved(), [])

    def test_close_while_other_threads_call(self) -> None:
        """Handle.close on one thread while others are inside calls on the handle (ctypes
        lets go of the GIL for each call): each call returns, or raises EBADF."""
        ipvsadm("-C")
        with ipvsrs.Handle() as setup:
            setup.apply_yaml(MODEL)
        for _ in range(30):
            handle = ipvsrs.Handle()
            calls = (handle.services, handle.connections, lambda: handle.diff_yaml(MODEL))
            busy = threading.Semaphore(0)
            endings: List[object] = []

            def call_until_closed(call: Callable[[], object]) -> None:
                try:
                    call()
                    busy.release()
                    while True:
                        call()
                except ipvsrs.IpvsError as e:
                    endings.append(e.errno)
                except Exception as e:  # anything else fails the test below
                    endings.append(e)

            threads = [threading.Thread(target=call_until_closed, args=(c,)) for c in calls]
            for t in threads:
                t.start()
            # Each thread has had a call succeed (or has ended), so the close meets them busy.
            for _ in threads:
                busy.acquire(timeout=60)
            handle.close()
            for t in threads:
                t.join()
            self.assertEqual(endings, [errno.EBADF] * len(calls))
        self.assertEqual(len(saved()), len(MODEL_SAVED))

    def test_library_refuses_null_pointers(self) -> None:
        lib = ipvsrs._lib
        self.assertFalse(lib.ipvsrs_services(None))
        self.assertEqual(ctypes.get_errno(), errno.EINVAL)
        self.assertFalse(lib.ipvsrs_dests(None, None))
        self.assertEqual(ctypes.get_errno(), errno.EINVAL)
        self.assertFalse(lib.ipvsrs_service_iter_next(None))
        lib.ipvsrs_service_iter_free(None)
        lib.ipvsrs_changeset_free(None)

    def test_missing_namespace(self) -> None:
        with self.assertRaises(ipvsrs.IpvsError) as caught:
            ipvsrs.Handle("/run/netns/ipvsrs-no-such-namespace")
        self.assertEqual(caught.exception.errno, errno.ENOENT)

    def test_namespace_by_path_is_this_one(self) -> None:
        ipvsadm("-C")
        ipvsadm("-A", "-t", "10.9.9.9:80", "-s", "rr")
        with ipvsrs.Handle("/proc/self/ns/net") as handle:
            self.assertEqual([s.key for s in settled(handle.services)], ["tcp://10.9.9.9:80"])
        with self.assertRaises(ipvsrs.IpvsError):
            handle.services()


if __name__ == "__main__":
    unittest.main()
