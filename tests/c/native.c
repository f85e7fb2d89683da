/* The native API: handles per network namespace, iteration with 64-bit stats, error
 * messages naming the object. The harness runs it in a fresh namespace and passes the path
 * of a second, empty one as argv[1]. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "ipvsrs.h"
#include "libipvs.h"
#include "check.h"

static ipvs_service_t service(int af, const char *addr, unsigned short port)
{
    ipvs_service_t s;
    memset(&s, 0, sizeof s);
    s.af = af;
    s.protocol = IPPROTO_TCP;
    inet_pton(af, addr, &s.addr);
    s.port = htons(port);
    strcpy(s.sched_name, "wrr");
    s.netmask = af == AF_INET ? 0xffffffff : 128;
    return s;
}

static ipvs_dest_t dest(int af, const char *addr, int weight)
{
    ipvs_dest_t d;
    memset(&d, 0, sizeof d);
    d.af = af;
    inet_pton(af, addr, &d.addr);
    d.port = htons(80);
    d.conn_flags = IP_VS_CONN_F_DROUTE;
    d.weight = weight;
    return d;
}

static void iterate(ipvsrs_handle *h)
{
    ipvs_service_t v4 = service(AF_INET, "192.0.2.1", 80), v6 = service(AF_INET6, "2001:db8::1", 443);
    CHECK(ipvsrs_add_service(h, &v4) == 0);
    CHECK(ipvsrs_add_service(h, &v6) == 0);
    for (int i = 1; i <= 3; i++) {
        char addr[32];
        snprintf(addr, sizeof addr, "2001:db8::1%d", i);
        ipvs_dest_t d = dest(AF_INET6, addr, i * 10);
        CHECK(ipvsrs_add_dest(h, &v6, &d) == 0);
    }

    ipvsrs_service_iter *it = ipvsrs_services(h);
    CHECK(it != NULL && ipvsrs_service_iter_count(it) == 2);
    const ipvs_service_entry_t *s;
    int seen_v6 = 0, weights = 0;
    while ((s = ipvsrs_service_iter_next(it)) != NULL) {
        CHECK(s->stats64.conns == 0 && s->stats64.inbps == 0);
        if (s->af != AF_INET6)
            continue;
        seen_v6 = 1;
        ipvsrs_dest_iter *di = ipvsrs_dests(h, s);
        CHECK(di != NULL && ipvsrs_dest_iter_count(di) == 3);
        const ipvs_dest_entry_t *d;
        while ((d = ipvsrs_dest_iter_next(di)) != NULL)
            weights += d->weight;
        CHECK(ipvsrs_dest_iter_next(di) == NULL);
        ipvsrs_dest_iter_free(di);
    }
    CHECK(seen_v6 && weights == 60);
    ipvsrs_service_iter_free(it);

    ipvs_service_entry_t got;
    CHECK(ipvsrs_get_service(h, &v4, &got) == 0 && strcmp(got.sched_name, "wrr") == 0);
    v4.flags = IP_VS_SVC_F_PERSISTENT;
    v4.timeout = 60;
    CHECK(ipvsrs_update_service(h, &v4, IP_VS_SVC_F_PERSISTENT) == 0);
    CHECK(ipvsrs_get_service(h, &v4, &got) == 0 && (got.flags & IP_VS_SVC_F_PERSISTENT));
    CHECK(ipvsrs_zero(h, NULL) == 0 && ipvsrs_zero(h, &v4) == 0);
}

static void errors(ipvsrs_handle *h)
{
    ipvs_service_t v4 = service(AF_INET, "192.0.2.1", 80);
    CHECK_FAILS_WITH(ipvsrs_add_service(h, &v4), EEXIST);
    CHECK_STR(ipvsrs_last_error(), "adding service tcp://192.0.2.1:80: File exists");
    ipvs_service_t missing = service(AF_INET, "192.0.2.99", 80);
    ipvs_dest_t d = dest(AF_INET, "192.0.2.50", 1);
    CHECK_FAILS_WITH(ipvsrs_add_dest(h, &missing, &d), ESRCH);
    CHECK_STR(ipvsrs_last_error(),
              "adding destination 192.0.2.50:80 to tcp://192.0.2.99:80: No such process");
    CHECK_FAILS_WITH(ipvsrs_add_service(NULL, &v4), EINVAL);
    CHECK_STR(ipvsrs_last_error(), "handle is NULL");
    CHECK(ipvsrs_services(NULL) == NULL && errno == EINVAL);
    CHECK(ipvsrs_service_iter_next(NULL) == NULL);
    ipvsrs_service_iter_free(NULL);
    ipvsrs_close(NULL);
    CHECK(ipvsrs_open("/nonexistent/netns") == NULL && errno == ENOENT);
    CHECK_FAILS_WITH(ipvsrs_set_reply_timeout(NULL, 100), EINVAL);
    /* A short wait and none at all both still get the kernel's answers. */
    struct ip_vs_getinfo info;
    CHECK(ipvsrs_set_reply_timeout(h, 1) == 0 && ipvsrs_get_info(h, &info) == 0);
    CHECK(ipvsrs_set_reply_timeout(h, 0) == 0 && ipvsrs_get_info(h, &info) == 0);
    CHECK(ipvsrs_set_reply_timeout(h, IPVSRS_DEFAULT_REPLY_TIMEOUT_MS) == 0);
}

static void config(ipvsrs_handle *h)
{
    ipvs_timeout_t to = { 1000, 30, 100 }, got;
    CHECK(ipvsrs_set_timeout(h, &to) == 0);
    CHECK(ipvsrs_get_timeout(h, &got) == 0 && got.tcp_timeout == 1000 && got.udp_timeout == 100);
    ipvs_daemon_t dm, out[2];
    memset(&dm, 0, sizeof dm);
    /* A backup: stopping a master sync thread right after starting it can hang in the
     * kernel (seen on Debian's 6.1), and this test is about the API, not about that. */
    dm.state = IP_VS_STATE_BACKUP;
    strcpy(dm.mcast_ifn, "lo");
    dm.syncid = 3;
    size_t n = 99;
    CHECK(ipvsrs_start_daemon(h, &dm) == 0);
    CHECK(ipvsrs_get_daemons(h, out, &n) == 0 && n == 1 && out[0].state == IP_VS_STATE_BACKUP);
    CHECK(out[0].syncid == 3 && out[1].state == 0);
    CHECK(ipvsrs_stop_daemon(h, IP_VS_STATE_BACKUP) == 0);
    CHECK_FAILS_WITH(ipvsrs_stop_daemon(h, IP_VS_STATE_BACKUP), ESRCH);
    CHECK_FAILS_WITH(ipvsrs_stop_daemon(h, 7), EINVAL);
    struct ip_vs_getinfo info;
    CHECK(ipvsrs_get_info(h, &info) == 0 && info.version == 0x010201 && info.size > 0);
}

/* A handle on another namespace sees only that namespace's table. */
static void other_namespace(const char *path)
{
    ipvsrs_handle *other = ipvsrs_open(path);
    CHECK(other != NULL);
    ipvsrs_service_iter *it = ipvsrs_services(other);
    CHECK(it != NULL && ipvsrs_service_iter_count(it) == 0);
    ipvsrs_service_iter_free(it);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ipvsrs_handle *by_fd = ipvsrs_open_netns_fd(fd);
    close(fd);
    ipvs_service_t s = service(AF_INET, "198.51.100.1", 25);
    CHECK(by_fd != NULL && ipvsrs_add_service(by_fd, &s) == 0);
    it = ipvsrs_services(other);
    CHECK(it != NULL && ipvsrs_service_iter_count(it) == 1);
    ipvsrs_service_iter_free(it);
    CHECK(ipvsrs_flush(by_fd) == 0);
    ipvsrs_close(by_fd);
    ipvsrs_close(other);
}

static void metrics(ipvsrs_handle *h)
{
    ipvs_service_t v4 = service(AF_INET, "192.0.2.9", 53);
    v4.protocol = IPPROTO_UDP;
    CHECK(ipvsrs_add_service(h, &v4) == 0);
    char *text = ipvsrs_metrics(h, IPVSRS_METRICS_INFLUX);
    CHECK(text != NULL && strstr(text, "ipvs_virtual_server,address=192.0.2.9,address_family=inet,"
                                       "netmask=32,port=53,protocol=udp,sched=") != NULL);
    free(text);
    text = ipvsrs_metrics(NULL, IPVSRS_METRICS_PROMETHEUS); /* the libipvs connection */
    CHECK(text != NULL && strstr(text, "# TYPE ipvs_virtual_server_connections_total counter\n"));
    free(text);
    errno = 0;
    CHECK(ipvsrs_metrics(h, 3) == NULL && errno == EINVAL);
    CHECK(strstr(ipvsrs_last_error(), "metrics format 3") != NULL);
    CHECK(ipvsrs_del_service(h, &v4) == 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OTHER_NETNS_PATH\n", argv[0]);
        return 2;
    }
    ipvsrs_handle *h = ipvsrs_open(NULL);
    CHECK(h != NULL);
    iterate(h);
    errors(h);
    config(h);
    metrics(h);
    CHECK(ipvsrs_flush(h) == 0);
    ipvsrs_close(h);
    other_namespace(argv[1]);
    return check_summary();
}
