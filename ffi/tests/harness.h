/*
 * A small test harness for the libxenapi C tests: checks that count passes and failures, and
 * the simulators `xenapi-sim run` started around the program (sim_get). Header-only: each test
 * program includes it once.
 */
#ifndef XENAPI_TEST_HARNESS_H
#define XENAPI_TEST_HARNESS_H

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The side channel's sockets: Winsock on Windows (tests/cross runs these programs under Wine),
 * BSD sockets elsewhere. */
#ifdef _WIN32
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0600 /* inet_pton */
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
typedef SOCKET socket_t;
#define SOCKET_BAD INVALID_SOCKET
#define socket_close closesocket
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
typedef int socket_t;
#define SOCKET_BAD (-1)
#define socket_close close
#endif

#include "xenapi.h"

static const char *err_text(xenapi_error *const *err) {
    return err != NULL && *err != NULL ? xenapi_error_message(*err) : "(no error)";
}

/* Copies at most size-1 bytes and terminates. */
static void copy_text(char *dst, size_t size, const char *src) {
    size_t n = strlen(src);
    if (n >= size) {
        n = size - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int t_passed = 0;
static int t_failed = 0;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            t_passed++;                                                              \
        } else {                                                                     \
            t_failed++;                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

/* Checks that a call returned `expected`; on a mismatch prints the error's message. */
#define CHECK_STATUS(call, expected, errp)                                                   \
    do {                                                                                     \
        xenapi_status st_ = (call);                                                          \
        if (st_ == (expected)) {                                                             \
            t_passed++;                                                                      \
        } else {                                                                             \
            t_failed++;                                                                      \
            fprintf(stderr, "%s:%d: %s gave %s, wanted %s: %s\n", __FILE__, __LINE__, #call, \
                    xenapi_status_name(st_), xenapi_status_name(expected), err_text(errp));  \
        }                                                                                    \
    } while (0)

#define CHECK_OK(call, errp) CHECK_STATUS(call, XENAPI_STATUS_OK, errp)

/* Frees and clears an error slot. */
static void clear_error(xenapi_error **err) {
    xenapi_error_free(*err);
    *err = NULL;
}

static int finish(const char *name) {
    printf("%s: %d passed, %d failed\n", name, t_passed, t_failed);
    return t_failed == 0 ? 0 : 1;
}

/* A simulator that `xenapi-sim run` started around this test program (see sim/README.md): the
 * program reads what `run --env NAME` exported, never starts one itself. ffi/ffi.mk says which
 * simulators each program gets. */
typedef struct {
    char url[128];
    char fingerprint[160];
    char dialect[8];
    char user[64];
    char password[64];
    int port;
} sim_t;

/* Fills `sim` from NAME_URL, NAME_DIALECT, NAME_USER, NAME_PASSWORD and (with --tls)
 * NAME_FINGERPRINT. Returns 0, or -1 after saying which variable is missing. */
static int sim_get(sim_t *sim, const char *name) {
    static const char *const fields[] = {"URL", "DIALECT", "USER", "PASSWORD", "FINGERPRINT"};
    char var[64];
    size_t i;
    const char *colon;
    memset(sim, 0, sizeof *sim);
    for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v;
        snprintf(var, sizeof var, "%s_%s", name, fields[i]);
        v = getenv(var);
        if (v == NULL) {
            if (i == 4) {
                break; /* no --tls */
            }
            fprintf(stderr,
                    "%s is not set: run this test under `xenapi-sim run --env %s ... --` "
                    "(see ffi/ffi.mk)\n",
                    var, name);
            return -1;
        }
        switch (i) {
        case 0: copy_text(sim->url, sizeof sim->url, v); break;
        case 1: copy_text(sim->dialect, sizeof sim->dialect, v); break;
        case 2: copy_text(sim->user, sizeof sim->user, v); break;
        case 3: copy_text(sim->password, sizeof sim->password, v); break;
        default: copy_text(sim->fingerprint, sizeof sim->fingerprint, v); break;
        }
    }
    colon = strrchr(sim->url, ':');
    sim->port = colon ? atoi(colon + 1) : 0;
    return 0;
}

/* The simulator of a dialect, by the tests' convention: the xapi one is XENAPI (run's default
 * name), the xend one XEND. Fails when the simulator speaks another dialect. */
static int sim_of_dialect(sim_t *sim, const char *dialect) {
    if (sim_get(sim, strcmp(dialect, "xend") == 0 ? "XEND" : "XENAPI") != 0) {
        return -1;
    }
    if (strcmp(sim->dialect, dialect) != 0) {
        fprintf(stderr, "wanted a %s simulator, got %s (%s)\n", dialect, sim->dialect, sim->url);
        return -1;
    }
    return 0;
}

/* A plain-HTTP side-channel request to ip:port (the pool's hosts have their own addresses). */
static int http_at(const char *ip, int port, const char *method, const char *path, char *buf,
                   size_t len) {
    struct sockaddr_in addr;
    char req[256];
    size_t got = 0;
    long n;
    char *body;
    socket_t s;
#ifdef _WIN32
    static int winsock_started = 0;
    WSADATA wsa;
    if (!winsock_started) {
        if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
            return -1;
        }
        winsock_started = 1;
    }
#endif
    s = socket(AF_INET, SOCK_STREAM, 0);
    if (s == SOCKET_BAD) {
        return -1;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, ip, &addr.sin_addr) != 1 ||
        connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
        socket_close(s);
        return -1;
    }
    snprintf(req, sizeof req,
             "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", method,
             path, ip);
    /* int lengths: what Winsock's send and recv take (the requests are small). */
    if (send(s, req, (int)strlen(req), 0) < 0) {
        socket_close(s);
        return -1;
    }
    while (got + 1 < len && (n = (long)recv(s, buf + got, (int)(len - got - 1), 0)) > 0) {
        got += (size_t)n;
    }
    buf[got] = '\0';
    socket_close(s);
    body = strstr(buf, "\r\n\r\n");
    if (body != NULL) {
        memmove(buf, body + 4, strlen(body + 4) + 1);
    }
    return 0;
}

/* One plain-HTTP request to the simulator's side channel (/sim/...); returns the body in `buf`. */
static int sim_http(const sim_t *sim, const char *method, const char *path, char *buf, size_t len) {
    return http_at("127.0.0.1", sim->port, method, path, buf, len);
}

/* The number of live sessions on the simulator, or -1. (Only over plain HTTP.) */
static int sim_sessions(const sim_t *sim) {
    char buf[1024];
    const char *p;
    if (sim_http(sim, "GET", "/sim/stats", buf, sizeof buf) != 0) {
        return -1;
    }
    p = strstr(buf, "\"sessions\":");
    return p ? atoi(p + 11) : -1;
}

/* Options for the simulator's URL, and a logged-in session (its user and password). */
static xenapi_session *sim_login(const sim_t *sim) {
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    if (xenapi_options_new(sim->url, &opts, &err) != XENAPI_STATUS_OK ||
        xenapi_session_connect(opts, sim->user, sim->password, &s, &err) != XENAPI_STATUS_OK) {
        fprintf(stderr, "login failed: %s\n", err ? xenapi_error_message(err) : "?");
        xenapi_error_free(err);
        s = NULL;
    }
    xenapi_options_free(opts);
    return s;
}

#endif
