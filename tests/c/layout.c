/* The libipvs 1.31 struct layouts on x86_64 (the sizes and offsets of ipvsadm 1.31's
 * libipvs.h), as C sees them through the installed header. Compiling is the test; running
 * reports it. tests/c_layout.rs also compiles it on the host against include/. */
#include <stddef.h>
#include "libipvs.h"
#include "check.h"

#define LAYOUT(type, size) _Static_assert(sizeof(type) == (size), "sizeof " #type)
#define AT(type, field, off) _Static_assert(offsetof(type, field) == (off), #type "." #field)

LAYOUT(union nf_inet_addr, 16);
LAYOUT(struct ip_vs_stats_user, 56);
AT(struct ip_vs_stats_user, inbytes, 16);
AT(struct ip_vs_stats_user, cps, 32);
LAYOUT(struct ip_vs_stats64, 80);
LAYOUT(ipvs_service_t, 84);
AT(ipvs_service_t, __addr_v4, 4);
AT(ipvs_service_t, port, 8);
AT(ipvs_service_t, fwmark, 12);
AT(ipvs_service_t, sched_name, 16);
AT(ipvs_service_t, flags, 32);
AT(ipvs_service_t, timeout, 36);
AT(ipvs_service_t, netmask, 40);
AT(ipvs_service_t, af, 44);
AT(ipvs_service_t, addr, 48);
AT(ipvs_service_t, pe_name, 64);
LAYOUT(ipvs_dest_t, 52);
AT(ipvs_dest_t, port, 4);
AT(ipvs_dest_t, conn_flags, 8);
AT(ipvs_dest_t, weight, 12);
AT(ipvs_dest_t, u_threshold, 16);
AT(ipvs_dest_t, l_threshold, 20);
AT(ipvs_dest_t, af, 24);
AT(ipvs_dest_t, addr, 28);
AT(ipvs_dest_t, tun_type, 44);
AT(ipvs_dest_t, tun_port, 46);
AT(ipvs_dest_t, tun_flags, 48);
LAYOUT(ipvs_service_entry_t, 224);
AT(ipvs_service_entry_t, sched_name, 16);
AT(ipvs_service_entry_t, num_dests, 44);
AT(ipvs_service_entry_t, stats, 48);
AT(ipvs_service_entry_t, af, 104);
AT(ipvs_service_entry_t, addr, 108);
AT(ipvs_service_entry_t, pe_name, 124);
AT(ipvs_service_entry_t, stats64, 144);
LAYOUT(ipvs_dest_entry_t, 208);
AT(ipvs_dest_entry_t, activeconns, 24);
AT(ipvs_dest_entry_t, inactconns, 28);
AT(ipvs_dest_entry_t, persistconns, 32);
AT(ipvs_dest_entry_t, stats, 40);
AT(ipvs_dest_entry_t, af, 96);
AT(ipvs_dest_entry_t, addr, 100);
AT(ipvs_dest_entry_t, stats64, 120);
AT(ipvs_dest_entry_t, tun_type, 200);
AT(ipvs_dest_entry_t, tun_port, 202);
AT(ipvs_dest_entry_t, tun_flags, 204);
LAYOUT(struct ip_vs_get_services, 8);
AT(struct ip_vs_get_services, entrytable, 8);
LAYOUT(struct ip_vs_get_dests, 40);
AT(struct ip_vs_get_dests, num_dests, 16);
AT(struct ip_vs_get_dests, af, 20);
AT(struct ip_vs_get_dests, addr, 24);
AT(struct ip_vs_get_dests, entrytable, 40);
LAYOUT(ipvs_timeout_t, 12);
LAYOUT(ipvs_daemon_t, 52);
AT(ipvs_daemon_t, mcast_ifn, 4);
AT(ipvs_daemon_t, syncid, 20);
AT(ipvs_daemon_t, sync_maxlen, 24);
AT(ipvs_daemon_t, mcast_port, 28);
AT(ipvs_daemon_t, mcast_ttl, 30);
AT(ipvs_daemon_t, mcast_af, 32);
AT(ipvs_daemon_t, mcast_group, 36);
LAYOUT(struct ip_vs_getinfo, 12);

/* The constants code written against libipvs uses. */
_Static_assert(IP_VS_SVC_F_PERSISTENT == 0x1 && IP_VS_SVC_F_HASHED == 0x2, "svc flags");
_Static_assert(IP_VS_SVC_F_ONEPACKET == 0x4 && IP_VS_SVC_F_SCHED3 == 0x20, "svc flags");
_Static_assert(IP_VS_SVC_F_SCHED_SH_PORT == IP_VS_SVC_F_SCHED2, "sh-port");
_Static_assert(IP_VS_SVC_F_SCHED_MH_FALLBACK == IP_VS_SVC_F_SCHED1, "mh-fallback");
_Static_assert(IP_VS_CONN_F_DROUTE == 3 && IP_VS_CONN_F_TUNNEL == 2, "fwd");
_Static_assert(IP_VS_CONN_F_MASQ == 0 && IP_VS_CONN_F_FWD_MASK == 7, "fwd");
_Static_assert(IP_VS_CONN_F_TUNNEL_TYPE_GUE == 1 && IP_VS_CONN_F_TUNNEL_TYPE_GRE == 2, "tun");
_Static_assert(IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM == 2, "tun flags");
_Static_assert(IP_VS_SCHEDNAME_MAXLEN == 16 && IP_VS_PENAME_MAXLEN == 16, "lengths");
_Static_assert(IP_VS_IFNAME_MAXLEN == 16, "lengths");
_Static_assert(IP_VS_STATE_MASTER == 1 && IP_VS_STATE_BACKUP == 2, "daemon states");
_Static_assert(IPVS_SVC_PERSISTENT_TIMEOUT == 360, "persistence");
_Static_assert(IPVS_VERSION(1, 2, 1) == 0x010201, "version macro");
_Static_assert(MINIMUM_IPVS_VERSION_PATCH == 4, "minimum version");

/* ipvsrs's own connection entry: the Python module's ctypes copy asserts these too. */
LAYOUT(struct ipvsrs_conn, 384);
AT(struct ipvsrs_conn, caddr, 12);
AT(struct ipvsrs_conn, daddr, 44);
AT(struct ipvsrs_conn, fwmark, 60);
AT(struct ipvsrs_conn, is_template, 72);
AT(struct ipvsrs_conn, state, 76);
AT(struct ipvsrs_conn, pe_name, 108);
AT(struct ipvsrs_conn, pe_data, 125);
_Static_assert(IPVSRS_CONN_STATE_LEN == 32, "state room");

int main(void)
{
    unsigned int v = 0x010203, parts[] = { NVERSION(v) };
    CHECK(parts[0] == 1 && parts[1] == 2 && parts[2] == 3);
    ipvs_service_cmp_t cmp = ipvs_cmp_services;
    CHECK(cmp != NULL);
    return check_summary();
}
