/* One converger among several: applies two model files in turn, ROUNDS times, through
 * ipvs_apply_yaml on a handle of its own. A line per apply: "ok", "busy" (EBUSY: another
 * converger held the namespace's lock for the whole wait) or "failed: <message>".
 * Exits 0 when every apply was ok or busy, 1 otherwise, 2 on bad arguments.
 * Usage: converger MODEL_A MODEL_B ROUNDS [WAIT_MS] (wait_ms of the options, 30000 unless
 * given) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "ipvsrs.h"

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: converger MODEL_A MODEL_B ROUNDS [WAIT_MS]\n");
        return 2;
    }
    struct ipvsrs_handle *h = ipvsrs_open(NULL);
    if (h == NULL) {
        printf("failed: %s\n", ipvsrs_last_error());
        return 1;
    }
    int rounds = atoi(argv[3]), failures = 0;
    ipvsrs_apply_options opts = { .flags = IPVSRS_MODEL_PATH, .wait_ms = argc == 5 ? atoi(argv[4]) : 30000 };
    for (int i = 0; i < rounds; i++) {
        if (ipvs_apply_yaml(h, argv[1 + i % 2], &opts, NULL) == 0) {
            printf("ok\n");
        } else if (errno == EBUSY) {
            printf("busy\n");
        } else {
            printf("failed: %s\n", ipvsrs_last_error());
            failures++;
        }
        fflush(stdout);
    }
    ipvsrs_close(h);
    return failures != 0;
}
