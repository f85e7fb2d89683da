/* What an exact service listing costs against one plain dump: `list-services exact N`
 * lists the namespace's services N times through ipvs_get_services (ipvsrs's checked
 * listing); `list-services dump N` sends N bare IPVS_CMD_GET_SERVICE dumps on a netlink
 * socket of its own, written here without the library, and only counts the services.
 * Each prints the number of services it saw in the last round. */
#include <linux/genetlink.h>
#include <linux/netlink.h>
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

/* One dump of the services: how many messages it brought. */
static unsigned dump(int fd, unsigned short family)
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
            services++;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "exact") != 0 && strcmp(argv[1], "dump") != 0)) {
        fprintf(stderr, "usage: list-services exact|dump ROUNDS\n");
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
    } else {
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
        if (fd < 0)
            die("socket");
        int rcvbuf = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
        unsigned short family = ipvs_family(fd);
        for (int r = 0; r < rounds; r++)
            seen = dump(fd, family);
        close(fd);
    }
    printf("%u services\n", seen);
    return 0;
}
