/* Several threads at once: four on the libipvs API (the shared default connection), four
 * with a native handle each, all writing the same namespace's table. */
#include <pthread.h>
#include <stdlib.h>
#include "ipvsrs.h"
#include "libipvs.h"
#include "check.h"

#define THREADS 4
#define SERVICES_PER_THREAD 200

static ipvs_service_t service(int thread, int i)
{
    ipvs_service_t s;
    memset(&s, 0, sizeof s);
    s.af = AF_INET;
    s.protocol = IPPROTO_TCP;
    s.addr.ip = htonl(0x0a000000u | (unsigned)(thread << 16) | (unsigned)i);
    s.port = htons(80);
    strcpy(s.sched_name, "rr");
    s.netmask = 0xffffffff;
    return s;
}

struct job {
    int thread;
    int failures;
};

static void *compat_worker(void *arg)
{
    struct job *job = arg;
    for (int i = 0; i < SERVICES_PER_THREAD; i++) {
        ipvs_service_t s = service(job->thread, i);
        if (ipvs_add_service(&s) != 0)
            job->failures++;
        /* ipvs_strerror's context is this thread's last call, whatever the others do. */
        if (ipvs_update_service(&(ipvs_service_t){ .af = AF_INET, .protocol = IPPROTO_TCP,
                                                   .port = htons(1), .sched_name = "rr" }) != -1 ||
            strcmp(ipvs_strerror(errno), "No such service") != 0)
            job->failures++;
    }
    return NULL;
}

static void *handle_worker(void *arg)
{
    struct job *job = arg;
    ipvsrs_handle *h = ipvsrs_open(NULL);
    if (h == NULL)
        return job->failures++, NULL;
    for (int i = 0; i < SERVICES_PER_THREAD; i++) {
        ipvs_service_t s = service(job->thread, i);
        if (ipvsrs_add_service(h, &s) != 0)
            job->failures++;
    }
    ipvsrs_close(h);
    return NULL;
}

int main(void)
{
    pthread_t tid[2 * THREADS];
    struct job jobs[2 * THREADS];
    for (int t = 0; t < 2 * THREADS; t++) {
        jobs[t] = (struct job){ .thread = t + 1, .failures = 0 };
        CHECK(pthread_create(&tid[t], NULL, t < THREADS ? compat_worker : handle_worker,
                             &jobs[t]) == 0);
    }
    int failures = 0;
    for (int t = 0; t < 2 * THREADS; t++) {
        pthread_join(tid[t], NULL);
        failures += jobs[t].failures;
    }
    CHECK(failures == 0);
    struct ip_vs_get_services *all = ipvs_get_services();
    CHECK(all != NULL && all->num_services == 2 * THREADS * SERVICES_PER_THREAD);
    free(all);
    CHECK(ipvs_flush() == 0);
    return check_summary();
}
