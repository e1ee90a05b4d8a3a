/*
 * small_calls: the C side of `make everyday-bench` (tests/bench/README.md), against a running
 * server, on one logged-in session (XENAPI_USER, XENAPI_PASSWORD; root / password by default).
 *
 *   small_calls URL time SECONDS   VM.get_power_state in a loop for SECONDS; prints
 *                                  `small c CALLS SECONDS`
 *   small_calls URL count CALLS    CALLS calls between two marker system calls (a stat of
 *                                  /xenapi-bench-mark/begin and /xenapi-bench-mark/end) for a
 *                                  tracer to count what lies between; prints `count c CALLS`
 *   small_calls URL interrupt HOLD a held call (event.from on a quiet server, HOLD seconds)
 *                                  cancelled from another thread after 300 ms through a per-call
 *                                  cancel handle (xenapi_session_with_call_options); prints
 *                                  `interrupt c MS OUTCOME USABLE`: the time from
 *                                  xenapi_cancel_cancel to the call's return, how it ended, and
 *                                  whether the session answers a call afterwards. Built without
 *                                  XENAPI_BENCH_CALL_OPTIONS (the header has no per-call options
 *                                  yet) it prints `interrupt c n/a`.
 *
 * Each mode warms up first (the login, the protocol probe, the first connection and 200 calls are
 * not measured). Built against the release libxenapi.a by tests/bench/bench.mk.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "xenapi.h"

#define WARM_UP 200

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The marker a tracer looks for: a stat of a path that does not exist. */
static void mark(const char *path) {
    struct stat st;
    (void)stat(path, &st);
}

static void report(const char *what, xenapi_error **err) {
    fprintf(stderr, "small_calls: %s: %s\n", what,
            *err != NULL ? xenapi_error_message(*err) : "failed");
    xenapi_error_free(*err);
    *err = NULL;
}

static int power_state(const xenapi_session *s, const char *vm) {
    xenapi_vm_power_state st;
    xenapi_error *err = NULL;
    if (xenapi_vm_get_power_state(s, vm, &st, &err) != XENAPI_STATUS_OK) {
        report("VM.get_power_state", &err);
        return -1;
    }
    return 0;
}

static int time_calls(const xenapi_session *s, const char *vm, double seconds) {
    double t0 = now_s(), t = t0;
    long calls = 0;
    while (t - t0 < seconds) {
        if (power_state(s, vm) != 0) {
            return 1;
        }
        calls++;
        t = now_s();
    }
    printf("small c %ld %.6f\n", calls, t - t0);
    return 0;
}

static int count_calls(const xenapi_session *s, const char *vm, long calls) {
    long i;
    int failed = 0;
    mark("/xenapi-bench-mark/begin");
    for (i = 0; i < calls && !failed; i++) {
        failed = power_state(s, vm) != 0;
    }
    mark("/xenapi-bench-mark/end");
    if (!failed) {
        printf("count c %ld\n", calls);
    }
    return failed;
}

#ifdef XENAPI_BENCH_CALL_OPTIONS
typedef struct {
    xenapi_cancel *cancel;
    double fired;
} canceller_t;

static void *cancel_later(void *arg) {
    canceller_t *c = arg;
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    c->fired = now_s();
    xenapi_cancel_cancel(c->cancel);
    return NULL;
}

/* A token for event.from on VMs: the first call answers at once with what there is. */
static int event_token(const xenapi_session *s, xenapi_string_list *classes, char *buf,
                       size_t len) {
    xenapi_event_batch *batch = NULL;
    xenapi_error *err = NULL;
    if (xenapi_event_from(s, classes, "", 0.0, &batch, &err) != XENAPI_STATUS_OK) {
        report("event.from", &err);
        return -1;
    }
    snprintf(buf, len, "%s", xenapi_event_batch_token(batch));
    xenapi_event_batch_free(batch);
    return 0;
}

static int interrupt(const xenapi_session *s, const char *vm, double hold) {
    xenapi_string_list *classes = xenapi_string_list_new();
    xenapi_call_options *copts = NULL;
    xenapi_session *view = NULL;
    xenapi_event_batch *batch = NULL;
    xenapi_error *err = NULL;
    canceller_t c = {xenapi_cancel_new(), 0.0};
    pthread_t thread;
    char token[256];
    const char *outcome;
    double done;
    xenapi_status st;
    int rc = 1;

    if (xenapi_string_list_push(classes, "vm", &err) != XENAPI_STATUS_OK) {
        report("a class list", &err);
        goto out;
    }
    if (event_token(s, classes, token, sizeof token) != 0) {
        goto out;
    }
    copts = xenapi_call_options_new();
    if (xenapi_call_options_set_cancel(copts, c.cancel, &err) != XENAPI_STATUS_OK ||
        xenapi_session_with_call_options(s, copts, &view, &err) != XENAPI_STATUS_OK) {
        report("per-call options", &err);
        goto out;
    }
    if (pthread_create(&thread, NULL, cancel_later, &c) != 0) {
        fprintf(stderr, "small_calls: pthread_create failed\n");
        goto out;
    }
    st = xenapi_event_from(view, classes, token, hold, &batch, &err);
    done = now_s();
    pthread_join(thread, NULL);
    if (st == XENAPI_STATUS_OK) {
        outcome = "returned";
    } else if (st == XENAPI_STATUS_CANCELLED) {
        outcome = "cancelled";
    } else if (xenapi_error_code(err) != NULL) {
        outcome = xenapi_error_code(err);
    } else {
        outcome = "failed";
    }
    printf("interrupt c %.1f %s %s\n", c.fired > 0.0 ? (done - c.fired) * 1000.0 : -1.0, outcome,
           power_state(s, vm) == 0 ? "usable" : "unusable");
    rc = 0;
out:
    xenapi_error_free(err);
    xenapi_event_batch_free(batch);
    xenapi_session_free(view);
    xenapi_call_options_free(copts);
    xenapi_cancel_free(c.cancel);
    xenapi_string_list_free(classes);
    return rc;
}
#else
static int interrupt(const xenapi_session *s, const char *vm, double hold) {
    (void)s;
    (void)vm;
    (void)hold;
    printf("interrupt c n/a\n");
    return 0;
}
#endif

int main(int argc, char **argv) {
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_string_list *vms = NULL;
    xenapi_error *err = NULL;
    const char *user = getenv("XENAPI_USER"), *password = getenv("XENAPI_PASSWORD");
    char vm[128];
    double n;
    int i, rc = 1;

    if (argc != 4 || (n = atof(argv[3])) <= 0) {
        fprintf(stderr, "usage: small_calls URL time SECONDS | count CALLS | interrupt HOLD\n");
        return 2;
    }
    if (xenapi_options_new(argv[1], &opts, &err) != XENAPI_STATUS_OK ||
        xenapi_session_connect(opts, user != NULL ? user : "root",
                               password != NULL ? password : "password", &s,
                               &err) != XENAPI_STATUS_OK) {
        report("login", &err);
        xenapi_options_free(opts);
        return 1;
    }
    xenapi_options_free(opts);
    if (xenapi_vm_get_all(s, &vms, &err) != XENAPI_STATUS_OK || xenapi_string_list_len(vms) == 0) {
        report("VM.get_all", &err);
        goto out;
    }
    snprintf(vm, sizeof vm, "%s", xenapi_string_list_get(vms, 0));
    for (i = 0; i < WARM_UP; i++) {
        if (power_state(s, vm) != 0) {
            goto out;
        }
    }
    if (strcmp(argv[2], "time") == 0) {
        rc = time_calls(s, vm, n);
    } else if (strcmp(argv[2], "count") == 0) {
        rc = count_calls(s, vm, (long)n);
    } else if (strcmp(argv[2], "interrupt") == 0) {
        rc = interrupt(s, vm, n);
    } else {
        fprintf(stderr, "small_calls: the mode is time, count or interrupt, not %s\n", argv[2]);
        rc = 2;
    }
out:
    xenapi_string_list_free(vms);
    xenapi_session_free(s);
    return rc;
}
