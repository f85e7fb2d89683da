/* Desired state from C: ipvs_apply_yaml and ipvsrs_diff_yaml against a real kernel, in a
 * fresh network namespace: dry run, apply, idempotence, invalid models, refused actions,
 * rollback, ownership scope, parameter sources, timeouts. */
#include <stdlib.h>
#include <unistd.h>
#include "libipvs.h"
#include "check.h"

static const char *model =
    "services:\n"
    "  - address: tcp://10.0.0.1:80\n"
    "    sched: wrr\n"
    "    destinations:\n"
    "      - { address: 10.1.0.1:8080, forward: nat, weight: 5 }\n"
    "      - { address: 10.1.0.2:8080, forward: nat, weight: 7 }\n";

static unsigned count_services(void)
{
    struct ip_vs_get_services *all = ipvs_get_services();
    unsigned n = all ? all->num_services : 9999;
    free(all);
    return n;
}

static void dry_run_then_apply(void)
{
    ipvsrs_changeset *cs = ipvsrs_diff_yaml(NULL, model, NULL);
    CHECK(cs != NULL && ipvsrs_changeset_count(cs) == 3);
    const ipvsrs_change *c = ipvsrs_changeset_next(cs);
    CHECK(c != NULL && c->kind == IPVSRS_CHANGE_ADD_SERVICE && c->result == -1);
    CHECK(c != NULL && ntohs(c->service.port) == 80 && strcmp(c->service.sched_name, "wrr") == 0);
    CHECK_STR(c->description, "add service tcp://10.0.0.1:80 (wrr)");
    c = ipvsrs_changeset_next(cs);
    CHECK(c != NULL && c->kind == IPVSRS_CHANGE_ADD_DEST && c->dest.weight == 5);
    CHECK(c != NULL && c->dest.conn_flags == IP_VS_CONN_F_MASQ && ntohs(c->dest.port) == 8080);
    /* A destination of a service the same changeset adds reports that service, settings
     * and all, though the kernel does not have it yet. */
    CHECK(c != NULL && strcmp(c->service.sched_name, "wrr") == 0 && ntohs(c->service.port) == 80);
    CHECK(c != NULL && c->service.af == AF_INET && c->service.protocol == IPPROTO_TCP);
    CHECK(ipvsrs_changeset_next(cs) != NULL && ipvsrs_changeset_next(cs) == NULL);
    ipvsrs_changeset_free(cs);
    CHECK(count_services() == 0);

    cs = NULL;
    CHECK(ipvs_apply_yaml(NULL, model, NULL, &cs) == 0);
    CHECK(cs != NULL && ipvsrs_changeset_count(cs) == 3 && ipvsrs_changeset_rolled_back(cs) == 0);
    while ((c = ipvsrs_changeset_next(cs)) != NULL)
        CHECK(c->result == 0);
    ipvsrs_changeset_free(cs);
    CHECK(count_services() == 1);

    CHECK(ipvs_apply_yaml(NULL, model, NULL, &cs) == 0);
    CHECK(cs != NULL && ipvsrs_changeset_count(cs) == 0);
    ipvsrs_changeset_free(cs);
}

static void invalid_models_change_nothing(void)
{
    ipvsrs_changeset *cs = (ipvsrs_changeset *)1;
    const char *bad = "services:\n  - address: tcp://10.0.0.2:80\n    sched: nosuch\n"
                      "    destinations:\n      - { address: 10.1.0.1, wieght: 3 }\n";
    CHECK_FAILS_WITH(ipvs_apply_yaml(NULL, bad, NULL, &cs), EINVAL);
    CHECK(cs == NULL);
    CHECK(strstr(ipvsrs_last_error(), "line 3, column 12") != NULL);
    CHECK(strstr(ipvsrs_last_error(), "line 5, column 30") != NULL);
    CHECK(count_services() == 1);
    CHECK_FAILS_WITH(ipvs_apply_yaml(NULL, NULL, NULL, NULL), EINVAL);
    ipvsrs_apply_options path = { .flags = IPVSRS_MODEL_PATH };
    CHECK_FAILS_WITH(ipvs_apply_yaml(NULL, "/nonexistent/model.yaml", &path, NULL), ENOENT);
}

static void refused_and_rolled_back(ipvsrs_handle *h)
{
    /* Deleting the service is needed, and not allowed: nothing happens. */
    ipvsrs_apply_options no_deletes = { .allowed_actions = "as,us,ad,ud" };
    CHECK_FAILS_WITH(ipvs_apply_yaml(h, "{}", &no_deletes, NULL), EINVAL);
    CHECK(strstr(ipvsrs_last_error(), "(ds)") != NULL);
    CHECK(count_services() == 1);

    /* A destination the kernel refuses (multicast) fails the apply; the weight update
     * before it is undone. */
    const char *poisoned =
        "services:\n"
        "  - address: tcp://10.0.0.1:80\n"
        "    sched: wrr\n"
        "    destinations:\n"
        "      - { address: 10.1.0.1:8080, forward: nat, weight: 50 }\n"
        "      - { address: 10.1.0.2:8080, forward: nat, weight: 7 }\n"
        "      - { address: 224.0.0.1:8080, forward: nat }\n";
    ipvsrs_changeset *cs = NULL;
    CHECK_FAILS_WITH(ipvs_apply_yaml(h, poisoned, NULL, &cs), EINVAL);
    CHECK(cs != NULL && ipvsrs_changeset_rolled_back(cs) == 1 &&
          ipvsrs_changeset_left_changed(cs) == 0);
    ipvsrs_changeset_free(cs);
    ipvs_service_t key;
    memset(&key, 0, sizeof key);
    key.af = AF_INET;
    key.protocol = IPPROTO_TCP;
    inet_pton(AF_INET, "10.0.0.1", &key.addr.ip);
    key.port = htons(80);
    ipvs_service_entry_t entry;
    CHECK(ipvsrs_get_service(h, &key, &entry) == 0);
    ipvsrs_dest_iter *it = ipvsrs_dests(h, &entry);
    const ipvs_dest_entry_t *d;
    int weights = 0;
    while ((d = ipvsrs_dest_iter_next(it)) != NULL)
        weights += d->weight;
    CHECK(ipvsrs_dest_iter_count(it) == 2 && weights == 12);
    ipvsrs_dest_iter_free(it);
}

static void scope_leaves_foreign_services(ipvsrs_handle *h)
{
    ipvs_service_t foreign;
    memset(&foreign, 0, sizeof foreign);
    foreign.af = AF_INET;
    foreign.protocol = IPPROTO_UDP;
    inet_pton(AF_INET, "192.168.1.1", &foreign.addr.ip);
    foreign.port = htons(53);
    strcpy(foreign.sched_name, "rr");
    foreign.netmask = 0xffffffff;
    CHECK(ipvsrs_add_service(h, &foreign) == 0);
    ipvsrs_apply_options owned = { .scope = "10.0.0.0/8" };
    CHECK(ipvs_apply_yaml(h, "{}", &owned, NULL) == 0);
    CHECK(count_services() == 1);
    ipvs_service_entry_t entry;
    CHECK(ipvsrs_get_service(h, &foreign, &entry) == 0);
    ipvsrs_apply_options bad_scope = { .scope = "10.0.0.0/99" };
    CHECK_FAILS_WITH(ipvs_apply_yaml(h, "{}", &bad_scope, NULL), EINVAL);
}

/* The description of the only change `model` needs, with `opts`; NULL if it fails. */
static const char *only_change(ipvsrs_handle *h, const char *model,
                               const ipvsrs_apply_options *opts, char *buf, size_t size)
{
    ipvsrs_changeset *cs = ipvsrs_diff_yaml(h, model, opts);
    const ipvsrs_change *c = cs ? ipvsrs_changeset_next(cs) : NULL;
    if (c)
        snprintf(buf, size, "%s", c->description);
    ipvsrs_changeset_free(cs);
    return c ? buf : NULL;
}

/* Every parameter source is off unless the options enable it. The scopes leave the
 * services of the earlier tests alone. */
static void parameters_only_from_enabled_sources(ipvsrs_handle *h)
{
    char buf[256];
    setenv("IPVSRS_TEST_PORT", "8081", 1);
    const char *by_env = "services:\n  - address: tcp://10.9.0.1:${env.IPVSRS_TEST_PORT}\n";
    errno = 0;
    CHECK(only_change(h, by_env, NULL, buf, sizeof buf) == NULL && errno == EINVAL);
    CHECK(strstr(ipvsrs_last_error(), "parameter ${env.IPVSRS_TEST_PORT} is not defined") != NULL);
    ipvsrs_apply_options env = { .flags = IPVSRS_PARAMS_ENV, .scope = "10.9.0.0/16" };
    CHECK(only_change(h, by_env, &env, buf, sizeof buf) != NULL);
    CHECK_STR(buf, "add service tcp://10.9.0.1:8081 (rr)");

    /* lo has 127.0.0.1 in every namespace. */
    const char *by_host = "services:\n  - address: tcp://${host.lo}:80\n";
    CHECK(only_change(h, by_host, NULL, buf, sizeof buf) == NULL);
    ipvsrs_apply_options network = { .flags = IPVSRS_PARAMS_NETWORK, .scope = "127.0.0.0/8" };
    CHECK(only_change(h, by_host, &network, buf, sizeof buf) != NULL);
    CHECK_STR(buf, "add service tcp://127.0.0.1:80 (rr)");

    char path[] = "/tmp/ipvsrs-params-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, "vip: 10.9.0.2\n", 14) == 14);
    close(fd);
    const char *files[] = { "/nonexistent/first.yaml", path, NULL };
    ipvsrs_apply_options from_files = { .scope = "10.9.0.0/16", .params_files = files + 1 };
    CHECK(only_change(h, "services:\n  - address: udp://${vip}:53\n", &from_files, buf,
                      sizeof buf) != NULL);
    CHECK_STR(buf, "add service udp://10.9.0.2:53 (rr)");
    from_files.params_files = files;
    errno = 0;
    CHECK(only_change(h, "{}", &from_files, buf, sizeof buf) == NULL && errno == ENOENT);
    CHECK(strstr(ipvsrs_last_error(), "/nonexistent/first.yaml") != NULL);
    unlink(path);

    ipvsrs_apply_options unknown = { .flags = 1u << 31 };
    CHECK_FAILS_WITH(ipvs_apply_yaml(h, "{}", &unknown, NULL), EINVAL);
    CHECK(strstr(ipvsrs_last_error(), "unknown flags 0x80000000") != NULL);
}

static void timeouts_item(ipvsrs_handle *h)
{
    ipvsrs_changeset *cs = NULL;
    CHECK(ipvs_apply_yaml(h, "timeouts: { udp: 77 }\nservices: []\n", NULL, &cs) == 0);
    /* The foreign service went with the whole table owned; then the timeouts. */
    CHECK(cs != NULL && ipvsrs_changeset_count(cs) == 2);
    const ipvsrs_change *c = ipvsrs_changeset_next(cs);
    CHECK(c != NULL && c->kind == IPVSRS_CHANGE_DEL_SERVICE);
    c = ipvsrs_changeset_next(cs);
    CHECK(c != NULL && c->kind == IPVSRS_CHANGE_UPDATE_TIMEOUTS && c->result == 0);
    CHECK(c != NULL && c->timeout.udp_timeout == 77 && c->timeout.tcp_timeout == 900);
    CHECK(c != NULL && c->service.af == 0 && c->daemon.state == 0);
    CHECK_STR(c->description, "update timeouts (udp 300 -> 77)");
    ipvsrs_changeset_free(cs);
    ipvs_timeout_t t;
    CHECK(ipvsrs_get_timeout(h, &t) == 0 && t.udp_timeout == 77 && t.tcp_fin_timeout == 120);
}

int main(void)
{
    dry_run_then_apply();
    invalid_models_change_nothing();
    ipvsrs_handle *h = ipvsrs_open(NULL);
    CHECK(h != NULL);
    refused_and_rolled_back(h);
    scope_leaves_foreign_services(h);
    parameters_only_from_enabled_sources(h);
    timeouts_item(h);
    ipvsrs_close(h);
    return check_summary();
}
