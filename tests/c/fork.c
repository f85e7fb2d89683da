/* fork() on another thread while ipvs_apply_yaml runs on the libipvs connection: the fork
 * goes ahead at once (the library's process-wide lock is held only to lend the connection
 * and take it back, never across a request), the child's libipvs calls work on a
 * connection of their own, and the apply ends as it would have.
 * The apply is under way while the namespace's converge lock (the abstract unix socket
 * "ipvsrs/converge") accepts connections. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ipvsrs.h"
#include "libipvs.h"
#include "check.h"

#define SERVICES 4000
#define DESTS 5

static atomic_int apply_done;
static int apply_rc;

static void *apply(void *model)
{
    apply_rc = ipvs_apply_yaml(NULL, model, NULL, NULL);
    atomic_store(&apply_done, 1);
    return NULL;
}

/* Whether some process holds this namespace's converge lock. */
static int converge_lock_held(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    const char name[] = "ipvsrs/converge";
    memcpy(addr.sun_path + 1, name, sizeof name - 1);
    int held = fd >= 0 && connect(fd, (struct sockaddr *)&addr,
                                  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof name)) == 0;
    if (fd >= 0)
        close(fd);
    return held;
}

static char *model_text(void)
{
    size_t room = 128 + (size_t)SERVICES * (64 + DESTS * 48), len = 0;
    char *text = malloc(room);
    if (text == NULL)
        return NULL;
    len += (size_t)snprintf(text + len, room - len, "services:\n");
    for (int i = 0; i < SERVICES; i++) {
        len += (size_t)snprintf(text + len, room - len,
                                "  - address: tcp://10.3.%d.%d:80\n    destinations:\n",
                                i / 250, i % 250 + 1);
        for (int j = 0; j < DESTS; j++)
            len += (size_t)snprintf(text + len, room - len,
                                    "      - { address: 10.4.%d.%d:80, forward: nat }\n",
                                    j, i % 250 + 1);
    }
    return text;
}

int main(void)
{
    char *model = model_text();
    CHECK(model != NULL);
    if (model == NULL)
        return check_summary();
    pthread_t applier;
    CHECK(pthread_create(&applier, NULL, apply, model) == 0);

    struct timespec pause = { 0, 1000000 };
    while (!converge_lock_held() && !atomic_load(&apply_done))
        nanosleep(&pause, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* The child: one thread, the parent's connection left behind with its lender. */
        int ok = ipvs_getinfo() == 0 && ipvs_version() != 0;
        struct ip_vs_get_services *all = ok ? ipvs_get_services() : NULL;
        ok = ok && all != NULL;
        free(all);
        _exit(ok ? 0 : 1);
    }
    int still_applying = !atomic_load(&apply_done);
    CHECK(pid > 0);
    CHECK(still_applying); /* fork() did not wait for the apply */
    int status = -1;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* the child's calls worked */

    CHECK(pthread_join(applier, NULL) == 0);
    CHECK(apply_rc == 0);
    struct ip_vs_get_services *all = ipvs_get_services();
    CHECK(all != NULL && all->num_services == SERVICES);
    free(all);
    free(model);
    return check_summary();
}
