/* Hostile callers: every exported function with the mistakes C code makes (NULL
 * arguments, unknown enum values, names with no terminating NUL, objects
 * used after they were freed or passed as another type). Each gets an error with errno and
 * a message, never a crash; run under valgrind, no invalid read or write either.
 * tests/c_hostile_coverage.rs checks that every function in the headers is called here. */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include "ipvsrs.h"
#include "libipvs.h"
#include "check.h"

/* A call that must fail with errno `err` and a last error containing `words`. */
#define CHECK_REFUSED(call, err, words) \
    do { errno = 0; int rc_ = (call); int errno_ = errno; \
         check_report(rc_ == -1 && errno_ == (err) && strstr(ipvsrs_last_error(), (words)), \
                      #call " fails with " #err ": " words, __FILE__, __LINE__); \
    } while (0)

/* A call returning a pointer that must be NULL with errno `err`. */
#define CHECK_NULL_WITH(call, err) \
    do { errno = 0; const void *p_ = (call); int errno_ = errno; \
         check_report(p_ == NULL && errno_ == (err), #call " is NULL with " #err, \
                      __FILE__, __LINE__); \
    } while (0)

/* A call without an error return of its own that must set errno `err`. */
#define CHECK_ERRNO(call, err) \
    do { errno = 0; (call); int errno_ = errno; \
         check_report(errno_ == (err), #call " sets " #err, __FILE__, __LINE__); \
    } while (0)

/* libipvs 1.31 sorted any array the caller built (on the stack, from its own allocator):
 * exactly num_services (num_dests) entries, nothing past them. valgrind sees a read
 * outside them. */
static void sort_arrays_the_caller_built(void)
{
    struct {
        struct ip_vs_get_services head;
        ipvs_service_entry_t entries[3];
    } services;
    memset(&services, 0, sizeof services);
    unsigned int marks[3] = { 30, 10, 20 };
    for (int i = 0; i < 3; i++) {
        services.entries[i].af = AF_INET;
        services.entries[i].fwmark = marks[i];
    }
    services.head.num_services = 2; /* the third stays where it is */
    ipvs_sort_services(&services.head, NULL);
    CHECK(services.entries[0].fwmark == 10 && services.entries[1].fwmark == 30 &&
          services.entries[2].fwmark == 20);

    struct ip_vs_get_dests *dests = malloc(sizeof *dests + 3 * sizeof(ipvs_dest_entry_t));
    CHECK(dests != NULL);
    if (dests == NULL)
        return;
    memset(dests, 0, sizeof *dests + 3 * sizeof(ipvs_dest_entry_t));
    dests->num_dests = 3;
    for (int i = 0; i < 3; i++) {
        dests->entrytable[i].af = AF_INET;
        dests->entrytable[i].addr.ip = htonl(0x0a000000u + 3 - (unsigned)i);
    }
    ipvs_sort_dests(dests, NULL);
    CHECK(ntohl(dests->entrytable[0].addr.ip) == 0x0a000001u &&
          ntohl(dests->entrytable[2].addr.ip) == 0x0a000003u);
    free(dests);
}

static ipvs_service_t web(void)
{
    ipvs_service_t s;
    memset(&s, 0, sizeof s);
    s.af = AF_INET;
    s.protocol = IPPROTO_TCP;
    s.addr.ip = htonl(0xc0000201); /* 192.0.2.1 */
    s.port = htons(80);
    strcpy(s.sched_name, "rr");
    s.netmask = 0xffffffff;
    return s;
}

static ipvs_dest_t server(unsigned last_octet)
{
    ipvs_dest_t d;
    memset(&d, 0, sizeof d);
    d.af = AF_INET;
    d.addr.ip = htonl(0xc6336400u | last_octet); /* 198.51.100.N */
    d.port = htons(8080);
    d.conn_flags = IP_VS_CONN_F_MASQ;
    d.weight = 1;
    return d;
}

static void libipvs_services(void)
{
    ipvs_service_t s = web();
    CHECK(ipvs_init() == 0 && ipvs_getinfo() == 0 && ipvs_version() != 0);
    CHECK(ipvs_flush() == 0);

    CHECK_REFUSED(ipvs_add_service(NULL), EINVAL, "svc is NULL");
    CHECK_REFUSED(ipvs_update_service(NULL), EINVAL, "svc is NULL");
    CHECK_REFUSED(ipvs_del_service(NULL), EINVAL, "svc is NULL");

    ipvs_service_t bad = web();
    bad.af = 99;
    CHECK_REFUSED(ipvs_add_service(&bad), EAFNOSUPPORT, "address family 99");
    CHECK_REFUSED(ipvs_zero_service(&bad), EAFNOSUPPORT, "address family 99");
    bad = web();
    bad.protocol = 99;
    CHECK_REFUSED(ipvs_add_service(&bad), EINVAL, "protocol 99");
    CHECK_REFUSED(ipvs_del_service(&bad), EINVAL, "protocol 99");
    bad = web();
    memset(bad.sched_name, 'x', sizeof bad.sched_name);
    CHECK_REFUSED(ipvs_add_service(&bad), EINVAL, "scheduler name has no terminating NUL");
    CHECK_REFUSED(ipvs_update_service(&bad), EINVAL, "scheduler name has no terminating NUL");
    bad = web();
    memset(bad.pe_name, 'x', sizeof bad.pe_name);
    CHECK_REFUSED(ipvs_add_service(&bad), EINVAL,
                  "persistence engine name has no terminating NUL");

    CHECK(ipvs_add_service(&s) == 0);
    ipvs_dest_t d = server(1);
    CHECK(ipvs_add_dest(&s, &d) == 0);
    d = server(2);
    CHECK(ipvs_add_dest(&s, &d) == 0);

    CHECK_REFUSED(ipvs_add_dest(NULL, &d), EINVAL, "svc is NULL");
    CHECK_REFUSED(ipvs_add_dest(&s, NULL), EINVAL, "dest is NULL");
    CHECK_REFUSED(ipvs_update_dest(NULL, &d), EINVAL, "svc is NULL");
    CHECK_REFUSED(ipvs_update_dest(&s, NULL), EINVAL, "dest is NULL");
    CHECK_REFUSED(ipvs_del_dest(NULL, &d), EINVAL, "svc is NULL");
    CHECK_REFUSED(ipvs_del_dest(&s, NULL), EINVAL, "dest is NULL");
    ipvs_dest_t bad_dest = server(3);
    bad_dest.conn_flags = 5;
    CHECK_REFUSED(ipvs_add_dest(&s, &bad_dest), EINVAL, "forwarding method 5");
    bad_dest = server(3);
    bad_dest.af = 99;
    CHECK_REFUSED(ipvs_add_dest(&s, &bad_dest), EAFNOSUPPORT, "address family 99");
    bad_dest = server(3);
    bad_dest.tun_type = 99;
    CHECK_REFUSED(ipvs_update_dest(&s, &bad_dest), EINVAL, "tunnel type 99");

    /* The kernel's table is what the valid calls made of it, nothing of the refused ones. */
    struct ip_vs_get_services *all = ipvs_get_services();
    CHECK(all != NULL && all->num_services == 1);
    if (all != NULL) {
        ipvs_service_entry_t entry = all->entrytable[0];
        ipvs_sort_services(all, ipvs_cmp_services);
        CHECK(ipvs_cmp_services(&all->entrytable[0], &entry) == 0);
        free(all);

        /* libipvs sizes its answer by num_dests; here a huge one is ignored. */
        entry.num_dests = UINT_MAX;
        struct ip_vs_get_dests *dests = ipvs_get_dests(&entry);
        CHECK(dests != NULL && dests->num_dests == 2);
        if (dests != NULL) {
            ipvs_sort_dests(dests, ipvs_cmp_dests);
            CHECK(ipvs_cmp_dests(&dests->entrytable[0], &dests->entrytable[1]) < 0);
            CHECK(ipvs_cmp_dests(&dests->entrytable[0], NULL) > 0);
            free(dests);
        }
        entry.af = 99;
        CHECK_NULL_WITH(ipvs_get_dests(&entry), EAFNOSUPPORT);
    }
    CHECK_NULL_WITH(ipvs_get_dests(NULL), EINVAL);
    sort_arrays_the_caller_built();
    ipvs_sort_services(NULL, NULL);
    ipvs_sort_dests(NULL, NULL);
    CHECK(ipvs_cmp_services(NULL, NULL) == 0 && ipvs_cmp_dests(NULL, NULL) == 0);

    CHECK_NULL_WITH(ipvs_get_service(0, 99, IPPROTO_TCP, s.addr, s.port), EAFNOSUPPORT);
    CHECK_NULL_WITH(ipvs_get_service(0, AF_INET, 99, s.addr, s.port), EINVAL);
    ipvs_service_entry_t *one = ipvs_get_service(0, AF_INET, IPPROTO_TCP, s.addr, s.port);
    CHECK(one != NULL && strcmp(one->sched_name, "rr") == 0);
    free(one);
    CHECK(ipvs_zero_service(NULL) == 0);
}

static void libipvs_settings(void)
{
    CHECK_REFUSED(ipvs_set_timeout(NULL), EINVAL, "to is NULL");
    ipvs_timeout_t to = { .tcp_timeout = -5 };
    CHECK_REFUSED(ipvs_set_timeout(&to), EINVAL, "tcp timeout -5 is negative");
    ipvs_timeout_t *got = ipvs_get_timeout();
    CHECK(got != NULL && got->tcp_timeout > 0);
    free(got);

    CHECK_REFUSED(ipvs_start_daemon(NULL), EINVAL, "dm is NULL");
    CHECK_REFUSED(ipvs_stop_daemon(NULL), EINVAL, "dm is NULL");
    ipvs_daemon_t dm;
    memset(&dm, 0, sizeof dm);
    dm.state = 99;
    strcpy(dm.mcast_ifn, "lo");
    CHECK_REFUSED(ipvs_start_daemon(&dm), EINVAL, "daemon state 99");
    CHECK_REFUSED(ipvs_stop_daemon(&dm), EINVAL, "daemon state 99");
    dm.state = IP_VS_STATE_BACKUP;
    memset(dm.mcast_ifn, 'l', sizeof dm.mcast_ifn);
    CHECK_REFUSED(ipvs_start_daemon(&dm), EINVAL, "interface name has no terminating NUL");
    ipvs_daemon_t *daemons = ipvs_get_daemon();
    CHECK(daemons != NULL && daemons[0].state == 0 && daemons[1].state == 0);
    free(daemons);

    /* Messages for any errno, however odd, and a close that may be repeated. */
    CHECK(ipvs_strerror(-1) != NULL && ipvs_strerror(INT_MAX) != NULL);
    ipvs_close();
    ipvs_close();
    CHECK(ipvs_getinfo() == 0); /* the next call opens the connection again */
}

static void desired_state(ipvsrs_handle *h)
{
    CHECK_REFUSED(ipvs_apply_yaml(h, NULL, NULL, NULL), EINVAL, "model is NULL");
    ipvsrs_apply_options opts = { .flags = 1u << 30 };
    CHECK_REFUSED(ipvs_apply_yaml(h, "{}", &opts, NULL), EINVAL, "flags");
    CHECK_NULL_WITH(ipvsrs_diff_yaml(h, NULL, NULL), EINVAL);

    /* An empty model would delete the one service (a diff: nothing is changed). */
    ipvsrs_changeset *cs = ipvsrs_diff_yaml(h, "{}", NULL);
    CHECK(cs != NULL && ipvsrs_changeset_count(cs) == 1);
    const ipvsrs_change *change = ipvsrs_changeset_next(cs);
    CHECK(change != NULL && change->kind == IPVSRS_CHANGE_DEL_SERVICE);
    CHECK(ipvsrs_changeset_next(cs) == NULL && ipvsrs_changeset_rolled_back(cs) == 0);
    CHECK(ipvsrs_changeset_left_changed(cs) == 0);
    ipvsrs_changeset_free(cs);
    /* Freed: every use is refused, and a second free frees nothing. */
    CHECK_ERRNO(ipvsrs_changeset_count(cs), EBADF);
    CHECK(strstr(ipvsrs_last_error(), "is not a live changeset") != NULL);
    CHECK_ERRNO(ipvsrs_changeset_rolled_back(cs), EBADF);
    CHECK_ERRNO(ipvsrs_changeset_left_changed(cs), EBADF);
    CHECK_ERRNO(ipvsrs_changeset_left_changed(NULL), EINVAL);
    CHECK_ERRNO(ipvsrs_changeset_next(cs), EBADF);
    CHECK_ERRNO(ipvsrs_changeset_free(cs), EBADF);
    CHECK_ERRNO(ipvsrs_changeset_count(NULL), EINVAL);
    CHECK_ERRNO(ipvsrs_changeset_next(NULL), EINVAL);
    ipvsrs_changeset_free(NULL);
}

static void iterators(ipvsrs_handle *h)
{
    ipvsrs_service_iter *it = ipvsrs_services(h);
    CHECK(it != NULL && ipvsrs_service_iter_count(it) == 1);
    const ipvs_service_entry_t *e = ipvsrs_service_iter_next(it);
    CHECK(e != NULL);
    if (e == NULL)
        return;
    ipvsrs_dest_iter *di = ipvsrs_dests(h, e);
    CHECK(di != NULL && ipvsrs_dest_iter_count(di) == 2);

    /* One kind of object where another goes. */
    CHECK_ERRNO(ipvsrs_service_iter_next((ipvsrs_service_iter *)di), EBADF);
    CHECK_ERRNO(ipvsrs_dest_iter_count((ipvsrs_dest_iter *)it), EBADF);
    CHECK_REFUSED(ipvsrs_flush((ipvsrs_handle *)it), EBADF, "is not a live handle");

    CHECK_NULL_WITH(ipvsrs_dests(h, NULL), EINVAL);
    ipvs_service_entry_t odd = *e;
    odd.protocol = 99;
    CHECK_NULL_WITH(ipvsrs_dests(h, &odd), EINVAL);

    /* No traffic: an empty connection table, then the same refusals once freed. */
    ipvsrs_conn_iter *ci = ipvsrs_conns(h);
    CHECK(ci != NULL && ipvsrs_conn_iter_count(ci) == 0);
    CHECK(ipvsrs_conn_iter_next(ci) == NULL);
    CHECK_ERRNO(ipvsrs_conn_iter_next((ipvsrs_conn_iter *)it), EBADF);
    CHECK(strstr(ipvsrs_last_error(), "is not a live connection iterator") != NULL);
    ipvsrs_conn_iter_free(ci);
    CHECK_ERRNO(ipvsrs_conn_iter_next(ci), EBADF);
    CHECK_ERRNO(ipvsrs_conn_iter_count(ci), EBADF);
    CHECK_ERRNO(ipvsrs_conn_iter_free(ci), EBADF);
    CHECK_ERRNO(ipvsrs_conn_iter_next(NULL), EINVAL);
    CHECK_ERRNO(ipvsrs_conn_iter_count(NULL), EINVAL);
    ipvsrs_conn_iter_free(NULL);

    ipvsrs_dest_iter_free(di);
    ipvsrs_service_iter_free(it);
    CHECK_ERRNO(ipvsrs_service_iter_next(it), EBADF);
    CHECK_ERRNO(ipvsrs_service_iter_count(it), EBADF);
    CHECK_ERRNO(ipvsrs_dest_iter_next(di), EBADF);
    CHECK_ERRNO(ipvsrs_dest_iter_count(di), EBADF);
    CHECK(strstr(ipvsrs_last_error(), "is not a live destination iterator") != NULL);
    CHECK_ERRNO(ipvsrs_service_iter_free(it), EBADF);
    CHECK_ERRNO(ipvsrs_dest_iter_free(di), EBADF);
    CHECK_ERRNO(ipvsrs_service_iter_next(NULL), EINVAL);
    CHECK_ERRNO(ipvsrs_dest_iter_next(NULL), EINVAL);
    CHECK_ERRNO(ipvsrs_service_iter_count(NULL), EINVAL);
    CHECK_ERRNO(ipvsrs_dest_iter_count(NULL), EINVAL);
    ipvsrs_service_iter_free(NULL);
    ipvsrs_dest_iter_free(NULL);
}

/* Every call that takes a handle, with `h`: each must fail with `err`. */
static void every_handle_call_fails(ipvsrs_handle *h, int err)
{
    ipvs_service_t s = web();
    ipvs_dest_t d = server(1);
    ipvs_timeout_t to = { 0 };
    ipvs_daemon_t dm[2];
    memset(dm, 0, sizeof dm);
    ipvs_service_entry_t entry;
    memset(&entry, 0, sizeof entry);
    entry.af = AF_INET;
    entry.protocol = IPPROTO_TCP;
    struct ip_vs_getinfo info;
    size_t count;
    CHECK_FAILS_WITH(ipvsrs_set_reply_timeout(h, 100), err);
    CHECK_FAILS_WITH(ipvsrs_get_info(h, &info), err);
    CHECK_FAILS_WITH(ipvsrs_add_service(h, &s), err);
    CHECK_FAILS_WITH(ipvsrs_update_service(h, &s, ~0u), err);
    CHECK_FAILS_WITH(ipvsrs_del_service(h, &s), err);
    CHECK_FAILS_WITH(ipvsrs_get_service(h, &s, &entry), err);
    CHECK_FAILS_WITH(ipvsrs_add_dest(h, &s, &d), err);
    CHECK_FAILS_WITH(ipvsrs_update_dest(h, &s, &d), err);
    CHECK_FAILS_WITH(ipvsrs_del_dest(h, &s, &d), err);
    CHECK_FAILS_WITH(ipvsrs_zero(h, NULL), err);
    CHECK_FAILS_WITH(ipvsrs_flush(h), err);
    CHECK_FAILS_WITH(ipvsrs_set_timeout(h, &to), err);
    CHECK_FAILS_WITH(ipvsrs_get_timeout(h, &to), err);
    CHECK_FAILS_WITH(ipvsrs_start_daemon(h, &dm[0]), err);
    CHECK_FAILS_WITH(ipvsrs_stop_daemon(h, IP_VS_STATE_MASTER), err);
    CHECK_FAILS_WITH(ipvsrs_get_daemons(h, dm, &count), err);
    CHECK_NULL_WITH(ipvsrs_services(h), err);
    CHECK_NULL_WITH(ipvsrs_dests(h, &entry), err);
    CHECK_NULL_WITH(ipvsrs_conns(h), err);
    if (h != NULL) { /* NULL means the libipvs connection for these */
        CHECK_NULL_WITH(ipvsrs_metrics(h, IPVSRS_METRICS_INFLUX), err);
        CHECK_NULL_WITH(ipvsrs_diff_yaml(h, "{}", NULL), err);
        CHECK_FAILS_WITH(ipvs_apply_yaml(h, "{}", NULL, NULL), err);
    }
}

static void native_handles(void)
{
    ipvsrs_handle *h = ipvsrs_open(NULL);
    CHECK(h != NULL);
    if (h == NULL)
        return;
    ipvs_service_t s = web();
    CHECK_REFUSED(ipvsrs_add_service(h, NULL), EINVAL, "svc is NULL");
    CHECK_REFUSED(ipvsrs_update_service(h, NULL, ~0u), EINVAL, "svc is NULL");
    CHECK_REFUSED(ipvsrs_del_service(h, NULL), EINVAL, "svc is NULL");
    CHECK_REFUSED(ipvsrs_get_service(h, &s, NULL), EINVAL, "out is NULL");
    CHECK_REFUSED(ipvsrs_get_service(h, NULL, NULL), EINVAL, "is NULL");
    CHECK_REFUSED(ipvsrs_get_info(h, NULL), EINVAL, "out is NULL");
    CHECK_REFUSED(ipvsrs_add_dest(h, &s, NULL), EINVAL, "dest is NULL");
    CHECK_REFUSED(ipvsrs_update_dest(h, NULL, NULL), EINVAL, "is NULL");
    CHECK_REFUSED(ipvsrs_del_dest(h, NULL, NULL), EINVAL, "is NULL");
    CHECK_REFUSED(ipvsrs_set_timeout(h, NULL), EINVAL, "to is NULL");
    CHECK_REFUSED(ipvsrs_get_timeout(h, NULL), EINVAL, "out is NULL");
    CHECK_REFUSED(ipvsrs_start_daemon(h, NULL), EINVAL, "dm is NULL");
    CHECK_REFUSED(ipvsrs_stop_daemon(h, 99), EINVAL, "daemon state 99");
    ipvs_daemon_t dm[2];
    size_t count;
    CHECK_REFUSED(ipvsrs_get_daemons(h, NULL, &count), EINVAL, "out is NULL");
    CHECK_REFUSED(ipvsrs_get_daemons(h, dm, NULL), EINVAL, "count is NULL");
    ipvs_service_t bad = web();
    bad.af = 99;
    CHECK_REFUSED(ipvsrs_zero(h, &bad), EAFNOSUPPORT, "address family 99");
    bad = web();
    memset(bad.sched_name, 'x', sizeof bad.sched_name);
    CHECK_REFUSED(ipvsrs_update_service(h, &bad, ~0u), EINVAL, "no terminating NUL");
    CHECK_NULL_WITH(ipvsrs_metrics(h, -1), EINVAL);
    CHECK(ipvsrs_set_reply_timeout(h, 5000) == 0);

    iterators(h);
    desired_state(h);
    every_handle_call_fails(NULL, EINVAL);

    /* A closed handle: every call is refused without touching it, and so is closing it
     * again (no handle is opened in between, so no new one can take its address). */
    ipvsrs_close(h);
    every_handle_call_fails(h, EBADF);
    CHECK(strstr(ipvsrs_last_error(), "is not a live handle: freed already, or not from "
                                      "ipvsrs_open") != NULL);
    CHECK_ERRNO(ipvsrs_close(h), EBADF);
    ipvsrs_close(NULL);

    CHECK_NULL_WITH(ipvsrs_open("/nonexistent/netns"), ENOENT);
    CHECK_NULL_WITH(ipvsrs_open_netns_fd(-1), EBADF);
    int not_a_namespace = open("/dev/null", O_RDONLY);
    errno = 0;
    CHECK(ipvsrs_open_netns_fd(not_a_namespace) == NULL && errno == EINVAL);
    close(not_a_namespace);
}

int main(void)
{
    libipvs_services();
    libipvs_settings();
    native_handles();
    /* After all of it, the table holds exactly what the valid calls made. */
    struct ip_vs_get_services *all = ipvs_get_services();
    CHECK(all != NULL && all->num_services == 1);
    struct ip_vs_get_dests *dests = all != NULL ? ipvs_get_dests(&all->entrytable[0]) : NULL;
    CHECK(dests != NULL && dests->num_dests == 2);
    free(dests);
    free(all);
    CHECK(ipvs_flush() == 0);
    return check_summary();
}
