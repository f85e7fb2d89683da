/* Eight threads, each making OPS (argv[1], default 10000) random changes and listings in
 * one namespace: four through the libipvs API (the shared default connection, which
 * ipvs_init reopens now and then while ipvs_getinfo reads it), four with
 * a native handle each. Every thread owns its own services, keeps its own account of what
 * its calls did, and checks each call's result and each listing against it; at the end the
 * whole table must be exactly the union of the threads' accounts: no lost, doubled or
 * corrupted entry. */
#include <pthread.h>
#include <stdlib.h>
#include "ipvsrs.h"
#include "libipvs.h"
#include "check.h"

#define THREADS 8
#define SERVICES 16 /* per thread */
#define DESTS 4     /* per service */

static const char *const schedulers[] = { "rr", "wrr", "wlc" };

struct account {
    int exists[SERVICES];
    int sched[SERVICES];
    int dest_exists[SERVICES][DESTS];
    int weight[SERVICES][DESTS];
};

struct job {
    int thread;
    int ops;
    ipvsrs_handle *h; /* NULL: the libipvs calls */
    struct account account;
    int failures;
    int listings;
};

static ipvs_service_t service(int thread, int i, int sched)
{
    ipvs_service_t s;
    memset(&s, 0, sizeof s);
    s.af = AF_INET;
    s.protocol = IPPROTO_TCP;
    s.addr.ip = htonl(0x0a000000u | (unsigned)(thread << 16) | (unsigned)i);
    s.port = htons(80);
    strcpy(s.sched_name, schedulers[sched]);
    s.netmask = 0xffffffff;
    return s;
}

static ipvs_dest_t dest(int thread, int i, int j, int weight)
{
    ipvs_dest_t d;
    memset(&d, 0, sizeof d);
    d.af = AF_INET;
    d.addr.ip = htonl(0xc0a80000u | (unsigned)(thread << 8) | (unsigned)(i * DESTS + j));
    d.port = htons(8080);
    d.conn_flags = IP_VS_CONN_F_MASQ;
    d.weight = weight;
    return d;
}

/* Which thread's service an entry is, and its index; -1 if none of ours. */
static int owner(const ipvs_service_entry_t *e, int *index)
{
    unsigned ip = ntohl(e->addr.ip);
    int thread = (int)((ip >> 16) & 0xff), i = (int)(ip & 0xffff);
    if ((ip >> 24) != 10 || thread < 1 || thread > THREADS || i >= SERVICES)
        return -1;
    *index = i;
    return thread;
}

static void complain(struct job *job, const char *what, int i, int j, int rc)
{
    if (job->failures++ < 5)
        printf("# thread %d: %s (service %d, dest %d): rc %d errno %d: %s\n", job->thread,
               what, i, j, rc, errno, ipvsrs_last_error());
}

/* The result a call must have: 0, or -1 with `err`. */
static void expect(struct job *job, const char *what, int i, int j, int rc, int err)
{
    if (err == 0 ? rc != 0 : rc != -1 || errno != err)
        complain(job, what, i, j, rc);
}

static int do_add_service(struct job *job, ipvs_service_t *s)
{
    return job->h ? ipvsrs_add_service(job->h, s) : ipvs_add_service(s);
}

static int do_update_service(struct job *job, ipvs_service_t *s)
{
    return job->h ? ipvsrs_update_service(job->h, s, ~0u) : ipvs_update_service(s);
}

static int do_del_service(struct job *job, ipvs_service_t *s)
{
    return job->h ? ipvsrs_del_service(job->h, s) : ipvs_del_service(s);
}

static int do_dest(struct job *job, int op, ipvs_service_t *s, ipvs_dest_t *d)
{
    if (job->h)
        return op == 0 ? ipvsrs_add_dest(job->h, s, d)
             : op == 1 ? ipvsrs_update_dest(job->h, s, d)
                       : ipvsrs_del_dest(job->h, s, d);
    return op == 0 ? ipvs_add_dest(s, d) : op == 1 ? ipvs_update_dest(s, d) : ipvs_del_dest(s, d);
}

/* This thread's services in one listing of the whole table must be its account. */
static void check_listing(struct job *job, unsigned *seed)
{
    struct account *a = &job->account;
    int seen[SERVICES] = { 0 };
    ipvs_service_entry_t probe;
    int probed = 0, wanted = rand_r(seed) % SERVICES;
    struct ip_vs_get_services *all = NULL;
    ipvsrs_service_iter *it = NULL;
    size_t n;
    if (job->h) {
        it = ipvsrs_services(job->h);
        n = it ? ipvsrs_service_iter_count(it) : 0;
    } else {
        all = ipvs_get_services();
        n = all ? all->num_services : 0;
    }
    if (!all && !it)
        return complain(job, "listing", -1, -1, -1);
    job->listings++;
    for (size_t k = 0; k < n; k++) {
        const ipvs_service_entry_t *e = it ? ipvsrs_service_iter_next(it) : &all->entrytable[k];
        int i = 0;
        if (e == NULL || owner(e, &i) != job->thread)
            continue;
        if (seen[i]++ || !a->exists[i] || strcmp(e->sched_name, schedulers[a->sched[i]]) != 0)
            complain(job, "listed service differs", i, -1, 0);
        if (i == wanted)
            probe = *e, probed = 1;
    }
    for (int i = 0; i < SERVICES; i++)
        if (a->exists[i] && !seen[i])
            complain(job, "service missing from the listing", i, -1, 0);
    free(all);
    ipvsrs_service_iter_free(it);
    if (!probed)
        return;
    /* The destinations of one of them, with their weights. */
    struct ip_vs_get_dests *dests = NULL;
    ipvsrs_dest_iter *di = NULL;
    if (job->h) {
        di = ipvsrs_dests(job->h, &probe);
        n = di ? ipvsrs_dest_iter_count(di) : 0;
    } else {
        dests = ipvs_get_dests(&probe);
        n = dests ? dests->num_dests : 0;
    }
    if (!dests && !di)
        return complain(job, "listing destinations", wanted, -1, -1);
    int dest_seen[DESTS] = { 0 };
    for (size_t k = 0; k < n; k++) {
        const ipvs_dest_entry_t *d = di ? ipvsrs_dest_iter_next(di) : &dests->entrytable[k];
        int j = d ? (int)(ntohl(d->addr.ip) & 0xff) - wanted * DESTS : -1;
        if (j < 0 || j >= DESTS || dest_seen[j]++ || !a->dest_exists[wanted][j] ||
            d->weight != a->weight[wanted][j])
            complain(job, "listed destination differs", wanted, j, 0);
    }
    for (int j = 0; j < DESTS; j++)
        if (a->dest_exists[wanted][j] && !dest_seen[j])
            complain(job, "destination missing from the listing", wanted, j, 0);
    free(dests);
    ipvsrs_dest_iter_free(di);
}

static void *worker(void *arg)
{
    struct job *job = arg;
    struct account *a = &job->account;
    unsigned seed = (unsigned)job->thread * 7919u;
    for (int op = 0; op < job->ops; op++) {
        int r = rand_r(&seed) % 100, i = rand_r(&seed) % SERVICES, j = rand_r(&seed) % DESTS;
        int sched = rand_r(&seed) % 3, weight = 1 + rand_r(&seed) % 100;
        ipvs_service_t s = service(job->thread, i, a->exists[i] ? a->sched[i] : sched);
        ipvs_dest_t d = dest(job->thread, i, j, weight);
        int rc;
        errno = 0;
        if (r < 20) {
            s = service(job->thread, i, sched);
            rc = do_add_service(job, &s);
            expect(job, "add service", i, -1, rc, a->exists[i] ? EEXIST : 0);
            if (rc == 0) {
                a->exists[i] = 1, a->sched[i] = sched;
                memset(a->dest_exists[i], 0, sizeof a->dest_exists[i]);
            }
        } else if (r < 30) {
            s = service(job->thread, i, sched);
            rc = do_update_service(job, &s);
            expect(job, "update service", i, -1, rc, a->exists[i] ? 0 : ESRCH);
            if (rc == 0)
                a->sched[i] = sched;
        } else if (r < 38) {
            rc = do_del_service(job, &s);
            expect(job, "delete service", i, -1, rc, a->exists[i] ? 0 : ESRCH);
            if (rc == 0)
                a->exists[i] = 0;
        } else if (r < 60) {
            rc = do_dest(job, 0, &s, &d);
            expect(job, "add destination", i, j, rc,
                   !a->exists[i] ? ESRCH : a->dest_exists[i][j] ? EEXIST : 0);
            if (rc == 0)
                a->dest_exists[i][j] = 1, a->weight[i][j] = weight;
        } else if (r < 78) {
            rc = do_dest(job, 1, &s, &d);
            expect(job, "update destination", i, j, rc,
                   !a->exists[i] ? ESRCH : !a->dest_exists[i][j] ? ENOENT : 0);
            if (rc == 0)
                a->weight[i][j] = weight;
        } else if (r < 92) {
            rc = do_dest(job, 2, &s, &d);
            expect(job, "delete destination", i, j, rc,
                   !a->exists[i] ? ESRCH : !a->dest_exists[i][j] ? ENOENT : 0);
            if (rc == 0)
                a->dest_exists[i][j] = 0;
        } else if (r < 96 || job->h != NULL) {
            check_listing(job, &seed);
        } else {
            /* Both write ipvs_info: helgrind sees a write outside the library's lock. */
            rc = r % 2 ? ipvs_init() : ipvs_getinfo();
            expect(job, r % 2 ? "ipvs_init" : "ipvs_getinfo", i, -1, rc, 0);
        }
    }
    return NULL;
}

/* The whole table, read once all threads are done, against the union of their accounts. */
static void check_final_table(struct job *jobs)
{
    int expected = 0, matched = 0, wrong = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < SERVICES; i++)
            expected += jobs[t].account.exists[i];
    struct ip_vs_get_services *all = ipvs_get_services();
    CHECK(all != NULL);
    if (all == NULL)
        return;
    for (unsigned k = 0; k < all->num_services; k++) {
        ipvs_service_entry_t *e = &all->entrytable[k];
        int i = 0, thread = owner(e, &i);
        struct account *a = thread > 0 ? &jobs[thread - 1].account : NULL;
        if (a == NULL || !a->exists[i] || strcmp(e->sched_name, schedulers[a->sched[i]]) != 0) {
            wrong++;
            continue;
        }
        struct ip_vs_get_dests *dests = ipvs_get_dests(e);
        int want = 0, have = 0;
        for (int j = 0; j < DESTS; j++)
            want += a->dest_exists[i][j];
        for (unsigned m = 0; dests != NULL && m < dests->num_dests; m++) {
            int j = (int)(ntohl(dests->entrytable[m].addr.ip) & 0xff) - i * DESTS;
            have += j >= 0 && j < DESTS && a->dest_exists[i][j] &&
                    dests->entrytable[m].weight == a->weight[i][j];
        }
        if (dests != NULL && have == want && (int)dests->num_dests == want)
            matched++;
        else
            wrong++;
        free(dests);
    }
    printf("# final table: %u services, %d expected, %d match, %d wrong\n",
           all->num_services, expected, matched, wrong);
    CHECK(wrong == 0 && matched == expected && (int)all->num_services == expected);
    free(all);
}

int main(int argc, char **argv)
{
    int ops = argc > 1 ? atoi(argv[1]) : 10000;
    static struct job jobs[THREADS];
    pthread_t tid[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (struct job){ .thread = t + 1, .ops = ops };
        if (t >= THREADS / 2) {
            jobs[t].h = ipvsrs_open(NULL);
            CHECK(jobs[t].h != NULL);
        }
    }
    for (int t = 0; t < THREADS; t++)
        CHECK(pthread_create(&tid[t], NULL, worker, &jobs[t]) == 0);
    int failures = 0, listings = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(tid[t], NULL);
        failures += jobs[t].failures;
        listings += jobs[t].listings;
        ipvsrs_close(jobs[t].h);
    }
    printf("# %d threads x %d operations, %d listings checked\n", THREADS, ops, listings);
    CHECK(failures == 0);
    CHECK(listings > 0);
    check_final_table(jobs);
    CHECK(ipvs_flush() == 0);
    return check_summary();
}
