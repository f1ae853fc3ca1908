/*
 * Preloaded into Chromium (LD_PRELOAD) through netlinkShim() of @compose-gen/playwright:
 * refuse NETLINK_ROUTE sockets.
 *
 * Chromium watches the host's addresses and links through a NETLINK_ROUTE socket and, when
 * they change, aborts requests in flight with net::ERR_NETWORK_CHANGED, loopback included.
 * On a Docker host they change all the time: every `compose up` and `down` of any task adds or
 * removes a bridge and veth interfaces. When the socket cannot be opened Chromium assumes it
 * is always online and ignores those changes, which is what a test browser should do here.
 * Every other socket() call goes to the C library unchanged.
 *
 * Build: cc -shared -fPIC -O2 -o no-netlink.so no-netlink.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/netlink.h>
#include <stddef.h>
#include <sys/socket.h>

typedef int (*socket_fn)(int, int, int);

int socket(int domain, int type, int protocol) {
    static socket_fn next_socket;
    if (domain == AF_NETLINK && protocol == NETLINK_ROUTE) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    if (next_socket == NULL) {
        next_socket = (socket_fn)dlsym(RTLD_NEXT, "socket");
        if (next_socket == NULL) {
            errno = ENOSYS;
            return -1;
        }
    }
    return next_socket(domain, type, protocol);
}
