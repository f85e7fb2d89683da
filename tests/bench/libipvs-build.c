/*
 * libipvs-build SERVICES DESTS: builds the benchmark's table the way a program written
 * against libipvs 1.31 does, one kernel request per call: ipvs_add_service for each
 * service, then ipvs_add_dest for each of its destinations. Against `ipvsrs apply`, which
 * batches its requests, it shows what batching buys. The table is the one tests/bench/run
 * generates: service i is tcp://(10.3.0.0 + i):80 (wrr), its destination d is 10.2.d.1:80,
 * NAT, weight d. Exits 1 with ipvs_strerror's text at the first failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "libipvs.h"

static void fail(const char *what, unsigned service, unsigned dest)
{
    fprintf(stderr, "libipvs-build: %s (service %u, destination %u): %s\n", what, service, dest,
            ipvs_strerror(errno));
    exit(1);
}

/* A count argument: a whole number from 1 to max. */
static unsigned count(const char *arg, unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(arg, &end, 10);
    if (errno || end == arg || *end || n < 1 || n > max) {
        fprintf(stderr, "libipvs-build: %s is not a count from 1 to %lu\n", arg, max);
        exit(2);
    }
    return (unsigned)n;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: libipvs-build SERVICES DESTS\n");
        return 2;
    }
    /* The addresses have room for 16 million services and 255 destinations. */
    unsigned services = count(argv[1], 16000000), dests = count(argv[2], 255);
    if (ipvs_init())
        fail("ipvs_init", 0, 0);
    for (unsigned i = 0; i < services; i++) {
        ipvs_service_t svc;
        memset(&svc, 0, sizeof svc);
        svc.af = AF_INET;
        svc.protocol = IPPROTO_TCP;
        svc.addr.ip = htonl(0x0a030000 + i); /* 10.3.0.0 + i */
        svc.port = htons(80);
        strcpy(svc.sched_name, "wrr");
        svc.netmask = 0xffffffff;
        if (ipvs_add_service(&svc))
            fail("ipvs_add_service", i, 0);
        for (unsigned d = 1; d <= dests; d++) {
            ipvs_dest_t dest;
            memset(&dest, 0, sizeof dest);
            dest.af = AF_INET;
            dest.addr.ip = htonl(0x0a020001 | d << 8); /* 10.2.d.1 */
            dest.port = htons(80);
            dest.conn_flags = IP_VS_CONN_F_MASQ;
            dest.weight = (int)d;
            if (ipvs_add_dest(&svc, &dest))
                fail("ipvs_add_dest", i, d);
        }
    }
    ipvs_close();
    return 0;
}
