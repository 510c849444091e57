/* Where the local endpoint listens: the address grammar of the `endpoint`
 * option, whether it is loopback, and the listening socket itself (TCP, or a
 * unix socket created with mode 0600). */
#ifndef PP_ENDPOINT_LISTEN_H
#define PP_ENDPOINT_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct pp_listen_addr {
    int is_unix;
    char path[108];                 /* unix: the socket's path */
    struct sockaddr_storage sa;     /* TCP: address and port (0: ephemeral) */
    socklen_t sa_len;
    int loopback;                   /* 127.0.0.0/8, ::1, or a unix socket */
} pp_listen_addr;

/* "127.0.0.1:6060", "[::1]:6060", "localhost:6060", ":6060" and "6060"
 * (loopback), "0.0.0.0:6060", "unix:/path" or "/path". 0 or -1 with a
 * message (the caller names the option). */
int pp_listen_parse(const char *spec, pp_listen_addr *out, char *err, size_t errlen);

/* A listening, non-blocking, close-on-exec socket; -1 with a message. A
 * unix socket is bound under a temporary name, made 0600, then renamed into
 * place (a stale socket file there is replaced; a live one is refused). */
int pp_listen_open(const pp_listen_addr *a, char *err, size_t errlen);

/* The bound address as text ("127.0.0.1:43817", "[::1]:6060", "unix:/p");
 * returns the port (0 for unix). */
int pp_listen_describe(int fd, const pp_listen_addr *a, char *out, size_t len);

#endif
