/* What an exact service listing costs against one plain dump: `list-services exact N`
 * lists the namespace's services N times through ipvs_get_services (ipvsrs's checked
 * listing); `list-services dump N` sends N bare IPVS_CMD_GET_SERVICE dumps on a netlink
 * socket of its own, written here without the library, and only counts the services;
 * `list-services decode N` does the same dumps and fills an ip_vs_service_entry for each
 * service, as libipvs's one-dump ipvs_get_services does; `list-services sockopt N` asks
 * the kernel N times for its list of the IPv4 services through IPVS's getsockopt
 * interface, the list ipvs_get_services compares a dump of many parts with (what it adds
 * to one dump in the kernel).
 * Each prints the number of services it saw in the last round. */
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "libipvs.h"

#define IPVS_CMD_GET_SERVICE 4
#define IPVS_GENL_VERSION 1

static char buf[1 << 16];

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void send_request(int fd, unsigned short type, unsigned short flags, unsigned char cmd,
                         const char *family_name)
{
    struct {
        struct nlmsghdr n;
        struct genlmsghdr g;
        char attrs[32];
    } req;
    memset(&req, 0, sizeof req);
    req.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
    req.n.nlmsg_type = type;
    req.n.nlmsg_flags = NLM_F_REQUEST | flags;
    req.g.cmd = cmd;
    req.g.version = type == GENL_ID_CTRL ? 1 : IPVS_GENL_VERSION;
    if (family_name != NULL) {
        struct nlattr *a = (struct nlattr *)((char *)&req + NLMSG_ALIGN(req.n.nlmsg_len));
        a->nla_type = CTRL_ATTR_FAMILY_NAME;
        a->nla_len = NLA_HDRLEN + strlen(family_name) + 1;
        memcpy((char *)a + NLA_HDRLEN, family_name, strlen(family_name) + 1);
        req.n.nlmsg_len = NLMSG_ALIGN(req.n.nlmsg_len) + NLA_ALIGN(a->nla_len);
    }
    if (send(fd, &req, req.n.nlmsg_len, 0) < 0)
        die("send");
}

/* The IPVS family's id, from the generic netlink controller. */
static unsigned short ipvs_family(int fd)
{
    send_request(fd, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, "IPVS");
    ssize_t len = recv(fd, buf, sizeof buf, 0);
    if (len < 0)
        die("recv");
    for (struct nlmsghdr *n = (struct nlmsghdr *)buf; NLMSG_OK(n, len); n = NLMSG_NEXT(n, len)) {
        if (n->nlmsg_type == NLMSG_ERROR) {
            fprintf(stderr, "no IPVS family\n");
            exit(2);
        }
        int left = n->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
        struct nlattr *a = (struct nlattr *)((char *)NLMSG_DATA(n) + GENL_HDRLEN);
        while (left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= left) {
            if (a->nla_type == CTRL_ATTR_FAMILY_ID)
                return *(unsigned short *)((char *)a + NLA_HDRLEN);
            left -= NLA_ALIGN(a->nla_len);
            a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len));
        }
    }
    fprintf(stderr, "no family id in the controller's answer\n");
    exit(2);
}

/* Each attribute `a` of a run of `left` bytes from `first`. */
#define EACH_ATTR(first, left, a)                                                          \
    for (struct nlattr *a = (first); (left) >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&  \
                                      a->nla_len <= (left);                                \
         (left) -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
#define PAYLOAD(a) ((void *)((char *)(a) + NLA_HDRLEN))
#define PAYLOAD_LEN(a) ((int)(a)->nla_len - NLA_HDRLEN)

static void decode_stats(struct nlattr *nest, struct ip_vs_stats_user *stats)
{
    int left = PAYLOAD_LEN(nest);
    EACH_ATTR((struct nlattr *)PAYLOAD(nest), left, a)
    {
        __u32 v32 = PAYLOAD_LEN(a) >= 4 ? *(__u32 *)PAYLOAD(a) : 0;
        __u64 v64 = PAYLOAD_LEN(a) >= 8 ? *(__u64 *)PAYLOAD(a) : 0;
        switch (a->nla_type & NLA_TYPE_MASK) {
        case 1: stats->conns = v32; break;
        case 2: stats->inpkts = v32; break;
        case 3: stats->outpkts = v32; break;
        case 4: stats->inbytes = v64; break;
        case 5: stats->outbytes = v64; break;
        case 6: stats->cps = v32; break;
        case 7: stats->inpps = v32; break;
        case 8: stats->outpps = v32; break;
        case 9: stats->inbps = v32; break;
        case 10: stats->outbps = v32; break;
        }
    }
}

/* One service message's IPVS_CMD_ATTR_SERVICE nest, as libipvs fills its entry. */
static void decode_service(struct nlmsghdr *n, struct ip_vs_service_entry *e)
{
    memset(e, 0, sizeof *e);
    int left = n->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
    EACH_ATTR((struct nlattr *)((char *)NLMSG_DATA(n) + GENL_HDRLEN), left, top)
    {
        if ((top->nla_type & NLA_TYPE_MASK) != 1)
            continue;
        int inner = PAYLOAD_LEN(top);
        EACH_ATTR((struct nlattr *)PAYLOAD(top), inner, a)
        {
            void *p = PAYLOAD(a);
            int len = PAYLOAD_LEN(a);
            switch (a->nla_type & NLA_TYPE_MASK) {
            case 1: e->af = *(__u16 *)p; break;
            case 2: e->protocol = *(__u16 *)p; break;
            case 3: memcpy(&e->addr, p, len < 16 ? len : 16); break;
            case 4: e->port = *(__u16 *)p; break;
            case 5: e->fwmark = *(__u32 *)p; break;
            case 6: strncpy(e->sched_name, p, IP_VS_SCHEDNAME_MAXLEN - 1); break;
            case 7: e->flags = *(__u32 *)p; break;
            case 8: e->timeout = *(__u32 *)p; break;
            case 9: e->netmask = *(__u32 *)p; break;
            case 10: decode_stats(a, &e->stats); break;
            case 11: strncpy(e->pe_name, p, IP_VS_PENAME_MAXLEN - 1); break;
            }
        }
    }
}

/* One dump of the services: how many messages it brought, each decoded into *entries
 * (grown as needed) unless entries is NULL. */
static unsigned dump(int fd, unsigned short family, struct ip_vs_service_entry **entries,
                     unsigned *room)
{
    unsigned services = 0;
    send_request(fd, family, NLM_F_DUMP, IPVS_CMD_GET_SERVICE, NULL);
    for (;;) {
        ssize_t len = recv(fd, buf, sizeof buf, 0);
        if (len < 0)
            die("recv");
        for (struct nlmsghdr *n = (struct nlmsghdr *)buf; NLMSG_OK(n, len);
             n = NLMSG_NEXT(n, len)) {
            if (n->nlmsg_type == NLMSG_DONE)
                return services;
            if (n->nlmsg_type == NLMSG_ERROR) {
                fprintf(stderr, "dump refused\n");
                exit(2);
            }
            if (entries != NULL) {
                if (services == *room) {
                    *room = *room * 2 + 64;
                    *entries = realloc(*entries, *room * sizeof **entries);
                    if (*entries == NULL)
                        die("realloc");
                }
                decode_service(n, &(*entries)[services]);
            }
            services++;
        }
    }
}

/* The kernel's getsockopt interface (linux/ip_vs.h, whose entry type libipvs.h replaces):
 * struct ip_vs_get_services is a u32 count and 104-byte entries from offset 8, the
 * protocol (u16) leading each. */
#define IP_VS_SO_GET_INFO (64 + 1024 + 64 + 1)
#define IP_VS_SO_GET_SERVICES (IP_VS_SO_GET_INFO + 1)
#define KERNEL_ENTRIES_AT 8
#define KERNEL_ENTRY_BYTES 104

/* One getsockopt list of the IPv4 services: how many it holds. */
static unsigned sockopt_list(int fd)
{
    struct ip_vs_getinfo info;
    socklen_t len = sizeof info;
    if (getsockopt(fd, IPPROTO_IP, IP_VS_SO_GET_INFO, &info, &len) < 0)
        die("getsockopt IP_VS_SO_GET_INFO");
    len = KERNEL_ENTRIES_AT + info.num_services * KERNEL_ENTRY_BYTES;
    unsigned char *list = calloc(1, len);
    if (list == NULL)
        die("calloc");
    memcpy(list, &info.num_services, sizeof info.num_services);
    if (getsockopt(fd, IPPROTO_IP, IP_VS_SO_GET_SERVICES, list, &len) < 0)
        die("getsockopt IP_VS_SO_GET_SERVICES");
    unsigned listed = 0;
    for (unsigned i = 0; i < info.num_services; i++) {
        unsigned short protocol;
        memcpy(&protocol, list + KERNEL_ENTRIES_AT + i * KERNEL_ENTRY_BYTES, sizeof protocol);
        listed += protocol != 0;
    }
    free(list);
    return listed;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "exact") != 0 && strcmp(argv[1], "dump") != 0 &&
                      strcmp(argv[1], "decode") != 0 && strcmp(argv[1], "sockopt") != 0)) {
        fprintf(stderr, "usage: list-services exact|dump|decode|sockopt ROUNDS\n");
        return 2;
    }
    int rounds = atoi(argv[2]);
    unsigned seen = 0;
    if (strcmp(argv[1], "exact") == 0) {
        for (int r = 0; r < rounds; r++) {
            struct ip_vs_get_services *all = ipvs_get_services();
            if (all == NULL)
                die("ipvs_get_services");
            seen = all->num_services;
            free(all);
        }
    } else if (strcmp(argv[1], "sockopt") == 0) {
        int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
        if (fd < 0)
            die("socket");
        for (int r = 0; r < rounds; r++)
            seen = sockopt_list(fd);
        close(fd);
    } else {
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
        if (fd < 0)
            die("socket");
        int rcvbuf = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
        unsigned short family = ipvs_family(fd);
        int decoding = strcmp(argv[1], "decode") == 0;
        for (int r = 0; r < rounds; r++) {
            struct ip_vs_service_entry *entries = NULL;
            unsigned room = 0;
            seen = dump(fd, family, decoding ? &entries : NULL, &room);
            if (decoding && seen > 0 && entries[seen - 1].af == 0)
                die("a service without an address family");
            free(entries);
        }
        close(fd);
    }
    printf("%u services\n", seen);
    return 0;
}
