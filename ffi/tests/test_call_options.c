/*
 * Issue 22 through libxenapi: call options (a per-call cancel, deadline and traceparent) on a
 * session view, typed and untyped calls through it, asynchronous calls with a done callback, the
 * one deadline of a whole login and of the logout on free, and the User-Agent.
 *
 * Simulator (ffi/ffi.mk): XENAPI (xapi, 4 VMs). Held calls come from its reply delay
 * (POST /sim/delay?ms=N: the call is carried out, then its reply waits). The User-Agent and
 * traceparent are read by a tiny XML-RPC server in this program.
 *
 * Under valgrind ($XENAPI_TEST_ROUNDS set) latency bounds are 5 times wider and fewer
 * asynchronous calls are made.
 */
#include "harness.h"

#include <poll.h>
#include <pthread.h>
#include <time.h>

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int under_valgrind(void) {
    const char *r = getenv("XENAPI_TEST_ROUNDS");
    return r != NULL && atoi(r) > 0;
}

/* A latency bound, wider under valgrind. */
static double bound_ms(double ms) {
    return under_valgrind() ? ms * 5 : ms;
}

static void set_delay(const sim_t *sim, int ms) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/sim/delay?ms=%d", ms);
    CHECK(sim_http(sim, "POST", path, buf, sizeof buf) == 0);
}

static const char *const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/* A view of `s` with `cancel` (may be NULL), `timeout` (<= 0: none) and `traceparent` (may be
 * NULL). */
static xenapi_session *view_of(const xenapi_session *s, const xenapi_cancel *cancel, double timeout,
                               const char *traceparent) {
    xenapi_call_options *o = xenapi_call_options_new();
    xenapi_session *view = NULL;
    xenapi_error *err = NULL;
    CHECK(o != NULL);
    if (cancel != NULL) {
        CHECK_OK(xenapi_call_options_set_cancel(o, cancel, &err), &err);
    }
    if (timeout > 0) {
        CHECK_OK(xenapi_call_options_set_timeout(o, timeout, &err), &err);
    }
    if (traceparent != NULL) {
        CHECK_OK(xenapi_call_options_set_traceparent(o, traceparent, &err), &err);
    }
    CHECK_OK(xenapi_session_with_call_options(s, o, &view, &err), &err);
    xenapi_call_options_free(o); /* the view keeps what it read */
    return view;
}

/* ---- argument checks ---- */

static void on_done_never(void *user, xenapi_status status, xenapi_value *result,
                          xenapi_error *err) {
    (void)status;
    *(int *)user += 1;
    xenapi_value_free(result);
    xenapi_error_free(err);
}

static void test_arguments(const sim_t *sim) {
    xenapi_call_options *o = xenapi_call_options_new();
    xenapi_options *opts = NULL;
    xenapi_session *s = sim_login(sim), *view = NULL;
    xenapi_cancel *c = xenapi_cancel_new();
    xenapi_error *err = NULL;
    int called = 0;
    CHECK(o != NULL && s != NULL);
    CHECK_STATUS(xenapi_call_options_set_timeout(o, 0, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_call_options_set_timeout(o, -1, &err), XENAPI_STATUS_INVALID_ARGUMENT,
                 &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_call_options_set_timeout(NULL, 1, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_OK(xenapi_call_options_set_timeout(o, 2.5, &err), &err);
    /* The traceparent: well formed accepted, malformed refused (the message says why), NULL
     * clears. */
    CHECK_OK(xenapi_call_options_set_traceparent(o, TRACEPARENT, &err), &err);
    CHECK_STATUS(xenapi_call_options_set_traceparent(
                     o, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", &err),
                 XENAPI_STATUS_INVALID_ARGUMENT, &err);
    CHECK(err != NULL && strstr(xenapi_error_message(err), "traceparent") != NULL);
    clear_error(&err);
    CHECK_STATUS(xenapi_call_options_set_traceparent(
                     o, "00-00000000000000000000000000000000-00f067aa0ba902b7-01", &err),
                 XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_call_options_set_traceparent(
                     o, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX: y", &err),
                 XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    CHECK_OK(xenapi_call_options_set_traceparent(o, NULL, &err), &err);
    CHECK_OK(xenapi_call_options_set_cancel(o, c, &err), &err);
    CHECK_OK(xenapi_call_options_set_cancel(o, NULL, &err), &err);
    /* The view. */
    CHECK_STATUS(xenapi_session_with_call_options(NULL, o, &view, &err),
                 XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_session_with_call_options(s, NULL, &view, &err),
                 XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_session_with_call_options(s, o, NULL, &err), XENAPI_STATUS_NULL_ARGUMENT,
                 &err);
    clear_error(&err);
    CHECK(view == NULL);
    /* Argument errors of an asynchronous call come back at once; `done` is never called. */
    CHECK_STATUS(xenapi_session_call_async(s, "VM.get_all", NULL, 0, NULL, &called, &err),
                 XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(
        xenapi_session_call_async(NULL, "VM.get_all", NULL, 0, on_done_never, &called, &err),
        XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_session_call_async(s, NULL, NULL, 0, on_done_never, &called, &err),
                 XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_session_call_async(s, "VM.get_all", NULL, 1, on_done_never, &called, &err),
                 XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    sleep_ms(100);
    CHECK(called == 0);
    /* The binding's name and version. */
    CHECK_OK(xenapi_options_new(sim->url, &opts, &err), &err);
    CHECK_STATUS(xenapi_options_set_binding(opts, NULL, "1.0", &err), XENAPI_STATUS_NULL_ARGUMENT,
                 &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_options_set_binding(opts, "", "1.0", &err), XENAPI_STATUS_INVALID_ARGUMENT,
                 &err);
    clear_error(&err);
    CHECK_OK(xenapi_options_set_binding(opts, "app", "1.0", &err), &err);
    CHECK(strcmp(xenapi_status_name(XENAPI_STATUS_CANCELLED), "XENAPI_STATUS_CANCELLED") == 0);
    xenapi_options_free(opts);
    xenapi_call_options_free(o);
    xenapi_call_options_free(NULL);
    xenapi_cancel_free(c);
    xenapi_session_free(s);
}

/* Whether the simulator's live sessions drop to 0 within 2 s. */
static int sessions_drop_to_zero(const sim_t *sim) {
    int i;
    for (i = 0; i < 40; i++) {
        if (sim_sessions(sim) == 0) {
            return 1;
        }
        sleep_ms(50);
    }
    return 0;
}

/* ---- a cancel from another thread ---- */

struct canceller {
    xenapi_cancel *cancel;
    long after_ms;
    double fired_at;
};

static void *cancel_later(void *arg) {
    struct canceller *c = arg;
    sleep_ms(c->after_ms);
    c->fired_at = now_ms();
    xenapi_cancel_cancel(c->cancel);
    return NULL;
}

static void test_cancel(const sim_t *sim) {
    xenapi_session *s = sim_login(sim), *view;
    xenapi_error *err = NULL;
    xenapi_value *v = NULL;
    xenapi_string_list *vms = NULL;
    struct canceller c;
    pthread_t t;
    double start, ended;
    /* A cancel fired before the call: the call fails at once. */
    c.cancel = xenapi_cancel_new();
    view = view_of(s, c.cancel, 0, NULL);
    xenapi_cancel_cancel(c.cancel);
    start = now_ms();
    CHECK_STATUS(xenapi_session_call(view, "VM.get_all", NULL, 0, &v, &err),
                 XENAPI_STATUS_CANCELLED, &err);
    CHECK(now_ms() - start < bound_ms(100));
    CHECK(err != NULL && xenapi_error_status(err) == XENAPI_STATUS_CANCELLED);
    clear_error(&err);
    xenapi_session_free(view);
    xenapi_cancel_free(c.cancel);

    /* A held call (untyped), cancelled 300 ms in: it ends within 200 ms of the cancel. */
    c.after_ms = 300;
    c.cancel = xenapi_cancel_new();
    view = view_of(s, c.cancel, 0, NULL);
    set_delay(sim, 3000);
    CHECK(pthread_create(&t, NULL, cancel_later, &c) == 0);
    start = now_ms();
    CHECK_STATUS(xenapi_session_call(view, "VM.get_all", NULL, 0, &v, &err),
                 XENAPI_STATUS_CANCELLED, &err);
    ended = now_ms();
    pthread_join(t, NULL);
    set_delay(sim, 0);
    clear_error(&err);
    CHECK(v == NULL);
    xenapi_value_free(v); /* (had it not been cancelled) */
    if (ended - c.fired_at > bound_ms(200)) {
        fprintf(stderr, "the held call ended %.0f ms after its cancel (%.0f ms in)\n",
                ended - c.fired_at, ended - start);
    }
    CHECK(ended - c.fired_at <= bound_ms(200));
    /* The session works after; the view's calls stay cancelled. */
    CHECK_OK(xenapi_vm_get_all(s, &vms, &err), &err);
    CHECK(vms != NULL && xenapi_string_list_len(vms) >= 4); /* and dom0 */
    xenapi_string_list_free(vms);
    vms = NULL;
    CHECK_STATUS(xenapi_vm_get_all(view, &vms, &err), XENAPI_STATUS_CANCELLED, &err);
    clear_error(&err);
    CHECK(vms == NULL);
    xenapi_session_free(view);
    xenapi_cancel_free(c.cancel);

    /* A typed call through a view obeys its cancel too. */
    c.cancel = xenapi_cancel_new();
    view = view_of(s, c.cancel, 0, NULL);
    set_delay(sim, 3000);
    CHECK(pthread_create(&t, NULL, cancel_later, &c) == 0);
    CHECK_STATUS(xenapi_vm_get_all(view, &vms, &err), XENAPI_STATUS_CANCELLED, &err);
    ended = now_ms();
    pthread_join(t, NULL);
    set_delay(sim, 0);
    clear_error(&err);
    CHECK(vms == NULL);
    xenapi_string_list_free(vms); /* (had it not been cancelled) */
    vms = NULL;
    CHECK(ended - c.fired_at <= bound_ms(200));
    CHECK_OK(xenapi_vm_get_all(s, &vms, &err), &err);
    xenapi_string_list_free(vms);
    xenapi_session_free(view);
    xenapi_cancel_free(c.cancel);
    xenapi_session_free(s);
    CHECK(sessions_drop_to_zero(sim)); /* the last handle logged out; the views did not */
}

/* ---- a view's deadline; traceparent end to end ---- */

static void test_view_timeout(const sim_t *sim) {
    xenapi_session *s = sim_login(sim), *quick, *traced;
    xenapi_error *err = NULL;
    xenapi_string_list *vms = NULL;
    double start, took;
    quick = view_of(s, NULL, 0.5, NULL);
    set_delay(sim, 2000);
    start = now_ms();
    CHECK_STATUS(xenapi_vm_get_all(quick, &vms, &err), XENAPI_STATUS_TIMEOUT, &err);
    took = now_ms() - start;
    set_delay(sim, 0);
    clear_error(&err);
    CHECK(took >= 450 && took <= 500 + bound_ms(300));
    /* The session keeps its own deadline. */
    CHECK_OK(xenapi_vm_get_all(s, &vms, &err), &err);
    xenapi_string_list_free(vms);
    vms = NULL;
    /* A view of a view: what its options leave unset stays (here the deadline). */
    traced = view_of(quick, NULL, 0, TRACEPARENT);
    set_delay(sim, 2000);
    start = now_ms();
    CHECK_STATUS(xenapi_vm_get_all(traced, &vms, &err), XENAPI_STATUS_TIMEOUT, &err);
    took = now_ms() - start;
    set_delay(sim, 0);
    clear_error(&err);
    CHECK(took <= 500 + bound_ms(300));
    /* The traceparent goes with a call the server answers as usual. */
    CHECK_OK(xenapi_vm_get_all(traced, &vms, &err), &err);
    CHECK(vms != NULL && xenapi_string_list_len(vms) >= 4);
    xenapi_string_list_free(vms);
    xenapi_session_free(traced);
    xenapi_session_free(quick);
    xenapi_session_free(s);
}

/* ---- asynchronous calls ---- */

struct async_slot {
    pthread_mutex_t *lock;
    pthread_cond_t *cond;
    int *completed;
    int calls; /* how often `done` came for this slot */
    xenapi_status status;
    char result[128];
    char code[64];
    double done_at;
};

static void on_done(void *user, xenapi_status status, xenapi_value *result, xenapi_error *err) {
    struct async_slot *slot = user;
    const char *text = NULL;
    pthread_mutex_lock(slot->lock);
    slot->calls++;
    slot->status = status;
    slot->done_at = now_ms();
    slot->result[0] = slot->code[0] = '\0';
    /* Exactly one of them is given. */
    if ((result == NULL) == (err == NULL)) {
        copy_text(slot->code, sizeof slot->code, "(both or neither)");
    } else if (result != NULL && xenapi_value_get_string(result, &text, NULL) == XENAPI_STATUS_OK) {
        copy_text(slot->result, sizeof slot->result, text);
    } else if (result != NULL) {
        copy_text(slot->result, sizeof slot->result, "(not a string)");
    } else {
        CHECK(xenapi_error_status(err) == status);
        if (xenapi_error_code(err) != NULL) {
            copy_text(slot->code, sizeof slot->code, xenapi_error_code(err));
        }
    }
    (*slot->completed)++;
    pthread_cond_broadcast(slot->cond);
    pthread_mutex_unlock(slot->lock);
    xenapi_value_free(result);
    xenapi_error_free(err);
}

/* Waits until `*completed` reaches `want` or `ms` pass; returns what it reached. */
static int wait_completed(pthread_mutex_t *lock, pthread_cond_t *cond, int *completed, int want,
                          long ms) {
    double end = now_ms() + (double)ms;
    int got;
    pthread_mutex_lock(lock);
    while (*completed < want && now_ms() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(cond, lock, &ts);
    }
    got = *completed;
    pthread_mutex_unlock(lock);
    return got;
}

#define MAX_ASYNC 100
#define MAX_VMS 8

static void test_async_calls(const sim_t *sim) {
    static struct async_slot slots[MAX_ASYNC];
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
    xenapi_session *s = sim_login(sim), *temp;
    xenapi_error *err = NULL;
    xenapi_string_list *vms = NULL;
    char names[MAX_VMS][64];
    const char *bad_ref = "OpaqueRef:no-such-vm";
    int completed = 0, n = under_valgrind() ? 20 : MAX_ASYNC, failing = 37 % n, i, ok = 1;
    size_t nvms;
    CHECK_OK(xenapi_vm_get_all(s, &vms, &err), &err);
    nvms = vms != NULL ? xenapi_string_list_len(vms) : 0;
    CHECK(nvms >= 4);
    if (nvms > MAX_VMS) {
        nvms = MAX_VMS;
    }
    if (nvms < 4) {
        xenapi_string_list_free(vms);
        xenapi_session_free(s);
        return;
    }
    for (i = 0; i < (int)nvms; i++) {
        char *name = NULL;
        CHECK_OK(xenapi_vm_get_name_label(s, xenapi_string_list_get(vms, (size_t)i), &name, &err),
                 &err);
        copy_text(names[i], sizeof names[i], name != NULL ? name : "");
        xenapi_string_free(name);
    }
    /* n calls at once, each with its own argument; one of them fails. */
    for (i = 0; i < n; i++) {
        xenapi_value *arg = NULL;
        const char *ref = i == failing ? bad_ref : xenapi_string_list_get(vms, (size_t)i % nvms);
        memset(&slots[i], 0, sizeof slots[i]);
        slots[i].lock = &lock;
        slots[i].cond = &cond;
        slots[i].completed = &completed;
        CHECK_OK(xenapi_value_new_ref(ref, &arg, &err), &err);
        CHECK_OK(xenapi_session_call_async(s, "VM.get_name_label",
                                           (const xenapi_value *const *)&arg, 1, on_done, &slots[i],
                                           &err),
                 &err);
        xenapi_value_free(arg); /* copied before the call returned */
    }
    CHECK(wait_completed(&lock, &cond, &completed, n, 30000) == n);
    sleep_ms(200); /* a second `done` would come now */
    pthread_mutex_lock(&lock);
    for (i = 0; i < n; i++) {
        if (slots[i].calls != 1) {
            ok = 0;
            fprintf(stderr, "call %d: done came %d times\n", i, slots[i].calls);
        } else if (i == failing) {
            CHECK(slots[i].status == XENAPI_STATUS_API);
            CHECK(strcmp(slots[i].code, XENAPI_ERROR_HANDLE_INVALID) == 0);
        } else if (slots[i].status != XENAPI_STATUS_OK ||
                   strcmp(slots[i].result, names[(size_t)i % nvms])) {
            ok = 0;
            fprintf(stderr, "call %d: %s, %s (wanted %s)\n", i, xenapi_status_name(slots[i].status),
                    slots[i].result[0] ? slots[i].result : slots[i].code, names[(size_t)i % nvms]);
        }
    }
    CHECK(ok);
    CHECK(completed == n);
    pthread_mutex_unlock(&lock);

    /* The call keeps its session alive: the handle may be freed at once. */
    completed = 0;
    memset(&slots[0], 0, sizeof slots[0]);
    slots[0].lock = &lock;
    slots[0].cond = &cond;
    slots[0].completed = &completed;
    temp = view_of(s, NULL, 10, NULL);
    CHECK_OK(xenapi_session_call_async(temp, "VM.get_all", NULL, 0, on_done, &slots[0], &err),
             &err);
    xenapi_session_free(temp);
    CHECK(wait_completed(&lock, &cond, &completed, 1, 10000) == 1);
    CHECK(slots[0].status == XENAPI_STATUS_OK);
    xenapi_string_list_free(vms);
    xenapi_session_free(s);
    /* The last handle was the finished call's: it logs out once `done` has returned. */
    CHECK(sessions_drop_to_zero(sim));
}

static void test_async_not_logged_in(const sim_t *sim) {
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
    struct async_slot slot;
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    int completed = 0;
    memset(&slot, 0, sizeof slot);
    slot.lock = &lock;
    slot.cond = &cond;
    slot.completed = &completed;
    CHECK_OK(xenapi_options_new(sim->url, &opts, &err), &err);
    CHECK_OK(xenapi_session_new(opts, &s, &err), &err);
    CHECK_OK(xenapi_session_call_async(s, "VM.get_all", NULL, 0, on_done, &slot, &err), &err);
    CHECK(wait_completed(&lock, &cond, &completed, 1, 10000) == 1);
    CHECK(slot.status == XENAPI_STATUS_INVALID_ARGUMENT);
    xenapi_session_free(s);
    xenapi_options_free(opts);
}

static void test_async_cancel(const sim_t *sim) {
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
    struct async_slot slot;
    xenapi_session *s = sim_login(sim), *view;
    xenapi_error *err = NULL;
    xenapi_cancel *cancel = xenapi_cancel_new();
    int completed = 0;
    double fired;
    memset(&slot, 0, sizeof slot);
    slot.lock = &lock;
    slot.cond = &cond;
    slot.completed = &completed;
    view = view_of(s, cancel, 0, NULL);
    set_delay(sim, 3000);
    CHECK_OK(xenapi_session_call_async(view, "VM.get_all", NULL, 0, on_done, &slot, &err), &err);
    sleep_ms(300);
    pthread_mutex_lock(&lock);
    CHECK(completed == 0);
    pthread_mutex_unlock(&lock);
    fired = now_ms();
    xenapi_cancel_cancel(cancel);
    CHECK(wait_completed(&lock, &cond, &completed, 1, 10000) == 1);
    set_delay(sim, 0);
    CHECK(slot.status == XENAPI_STATUS_CANCELLED);
    if (slot.done_at - fired > bound_ms(200)) {
        fprintf(stderr, "the async call ended %.0f ms after its cancel\n", slot.done_at - fired);
    }
    CHECK(slot.done_at - fired <= bound_ms(200));
    /* With the cancel fired, the next asynchronous call of the view is cancelled at once. */
    completed = 0;
    CHECK_OK(xenapi_session_call_async(view, "VM.get_all", NULL, 0, on_done, &slot, &err), &err);
    CHECK(wait_completed(&lock, &cond, &completed, 1, 10000) == 1);
    CHECK(slot.status == XENAPI_STATUS_CANCELLED);
    xenapi_session_free(view);
    xenapi_cancel_free(cancel);
    xenapi_session_free(s);
}

/* ---- one deadline for a whole login, and for the logout on free ---- */

static void test_whole_operation_deadlines(const sim_t *sim) {
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    xenapi_status st;
    double start, took;
    CHECK_OK(xenapi_options_new(sim->url, &opts, &err), &err);
    CHECK_OK(xenapi_options_set_timeout_ms(opts, 2000, &err), &err);
    /* Every reply held 1.5 s: the login (which finds the protocol) and host.get_all_records for
     * the pool's members would take 3 s; one 2 s deadline for the whole connect. The members
     * are noted on a best-effort basis: the connect may succeed without them, in time. */
    set_delay(sim, 1500);
    start = now_ms();
    st = xenapi_session_connect(opts, sim->user, sim->password, &s, &err);
    took = now_ms() - start;
    set_delay(sim, 0);
    CHECK(st == XENAPI_STATUS_OK || st == XENAPI_STATUS_TIMEOUT);
    clear_error(&err);
    if (took > 2000 + bound_ms(300)) {
        fprintf(stderr, "a connect with a 2 s timeout took %.0f ms\n", took);
    }
    CHECK(took <= 2000 + bound_ms(300));
    xenapi_session_free(s);
    s = NULL;
    /* Replies held longer than the whole deadline: the connect fails in time. */
    set_delay(sim, 2500);
    start = now_ms();
    CHECK_STATUS(xenapi_session_connect(opts, sim->user, sim->password, &s, &err),
                 XENAPI_STATUS_TIMEOUT, &err);
    took = now_ms() - start;
    set_delay(sim, 0);
    clear_error(&err);
    CHECK(s == NULL);
    CHECK(took >= 1900 && took <= 2000 + bound_ms(300));
    /* The logout on free waits at most the smaller of the timeout and 5 s. */
    CHECK_OK(xenapi_options_set_timeout_ms(opts, 1000, &err), &err);
    CHECK_OK(xenapi_session_connect(opts, sim->user, sim->password, &s, &err), &err);
    set_delay(sim, 4000);
    start = now_ms();
    xenapi_session_free(s);
    took = now_ms() - start;
    set_delay(sim, 0);
    if (took > 1000 + bound_ms(300)) {
        fprintf(stderr, "free with a 1 s timeout took %.0f ms\n", took);
    }
    CHECK(took <= 1000 + bound_ms(300));
    xenapi_options_free(opts);
}

/* ---- what the server sees: User-Agent, traceparent ---- */

#define MAX_REQUESTS 16

struct tiny_server {
    int fd;
    int port;
    pthread_mutex_t lock;
    int stop;
    int count;
    char requests[MAX_REQUESTS][4096]; /* head and body of each request */
};

static const char REPLY_BODY[] =
    "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
    "<member><name>Status</name><value><string>Success</string></value></member>"
    "<member><name>Value</name><value><string>OpaqueRef:fake-session</string></value></member>"
    "</struct></value></param></params></methodResponse>";

/* Reads one request (head, then Content-Length bytes of body) into `buf`. */
static void read_request(int c, char *buf, size_t size) {
    size_t got = 0;
    long want = -1;
    while (got + 1 < size) {
        long n = (long)recv(c, buf + got, size - got - 1, 0);
        char *end, *cl;
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end == NULL) {
            continue;
        }
        if (want < 0) {
            cl = strstr(buf, "Content-Length:");
            if (cl == NULL) {
                cl = strstr(buf, "content-length:");
            }
            want = (long)(end + 4 - buf) + (cl != NULL ? atol(cl + 15) : 0);
        }
        if ((long)got >= want) {
            break;
        }
    }
    buf[got] = '\0';
}

static void *serve(void *arg) {
    struct tiny_server *srv = arg;
    for (;;) {
        struct pollfd p;
        char head[256];
        int c, stop, slot;
        static char scratch[4096];
        pthread_mutex_lock(&srv->lock);
        stop = srv->stop;
        pthread_mutex_unlock(&srv->lock);
        if (stop) {
            return NULL;
        }
        p.fd = srv->fd;
        p.events = POLLIN;
        if (poll(&p, 1, 50) <= 0) {
            continue;
        }
        c = accept(srv->fd, NULL, NULL);
        if (c < 0) {
            continue;
        }
        pthread_mutex_lock(&srv->lock);
        slot = srv->count < MAX_REQUESTS ? srv->count++ : -1;
        pthread_mutex_unlock(&srv->lock);
        read_request(c, slot >= 0 ? srv->requests[slot] : scratch, sizeof scratch);
        snprintf(head, sizeof head,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %u\r\n"
                 "Connection: close\r\n\r\n",
                 (unsigned)strlen(REPLY_BODY));
        if (send(c, head, strlen(head), 0) > 0) {
            (void)send(c, REPLY_BODY, strlen(REPLY_BODY), 0);
        }
        close(c);
    }
}

static int tiny_server_start(struct tiny_server *srv, pthread_t *t) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    memset(srv, 0, sizeof *srv);
    pthread_mutex_init(&srv->lock, NULL);
    srv->fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (srv->fd < 0 || bind(srv->fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        listen(srv->fd, 16) != 0 || getsockname(srv->fd, (struct sockaddr *)&addr, &len) != 0) {
        return -1;
    }
    srv->port = ntohs(addr.sin_port);
    return pthread_create(t, NULL, serve, srv);
}

static void tiny_server_stop(struct tiny_server *srv, pthread_t t) {
    pthread_mutex_lock(&srv->lock);
    srv->stop = 1;
    pthread_mutex_unlock(&srv->lock);
    pthread_join(t, NULL);
    close(srv->fd);
    pthread_mutex_destroy(&srv->lock);
}

/* The value of header `name` (case-insensitive) in `req`, copied to `out` ("" when absent). */
static void header_of(const char *req, const char *name, char *out, size_t size) {
    const char *line = req;
    size_t n = strlen(name);
    out[0] = '\0';
    while (line != NULL && *line != '\0' && strncmp(line, "\r\n", 2) != 0) {
        const char *eol = strstr(line, "\r\n");
        size_t i;
        int same = 1;
        for (i = 0; i < n && same; i++) {
            char a = line[i], b = name[i];
            if (a >= 'A' && a <= 'Z') {
                a = (char)(a - 'A' + 'a');
            }
            if (b >= 'A' && b <= 'Z') {
                b = (char)(b - 'A' + 'a');
            }
            same = a == b;
        }
        if (same && line[n] == ':' && eol != NULL) {
            const char *v = line + n + 1;
            size_t len;
            while (*v == ' ') {
                v++;
            }
            len = (size_t)(eol - v);
            if (len >= size) {
                len = size - 1;
            }
            memcpy(out, v, len);
            out[len] = '\0';
            return;
        }
        line = eol != NULL ? eol + 2 : NULL;
    }
}

/* Connects to the tiny server (XML-RPC, no failover: the login and the calls below are all it
 * sees), calls VM.get_all through a view with a traceparent, and checks the headers. */
static void check_headers(const char *name, const char *version, const char *want_agent) {
    struct tiny_server srv;
    pthread_t t;
    char url[64], value[256];
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL, *view;
    xenapi_error *err = NULL;
    xenapi_value *v = NULL;
    int i, calls_traced = 0, count;
    if (tiny_server_start(&srv, &t) != 0) {
        CHECK(!"the tiny server did not start");
        return;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", srv.port);
    CHECK_OK(xenapi_options_new(url, &opts, &err), &err);
    CHECK_OK(xenapi_options_set_protocol(opts, XENAPI_PROTOCOL_XMLRPC, &err), &err);
    CHECK_OK(xenapi_options_set_failover(opts, false, &err), &err);
    if (name != NULL) {
        CHECK_OK(xenapi_options_set_binding(opts, name, version, &err), &err);
    }
    CHECK_OK(xenapi_session_connect(opts, "root", "secret", &s, &err), &err);
    view = view_of(s, NULL, 0, TRACEPARENT);
    CHECK_OK(xenapi_session_call(view, "VM.get_all", NULL, 0, &v, &err), &err);
    xenapi_value_free(v);
    xenapi_session_free(view);
    xenapi_session_free(s); /* logs out: one more request */
    xenapi_options_free(opts);
    tiny_server_stop(&srv, t);
    count = srv.count;
    CHECK(count >= 3); /* login, VM.get_all, logout */
    for (i = 0; i < count; i++) {
        header_of(srv.requests[i], "User-Agent", value, sizeof value);
        if (strncmp(value, want_agent, strlen(want_agent)) != 0) {
            fprintf(stderr, "request %d: User-Agent \"%s\", wanted \"%s...\"\n", i, value,
                    want_agent);
            CHECK(!"the User-Agent names the binding");
        }
        header_of(srv.requests[i], "traceparent", value, sizeof value);
        if (strstr(srv.requests[i], "VM.get_all") != NULL) {
            if (strcmp(value, TRACEPARENT) != 0) {
                fprintf(stderr, "VM.get_all through the view: traceparent \"%s\"\n", value);
            }
            calls_traced += strcmp(value, TRACEPARENT) == 0;
        } else {
            CHECK(value[0] == '\0'); /* the session's own calls carry none */
        }
    }
    CHECK(calls_traced == 1);
}

static void test_user_agent(void) {
    char want[128];
    snprintf(want, sizeof want, "libxenapi/%s xenapi-rs/", xenapi_version());
    check_headers(NULL, NULL, want);
    check_headers("XenApi.NET", "24.1.0", "XenApi.NET/24.1.0 xenapi-rs/");
    check_headers("my app", "1 (beta)", "my_app/1__beta_ xenapi-rs/");
}

int main(void) {
    sim_t sim;
    if (sim_of_dialect(&sim, "xapi") != 0) {
        return 2;
    }
    test_arguments(&sim);
    test_cancel(&sim);
    test_view_timeout(&sim);
    test_async_calls(&sim);
    test_async_not_logged_in(&sim);
    test_async_cancel(&sim);
    test_whole_operation_deadlines(&sim);
    test_user_agent();
    return finish("test_call_options");
}
