/* The local endpoint under a bounded slow-client attack on loopback: 100
 * connections that each trickle one header line every 2 s (each byte would
 * restart an idle timer) must not keep a legitimate client from its answer,
 * and the attackers' connections are closed by the header deadline or
 * evicted. A request line with too many query arguments gets a prompt 414
 * (it used to exhaust the connection's memory and get no answer at all).
 * At most ~20 s, 100 connections, 127.0.0.1 only. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "polyprof.h"

enum { ATTACKERS = 100, ATTACK_S = 16, TRICKLE_S = 2 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_loopback(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request; returns the HTTP status, 0 when no answer came within
 * timeout_s. */
static int status_of(int port, const char *req, size_t len, double timeout_s)
{
    int fd = connect_loopback(port);
    if (fd < 0)
        return 0;
    struct timeval tv = {(time_t)timeout_s, (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    char buf[256];
    size_t got = 0;
    double until = now_s() + timeout_s;
    while (got < sizeof buf - 1 && now_s() < until) {
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
        if (strstr(buf, "\r\n"))
            break;
    }
    buf[got] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    return status;
}

static int get_status(int port, const char *path, double timeout_s)
{
    char *req;
    int n = asprintf(&req, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    if (n < 0)
        return 0;
    int status = status_of(port, req, (size_t)n, timeout_s);
    free(req);
    return status;
}

/* Has the server closed this connection (end of stream or reset)? */
static int closed_by_server(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void test_slow_clients(int port)
{
    int fds[ATTACKERS];
    int opened = 0;
    for (int i = 0; i < ATTACKERS; i++) {
        fds[i] = connect_loopback(port);
        if (fds[i] < 0)
            continue;
        opened++;
        send(fds[i], "GET /polyprof/status HTTP/1.1\r\n", 31, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    CHECK(opened > ATTACKERS / 2);
    double start = now_s(), next_trickle = start + TRICKLE_S, worst = 0;
    int asked = 0, answered = 0;
    while (now_s() - start < ATTACK_S) {
        if (now_s() >= next_trickle) {
            for (int i = 0; i < ATTACKERS; i++)
                if (fds[i] >= 0)
                    send(fds[i], "X-Slow: 1\r\n", 11, MSG_NOSIGNAL | MSG_DONTWAIT);
            next_trickle += TRICKLE_S;
        }
        double t0 = now_s();
        int status = get_status(port, "/polyprof/status", 5);
        double took = now_s() - t0;
        asked++;
        if (status == 200)
            answered++;
        else
            fprintf(stderr, "at %.1f s: a legitimate request got %d after %.2f s\n", t0 - start, status, took);
        if (took > worst)
            worst = took;
        usleep(500000);
    }
    printf("during the attack: %d of %d legitimate requests answered, slowest %.2f s\n", answered, asked, worst);
    CHECK(asked >= 10);
    CHECK_EQ_INT(answered, asked);
    CHECK(worst < 3);
    /* Every trickling connection was past the header deadline (10 s): the
     * server has closed them, not the idle timer they kept restarting. */
    int closed = 0;
    for (int i = 0; i < ATTACKERS; i++) {
        if (fds[i] < 0)
            continue;
        closed += closed_by_server(fds[i]);
        close(fds[i]);
    }
    printf("attackers' connections closed by the server: %d of %d\n", closed, opened);
    CHECK_EQ_INT(closed, opened);
}

static void test_request_line_limits(int port)
{
    /* 250 arguments in ~1.2 KB: a prompt 414, not silence. */
    char path[4096] = "/polyprof/status?";
    for (int i = 0; i < 250; i++)
        strcat(path, i ? "&a" : "a");
    double t0 = now_s();
    CHECK_EQ_INT(get_status(port, path, 5), 414);
    CHECK(now_s() - t0 < 2);
    /* 4,000 arguments: the same. */
    size_t len = 8200;
    char *big = malloc(len + 64);
    strcpy(big, "/polyprof/status?a");
    for (size_t at = strlen(big); at + 2 < len; at += 2)
        memcpy(big + at, "&a", 3);
    t0 = now_s();
    CHECK_EQ_INT(get_status(port, big, 5), 414);
    CHECK(now_s() - t0 < 2);
    free(big);
    /* A few arguments are still fine, and the route still reads them. */
    CHECK_EQ_INT(get_status(port, "/polyprof/status?a=1&b=2&c=3", 5), 200);
    CHECK_EQ_INT(get_status(port, "/debug/pprof/profile?seconds=abc&x=1", 5), 400);
}

int main(void)
{
    pp_options o;
    char err[512];
    pp_options_default(&o);
    CHECK_EQ_INT(pp_options_parse(&o, "endpoint=127.0.0.1:0", err, sizeof err), 0);
    pp_endpoint *e = pp_endpoint_start(&o, NULL, err, sizeof err);
    CHECK(e != NULL);
    if (!e) {
        fprintf(stderr, "%s\n", err);
        TEST_MAIN_END();
    }
    int port = pp_endpoint_port(e);
    CHECK_EQ_INT(get_status(port, "/polyprof/status", 5), 200);
    test_request_line_limits(port);
    test_slow_clients(port);
    /* And after it, as before. */
    CHECK_EQ_INT(get_status(port, "/polyprof/status", 5), 200);
    pp_endpoint_stop(e);
    TEST_MAIN_END();
}
