/*
 * long-lived MODEL MODEL-1PC CHANGED ROUNDS: a daemon's life on one handle, against the
 * table MODEL describes (built before): each round, in turn,
 *   read     a full read: ipvsrs_services, then ipvsrs_dests of each service;
 *   no-op    ipvs_apply_yaml of MODEL (nothing to change; the handle's cache is warm);
 *   1%       ipvs_apply_yaml of MODEL-1PC, which must make exactly CHANGED changes, then
 *            (untimed) of MODEL again, which undoes them.
 * Before the rounds, one apply of MODEL fills the handle's cache ("first apply"). A line a
 * measurement: "ROW wall user sys maxrss_kib", with the process's user and system time
 * (all threads) and its peak RSS so far. Exits 1 with the library's message on a failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include "ipvsrs.h"

static struct ipvsrs_handle *h;

struct mark {
    struct timespec wall;
    struct rusage usage;
};

static struct mark now(void)
{
    struct mark m;
    clock_gettime(CLOCK_MONOTONIC, &m.wall);
    getrusage(RUSAGE_SELF, &m.usage);
    return m;
}

static double seconds(struct timeval t)
{
    return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

static void report(const char *row, struct mark start)
{
    struct mark end = now();
    double wall = (double)(end.wall.tv_sec - start.wall.tv_sec) +
                  (double)(end.wall.tv_nsec - start.wall.tv_nsec) / 1e9;
    printf("%s %.3f %.3f %.3f %ld\n", row, wall,
           seconds(end.usage.ru_utime) - seconds(start.usage.ru_utime),
           seconds(end.usage.ru_stime) - seconds(start.usage.ru_stime), end.usage.ru_maxrss);
    fflush(stdout);
}

static void fail(const char *what)
{
    fprintf(stderr, "long-lived: %s: %s\n", what, ipvsrs_last_error());
    exit(1);
}

/* Applies `model` and returns how many changes it made. */
static size_t apply(const char *model)
{
    ipvsrs_apply_options opts = { .flags = IPVSRS_MODEL_PATH };
    ipvsrs_changeset *cs = NULL;
    if (ipvs_apply_yaml(h, model, &opts, &cs))
        fail(model);
    size_t n = ipvsrs_changeset_count(cs);
    ipvsrs_changeset_free(cs);
    return n;
}

static size_t full_read(void)
{
    size_t dests = 0;
    struct ipvsrs_service_iter *services = ipvsrs_services(h);
    if (services == NULL)
        fail("ipvsrs_services");
    const ipvsrs_service_entry *svc;
    while ((svc = ipvsrs_service_iter_next(services)) != NULL) {
        struct ipvsrs_dest_iter *it = ipvsrs_dests(h, svc);
        if (it == NULL)
            fail("ipvsrs_dests");
        while (ipvsrs_dest_iter_next(it) != NULL)
            dests++;
        ipvsrs_dest_iter_free(it);
    }
    ipvsrs_service_iter_free(services);
    return dests;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: long-lived MODEL MODEL-1PC CHANGED ROUNDS\n");
        return 2;
    }
    size_t changed = strtoul(argv[3], NULL, 10);
    int rounds = atoi(argv[4]);
    h = ipvsrs_open(NULL);
    if (h == NULL)
        fail("ipvsrs_open");
    struct mark m = now();
    printf("before-first-apply 0 0 0 %ld\n", m.usage.ru_maxrss);
    if (apply(argv[1]) != 0)
        fail("the table is not MODEL's");
    report("first-apply", m);
    for (int r = 0; r < rounds; r++) {
        m = now();
        if (full_read() == 0)
            fail("the table has no destination");
        report("read", m);
        m = now();
        if (apply(argv[1]) != 0)
            fail("a no-op apply changed something");
        report("no-op", m);
        m = now();
        size_t n = apply(argv[2]);
        report("1%", m);
        if (n != changed) {
            fprintf(stderr, "long-lived: the 1%% apply made %zu changes, not %zu\n", n, changed);
            return 1;
        }
        if (apply(argv[1]) != changed)
            fail("undoing the 1% changes");
    }
    ipvsrs_close(h);
    return 0;
}
