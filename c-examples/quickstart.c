/*
 * quickstart: a program written against libipvs 1.31, unchanged. It adds a virtual
 * service with two real servers and prints the table the kernel now holds, the way
 * `ipvsadm -Ln` does.
 *
 *   cc quickstart.c $(pkg-config --cflags --libs ipvsrs) -o quickstart
 *   sudo ./quickstart            (CAP_NET_ADMIN; best inside a scratch network namespace)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "libipvs.h"

static void fail(const char *what)
{
    fprintf(stderr, "quickstart: %s: %s\n", what, ipvs_strerror(errno));
    exit(1);
}

static const char *fwd_name(unsigned flags)
{
    switch (flags & IP_VS_CONN_F_FWD_MASK) {
    case IP_VS_CONN_F_MASQ: return "Masq";
    case IP_VS_CONN_F_LOCALNODE: return "Local";
    case IP_VS_CONN_F_TUNNEL: return "Tunnel";
    case IP_VS_CONN_F_DROUTE: return "Route";
    default: return "Bypass";
    }
}

static void add(void)
{
    ipvs_service_t svc;
    memset(&svc, 0, sizeof svc);
    svc.af = AF_INET;
    svc.protocol = IPPROTO_TCP;
    inet_pton(AF_INET, "192.0.2.10", &svc.addr.ip);
    svc.port = htons(80);
    strcpy(svc.sched_name, "wrr");
    svc.netmask = 0xffffffff;
    if (ipvs_add_service(&svc))
        fail("add service");

    const char *servers[] = { "198.51.100.1", "198.51.100.2" };
    for (int i = 0; i < 2; i++) {
        ipvs_dest_t dest;
        memset(&dest, 0, sizeof dest);
        dest.af = AF_INET;
        inet_pton(AF_INET, servers[i], &dest.addr.ip);
        dest.port = htons(8080);
        dest.conn_flags = IP_VS_CONN_F_MASQ;
        dest.weight = 100 * (i + 1);
        if (ipvs_add_dest(&svc, &dest))
            fail("add destination");
    }
}

static void list(void)
{
    printf("IP Virtual Server version %d.%d.%d (size=%d)\n", NVERSION(ipvs_info.version),
           ipvs_info.size);
    printf("Prot LocalAddress:Port Scheduler Flags\n");
    printf("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    struct ip_vs_get_services *services = ipvs_get_services();
    if (!services)
        fail("list services");
    ipvs_sort_services(services, ipvs_cmp_services);
    for (unsigned i = 0; i < services->num_services; i++) {
        ipvs_service_entry_t *s = &services->entrytable[i];
        char addr[INET6_ADDRSTRLEN], vip[INET6_ADDRSTRLEN + 8];
        inet_ntop(s->af, &s->addr, addr, sizeof addr);
        snprintf(vip, sizeof vip, "%s:%u", addr, ntohs(s->port));
        printf("%s  %s %s\n", s->protocol == IPPROTO_UDP ? "UDP" : "TCP", vip, s->sched_name);
        struct ip_vs_get_dests *dests = ipvs_get_dests(s);
        if (!dests)
            fail("list destinations");
        ipvs_sort_dests(dests, ipvs_cmp_dests);
        for (unsigned j = 0; j < dests->num_dests; j++) {
            ipvs_dest_entry_t *d = &dests->entrytable[j];
            char rip[INET6_ADDRSTRLEN + 8];
            inet_ntop(d->af, &d->addr, addr, sizeof addr);
            snprintf(rip, sizeof rip, "%s:%u", addr, ntohs(d->port));
            printf("  -> %-28s %-7s %-6d %-10u %-10u\n", rip, fwd_name(d->conn_flags), d->weight,
                   d->activeconns, d->inactconns);
        }
        free(dests);
    }
    free(services);
}

int main(void)
{
    if (ipvs_init())
        fail("initialise IPVS");
    add();
    list();
    ipvs_close();
    return 0;
}
