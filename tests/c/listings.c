/* listings SERVICES ROUNDS: lists the namespace's services ROUNDS times through
 * ipvs_get_services and through the native iterator, and checks that each listing holds
 * SERVICES services, each once. Run by the kernel tests while other namespaces churn. */
#include <stdlib.h>
#include "ipvsrs.h"
#include "libipvs.h"
#include "check.h"

static int compare_entries(const void *a, const void *b)
{
    return ipvs_cmp_services((ipvs_service_entry_t *)a, (ipvs_service_entry_t *)b);
}

/* Whether the `count` entries are all different (sorts them). */
static int distinct(ipvs_service_entry_t *entries, size_t count)
{
    qsort(entries, count, sizeof *entries, compare_entries);
    for (size_t i = 1; i < count; i++)
        if (compare_entries(&entries[i - 1], &entries[i]) == 0)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: listings SERVICES ROUNDS\n");
        return 2;
    }
    size_t services = strtoul(argv[1], NULL, 10);
    int rounds = atoi(argv[2]);
    CHECK(ipvs_init() == 0);
    ipvsrs_handle *h = ipvsrs_open(NULL);
    CHECK(h != NULL);
    ipvs_service_entry_t *copy = calloc(services + 1, sizeof *copy);
    for (int round = 0; round < rounds; round++) {
        struct ip_vs_get_services *all = ipvs_get_services();
        CHECK(all != NULL && all->num_services == services &&
              distinct(all->entrytable, all->num_services));
        free(all);

        struct ipvsrs_service_iter *it = ipvsrs_services(h);
        size_t count = 0;
        const ipvs_service_entry_t *entry;
        while ((entry = ipvsrs_service_iter_next(it)) != NULL && count <= services)
            copy[count++] = *entry;
        CHECK(it != NULL && count == services && ipvsrs_service_iter_count(it) == services &&
              distinct(copy, count));
        ipvsrs_service_iter_free(it);
    }
    free(copy);
    ipvsrs_close(h);
    ipvs_close();
    return check_summary();
}
