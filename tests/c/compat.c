/* Every libipvs 1.31 function against a real IPVS kernel, in a fresh network namespace
 * (the harness runs it there), with the error paths and their ipvs_strerror texts. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "libipvs.h"
#include "check.h"

static ipvs_service_t tcp_service(const char *addr, unsigned short port, const char *sched)
{
    ipvs_service_t s;
    memset(&s, 0, sizeof s);
    s.af = AF_INET;
    s.protocol = IPPROTO_TCP;
    inet_pton(AF_INET, addr, &s.addr.ip);
    s.port = htons(port);
    strcpy(s.sched_name, sched);
    s.netmask = 0xffffffff;
    return s;
}

static ipvs_dest_t dest(int af, const char *addr, unsigned short port, unsigned fwd, int weight)
{
    ipvs_dest_t d;
    memset(&d, 0, sizeof d);
    d.af = af;
    inet_pton(af, addr, &d.addr);
    d.port = htons(port);
    d.conn_flags = fwd;
    d.weight = weight;
    return d;
}

static ipvs_service_entry_t *find_service(struct ip_vs_get_services *all, unsigned short port)
{
    for (unsigned i = 0; i < all->num_services; i++)
        if (all->entrytable[i].fwmark == 0 && ntohs(all->entrytable[i].port) == port)
            return &all->entrytable[i];
    return NULL;
}

static void services_and_dests(void)
{
    ipvs_service_t web = tcp_service("10.0.0.1", 80, "wlc");
    web.flags = IP_VS_SVC_F_PERSISTENT;
    web.timeout = 300;
    web.netmask = htonl(0xffffff00);
    CHECK(ipvs_add_service(&web) == 0);
    ipvs_service_t dns = tcp_service("10.0.0.1", 53, "rr");
    dns.protocol = IPPROTO_UDP;
    CHECK(ipvs_add_service(&dns) == 0);
    ipvs_service_t mark;
    memset(&mark, 0, sizeof mark);
    mark.af = AF_INET6;
    mark.fwmark = 4000000000u; /* above INT_MAX: libipvs's comparator got these wrong */
    mark.netmask = 128;
    strcpy(mark.sched_name, "sh");
    mark.flags = IP_VS_SVC_F_SCHED_SH_PORT;
    CHECK(ipvs_add_service(&mark) == 0);

    ipvs_dest_t a = dest(AF_INET, "10.0.0.2", 8080, IP_VS_CONN_F_MASQ, 3);
    a.u_threshold = 100;
    a.l_threshold = 10;
    ipvs_dest_t b = dest(AF_INET, "10.0.0.3", 80, IP_VS_CONN_F_TUNNEL, 0);
    b.tun_type = IP_VS_CONN_F_TUNNEL_TYPE_GUE;
    b.tun_port = htons(5555);
    b.tun_flags = IP_VS_TUNNEL_ENCAP_FLAG_CSUM;
    CHECK(ipvs_add_dest(&web, &a) == 0);
    CHECK(ipvs_add_dest(&web, &b) == 0);
    a.weight = 7;
    CHECK(ipvs_update_dest(&web, &a) == 0);

    struct ip_vs_get_services *all = ipvs_get_services();
    CHECK(all != NULL && all->num_services == 3);
    ipvs_sort_services(all, ipvs_cmp_services);
    /* Sorted by fwmark first: both address services (mark 0) come before the fwmark one,
     * then by protocol (TCP 6 before UDP 17). */
    CHECK(all->entrytable[0].protocol == IPPROTO_TCP && ntohs(all->entrytable[0].port) == 80);
    CHECK(all->entrytable[1].protocol == IPPROTO_UDP && ntohs(all->entrytable[1].port) == 53);
    CHECK(all->entrytable[2].fwmark == 4000000000u && all->entrytable[2].af == AF_INET6);
    CHECK((all->entrytable[2].flags & ~IP_VS_SVC_F_HASHED) == IP_VS_SVC_F_SCHED_SH_PORT);
    ipvs_service_entry_t *e = find_service(all, 80);
    CHECK(e != NULL && strcmp(e->sched_name, "wlc") == 0);
    CHECK(e != NULL && (e->flags & IP_VS_SVC_F_PERSISTENT) && e->timeout == 300);
    CHECK(e != NULL && e->netmask == htonl(0xffffff00) && e->af == AF_INET);
    CHECK(e != NULL && e->addr.ip == web.addr.ip && e->num_dests == 0);

    struct ip_vs_get_dests *d = ipvs_get_dests(e);
    CHECK(d != NULL && d->num_dests == 2);
    CHECK(d != NULL && d->port == htons(80) && d->addr.ip == web.addr.ip);
    ipvs_sort_dests(d, ipvs_cmp_dests);
    ipvs_dest_entry_t *d0 = &d->entrytable[0], *d1 = &d->entrytable[1];
    CHECK(d0->addr.ip == a.addr.ip && ntohs(d0->port) == 8080 && d0->weight == 7);
    CHECK(d0->conn_flags == IP_VS_CONN_F_MASQ && d0->u_threshold == 100 && d0->l_threshold == 10);
    CHECK(d1->conn_flags == IP_VS_CONN_F_TUNNEL && d1->weight == 0);
    CHECK(d1->tun_type == IP_VS_CONN_F_TUNNEL_TYPE_GUE && ntohs(d1->tun_port) == 5555);
    CHECK(d1->tun_flags == IP_VS_TUNNEL_ENCAP_FLAG_CSUM && d1->af == AF_INET);
    CHECK(d0->stats64.conns == 0 && d0->stats.conns == 0 && d0->activeconns == 0);
    free(d);

    /* libipvs's netlink ipvs_get_dests started appending at index num_dests of a buffer of
     * num_dests entries: a non-zero count overflowed it. */
    e->num_dests = 1000;
    d = ipvs_get_dests(e);
    CHECK(d != NULL && d->num_dests == 2);
    free(d);
    free(all);

    ipvs_service_entry_t *one = ipvs_get_service(0, AF_INET, IPPROTO_UDP, dns.addr, dns.port);
    CHECK(one != NULL && strcmp(one->sched_name, "rr") == 0 && one->protocol == IPPROTO_UDP);
    free(one);

    strcpy(web.sched_name, "rr");
    web.flags = 0;
    CHECK(ipvs_update_service(&web) == 0);
    one = ipvs_get_service(0, AF_INET, IPPROTO_TCP, web.addr, web.port);
    CHECK(one != NULL && strcmp(one->sched_name, "rr") == 0);
    CHECK(one != NULL && (one->flags & IP_VS_SVC_F_PERSISTENT) == 0);
    free(one);

    CHECK(ipvs_zero_service(&web) == 0);
    CHECK(ipvs_zero_service(NULL) == 0);
    CHECK(ipvs_del_dest(&web, &b) == 0);
    CHECK(ipvs_del_service(&dns) == 0);
    CHECK(ipvs_flush() == 0);
    all = ipvs_get_services();
    CHECK(all != NULL && all->num_services == 0);
    free(all);
}

static void error_paths(void)
{
    ipvs_service_t s = tcp_service("10.0.0.9", 80, "rr");
    ipvs_dest_t d = dest(AF_INET, "10.0.0.10", 80, IP_VS_CONN_F_DROUTE, 1);

    CHECK_FAILS_WITH(ipvs_update_service(&s), ESRCH);
    CHECK_STR(ipvs_strerror(errno), "No such service");
    CHECK_FAILS_WITH(ipvs_del_service(&s), ESRCH);
    CHECK_STR(ipvs_strerror(errno), "No such service");
    CHECK_FAILS_WITH(ipvs_zero_service(&s), ESRCH);
    CHECK_STR(ipvs_strerror(errno), "No such service");
    CHECK_FAILS_WITH(ipvs_add_dest(&s, &d), ESRCH);
    CHECK_STR(ipvs_strerror(errno), "Service not defined");
    CHECK(ipvs_get_service(0, AF_INET, IPPROTO_TCP, s.addr, s.port) == NULL && errno == ESRCH);
    CHECK_STR(ipvs_strerror(errno), "No such service");

    CHECK(ipvs_add_service(&s) == 0);
    CHECK_FAILS_WITH(ipvs_add_service(&s), EEXIST);
    CHECK_STR(ipvs_strerror(errno), "Service already exists");
    CHECK_FAILS_WITH(ipvs_update_dest(&s, &d), ENOENT);
    CHECK_STR(ipvs_strerror(errno), "No such destination");
    CHECK_FAILS_WITH(ipvs_del_dest(&s, &d), ENOENT);
    CHECK_STR(ipvs_strerror(errno), "No such destination");
    CHECK(ipvs_add_dest(&s, &d) == 0);
    CHECK_FAILS_WITH(ipvs_add_dest(&s, &d), EEXIST);
    CHECK_STR(ipvs_strerror(errno), "Destination already exists");
    d.weight = -1;
    CHECK_FAILS_WITH(ipvs_update_dest(&s, &d), ERANGE);
    CHECK_STR(ipvs_strerror(errno), strerror(ERANGE));

    ipvs_service_t bad = tcp_service("10.0.0.9", 81, "nosuchsched");
    CHECK_FAILS_WITH(ipvs_add_service(&bad), ENOENT);
    CHECK_STR(ipvs_strerror(errno), "Scheduler or persistence engine not found");
    bad.af = 12345;
    CHECK_FAILS_WITH(ipvs_add_service(&bad), EAFNOSUPPORT);
    CHECK_STR(ipvs_strerror(errno), "Operation not supported with specified address family");
    CHECK_STR(ipvs_strerror(EPERM), "Permission denied (you must be root)");
    CHECK_STR(ipvs_strerror(EINVAL),
              "Invalid operation.  Possibly wrong module version, address not unicast, ...");

    /* NULL arguments fail cleanly instead of crashing. */
    CHECK_FAILS_WITH(ipvs_add_service(NULL), EINVAL);
    CHECK_FAILS_WITH(ipvs_add_dest(&s, NULL), EINVAL);
    CHECK(ipvs_get_dests(NULL) == NULL && errno == EINVAL);
    ipvs_sort_services(NULL, NULL);
    CHECK(ipvs_cmp_services(NULL, NULL) == 0);
    CHECK(ipvs_flush() == 0);
}

static void timeouts_and_daemons(void)
{
    ipvs_timeout_t to = { .tcp_timeout = 900, .tcp_fin_timeout = 60, .udp_timeout = 200 };
    CHECK(ipvs_set_timeout(&to) == 0);
    ipvs_timeout_t *got = ipvs_get_timeout();
    CHECK(got != NULL && got->tcp_timeout == 900 && got->tcp_fin_timeout == 60 &&
          got->udp_timeout == 200);
    free(got);

    ipvs_daemon_t dm;
    memset(&dm, 0, sizeof dm);
    dm.state = IP_VS_STATE_BACKUP;
    strcpy(dm.mcast_ifn, "lo");
    dm.syncid = 7;
    CHECK(ipvs_start_daemon(&dm) == 0);
    CHECK_FAILS_WITH(ipvs_start_daemon(&dm), EEXIST);
    CHECK_STR(ipvs_strerror(errno), "Daemon has already run");
    ipvs_daemon_t *dms = ipvs_get_daemon();
    CHECK(dms != NULL && dms[0].state == IP_VS_STATE_BACKUP && dms[0].syncid == 7);
    CHECK(dms != NULL && strcmp(dms[0].mcast_ifn, "lo") == 0 && dms[1].state == 0);
    free(dms);
    CHECK(ipvs_stop_daemon(&dm) == 0);
    CHECK_FAILS_WITH(ipvs_stop_daemon(&dm), ESRCH);
    CHECK_STR(ipvs_strerror(errno), "No daemon is running");
}

/* After fork() the child uses the library at once: it gets its own connection, and the
 * parent's keeps working. */
static void after_fork(void)
{
    ipvs_service_t s = tcp_service("10.0.0.20", 80, "rr");
    pid_t pid = fork();
    if (pid == 0)
        _exit(ipvs_add_service(&s) == 0 ? 0 : 1);
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ipvs_service_entry_t *e = ipvs_get_service(0, AF_INET, IPPROTO_TCP, s.addr, s.port);
    CHECK(e != NULL && strcmp(e->sched_name, "rr") == 0);
    free(e);
    CHECK(ipvs_del_service(&s) == 0);
}

int main(void)
{
    CHECK(ipvs_init() == 0);
    CHECK(ipvs_version() == IPVS_VERSION(1, 2, 1) && ipvs_info.version == 0x010201);
    CHECK(ipvs_info.size > 0);
    CHECK(ipvs_getinfo() == 0);
    services_and_dests();
    error_paths();
    timeouts_and_daemons();
    after_fork();
    ipvs_close();
    /* After ipvs_close the library reconnects on the next call. */
    CHECK(ipvs_flush() == 0);
    return check_summary();
}
