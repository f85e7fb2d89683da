/*
 * libipvs.h: source compatibility with ipvsadm 1.31's libipvs.
 *
 * Code written against libipvs includes this header unchanged and links with -lipvsrs
 * (`pkg-config --cflags --libs ipvsrs`). The declarations live in ipvsrs.h, generated
 * from the library's source; the includes below are the ones libipvs's own headers
 * pulled in, so code that relied on them still compiles. No libnl headers are needed.
 */
#ifndef IPVSRS_LIBIPVS_H
#define IPVSRS_LIBIPVS_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/types.h>

#include "ipvsrs.h"

#endif /* IPVSRS_LIBIPVS_H */
