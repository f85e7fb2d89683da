/*
 * ipvs-list: the IPVS table the way `ipvsadm -Ln` shows it, through ipvsrs's native API:
 * a handle per network namespace and the iteration calls, with the 64-bit counters.
 *
 *   ipvs-list [--stats | --rate | --connections] [--netns PATH]
 *
 * --stats shows the counters and --rate the kernel's rate estimates, both as exact
 * numbers (as `ipvsadm -Ln --stats --exact`); --connections the connection table (as
 * `ipvsadm -Lnc`), with each entry's forwarding method and template mark at the end.
 *
 *   cc ipvs-list.c $(pkg-config --cflags --libs ipvsrs) -o ipvs-list
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <linux/ip_vs.h> /* the kernel's IP_VS_* constants and NVERSION, beside ipvsrs.h */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ipvsrs.h"

enum view { VIEW_TABLE, VIEW_STATS, VIEW_RATE, VIEW_CONNECTIONS };

static void die(const char *what)
{
    fprintf(stderr, "ipvs-list: %s: %s\n", what, ipvsrs_last_error());
    exit(1);
}

/* ipvsadm's name of a forwarding method; one from a newer kernel is its number. */
static const char *forward_name(unsigned conn_flags)
{
    static char number[12];
    switch (conn_flags & IP_VS_CONN_F_FWD_MASK) {
    case IP_VS_CONN_F_MASQ: return "Masq";
    case IP_VS_CONN_F_LOCALNODE: return "Local";
    case IP_VS_CONN_F_TUNNEL: return "Tunnel";
    case IP_VS_CONN_F_DROUTE: return "Route";
    case IP_VS_CONN_F_BYPASS: return "Bypass";
    default:
        snprintf(number, sizeof number, "%u", conn_flags & IP_VS_CONN_F_FWD_MASK);
        return number;
    }
}

static const char *protocol_name(unsigned protocol)
{
    switch (protocol) {
    case IPPROTO_TCP: return "TCP";
    case IPPROTO_UDP: return "UDP";
    case IPPROTO_SCTP: return "SCTP";
    default: return "?";
    }
}

/* "10.0.0.1:80" or "[2001:db8::1]:443". */
static void format_endpoint(char *out, size_t size, int af, const union ipvsrs_inet_addr *addr,
                            unsigned port)
{
    char text[INET6_ADDRSTRLEN];
    inet_ntop(af, addr, text, sizeof text);
    snprintf(out, size, af == AF_INET6 ? "[%s]:%u" : "%s:%u", text, port);
}

/* "TCP  10.0.0.1:80" or "FWM  7 IPv6": the service column. */
static void format_service(char *out, size_t size, const ipvsrs_service_entry *s)
{
    if (s->fwmark) {
        snprintf(out, size, "FWM  %u%s", s->fwmark, s->af == AF_INET6 ? " IPv6" : "");
        return;
    }
    char endpoint[INET6_ADDRSTRLEN + 8];
    format_endpoint(endpoint, sizeof endpoint, s->af, &s->addr, ntohs(s->port));
    snprintf(out, size, "%-4s %s", protocol_name(s->protocol), endpoint);
}

/* The scheduler flags in parentheses, named as the scheduler that uses them names them. */
static void print_sched_flags(const ipvsrs_service_entry *s)
{
    static const struct { unsigned flag; const char *generic, *sh, *mh; } names[] = {
        { IP_VS_SVC_F_SCHED1, "flag-1", "sh-fallback", "mh-fallback" },
        { IP_VS_SVC_F_SCHED2, "flag-2", "sh-port", "mh-port" },
        { IP_VS_SVC_F_SCHED3, "flag-3", "flag-3", "flag-3" },
    };
    int any = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(s->flags & names[i].flag))
            continue;
        const char *name = strcmp(s->sched_name, "sh") == 0   ? names[i].sh
                           : strcmp(s->sched_name, "mh") == 0 ? names[i].mh
                                                              : names[i].generic;
        printf("%s%s", any ? "," : " (", name);
        any = 1;
    }
    if (any)
        printf(")");
}

static void print_settings(const ipvsrs_service_entry *s)
{
    printf(" %s", s->sched_name);
    print_sched_flags(s);
    if (s->flags & IP_VS_SVC_F_PERSISTENT) {
        printf(" persistent %u", s->timeout);
        if (s->af == AF_INET && s->netmask != 0xffffffff) {
            struct in_addr mask = { s->netmask };
            char text[INET_ADDRSTRLEN];
            printf(" mask %s", inet_ntop(AF_INET, &mask, text, sizeof text));
        } else if (s->af == AF_INET6 && s->netmask != 128) {
            printf(" mask %u", s->netmask);
        }
        if (s->pe_name[0])
            printf(" pe %s", s->pe_name);
    }
    if (s->flags & IP_VS_SVC_F_ONEPACKET)
        printf(" ops");
}

static void print_numbers(enum view view, const struct ipvsrs_stats64 *st)
{
    unsigned long long v[5];
    if (view == VIEW_STATS) {
        v[0] = st->conns, v[1] = st->inpkts, v[2] = st->outpkts;
        v[3] = st->inbytes, v[4] = st->outbytes;
    } else {
        v[0] = st->cps, v[1] = st->inpps, v[2] = st->outpps;
        v[3] = st->inbps, v[4] = st->outbps;
    }
    for (int i = 0; i < 5; i++)
        printf(" %8llu", v[i]);
    printf("\n");
}

static void print_dest(enum view view, const ipvsrs_dest_entry *d)
{
    char endpoint[INET6_ADDRSTRLEN + 8];
    format_endpoint(endpoint, sizeof endpoint, d->af, &d->addr, ntohs(d->port));
    if (view == VIEW_TABLE) {
        printf("  -> %-28s %-7s %-6d %-10u %-10u\n", endpoint, forward_name(d->conn_flags),
               d->weight, d->activeconns, d->inactconns);
        return;
    }
    printf("  -> %-28s", endpoint);
    print_numbers(view, &d->stats64);
}

static int compare_services(const void *a, const void *b)
{
    return ipvs_cmp_services(*(ipvsrs_service_entry *const *)a,
                             *(ipvsrs_service_entry *const *)b);
}

static int compare_dests(const void *a, const void *b)
{
    return ipvs_cmp_dests(*(ipvsrs_dest_entry *const *)a, *(ipvsrs_dest_entry *const *)b);
}

static void print_service(ipvsrs_handle *h, enum view view, const ipvsrs_service_entry *s)
{
    char name[INET6_ADDRSTRLEN + 16];
    format_service(name, sizeof name, s);
    if (view == VIEW_TABLE) {
        printf("%s", name);
        print_settings(s);
        printf("\n");
    } else {
        printf("%-33s", name);
        print_numbers(view, &s->stats64);
    }
    ipvsrs_dest_iter *it = ipvsrs_dests(h, s);
    if (!it)
        die("listing destinations");
    size_t n = ipvsrs_dest_iter_count(it);
    const ipvsrs_dest_entry **dests = calloc(n ? n : 1, sizeof *dests);
    if (!dests)
        die("allocating");
    for (size_t i = 0; i < n; i++)
        dests[i] = ipvsrs_dest_iter_next(it);
    qsort(dests, n, sizeof *dests, compare_dests);
    for (size_t i = 0; i < n; i++)
        print_dest(view, dests[i]);
    free(dests);
    ipvsrs_dest_iter_free(it);
}

/* ipvsadm -Lnc's lines, then what ipvsadm cannot tell: how the entry is forwarded, and
 * whether it is a persistence template. */
static void print_connections(ipvsrs_handle *h)
{
    ipvsrs_conn_iter *it = ipvsrs_conns(h);
    if (!it)
        die("listing connections");
    printf("IPVS connection entries\n"
           "pro expire state       source             virtual            destination\n");
    const ipvsrs_conn *c;
    while ((c = ipvsrs_conn_iter_next(it))) {
        char client[INET6_ADDRSTRLEN + 8], virt[INET6_ADDRSTRLEN + 8], real[INET6_ADDRSTRLEN + 8];
        format_endpoint(client, sizeof client, c->af, &c->caddr, ntohs(c->cport));
        format_endpoint(virt, sizeof virt, c->af, &c->vaddr, ntohs(c->vport));
        format_endpoint(real, sizeof real, c->daf, &c->daddr, ntohs(c->dport));
        const char *fwd = c->fwd == IPVSRS_CONN_FWD_UNKNOWN ? "?" : forward_name(c->fwd);
        printf("%-3s %02u:%02u  %-11s %-18s %-18s %s %s%s\n",
               c->protocol ? protocol_name(c->protocol) : "IP", c->expires / 60,
               c->expires % 60, c->state, client, virt, real, fwd,
               c->is_template ? " template" : "");
    }
    ipvsrs_conn_iter_free(it);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "stats", no_argument, NULL, 's' },
        { "rate", no_argument, NULL, 'r' },
        { "connections", no_argument, NULL, 'c' },
        { "netns", required_argument, NULL, 'n' },
        { NULL, 0, NULL, 0 },
    };
    enum view view = VIEW_TABLE;
    const char *netns = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 's': view = VIEW_STATS; break;
        case 'r': view = VIEW_RATE; break;
        case 'c': view = VIEW_CONNECTIONS; break;
        case 'n': netns = optarg; break;
        default:
            fprintf(stderr, "usage: ipvs-list [--stats | --rate | --connections] [--netns PATH]\n");
            return 2;
        }
    }
    ipvsrs_handle *h = ipvsrs_open(netns);
    if (!h)
        die(netns ? netns : "opening IPVS");
    if (view == VIEW_CONNECTIONS) {
        print_connections(h);
        ipvsrs_close(h);
        return 0;
    }
    struct ipvsrs_getinfo info;
    if (ipvsrs_get_info(h, &info))
        die("reading IPVS info");
    printf("IP Virtual Server version %u.%u.%u (size=%u)\n", NVERSION(info.version), info.size);
    static const char *const headers[] = {
        [VIEW_TABLE] = "Prot LocalAddress:Port Scheduler Flags\n"
                       "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
        [VIEW_STATS] = "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
                       "  -> RemoteAddress:Port\n",
        [VIEW_RATE] = "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n"
                      "  -> RemoteAddress:Port\n",
    };
    fputs(headers[view], stdout);

    ipvsrs_service_iter *it = ipvsrs_services(h);
    if (!it)
        die("listing services");
    size_t n = ipvsrs_service_iter_count(it);
    const ipvsrs_service_entry **services = calloc(n ? n : 1, sizeof *services);
    if (!services)
        die("allocating");
    for (size_t i = 0; i < n; i++)
        services[i] = ipvsrs_service_iter_next(it);
    qsort(services, n, sizeof *services, compare_services);
    for (size_t i = 0; i < n; i++)
        print_service(h, view, services[i]);
    free(services);
    ipvsrs_service_iter_free(it);
    ipvsrs_close(h);
    return 0;
}
