/*
 * ipvs-metrics: one scrape of every virtual and real server, for a monitoring agent:
 * Influx line protocol with the names of telegraf's ipvs input (64-bit counters), or
 * Prometheus text exposition. The rendering is the library's (ipvsrs_metrics).
 *
 *   ipvs-metrics [--format influx|prometheus] [--netns PATH]
 *
 *   cc ipvs-metrics.c $(pkg-config --cflags --libs ipvsrs) -o ipvs-metrics
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ipvsrs.h"

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "format", required_argument, NULL, 'f' },
        { "netns", required_argument, NULL, 'n' },
        { NULL, 0, NULL, 0 },
    };
    int format = IPVSRS_METRICS_INFLUX;
    const char *netns = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 'f' && strcmp(optarg, "influx") == 0) {
            format = IPVSRS_METRICS_INFLUX;
        } else if (opt == 'f' && strcmp(optarg, "prometheus") == 0) {
            format = IPVSRS_METRICS_PROMETHEUS;
        } else if (opt == 'n') {
            netns = optarg;
        } else {
            fprintf(stderr, "usage: ipvs-metrics [--format influx|prometheus] [--netns PATH]\n");
            return 2;
        }
    }
    ipvsrs_handle *h = ipvsrs_open(netns);
    char *text = h ? ipvsrs_metrics(h, format) : NULL;
    if (!text) {
        fprintf(stderr, "ipvs-metrics: %s\n", ipvsrs_last_error());
        ipvsrs_close(h);
        return 1;
    }
    fputs(text, stdout);
    free(text);
    ipvsrs_close(h);
    return 0;
}
