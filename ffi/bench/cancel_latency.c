/*
 * cancel_latency URL [ROUNDS]: how long a held call takes to end once its cancel fires.
 *
 * URL is a plain-HTTP xenapi-sim (`http://127.0.0.1:PORT`, user root, password password). Each
 * round makes the simulator hold its replies 2 s (its side channel, POST /sim/delay?ms=2000),
 * calls VM.get_all through a session view whose call options hold a xenapi_cancel, fires
 * xenapi_cancel_cancel from another thread 300 ms into the call, and times from the cancel to
 * the call's return. Prints `cancel_ms=N` (the median of ROUNDS rounds, default 5, in
 * milliseconds with one decimal) on stdout and each round on stderr.
 *
 * A call that was not cancelled (it ran to its reply: a library whose transport does not yet
 * notice a cancel in a blocked read) prints `cancel_ms=n/a` and exits 1; other failures exit 2.
 *
 * Built by `make ffi-bench-build` (against the release libxenapi.a), as bench_get_all_records.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xenapi.h"

#define HOLD_MS 2000
#define CANCEL_AFTER_MS 300
#define MAX_ROUNDS 100

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* POST path to the simulator's side channel at ip:port; 0 when it answered 200. */
static int side_channel(const char *ip, int port, const char *path) {
    struct sockaddr_in addr;
    char req[256], reply[512];
    long n;
    size_t got = 0;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
        return -1;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, ip, &addr.sin_addr) != 1 ||
        connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(s);
        return -1;
    }
    snprintf(req, sizeof req,
             "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", path,
             ip);
    if (send(s, req, strlen(req), 0) < 0) {
        close(s);
        return -1;
    }
    while (got + 1 < sizeof reply &&
           (n = (long)recv(s, reply + got, sizeof reply - got - 1, 0)) > 0) {
        got += (size_t)n;
    }
    reply[got] = '\0';
    close(s);
    return strncmp(reply, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
}

static int set_hold(const char *ip, int port, int ms) {
    char path[64];
    snprintf(path, sizeof path, "/sim/delay?ms=%d", ms);
    return side_channel(ip, port, path);
}

struct canceller {
    xenapi_cancel *cancel;
    double fired_at;
};

static void *cancel_later(void *arg) {
    struct canceller *c = arg;
    sleep_ms(CANCEL_AFTER_MS);
    c->fired_at = now_ms();
    xenapi_cancel_cancel(c->cancel);
    return NULL;
}

int main(int argc, char **argv) {
    char ip[64];
    int port = 0, rounds = argc > 2 ? atoi(argv[2]) : 5, r, ok = 1;
    double times[MAX_ROUNDS];
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;

    if (argc < 2 || rounds <= 0 || rounds > MAX_ROUNDS ||
        sscanf(argv[1], "http://%63[0-9.]:%d", ip, &port) != 2) {
        fprintf(stderr, "usage: cancel_latency http://IP:PORT [ROUNDS (1-%d)]\n", MAX_ROUNDS);
        return 2;
    }
    if (xenapi_options_new(argv[1], &opts, &err) != XENAPI_STATUS_OK ||
        xenapi_session_connect(opts, "root", "password", &s, &err) != XENAPI_STATUS_OK) {
        fprintf(stderr, "login: %s\n", xenapi_error_message(err));
        xenapi_error_free(err);
        xenapi_options_free(opts);
        return 2;
    }
    xenapi_options_free(opts);
    for (r = 0; r < rounds && ok; r++) {
        struct canceller c;
        xenapi_call_options *o = xenapi_call_options_new();
        xenapi_session *view = NULL;
        xenapi_value *v = NULL;
        xenapi_status st;
        pthread_t t;
        double ended;
        c.cancel = xenapi_cancel_new();
        c.fired_at = 0;
        if (xenapi_call_options_set_cancel(o, c.cancel, &err) != XENAPI_STATUS_OK ||
            xenapi_session_with_call_options(s, o, &view, &err) != XENAPI_STATUS_OK ||
            set_hold(ip, port, HOLD_MS) != 0 || pthread_create(&t, NULL, cancel_later, &c) != 0) {
            fprintf(stderr, "setting up round %d failed: %s\n", r,
                    err ? xenapi_error_message(err) : "(the simulator's side channel)");
            xenapi_error_free(err);
            xenapi_call_options_free(o);
            xenapi_session_free(view);
            xenapi_cancel_free(c.cancel);
            xenapi_session_free(s);
            return 2;
        }
        st = xenapi_session_call(view, "VM.get_all", NULL, 0, &v, &err);
        ended = now_ms();
        pthread_join(t, NULL);
        set_hold(ip, port, 0);
        if (st == XENAPI_STATUS_CANCELLED) {
            times[r] = ended - c.fired_at;
            fprintf(stderr, "round %d: %.1f ms from cancel to return\n", r, times[r]);
        } else {
            fprintf(stderr, "round %d: the call was not cancelled (%s, %.0f ms after the cancel)\n",
                    r, xenapi_status_name(st), ended - c.fired_at);
            ok = 0;
        }
        xenapi_value_free(v);
        xenapi_error_free(err);
        err = NULL;
        xenapi_call_options_free(o);
        xenapi_session_free(view);
        xenapi_cancel_free(c.cancel);
    }
    xenapi_session_free(s);
    if (!ok) {
        printf("cancel_ms=n/a\n");
        return 1;
    }
    qsort(times, (size_t)rounds, sizeof times[0], by_value);
    printf("cancel_ms=%.1f\n", times[rounds / 2]);
    return 0;
}
