"""The Linux IPVS table from Python, through libipvsrs's C ABI (ctypes, stdlib only).

Lists services with their destinations and 64-bit counters, and makes the table match a
desired-state YAML model, all or nothing. The library is ``libipvsrs.so.0``, found by the
dynamic loader, or the file named by the environment variable ``IPVSRS_LIBRARY``; without
it, ``import ipvsrs`` raises ImportError saying so.

Usage (as root, or with CAP_NET_ADMIN)::

    import ipvsrs

    model = '''
    services:
      - address: tcp://192.0.2.10:80
        sched: wrr
        destinations:
          - { address: 198.51.100.1:8080, forward: nat, weight: 100 }
    '''
    with ipvsrs.Handle() as h:              # Handle("/run/netns/blue") for another namespace
        for change in h.apply_yaml(model):
            print(change.description)       # "add service tcp://192.0.2.10:80 (wrr)", ...
        for svc in h.services():
            print(svc.key, svc.scheduler, svc.stats.conns)
            for d in svc.dests:
                print("  ->", d.address, d.port, d.forward, d.weight, d.stats.inbps)

Every failure raises IpvsError, an OSError with the errno and the library's message
(e.g. "line 3, column 12: ..." for an invalid model).
"""

import ctypes
import errno as _errno
import os
import socket
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, List, Optional, Tuple, Union

if TYPE_CHECKING:
    # ctypes' pointer type, subscriptable for the type checker only: annotations name it
    # in quotes.
    from ctypes import _Pointer

__all__ = [
    "Change",
    "Changeset",
    "Connection",
    "Destination",
    "Handle",
    "IpvsError",
    "Service",
    "Stats",
]

# The crate's version: tests/python_package.rs checks that they agree.
__version__ = "0.1.0"

LIBRARY_ENV = "IPVSRS_LIBRARY"
LIBRARY_NAME = "libipvsrs.so.0"

# include/ipvsrs.h: the constants used here, under libipvs's names (IP_VS_X is IPVSRS_X there).
IP_VS_SCHEDNAME_MAXLEN = 16
IP_VS_PENAME_MAXLEN = 16
IP_VS_PEDATA_MAXLEN = 255
IPVSRS_CONN_STATE_LEN = 32
IP_VS_IFNAME_MAXLEN = 16
IP_VS_CONN_F_FWD_MASK = 7
IPVSRS_MODEL_PATH = 1 << 0
IPVSRS_APPLY_DRY_RUN = 1 << 1
IPVSRS_APPLY_KEEP_WEIGHTS = 1 << 2
IPVSRS_PARAMS_ENV = 1 << 3
IPVSRS_PARAMS_NETWORK = 1 << 4
IPVSRS_WAIT_NONE = -1

# The model's names; the kernel's bypass reads as direct, as in the model.
_FORWARD_NAMES = {0: "nat", 1: "local", 2: "tunnel", 3: "direct", 4: "direct"}


def _forward_name(method: int) -> str:
    """The model's name of a forwarding method; a newer kernel's is its number."""
    return _FORWARD_NAMES.get(method, str(method))

_PROTOCOL_NAMES = {
    socket.IPPROTO_TCP: "tcp",
    socket.IPPROTO_UDP: "udp",
    socket.IPPROTO_SCTP: "sctp",
}
# IPVSRS_CHANGE_*, named as the library's change descriptions and ipvsctl name them.
_CHANGE_KINDS = {
    1: "add-service",
    2: "update-service",
    3: "delete-service",
    4: "add-destination",
    5: "update-destination",
    6: "delete-destination",
    7: "update-timeouts",
    8: "start-daemon",
    9: "stop-daemon",
}
_DEST_CHANGES = {"add-destination", "update-destination", "delete-destination"}
# ipvsrs_change.result of a step that was not run (a dry run, or a refused changeset).
_NOT_RUN = -1


# --- The C types, field for field as include/ipvsrs.h declares them. ctypes applies the
# same natural alignment as the C compiler on x86_64, so sizes and offsets match.


class nf_inet_addr(ctypes.Union):
    _fields_ = [
        ("all", ctypes.c_uint32 * 4),
        ("ip", ctypes.c_uint32),
        ("ip6", ctypes.c_uint32 * 4),
        ("in_", ctypes.c_uint32),  # struct in_addr ("in" is a Python keyword)
        ("in6", ctypes.c_uint8 * 16),  # struct in6_addr
    ]


class ip_vs_stats_user(ctypes.Structure):
    _fields_ = [
        ("conns", ctypes.c_uint32),
        ("inpkts", ctypes.c_uint32),
        ("outpkts", ctypes.c_uint32),
        ("inbytes", ctypes.c_uint64),
        ("outbytes", ctypes.c_uint64),
        ("cps", ctypes.c_uint32),
        ("inpps", ctypes.c_uint32),
        ("outpps", ctypes.c_uint32),
        ("inbps", ctypes.c_uint32),
        ("outbps", ctypes.c_uint32),
    ]


_STAT_NAMES = (
    "conns",
    "inpkts",
    "outpkts",
    "inbytes",
    "outbytes",
    "cps",
    "inpps",
    "outpps",
    "inbps",
    "outbps",
)


class ip_vs_stats64(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in _STAT_NAMES]


class ipvs_service_t(ctypes.Structure):
    """struct ip_vs_service_user."""

    _fields_ = [
        ("protocol", ctypes.c_uint16),
        ("__addr_v4", ctypes.c_uint32),
        ("port", ctypes.c_uint16),
        ("fwmark", ctypes.c_uint32),
        ("sched_name", ctypes.c_char * IP_VS_SCHEDNAME_MAXLEN),
        ("flags", ctypes.c_uint),
        ("timeout", ctypes.c_uint),
        ("netmask", ctypes.c_uint32),
        ("af", ctypes.c_uint16),
        ("addr", nf_inet_addr),
        ("pe_name", ctypes.c_char * (IP_VS_PENAME_MAXLEN + 1)),
    ]


class ipvs_dest_t(ctypes.Structure):
    """struct ip_vs_dest_user."""

    _fields_ = [
        ("__addr_v4", ctypes.c_uint32),
        ("port", ctypes.c_uint16),
        ("conn_flags", ctypes.c_uint),
        ("weight", ctypes.c_int),
        ("u_threshold", ctypes.c_uint32),
        ("l_threshold", ctypes.c_uint32),
        ("af", ctypes.c_uint16),
        ("addr", nf_inet_addr),
        ("tun_type", ctypes.c_uint16),
        ("tun_port", ctypes.c_uint16),
        ("tun_flags", ctypes.c_uint16),
    ]


class ipvs_timeout_t(ctypes.Structure):
    """struct ip_vs_timeout_user."""

    _fields_ = [
        ("tcp_timeout", ctypes.c_int),
        ("tcp_fin_timeout", ctypes.c_int),
        ("udp_timeout", ctypes.c_int),
    ]


class ipvs_daemon_t(ctypes.Structure):
    """struct ip_vs_daemon_user."""

    _fields_ = [
        ("state", ctypes.c_int),
        ("mcast_ifn", ctypes.c_char * IP_VS_IFNAME_MAXLEN),
        ("syncid", ctypes.c_int),
        ("sync_maxlen", ctypes.c_int),
        ("mcast_port", ctypes.c_uint16),
        ("mcast_ttl", ctypes.c_uint16),
        ("mcast_af", ctypes.c_uint16),
        ("mcast_group", nf_inet_addr),
    ]


class ipvs_service_entry_t(ctypes.Structure):
    """struct ip_vs_service_entry."""

    _fields_ = [
        ("protocol", ctypes.c_uint16),
        ("__addr_v4", ctypes.c_uint32),
        ("port", ctypes.c_uint16),
        ("fwmark", ctypes.c_uint32),
        ("sched_name", ctypes.c_char * IP_VS_SCHEDNAME_MAXLEN),
        ("flags", ctypes.c_uint),
        ("timeout", ctypes.c_uint),
        ("netmask", ctypes.c_uint32),
        ("num_dests", ctypes.c_uint),
        ("stats", ip_vs_stats_user),
        ("af", ctypes.c_uint16),
        ("addr", nf_inet_addr),
        ("pe_name", ctypes.c_char * (IP_VS_PENAME_MAXLEN + 1)),
        ("stats64", ip_vs_stats64),
    ]


class ipvs_dest_entry_t(ctypes.Structure):
    """struct ip_vs_dest_entry."""

    _fields_ = [
        ("__addr_v4", ctypes.c_uint32),
        ("port", ctypes.c_uint16),
        ("conn_flags", ctypes.c_uint),
        ("weight", ctypes.c_int),
        ("u_threshold", ctypes.c_uint32),
        ("l_threshold", ctypes.c_uint32),
        ("activeconns", ctypes.c_uint32),
        ("inactconns", ctypes.c_uint32),
        ("persistconns", ctypes.c_uint32),
        ("stats", ip_vs_stats_user),
        ("af", ctypes.c_uint16),
        ("addr", nf_inet_addr),
        ("stats64", ip_vs_stats64),
        ("tun_type", ctypes.c_uint16),
        ("tun_port", ctypes.c_uint16),
        ("tun_flags", ctypes.c_uint16),
    ]


class ipvsrs_apply_options(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint),
        ("allowed_actions", ctypes.c_char_p),
        ("scope", ctypes.c_char_p),
        ("params_files", ctypes.POINTER(ctypes.c_char_p)),  # NULL-terminated
        ("wait_ms", ctypes.c_int),  # 0: the default (10 s); -1: IPVSRS_WAIT_NONE
    ]


class ipvsrs_conn(ctypes.Structure):
    _fields_ = [
        ("protocol", ctypes.c_uint16),
        ("af", ctypes.c_uint16),
        ("daf", ctypes.c_uint16),
        ("cport", ctypes.c_uint16),
        ("vport", ctypes.c_uint16),
        ("dport", ctypes.c_uint16),
        ("caddr", nf_inet_addr),
        ("vaddr", nf_inet_addr),
        ("daddr", nf_inet_addr),
        ("fwmark", ctypes.c_uint32),
        ("fwd", ctypes.c_uint32),
        ("expires", ctypes.c_uint32),
        ("is_template", ctypes.c_uint32),
        ("state", ctypes.c_char * IPVSRS_CONN_STATE_LEN),
        ("pe_name", ctypes.c_char * (IP_VS_PENAME_MAXLEN + 1)),
        ("pe_data", ctypes.c_char * (IP_VS_PEDATA_MAXLEN + 1)),
    ]


class ipvsrs_change(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int),
        ("service", ipvs_service_t),
        ("dest", ipvs_dest_t),
        ("timeout", ipvs_timeout_t),
        ("daemon", ipvs_daemon_t),
        ("description", ctypes.c_char_p),
        ("result", ctypes.c_int),
    ]


# Opaque types: only pointers to them cross the ABI.
class _ipvsrs_handle(ctypes.Structure):
    pass


class _ipvsrs_service_iter(ctypes.Structure):
    pass


class _ipvsrs_dest_iter(ctypes.Structure):
    pass


class _ipvsrs_changeset(ctypes.Structure):
    pass


class _ipvsrs_conn_iter(ctypes.Structure):
    pass


_HandleP = ctypes.POINTER(_ipvsrs_handle)
_ServiceIterP = ctypes.POINTER(_ipvsrs_service_iter)
_DestIterP = ctypes.POINTER(_ipvsrs_dest_iter)
_ChangesetP = ctypes.POINTER(_ipvsrs_changeset)
_ConnIterP = ctypes.POINTER(_ipvsrs_conn_iter)


def _open_library() -> ctypes.CDLL:
    """The C library, or an ImportError that says what is missing and how to get it."""
    path = os.environ.get(LIBRARY_ENV)
    try:
        return ctypes.CDLL(path or LIBRARY_NAME, use_errno=True)
    except OSError as error:
        where = (
            f"{LIBRARY_ENV}={path} names no loadable library"
            if path
            else f"the dynamic loader did not find it and {LIBRARY_ENV} is not set"
        )
        raise ImportError(
            f"ipvsrs needs the C library {LIBRARY_NAME}, but {where} ({error}). "
            f"Install it from the ipvsrs repository (make install PREFIX=/usr/local, then "
            f"ldconfig), or set {LIBRARY_ENV} to the path of libipvsrs.so.",
            name=__name__,
        ) from error


def _load() -> ctypes.CDLL:
    lib = _open_library()
    signatures = {
        "ipvsrs_last_error": (ctypes.c_char_p, []),
        "ipvsrs_open": (_HandleP, [ctypes.c_char_p]),
        "ipvsrs_close": (None, [_HandleP]),
        "ipvsrs_services": (_ServiceIterP, [_HandleP]),
        "ipvsrs_service_iter_next": (
            ctypes.POINTER(ipvs_service_entry_t),
            [_ServiceIterP],
        ),
        "ipvsrs_service_iter_free": (None, [_ServiceIterP]),
        "ipvsrs_dests": (_DestIterP, [_HandleP, ctypes.POINTER(ipvs_service_entry_t)]),
        "ipvsrs_dest_iter_next": (ctypes.POINTER(ipvs_dest_entry_t), [_DestIterP]),
        "ipvsrs_dest_iter_free": (None, [_DestIterP]),
        "ipvsrs_conns": (_ConnIterP, [_HandleP]),
        "ipvsrs_conn_iter_next": (ctypes.POINTER(ipvsrs_conn), [_ConnIterP]),
        "ipvsrs_conn_iter_free": (None, [_ConnIterP]),
        "ipvs_apply_yaml": (
            ctypes.c_int,
            [
                _HandleP,
                ctypes.c_char_p,
                ctypes.POINTER(ipvsrs_apply_options),
                ctypes.POINTER(_ChangesetP),
            ],
        ),
        "ipvsrs_diff_yaml": (
            _ChangesetP,
            [_HandleP, ctypes.c_char_p, ctypes.POINTER(ipvsrs_apply_options)],
        ),
        "ipvsrs_changeset_rolled_back": (ctypes.c_int, [_ChangesetP]),
        "ipvsrs_changeset_left_changed": (ctypes.c_size_t, [_ChangesetP]),
        "ipvsrs_changeset_next": (ctypes.POINTER(ipvsrs_change), [_ChangesetP]),
        "ipvsrs_changeset_free": (None, [_ChangesetP]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


_lib = _load()


# --- The Python side.


class IpvsError(OSError):
    """A failed ipvsrs call: ``errno`` and the library's message (``strerror``, also
    ``message``). A failed apply carries its ``changeset`` (each step with its result, and
    ``rolled_back``), or None when none was computed (an invalid model, a refused one)."""

    def __init__(self, errno: int, message: str, changeset: "Optional[Changeset]" = None):
        super().__init__(errno, message)
        self.message = message
        self.changeset = changeset


def _last_error(changeset: "Optional[Changeset]" = None) -> IpvsError:
    """The error of the call that just failed on this thread."""
    # Read errno first: ctypes saves it after every foreign call, ipvsrs_last_error too.
    code = ctypes.get_errno()
    # The library's string lives until this thread's next failing call: ctypes copies it.
    message = (_lib.ipvsrs_last_error() or b"").decode("utf-8", "replace")
    return IpvsError(code, message or os.strerror(code), changeset)


@dataclass(frozen=True)
class Stats:
    """Counters since the service or destination was added (or zeroed) and the kernel's
    rate estimates (per second, folded in every 2 seconds), all 64-bit."""

    conns: int
    inpkts: int
    outpkts: int
    inbytes: int
    outbytes: int
    cps: int
    inpps: int
    outpps: int
    inbps: int
    outbps: int

    @classmethod
    def _from_c(cls, stats: ip_vs_stats64) -> "Stats":
        return cls(*(getattr(stats, name) for name in _STAT_NAMES))


@dataclass(frozen=True)
class Destination:
    family: socket.AddressFamily
    address: str
    port: int
    forward: str  # nat, direct, tunnel or local; a newer kernel's method as its number
    weight: int
    upper_threshold: int
    lower_threshold: int
    active_conns: int
    inactive_conns: int
    persistent_conns: int
    stats: Stats

    @property
    def endpoint(self) -> str:
        """"10.1.0.1:8080" or "[2001:db8::10]:8443", as models and descriptions write it."""
        return _endpoint(self.family, self.address, self.port)


@dataclass(frozen=True)
class Service:
    family: socket.AddressFamily
    protocol: Optional[str]  # tcp, udp or sctp; None for a fwmark service
    address: Optional[str]  # None for a fwmark service
    port: int
    fwmark: int
    scheduler: str
    flags: int  # IP_VS_SVC_F_*, with the kernel's IP_VS_SVC_F_HASHED
    timeout: int  # persistence timeout, seconds
    netmask: Union[str, int]  # IPv4: persistence mask "255.255.255.255"; IPv6: prefix length
    pe_name: str  # persistence engine, "" for none
    stats: Stats
    dests: List[Destination] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The service as a model writes it: "tcp://10.0.0.1:80", "fwmark6:7", ..."""
        return _service_key(self.family, self.protocol, self.address, self.port, self.fwmark)


@dataclass(frozen=True)
class Connection:
    """An entry of the connection table, as ``ipvsadm -Lnc`` shows it."""

    family: socket.AddressFamily  # of the client and the virtual address
    protocol: Optional[str]  # tcp, udp or sctp; None for a firewall-mark template
    client: str  # "10.0.1.2:40001"; a template's client network with port 0
    virtual: str  # "10.0.0.1:80", as services write it
    fwmark: int  # a firewall-mark template's mark, else 0
    real: str  # the real server, "10.1.0.1:80"
    forward: Optional[str]  # nat, direct, tunnel or local; None if not known
    state: str  # ESTABLISHED, SYN_RECV, UDP, NONE, ...
    expires: int  # seconds left
    template: bool  # a persistence template rather than a connection
    pe_name: str  # persistence engine, "" for none
    # The engine's data (a SIP Call-ID), "" for none: the kernel's bytes, which need not be
    # UTF-8, decoded with errors="surrogateescape" (encode the same way for the bytes).
    pe_data: str


@dataclass(frozen=True)
class Change:
    kind: str  # add-service, update-destination, update-timeouts, start-daemon, ...
    description: str  # e.g. "update destination 10.1.0.3:80 of tcp://10.0.0.2:80 (weight 3 -> 30)"
    result: Optional[int]  # 0 done, an errno if this step failed, None if not run
    service: Optional[str]  # the service's key, None for timeouts and daemons
    destination: Optional[str]  # "IP:PORT" for destination changes, else None


class Changeset(List[Change]):
    """The changes of an apply or a diff, in order; ``rolled_back`` tells whether a failed
    apply was undone whole, ``left_changed`` how many changes its rollback could not undo
    (then the apply's IpvsError has errno ENOTRECOVERABLE and names each)."""

    def __init__(self, changes: Iterable[Change], rolled_back: bool, left_changed: int = 0):
        super().__init__(changes)
        self.rolled_back = rolled_back
        self.left_changed = left_changed


def _family(af: int) -> socket.AddressFamily:
    return socket.AddressFamily(af)


def _address(af: int, addr: nf_inet_addr) -> str:
    raw = bytes(addr)
    return socket.inet_ntop(af, raw[:4] if af == socket.AF_INET else raw)


def _endpoint(family: int, address: str, port: int) -> str:
    host = f"[{address}]" if family == socket.AF_INET6 else address
    return f"{host}:{port}"


# (family, protocol, address, port, fwmark): protocol and address are None for a fwmark
# service, fwmark 0 for the others.
_ServiceIdentity = Tuple[socket.AddressFamily, Optional[str], Optional[str], int, int]


def _service_key(
    family: int, protocol: Optional[str], address: Optional[str], port: int, fwmark: int
) -> str:
    if address is None:  # a fwmark service
        return f"fwmark6:{fwmark}" if family == socket.AF_INET6 else f"fwmark:{fwmark}"
    return f"{protocol}://{_endpoint(family, address, port)}"


def _service_identity(c: Union[ipvs_service_t, ipvs_service_entry_t]) -> _ServiceIdentity:
    """The identity of a service as the library passes it."""
    if c.fwmark:
        return _family(c.af), None, None, 0, c.fwmark
    protocol = _PROTOCOL_NAMES.get(c.protocol, str(c.protocol))
    return _family(c.af), protocol, _address(c.af, c.addr), socket.ntohs(c.port), 0


def _netmask(af: int, netmask: int) -> Union[str, int]:
    if af == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, netmask.to_bytes(4, sys.byteorder))
    return netmask


def _connection(c: ipvsrs_conn) -> Connection:
    af = _family(c.af)
    return Connection(
        family=af,
        protocol=_PROTOCOL_NAMES[c.protocol] if c.protocol else None,
        client=_endpoint(af, _address(af, c.caddr), socket.ntohs(c.cport)),
        virtual=_endpoint(af, _address(af, c.vaddr), socket.ntohs(c.vport)),
        fwmark=c.fwmark,
        real=_endpoint(c.daf, _address(c.daf, c.daddr), socket.ntohs(c.dport)),
        forward=_FORWARD_NAMES.get(c.fwd),
        state=c.state.decode(),
        expires=c.expires,
        template=bool(c.is_template),
        pe_name=c.pe_name.decode(),
        pe_data=c.pe_data.decode(errors="surrogateescape"),
    )


def _destination(d: ipvs_dest_entry_t) -> Destination:
    return Destination(
        family=_family(d.af),
        address=_address(d.af, d.addr),
        port=socket.ntohs(d.port),
        forward=_forward_name(d.conn_flags & IP_VS_CONN_F_FWD_MASK),
        weight=d.weight,
        upper_threshold=d.u_threshold,
        lower_threshold=d.l_threshold,
        active_conns=d.activeconns,
        inactive_conns=d.inactconns,
        persistent_conns=d.persistconns,
        stats=Stats._from_c(d.stats64),
    )


def _change(c: ipvsrs_change) -> Change:
    kind = _CHANGE_KINDS.get(c.kind, str(c.kind))
    service = destination = None
    # A zeroed service (af 0) marks a timeouts or daemon change.
    if c.service.af:
        service = _service_key(*_service_identity(c.service))
    if kind in _DEST_CHANGES:
        af = c.dest.af or c.service.af  # 0: the service's family
        destination = _endpoint(af, _address(af, c.dest.addr), socket.ntohs(c.dest.port))
    return Change(
        kind=kind,
        description=(c.description or b"").decode("utf-8", "replace"),
        result=None if c.result == _NOT_RUN else c.result,
        service=service,
        destination=destination,
    )


def _take_changeset(cs: "_Pointer[_ipvsrs_changeset]") -> Changeset:
    """Copies the changeset `cs` (not NULL) into Python objects and frees it."""
    try:
        changes = []
        while True:
            item = _lib.ipvsrs_changeset_next(cs)
            if not item:
                break
            changes.append(_change(item.contents))
        return Changeset(
            changes,
            bool(_lib.ipvsrs_changeset_rolled_back(cs)),
            _lib.ipvsrs_changeset_left_changed(cs),
        )
    finally:
        _lib.ipvsrs_changeset_free(cs)


class Handle:
    """A connection to the IPVS table of one network namespace: the caller's, or the one
    at ``netns`` (e.g. "/run/netns/blue"). Close it, or use it in a ``with`` block."""

    def __init__(self, netns: "Optional[Union[str, os.PathLike[str]]]" = None):
        self._handle: "Optional[_Pointer[_ipvsrs_handle]]" = None
        path = None if netns is None else os.fsencode(netns)
        handle = _lib.ipvsrs_open(path)
        if not handle:
            raise _last_error()
        self._handle = handle

    def close(self) -> None:
        """Releases the handle; later calls raise IpvsError (EBADF). Closing twice is fine,
        and so is closing while other threads are inside calls on the handle: those return,
        or raise IpvsError (EBADF)."""
        handle, self._handle = self._handle, None
        if handle:
            _lib.ipvsrs_close(handle)

    def __enter__(self) -> "Handle":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def _open_handle(self) -> "_Pointer[_ipvsrs_handle]":
        # The library would take NULL for the process-wide libipvs connection in the
        # desired-state calls: a closed handle must not silently become that.
        if not self._handle:
            raise IpvsError(_errno.EBADF, "the ipvsrs handle is closed")
        return self._handle

    def services(self, dests: bool = True) -> List[Service]:
        """Every service with its destinations: one snapshot of the services (each once,
        as ipvsrs_services takes it) plus one dump per service for its destinations; with
        ``dests=False`` the services alone (their ``dests`` empty), which costs one dump."""
        handle = self._open_handle()
        it = _lib.ipvsrs_services(handle)
        if not it:
            raise _last_error()
        try:
            services = []
            while True:
                entry = _lib.ipvsrs_service_iter_next(it)
                if not entry:
                    break
                services.append(self._service(handle, entry, dests))
            return services
        finally:
            _lib.ipvsrs_service_iter_free(it)

    def connections(self) -> List[Connection]:
        """Every entry of the namespace's connection table (ipvsrs_conns)."""
        it = _lib.ipvsrs_conns(self._open_handle())
        if not it:
            raise _last_error()
        try:
            conns: List[Connection] = []
            while True:
                entry = _lib.ipvsrs_conn_iter_next(it)
                if not entry:
                    return conns
                conns.append(_connection(entry.contents))
        finally:
            _lib.ipvsrs_conn_iter_free(it)

    @staticmethod
    def _service(
        handle: "_Pointer[_ipvsrs_handle]",
        entry: "_Pointer[ipvs_service_entry_t]",
        with_dests: bool,
    ) -> Service:
        """`entry` is a pointer from a live service iterator."""
        dests = []
        it = _lib.ipvsrs_dests(handle, entry) if with_dests else None
        if with_dests and not it:
            raise _last_error()
        try:
            while it:
                dest = _lib.ipvsrs_dest_iter_next(it)
                if not dest:
                    break
                dests.append(_destination(dest.contents))
        finally:
            if it:
                _lib.ipvsrs_dest_iter_free(it)
        s = entry.contents
        family, protocol, address, port, fwmark = _service_identity(s)
        return Service(
            family=family,
            protocol=protocol,
            address=address,
            port=port,
            fwmark=fwmark,
            scheduler=s.sched_name.decode(),
            flags=s.flags,
            timeout=s.timeout,
            netmask=_netmask(s.af, s.netmask),
            pe_name=s.pe_name.decode(),
            stats=Stats._from_c(s.stats64),
            dests=dests,
        )

    def apply_yaml(
        self,
        model: "Union[str, os.PathLike[str]]",
        *,
        path: bool = False,
        dry_run: bool = False,
        keep_weights: bool = False,
        allowed_actions: Optional[Union[str, Iterable[str]]] = None,
        scope: Optional[str] = None,
        params_env: bool = False,
        params_network: bool = False,
        params_files: "Iterable[Union[str, os.PathLike[str]]]" = (),
        wait: Optional[float] = None,
    ) -> Changeset:
        """Makes the table match ``model`` (YAML text, or a file with ``path=True``), all or
        nothing, and returns the changeset with each step's result. One converger at a time
        per network namespace: while another (any process's) holds the namespace's lock,
        the call waits up to ``wait`` seconds (None: 10; 0: not at all), then raises
        IpvsError with errno EBUSY, having changed nothing. ``allowed_actions``
        ("as,us,ad,ud", or a list of such names) refuses a changeset needing another;
        ``scope`` ("10.0.0.0/24:80-443,fwmark:1-100", or a ``Service.key``) limits the
        services the model owns.

        Parameters in the model resolve only from the sources enabled here, as with
        ``ipvsrs --params-*``: ``${env.NAME}`` with ``params_env``, ``${host.eth0}`` (this
        thread's network namespace) with ``params_network``, ``${KEY.PATH}`` from the YAML
        or JSON ``params_files``.

        Raises IpvsError: EINVAL for an invalid or refused model (nothing changed), the
        system's errno for an unreadable model or parameter file, or the failing step's
        errno after a rollback (with the changeset)."""
        handle = self._open_handle()
        opts = _options(
            path, dry_run, keep_weights, allowed_actions, scope,
            params_env, params_network, params_files,
        )
        if wait is not None:
            if wait < 0:
                raise ValueError(f"wait is {wait}: seconds, 0 or more")
            opts.wait_ms = max(1, round(wait * 1000)) if wait > 0 else IPVSRS_WAIT_NONE
        cs = _ChangesetP()
        text = _model(model, path)
        rc = _lib.ipvs_apply_yaml(handle, text, ctypes.byref(opts), ctypes.byref(cs))
        if rc != 0:
            error = _last_error()
            # The changeset comes with a failed apply too: free it in any case.
            error.changeset = _take_changeset(cs) if cs else None
            raise error
        return _take_changeset(cs) if cs else Changeset([], False)

    def diff_yaml(
        self,
        model: "Union[str, os.PathLike[str]]",
        *,
        path: bool = False,
        keep_weights: bool = False,
        allowed_actions: Optional[Union[str, Iterable[str]]] = None,
        scope: Optional[str] = None,
        params_env: bool = False,
        params_network: bool = False,
        params_files: "Iterable[Union[str, os.PathLike[str]]]" = (),
    ) -> Changeset:
        """The changeset ``apply_yaml`` would run, computed without changing anything (each
        change's ``result`` is None)."""
        handle = self._open_handle()
        opts = _options(
            path, False, keep_weights, allowed_actions, scope,
            params_env, params_network, params_files,
        )
        cs = _lib.ipvsrs_diff_yaml(handle, _model(model, path), ctypes.byref(opts))
        if not cs:
            raise _last_error()
        return _take_changeset(cs)


def _c_string(text: str, what: str) -> bytes:
    data = text.encode()
    if b"\0" in data:
        raise ValueError(f"{what} contains a NUL character")
    return data


def _model(model: "Union[str, os.PathLike[str]]", path: bool) -> bytes:
    if path:
        return _c_string(os.fsdecode(model), "model path")
    if not isinstance(model, str):
        raise TypeError("the model is YAML text: pass path=True for a file")
    return _c_string(model, "model")


def _options(
    path: bool,
    dry_run: bool,
    keep_weights: bool,
    allowed_actions: Optional[Union[str, Iterable[str]]],
    scope: Optional[str],
    params_env: bool,
    params_network: bool,
    params_files: "Iterable[Union[str, os.PathLike[str]]]",
) -> ipvsrs_apply_options:
    flags = (
        (IPVSRS_MODEL_PATH if path else 0)
        | (IPVSRS_APPLY_DRY_RUN if dry_run else 0)
        | (IPVSRS_APPLY_KEEP_WEIGHTS if keep_weights else 0)
        | (IPVSRS_PARAMS_ENV if params_env else 0)
        | (IPVSRS_PARAMS_NETWORK if params_network else 0)
    )
    if allowed_actions is not None and not isinstance(allowed_actions, str):
        allowed_actions = ",".join(allowed_actions)
    files = [os.fsencode(f) for f in params_files]
    if any(b"\0" in f for f in files):
        raise ValueError("a parameter file's path contains a NUL character")
    # The structure keeps the array (ctypes holds what a pointer field is set to).
    files_array = (ctypes.c_char_p * (len(files) + 1))(*files, None)
    return ipvsrs_apply_options(
        flags=flags,
        allowed_actions=None if allowed_actions is None else _c_string(allowed_actions, "actions"),
        scope=None if scope is None else _c_string(scope, "scope"),
        params_files=ctypes.cast(files_array, ctypes.POINTER(ctypes.c_char_p)),
    )
