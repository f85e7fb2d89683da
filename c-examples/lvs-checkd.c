/*
 * lvs-checkd: a keepalived-style health checker on ipvsrs. It applies a YAML model, then
 * checks every real server of the model's services by TCP connect at an interval; a
 * server that fails (after the retries) is taken out (weight 0, or removed with
 * --remove) and put back when it answers again. When the live weight of a service falls
 * below --quorum, the --sorry server is added to it until the quorum is back. On SIGTERM
 * or SIGINT it drains (weight 0 everywhere, until no connection is active or
 * --drain-timeout passes), deletes the services it applied and stops the sync daemons its
 * model started (a model's daemons section makes it one half of a director pair, the
 * other half a backup of the same sync id). Every transition is logged
 * on stderr. One thread; all checks of a round run at once (non-blocking connects and one
 * poll), so a round lasts at most --timeout.
 *
 *   lvs-checkd -f MODEL [--netns PATH] [--interval SECONDS] [--timeout SECONDS]
 *              [--retries N] [--remove] [--quorum WEIGHT --sorry IP:PORT]
 *              [--drain-timeout SECONDS]
 *
 *   cc lvs-checkd.c $(pkg-config --cflags --libs ipvsrs) -o lvs-checkd
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "ipvsrs.h"

struct server {
    ipvsrs_dest_user dest;     /* as the model configured it */
    char name[INET6_ADDRSTRLEN + 8];
    int up;               /* 1 while in service */
    int failures;         /* consecutive failed checks */
    int fd;               /* the check in flight, or -1 */
};

struct service {
    ipvsrs_service_user svc;
    char name[INET6_ADDRSTRLEN + 16];
    struct server *servers;
    size_t count;
    int sorry_active;
};

struct options {
    const char *model, *netns, *sorry;
    double interval, timeout, drain_timeout;
    int retries, remove, quorum;
};

static volatile sig_atomic_t stopping;

/* The sync daemons the model started (a daemon already running is left to its owner). */
static ipvsrs_daemon_user started[2];
static size_t started_count;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* Seconds on the monotonic clock (the one dmesg uses): immune to clock changes. */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* "[  1234.567] message", stamped by the monotonic clock, so that transitions can be
 * timed from the log. */
static void say(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "[%10.3f] ", now());
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

static void die(const char *what)
{
    say("fatal: %s: %s", what, ipvsrs_last_error());
    exit(1);
}

static void endpoint_name(char *out, size_t size, int af, const union ipvsrs_inet_addr *addr,
                          unsigned port)
{
    char text[INET6_ADDRSTRLEN];
    inet_ntop(af, addr, text, sizeof text);
    snprintf(out, size, af == AF_INET6 ? "[%s]:%u" : "%s:%u", text, port);
}

static ipvsrs_service_user service_of(const ipvsrs_service_entry *e)
{
    ipvsrs_service_user s;
    memset(&s, 0, sizeof s);
    s.af = e->af;
    s.protocol = e->protocol;
    s.addr = e->addr;
    s.port = e->port;
    s.fwmark = e->fwmark;
    memcpy(s.sched_name, e->sched_name, sizeof s.sched_name);
    s.flags = e->flags;
    s.timeout = e->timeout;
    s.netmask = e->netmask;
    memcpy(s.pe_name, e->pe_name, sizeof s.pe_name);
    return s;
}

static ipvsrs_dest_user dest_of(const ipvsrs_dest_entry *e)
{
    ipvsrs_dest_user d;
    memset(&d, 0, sizeof d);
    d.af = e->af;
    d.addr = e->addr;
    d.port = e->port;
    d.conn_flags = e->conn_flags;
    d.weight = e->weight;
    d.u_threshold = e->u_threshold;
    d.l_threshold = e->l_threshold;
    d.tun_type = e->tun_type;
    d.tun_port = e->tun_port;
    d.tun_flags = e->tun_flags;
    return d;
}

/* Applies the model and returns its services with their servers, as the kernel now has
 * them; each server starts in service. */
static struct service *load(ipvsrs_handle *h, const char *model, size_t *count)
{
    ipvsrs_apply_options apply = { .flags = IPVSRS_MODEL_PATH };
    ipvsrs_changeset *cs = NULL;
    int failed = ipvs_apply_yaml(h, model, &apply, &cs);
    const ipvsrs_change *c;
    while (cs && (c = ipvsrs_changeset_next(cs))) {
        say("model: %s%s", c->description, c->result > 0 ? " (failed)" : "");
        if (c->kind == IPVSRS_CHANGE_START_DAEMON && c->result == 0 && started_count < 2)
            started[started_count++] = c->daemon;
    }
    ipvsrs_changeset_free(cs);
    if (failed)
        die(model);

    ipvsrs_service_iter *it = ipvsrs_services(h);
    if (!it)
        die("listing services");
    *count = ipvsrs_service_iter_count(it);
    struct service *services = calloc(*count ? *count : 1, sizeof *services);
    if (!services)
        die("allocating");
    for (size_t i = 0; i < *count; i++) {
        const ipvsrs_service_entry *e = ipvsrs_service_iter_next(it);
        struct service *s = &services[i];
        s->svc = service_of(e);
        if (e->fwmark)
            snprintf(s->name, sizeof s->name, "fwmark:%u", e->fwmark);
        else
            endpoint_name(s->name, sizeof s->name, e->af, &e->addr, ntohs(e->port));
        ipvsrs_dest_iter *dit = ipvsrs_dests(h, e);
        if (!dit)
            die("listing destinations");
        s->count = ipvsrs_dest_iter_count(dit);
        s->servers = calloc(s->count ? s->count : 1, sizeof *s->servers);
        if (!s->servers)
            die("allocating");
        for (size_t j = 0; j < s->count; j++) {
            const ipvsrs_dest_entry *d = ipvsrs_dest_iter_next(dit);
            struct server *r = &s->servers[j];
            r->dest = dest_of(d);
            endpoint_name(r->name, sizeof r->name, d->af, &d->addr, ntohs(d->port));
            r->up = 1;
            r->fd = -1;
        }
        ipvsrs_dest_iter_free(dit);
    }
    ipvsrs_service_iter_free(it);
    return services;
}

/* Starts a non-blocking connect to the server; -1 if it failed at once. */
static int start_check(const struct server *r)
{
    struct sockaddr_storage sa;
    socklen_t len;
    memset(&sa, 0, sizeof sa);
    if (r->dest.af == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&sa;
        a->sin6_family = AF_INET6;
        memcpy(&a->sin6_addr, &r->dest.addr.in6, sizeof a->sin6_addr);
        a->sin6_port = r->dest.port;
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&sa;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = r->dest.addr.ip;
        a->sin_port = r->dest.port;
        len = sizeof *a;
    }
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, len) == 0 || errno == EINPROGRESS)
        return fd;
    close(fd);
    return -1;
}

static void set_weight(ipvsrs_handle *h, struct service *s, struct server *r, int weight)
{
    ipvsrs_dest_user d = r->dest;
    d.weight = weight;
    if (ipvsrs_update_dest(h, &s->svc, &d))
        say("%s of %s: setting weight %d failed: %s", r->name, s->name, weight,
            ipvsrs_last_error());
}

static void transition(ipvsrs_handle *h, const struct options *o, struct service *s,
                       struct server *r, int up, const char *why)
{
    r->up = up;
    if (up && o->remove) {
        if (ipvsrs_add_dest(h, &s->svc, &r->dest))
            say("%s of %s: adding failed: %s", r->name, s->name, ipvsrs_last_error());
    } else if (up) {
        set_weight(h, s, r, r->dest.weight);
    } else if (o->remove) {
        if (ipvsrs_del_dest(h, &s->svc, &r->dest))
            say("%s of %s: removing failed: %s", r->name, s->name, ipvsrs_last_error());
    } else {
        set_weight(h, s, r, 0);
    }
    say("%s of %s is %s (%s): %s", r->name, s->name, up ? "UP" : "DOWN", why,
        up ? (o->remove ? "added back" : "weight restored")
           : (o->remove ? "removed" : "weight 0"));
}

/* Adds the sorry server while the live weight is below the quorum, removes it after. */
static void check_quorum(ipvsrs_handle *h, const struct options *o, struct service *s,
                         const ipvsrs_dest_user *sorry)
{
    if (!o->sorry)
        return;
    long live = 0;
    for (size_t i = 0; i < s->count; i++)
        live += s->servers[i].up ? s->servers[i].dest.weight : 0;
    int lost = live < o->quorum;
    if (lost == s->sorry_active)
        return;
    int rc = lost ? ipvsrs_add_dest(h, &s->svc, sorry) : ipvsrs_del_dest(h, &s->svc, sorry);
    if (rc) {
        say("%s: %s the sorry server failed: %s", s->name, lost ? "adding" : "removing",
            ipvsrs_last_error());
        return;
    }
    s->sorry_active = lost;
    say("%s: quorum %s (live weight %ld, quorum %d): sorry server %s %s", s->name,
        lost ? "lost" : "regained", live, o->quorum, o->sorry, lost ? "added" : "removed");
}

/* One round: every server's connect at once, one poll until all are decided or the
 * timeout passes, then the transitions. */
static void check_round(ipvsrs_handle *h, const struct options *o, struct service *services,
                        size_t count, const ipvsrs_dest_user *sorry)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += services[i].count;
    struct pollfd *fds = calloc(total ? total : 1, sizeof *fds);
    struct server **owners = calloc(total ? total : 1, sizeof *owners);
    if (!fds || !owners)
        die("allocating");
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < services[i].count; j++) {
            struct server *r = &services[i].servers[j];
            r->fd = r->dest.port ? start_check(r) : -1;
            if (r->dest.port && r->fd < 0)
                r->failures++;
            fds[n].fd = r->fd;
            fds[n].events = POLLOUT;
            owners[n++] = r;
        }
    }
    double deadline = now() + o->timeout;
    size_t pending = 0;
    for (size_t k = 0; k < n; k++)
        pending += fds[k].fd >= 0;
    while (pending > 0 && !stopping) {
        int wait_ms = (int)((deadline - now()) * 1000);
        if (wait_ms <= 0 || poll(fds, n, wait_ms) == 0)
            break;
        pending = 0;
        for (size_t k = 0; k < n; k++) {
            if (fds[k].fd < 0)
                continue;
            if (fds[k].revents) {
                int error = 0;
                socklen_t len = sizeof error;
                getsockopt(fds[k].fd, SOL_SOCKET, SO_ERROR, &error, &len);
                owners[k]->failures = error ? owners[k]->failures + 1 : 0;
                close(fds[k].fd);
                owners[k]->fd = fds[k].fd = -1;
            } else {
                pending++;
            }
        }
    }
    for (size_t k = 0; k < n; k++) {
        struct server *r = owners[k];
        if (r->fd >= 0) { /* no answer in time */
            close(r->fd);
            r->fd = -1;
            r->failures++;
        }
    }
    for (size_t i = 0; i < count; i++) {
        struct service *s = &services[i];
        for (size_t j = 0; j < s->count; j++) {
            struct server *r = &s->servers[j];
            if (!r->dest.port)
                continue; /* port 0 (all ports): nothing to connect to */
            if (r->up && r->failures > o->retries)
                transition(h, o, s, r, 0, "connect failed");
            else if (!r->up && r->failures == 0)
                transition(h, o, s, r, 1, "connect succeeded");
        }
        check_quorum(h, o, s, sorry);
    }
    free(fds);
    free(owners);
}

/* Weight 0 everywhere, then wait for the active connections of its services to end (or
 * the drain timeout), then delete the services the model made. */
static void drain_and_remove(ipvsrs_handle *h, const struct options *o,
                             struct service *services, size_t count)
{
    say("stopping: draining %zu services", count);
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < services[i].count; j++)
            if (services[i].servers[j].up)
                set_weight(h, &services[i], &services[i].servers[j], 0);
    double deadline = now() + o->drain_timeout;
    for (;;) {
        unsigned long active = 0;
        for (size_t i = 0; i < count; i++) {
            ipvsrs_service_entry entry;
            if (ipvsrs_get_service(h, &services[i].svc, &entry))
                continue;
            ipvsrs_dest_iter *d = ipvsrs_dests(h, &entry);
            const ipvsrs_dest_entry *de;
            while (d && (de = ipvsrs_dest_iter_next(d)))
                active += de->activeconns;
            ipvsrs_dest_iter_free(d);
        }
        if (active == 0 || now() >= deadline) {
            say("drained (%lu connections still active)", active);
            break;
        }
        usleep(200 * 1000);
    }
    for (size_t i = 0; i < count; i++) {
        if (ipvsrs_del_service(h, &services[i].svc))
            say("%s: deleting failed: %s", services[i].name, ipvsrs_last_error());
        else
            say("%s: deleted", services[i].name);
    }
    for (size_t i = 0; i < started_count; i++) {
        const ipvsrs_daemon_user *d = &started[i];
        const char *role = d->state == IPVSRS_STATE_MASTER ? "master" : "backup";
        if (ipvsrs_stop_daemon(h, d->state))
            say("stopping the %s sync daemon failed: %s", role, ipvsrs_last_error());
        else
            say("%s sync daemon on %.*s (syncid %d) stopped", role,
                (int)sizeof d->mcast_ifn, d->mcast_ifn, d->syncid);
    }
}

static ipvsrs_dest_user parse_sorry(const char *text)
{
    ipvsrs_dest_user d;
    memset(&d, 0, sizeof d);
    char host[INET6_ADDRSTRLEN];
    unsigned port;
    if (sscanf(text, "%45[^:]:%u", host, &port) != 2 || port > 65535 ||
        inet_pton(AF_INET, host, &d.addr.ip) != 1) {
        fprintf(stderr, "lvs-checkd: --sorry %s: expected IPv4:PORT\n", text);
        exit(2);
    }
    d.af = AF_INET;
    d.port = htons((uint16_t)port);
    d.conn_flags = IPVSRS_CONN_F_MASQ;
    d.weight = 1;
    return d;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: lvs-checkd -f MODEL [--netns PATH] [--interval S] [--timeout S] [--retries N]\n"
            "                  [--remove] [--quorum WEIGHT --sorry IP:PORT] [--drain-timeout S]\n");
    exit(2);
}

static struct options parse(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "file", required_argument, NULL, 'f' },
        { "netns", required_argument, NULL, 'n' },
        { "interval", required_argument, NULL, 'i' },
        { "timeout", required_argument, NULL, 't' },
        { "retries", required_argument, NULL, 'r' },
        { "remove", no_argument, NULL, 'R' },
        { "quorum", required_argument, NULL, 'q' },
        { "sorry", required_argument, NULL, 's' },
        { "drain-timeout", required_argument, NULL, 'd' },
        { NULL, 0, NULL, 0 },
    };
    struct options o = { .interval = 2, .timeout = 1, .drain_timeout = 10 };
    int opt;
    while ((opt = getopt_long(argc, argv, "f:", long_options, NULL)) != -1) {
        switch (opt) {
        case 'f': o.model = optarg; break;
        case 'n': o.netns = optarg; break;
        case 'i': o.interval = atof(optarg); break;
        case 't': o.timeout = atof(optarg); break;
        case 'r': o.retries = atoi(optarg); break;
        case 'R': o.remove = 1; break;
        case 'q': o.quorum = atoi(optarg); break;
        case 's': o.sorry = optarg; break;
        case 'd': o.drain_timeout = atof(optarg); break;
        default: usage();
        }
    }
    if (!o.model || o.interval <= 0 || o.timeout <= 0 || o.timeout > o.interval ||
        o.retries < 0 || (o.sorry && o.quorum <= 0) || optind != argc)
        usage();
    return o;
}

int main(int argc, char **argv)
{
    struct options o = parse(argc, argv);
    ipvsrs_dest_user sorry = o.sorry ? parse_sorry(o.sorry) : (ipvsrs_dest_user){ 0 };
    /* Checks connect from the namespace whose table they manage. */
    if (o.netns) {
        int fd = open(o.netns, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET)) {
            say("fatal: entering %s: %s", o.netns, strerror(errno));
            return 1;
        }
        close(fd);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    ipvsrs_handle *h = ipvsrs_open(NULL);
    if (!h)
        die("opening IPVS");
    size_t count;
    struct service *services = load(h, o.model, &count);
    size_t servers = 0;
    for (size_t i = 0; i < count; i++)
        servers += services[i].count;
    say("checking %zu real servers of %zu services every %.3gs (timeout %.3gs, retries %d)",
        servers, count, o.interval, o.timeout, o.retries);
    while (!stopping) {
        double round = now();
        check_round(h, &o, services, count, &sorry);
        double rest = round + o.interval - now();
        if (rest > 0 && !stopping) {
            struct timespec t = { (time_t)rest, (long)((rest - (time_t)rest) * 1e9) };
            nanosleep(&t, NULL); /* a signal ends it early */
        }
    }
    drain_and_remove(h, &o, services, count);
    for (size_t i = 0; i < count; i++)
        free(services[i].servers);
    free(services);
    ipvsrs_close(h);
    return 0;
}
