/*
 * libipvs.h: source compatibility with ipvsadm 1.31's libipvs.
 *
 * Code written against libipvs includes this header unchanged and links with -lipvsrs
 * (`pkg-config --cflags --libs ipvsrs`). The declarations live in ipvsrs.h, generated
 * from the library's source, under the ipvsrs prefix; this header gives them libipvs's
 * names (the same types and values, so a libipvs entry may be passed to the native calls)
 * and pulls in what libipvs's own headers did. No libnl headers are needed.
 *
 * Like libipvs's own copy of ip_vs.h, these names are the kernel's too: include this
 * header or <linux/ip_vs.h>, not both (ipvsrs.h alone builds beside the kernel's).
 */
#ifndef IPVSRS_LIBIPVS_H
#define IPVSRS_LIBIPVS_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/types.h>

#include "ipvsrs.h"

/* libipvs's struct tags for ipvsrs.h's. */
#define nf_inet_addr ipvsrs_inet_addr
#define ip_vs_stats_user ipvsrs_stats_user
#define ip_vs_stats64 ipvsrs_stats64
#define ip_vs_getinfo ipvsrs_getinfo
#define ip_vs_service_user ipvsrs_service_user
#define ip_vs_dest_user ipvsrs_dest_user
#define ip_vs_timeout_user ipvsrs_timeout_user
#define ip_vs_daemon_user ipvsrs_daemon_user
#define ip_vs_service_entry ipvsrs_service_entry
#define ip_vs_dest_entry ipvsrs_dest_entry
#define ip_vs_get_services ipvsrs_get_services
#define ip_vs_get_dests ipvsrs_get_dests

typedef struct ipvsrs_service_user ipvs_service_t;
typedef struct ipvsrs_dest_user ipvs_dest_t;
typedef struct ipvsrs_timeout_user ipvs_timeout_t;
typedef struct ipvsrs_daemon_user ipvs_daemon_t;
typedef struct ipvsrs_service_entry ipvs_service_entry_t;
typedef struct ipvsrs_dest_entry ipvs_dest_entry_t;
typedef ipvsrs_service_cmp ipvs_service_cmp_t;
typedef ipvsrs_dest_cmp ipvs_dest_cmp_t;

/* libipvs's constants (its ip_vs.h and libipvs.h). */
#define IP_VS_VERSION_CODE               IPVSRS_IPVS_VERSION_CODE
#define IP_VS_SCHEDNAME_MAXLEN           IPVSRS_SCHEDNAME_MAXLEN
#define IP_VS_PENAME_MAXLEN              IPVSRS_PENAME_MAXLEN
#define IP_VS_IFNAME_MAXLEN              IPVSRS_IFNAME_MAXLEN
#define IP_VS_PEDATA_MAXLEN              IPVSRS_PEDATA_MAXLEN
#define IP_VS_SVC_F_PERSISTENT           IPVSRS_SVC_F_PERSISTENT
#define IP_VS_SVC_F_HASHED               IPVSRS_SVC_F_HASHED
#define IP_VS_SVC_F_ONEPACKET            IPVSRS_SVC_F_ONEPACKET
#define IP_VS_SVC_F_SCHED1               IPVSRS_SVC_F_SCHED1
#define IP_VS_SVC_F_SCHED2               IPVSRS_SVC_F_SCHED2
#define IP_VS_SVC_F_SCHED3               IPVSRS_SVC_F_SCHED3
#define IP_VS_SVC_F_SCHED_SH_FALLBACK    IPVSRS_SVC_F_SCHED_SH_FALLBACK
#define IP_VS_SVC_F_SCHED_SH_PORT        IPVSRS_SVC_F_SCHED_SH_PORT
#define IP_VS_SVC_F_SCHED_MH_FALLBACK    IPVSRS_SVC_F_SCHED_MH_FALLBACK
#define IP_VS_SVC_F_SCHED_MH_PORT        IPVSRS_SVC_F_SCHED_MH_PORT
#define IP_VS_DEST_F_AVAILABLE           IPVSRS_DEST_F_AVAILABLE
#define IP_VS_DEST_F_OVERLOAD            IPVSRS_DEST_F_OVERLOAD
#define IP_VS_STATE_NONE                 IPVSRS_STATE_NONE
#define IP_VS_STATE_MASTER               IPVSRS_STATE_MASTER
#define IP_VS_STATE_BACKUP               IPVSRS_STATE_BACKUP
#define IP_VS_CONN_F_FWD_MASK            IPVSRS_CONN_F_FWD_MASK
#define IP_VS_CONN_F_MASQ                IPVSRS_CONN_F_MASQ
#define IP_VS_CONN_F_LOCALNODE           IPVSRS_CONN_F_LOCALNODE
#define IP_VS_CONN_F_TUNNEL              IPVSRS_CONN_F_TUNNEL
#define IP_VS_CONN_F_DROUTE              IPVSRS_CONN_F_DROUTE
#define IP_VS_CONN_F_BYPASS              IPVSRS_CONN_F_BYPASS
#define IP_VS_CONN_F_SYNC                IPVSRS_CONN_F_SYNC
#define IP_VS_CONN_F_HASHED              IPVSRS_CONN_F_HASHED
#define IP_VS_CONN_F_NOOUTPUT            IPVSRS_CONN_F_NOOUTPUT
#define IP_VS_CONN_F_INACTIVE            IPVSRS_CONN_F_INACTIVE
#define IP_VS_CONN_F_OUT_SEQ             IPVSRS_CONN_F_OUT_SEQ
#define IP_VS_CONN_F_IN_SEQ              IPVSRS_CONN_F_IN_SEQ
#define IP_VS_CONN_F_SEQ_MASK            IPVSRS_CONN_F_SEQ_MASK
#define IP_VS_CONN_F_NO_CPORT            IPVSRS_CONN_F_NO_CPORT
#define IP_VS_CONN_F_TEMPLATE            IPVSRS_CONN_F_TEMPLATE
#define IP_VS_CONN_F_ONE_PACKET          IPVSRS_CONN_F_ONE_PACKET
#define IP_VS_CONN_F_TUNNEL_TYPE_IPIP    IPVSRS_CONN_F_TUNNEL_TYPE_IPIP
#define IP_VS_CONN_F_TUNNEL_TYPE_GUE     IPVSRS_CONN_F_TUNNEL_TYPE_GUE
#define IP_VS_CONN_F_TUNNEL_TYPE_GRE     IPVSRS_CONN_F_TUNNEL_TYPE_GRE
#define IP_VS_CONN_F_TUNNEL_TYPE_MAX     IPVSRS_CONN_F_TUNNEL_TYPE_MAX
#define IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM   IPVSRS_TUNNEL_ENCAP_FLAG_NOCSUM
#define IP_VS_TUNNEL_ENCAP_FLAG_CSUM     IPVSRS_TUNNEL_ENCAP_FLAG_CSUM
#define IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM  IPVSRS_TUNNEL_ENCAP_FLAG_REMCSUM

#define MINIMUM_IPVS_VERSION_MAJOR 1
#define MINIMUM_IPVS_VERSION_MINOR 1
#define MINIMUM_IPVS_VERSION_PATCH 4
/* Default persistence timeout of ipvsadm -p, in seconds. */
#define IPVS_SVC_PERSISTENT_TIMEOUT (6 * 60)

#ifndef IPVS_VERSION
#define IPVS_VERSION(x, y, z) (((x) << 16) + ((y) << 8) + (z))
#endif
#define NVERSION(version) \
    (version >> 16) & 0xFF, \
    (version >> 8) & 0xFF, \
    (version & 0xFF)

#endif /* IPVSRS_LIBIPVS_H */
