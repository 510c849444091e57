/* The local endpoint's listening socket. We bind it ourselves (and hand it
 * to libmicrohttpd) so that the address grammar, the loopback rule, port 0
 * and unix socket permissions are decided in one place. */
#include "endpoint_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int parse_port(const char *s, unsigned *out)
{
    if (!*s || strlen(s) > 5 || strspn(s, "0123456789") != strlen(s))
        return -1;
    unsigned long p = strtoul(s, NULL, 10);
    if (p > 65535)
        return -1;
    *out = (unsigned)p;
    return 0;
}

int pp_listen_parse(const char *spec, pp_listen_addr *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec) {
        snprintf(err, errlen, "expected host:port, :port or a unix socket path");
        return -1;
    }
    const char *path = NULL;
    if (!strncmp(spec, "unix:", 5))
        path = spec + 5;
    else if (spec[0] == '/' || spec[0] == '.')
        path = spec;
    if (path) {
        /* Room for the temporary name's suffix (see pp_listen_open). */
        if (!*path || strlen(path) + 16 >= sizeof out->path) {
            snprintf(err, errlen, "a unix socket path needs 1 to %zu bytes", sizeof out->path - 17);
            return -1;
        }
        out->is_unix = 1;
        out->loopback = 1;
        snprintf(out->path, sizeof out->path, "%s", path);
        return 0;
    }
    char host[128];
    const char *port;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof host) {
            snprintf(err, errlen, "expected [ipv6]:port");
            return -1;
        }
        snprintf(host, sizeof host, "%.*s", (int)(close - spec - 1), spec + 1);
        port = close + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon) {
            host[0] = '\0';
            port = spec;
        } else {
            if ((size_t)(colon - spec) >= sizeof host || memchr(spec, ':', (size_t)(colon - spec))) {
                snprintf(err, errlen, "expected host:port (an IPv6 address goes in brackets: [::1]:6060)");
                return -1;
            }
            snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
            port = colon + 1;
        }
    }
    unsigned p;
    if (parse_port(port, &p) != 0) {
        snprintf(err, errlen, "expected a port from 0 (any free one) to 65535");
        return -1;
    }
    /* No host: loopback, unlike Go's ":6060" (every interface). Exposing
     * the profiler is a decision to write out. */
    if (!host[0] || !strcmp(host, "localhost"))
        snprintf(host, sizeof host, "127.0.0.1");
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->sa;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        out->sa_len = sizeof *v4;
        out->loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        out->sa_len = sizeof *v6;
        out->loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr) ||
                        (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127);
    } else {
        snprintf(err, errlen, "'%s' is not an IP address (use 127.0.0.1, [::1], localhost or 0.0.0.0)", host);
        return -1;
    }
    return 0;
}

static int fail_errno(int fd, char *err, size_t errlen, const char *what, const char *where)
{
    int e = errno;
    snprintf(err, errlen, "cannot %s %s: %s", what, where, strerror(e));
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Whether something accepts connections on the unix socket at path. */
static int unix_socket_live(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    int live = connect(fd, (struct sockaddr *)&un, sizeof un) == 0;
    close(fd);
    return live;
}

static int open_unix(const pp_listen_addr *a, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(a->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "'%s' exists and is not a socket", a->path);
            return -1;
        }
        if (unix_socket_live(a->path)) {
            snprintf(err, errlen, "'%s' is in use by another process", a->path);
            return -1;
        }
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fail_errno(-1, err, errlen, "create", "a unix socket");
    /* Bound under a temporary name, restricted to the owner before anyone
     * can connect (listen comes after chmod), then renamed into place: no
     * moment where the final path is connectable by others. */
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    char tmp[sizeof a->path + 32];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", a->path, (int)getpid() % 1000000);
    if (strlen(tmp) >= sizeof un.sun_path) {
        close(fd);
        snprintf(err, errlen, "the unix socket path '%s' is too long", a->path);
        return -1;
    }
    memcpy(un.sun_path, tmp, strlen(tmp) + 1);
    unlink(un.sun_path);
    if (bind(fd, (struct sockaddr *)&un, sizeof un) != 0)
        return fail_errno(fd, err, errlen, "bind", a->path);
    if (chmod(un.sun_path, 0600) != 0 || listen(fd, 64) != 0 || rename(un.sun_path, a->path) != 0) {
        int e = errno;
        unlink(un.sun_path);
        errno = e;
        return fail_errno(fd, err, errlen, "set up", a->path);
    }
    return fd;
}

int pp_listen_open(const pp_listen_addr *a, char *err, size_t errlen)
{
    if (a->is_unix)
        return open_unix(a, err, errlen);
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fail_errno(-1, err, errlen, "create", "a socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a->sa.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    char where[64];
    pp_listen_describe(-1, a, where, sizeof where);
    if (bind(fd, (const struct sockaddr *)&a->sa, a->sa_len) != 0)
        return fail_errno(fd, err, errlen, "bind", where);
    if (listen(fd, 64) != 0)
        return fail_errno(fd, err, errlen, "listen on", where);
    return fd;
}

int pp_listen_describe(int fd, const pp_listen_addr *a, char *out, size_t len)
{
    if (a->is_unix) {
        snprintf(out, len, "unix:%s", a->path);
        return 0;
    }
    struct sockaddr_storage sa = a->sa;
    socklen_t sl = sizeof sa;
    if (fd >= 0)
        getsockname(fd, (struct sockaddr *)&sa, &sl);
    char host[INET6_ADDRSTRLEN] = "?";
    int port;
    if (sa.ss_family == AF_INET6) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&sa;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        port = ntohs(v6->sin6_port);
        snprintf(out, len, "[%s]:%d", host, port);
    } else {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        port = ntohs(v4->sin_port);
        snprintf(out, len, "%s:%d", host, port);
    }
    return port;
}
