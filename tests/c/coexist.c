/* ipvsrs.h in one translation unit with the kernel's <linux/ip_vs.h> and
 * <linux/netfilter.h>, as a program that takes the IP_VS_* constants from the kernel
 * (keepalived does) builds: before them (IPVSRS_FIRST) or after them. <netinet/in.h>
 * comes before <linux/netfilter.h>, as glibc needs whatever else is included. Where both
 * define a constant, the values agree. Compiling is the test (tests/c_headers.rs). */
#ifdef IPVSRS_FIRST
#include <ipvsrs/ipvsrs.h>
#endif
#include <netinet/in.h>
#include <linux/ip_vs.h>
#include <linux/netfilter.h>
#ifndef IPVSRS_FIRST
#include <ipvsrs/ipvsrs.h>
#endif

#define SAME(name) _Static_assert(IPVSRS_##name == IP_VS_##name, #name)

/* All the kernel's user-space header has (IPVSRS_DEST_F_* and IPVSRS_SVC_F_SCHED_MH_*,
 * libipvs's, are the kernel's internal names). */
_Static_assert(IPVSRS_IPVS_VERSION_CODE == IP_VS_VERSION_CODE, "VERSION_CODE");
SAME(SCHEDNAME_MAXLEN);
SAME(PENAME_MAXLEN);
SAME(IFNAME_MAXLEN);
SAME(PEDATA_MAXLEN);
SAME(SVC_F_PERSISTENT);
SAME(SVC_F_HASHED);
SAME(SVC_F_ONEPACKET);
SAME(SVC_F_SCHED1);
SAME(SVC_F_SCHED2);
SAME(SVC_F_SCHED3);
SAME(SVC_F_SCHED_SH_FALLBACK);
SAME(SVC_F_SCHED_SH_PORT);
SAME(STATE_NONE);
SAME(STATE_MASTER);
SAME(STATE_BACKUP);
SAME(CONN_F_FWD_MASK);
SAME(CONN_F_MASQ);
SAME(CONN_F_LOCALNODE);
SAME(CONN_F_TUNNEL);
SAME(CONN_F_DROUTE);
SAME(CONN_F_BYPASS);
SAME(CONN_F_SYNC);
SAME(CONN_F_HASHED);
SAME(CONN_F_NOOUTPUT);
SAME(CONN_F_INACTIVE);
SAME(CONN_F_OUT_SEQ);
SAME(CONN_F_IN_SEQ);
SAME(CONN_F_SEQ_MASK);
SAME(CONN_F_NO_CPORT);
SAME(CONN_F_TEMPLATE);
SAME(CONN_F_ONE_PACKET);
SAME(CONN_F_TUNNEL_TYPE_IPIP);
SAME(CONN_F_TUNNEL_TYPE_GUE);
SAME(CONN_F_TUNNEL_TYPE_GRE);
SAME(CONN_F_TUNNEL_TYPE_MAX);
SAME(TUNNEL_ENCAP_FLAG_NOCSUM);
SAME(TUNNEL_ENCAP_FLAG_CSUM);
SAME(TUNNEL_ENCAP_FLAG_REMCSUM);

/* The address union is layout-compatible with the kernel's. */
_Static_assert(sizeof(union ipvsrs_inet_addr) == sizeof(union nf_inet_addr), "inet_addr");

int main(void)
{
    ipvsrs_handle *h = ipvsrs_open(NULL);
    struct ipvsrs_service_user svc = { .fwmark = 1, .af = AF_INET };
    struct ip_vs_service_user kernel_svc = { .fwmark = 1 };
    ipvsrs_close(h);
    return svc.fwmark == kernel_svc.fwmark ? 0 : 1;
}
