/* ipvsrs_close on one thread while other threads are inside calls on the same handle:
 * each call in progress finishes (0, or its result) or fails with EBADF, and every call
 * after the close fails with EBADF; none reads freed memory (the harness runs this under
 * valgrind's memcheck too). ROUNDS (argv[1], default 200) rounds, each with a fresh
 * handle, WORKERS threads calling on it, and the main thread closing it. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include "ipvsrs.h"
#include "libipvs.h"
#include "check.h"

#define WORKERS 3
#define CALLS 10 /* the kinds of call a worker cycles through */
#define DEADLINE_S 60

static const char *const MODEL =
    "services:\n"
    "  - address: tcp://192.0.2.1:80\n"
    "    destinations:\n"
    "      - { address: 198.51.100.1:8080, forward: nat }\n";

struct worker {
    pthread_t tid;
    ipvsrs_handle *h;
    int first_call;
    int closed;     /* calls that failed with EBADF */
    int unexpected; /* calls that failed otherwise */
    char first_unexpected[256];
};

static ipvs_service_t web(void)
{
    ipvs_service_t s;
    memset(&s, 0, sizeof s);
    s.af = AF_INET;
    s.protocol = IPPROTO_TCP;
    s.addr.ip = htonl(0xc0000201); /* 192.0.2.1 */
    s.port = htons(80);
    strcpy(s.sched_name, "wlc");
    s.netmask = 0xffffffff;
    return s;
}

static int list_services(ipvsrs_handle *h)
{
    ipvsrs_service_iter *it = ipvsrs_services(h);
    if (it == NULL)
        return -1;
    const ipvs_service_entry_t *s;
    int rc = 0;
    while (rc == 0 && (s = ipvsrs_service_iter_next(it)) != NULL) {
        ipvsrs_dest_iter *d = ipvsrs_dests(h, s);
        if (d == NULL)
            rc = -1;
        while (d != NULL && ipvsrs_dest_iter_next(d) != NULL)
            ;
        ipvsrs_dest_iter_free(d);
    }
    ipvsrs_service_iter_free(it);
    return rc;
}

/* Call `kind` on h: 0, or -1 with errno. */
static int call(ipvsrs_handle *h, int kind)
{
    ipvs_service_t svc = web();
    ipvs_service_entry_t entry;
    ipvs_timeout_t timeouts;
    ipvs_daemon_t daemons[2];
    size_t count;
    struct ip_vs_getinfo info;
    switch (kind) {
    case 0:
        return ipvsrs_get_info(h, &info);
    case 1:
        return list_services(h);
    case 2:
        return ipvsrs_get_service(h, &svc, &entry);
    case 3: {
        ipvsrs_conn_iter *it = ipvsrs_conns(h);
        ipvsrs_conn_iter_free(it);
        return it == NULL ? -1 : 0;
    }
    case 4: {
        char *text = ipvsrs_metrics(h, IPVSRS_METRICS_PROMETHEUS);
        free(text);
        return text == NULL ? -1 : 0;
    }
    case 5:
        return ipvsrs_get_timeout(h, &timeouts);
    case 6:
        return ipvsrs_get_daemons(h, daemons, &count);
    case 7: {
        ipvsrs_changeset *cs = ipvsrs_diff_yaml(h, MODEL, NULL);
        ipvsrs_changeset_free(cs);
        return cs == NULL ? -1 : 0;
    }
    case 8:
        return ipvsrs_set_reply_timeout(h, IPVSRS_DEFAULT_REPLY_TIMEOUT_MS);
    default:
        return ipvsrs_zero(h, &svc);
    }
}

/* How many workers have had a call succeed this round: the main thread closes the handle
 * once all have, so that the close meets them busy. */
static pthread_mutex_t busy_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t busy_changed = PTHREAD_COND_INITIALIZER;
static int busy_workers;

/* Calls on the handle until one fails with EBADF (the close); the main thread opens no
 * handle before joining, so no new handle can take the closed one's address meanwhile. */
static void *work(void *arg)
{
    struct worker *w = arg;
    int succeeded = 0;
    for (int n = w->first_call; !w->closed; n++) {
        errno = 0;
        if (call(w->h, n % CALLS) == 0) {
            if (succeeded++ == 0) {
                pthread_mutex_lock(&busy_lock);
                busy_workers++;
                pthread_cond_signal(&busy_changed);
                pthread_mutex_unlock(&busy_lock);
            }
        } else if (errno == EBADF) {
            w->closed++;
        } else if (w->unexpected++ == 0) {
            snprintf(w->first_unexpected, sizeof w->first_unexpected, "call %d: errno %d: %s",
                     n % CALLS, errno, ipvsrs_last_error());
        }
    }
    return NULL;
}

/* Waits until every worker has had a call succeed, or DEADLINE_S seconds: 1 if they did. */
static int all_busy(void)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += DEADLINE_S;
    int timed_out = 0;
    pthread_mutex_lock(&busy_lock);
    while (busy_workers < WORKERS && !timed_out)
        timed_out = pthread_cond_timedwait(&busy_changed, &busy_lock, &deadline) != 0;
    int all = busy_workers == WORKERS;
    pthread_mutex_unlock(&busy_lock);
    return all;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 200;
    ipvs_service_t svc = web();
    ipvs_dest_t dest;
    memset(&dest, 0, sizeof dest);
    dest.af = AF_INET;
    dest.addr.ip = htonl(0xc6336401); /* 198.51.100.1 */
    dest.port = htons(8080);
    dest.conn_flags = IP_VS_CONN_F_MASQ;
    dest.weight = 1;
    CHECK(ipvs_init() == 0 && ipvs_add_service(&svc) == 0 && ipvs_add_dest(&svc, &dest) == 0);

    static struct worker workers[WORKERS];
    int opened = 0, busy = 0, closed_seen = 0, unexpected = 0;
    char first_unexpected[sizeof workers[0].first_unexpected] = "";
    for (int round = 0; round < rounds; round++) {
        ipvsrs_handle *h = ipvsrs_open(NULL);
        if (h == NULL)
            break;
        opened++;
        busy_workers = 0; /* no worker runs yet */
        for (int i = 0; i < WORKERS; i++) {
            memset(&workers[i], 0, sizeof workers[i]);
            workers[i].h = h;
            workers[i].first_call = round + i * (CALLS / WORKERS);
            if (pthread_create(&workers[i].tid, NULL, work, &workers[i]) != 0)
                abort();
        }
        busy += all_busy();
        ipvsrs_close(h);
        for (int i = 0; i < WORKERS; i++) {
            pthread_join(workers[i].tid, NULL);
            closed_seen += workers[i].closed;
            unexpected += workers[i].unexpected;
            if (workers[i].unexpected && first_unexpected[0] == '\0')
                strcpy(first_unexpected, workers[i].first_unexpected);
        }
    }
    CHECK(opened == rounds);
    CHECK(busy == rounds);
    CHECK(closed_seen == rounds * WORKERS);
    CHECK(unexpected == 0);
    if (unexpected)
        printf("# first unexpected failure: %s\n", first_unexpected);
    CHECK(ipvs_flush() == 0);
    printf("# %d rounds, %d threads calling while the handle closes\n", rounds, WORKERS);
    return check_summary();
}
