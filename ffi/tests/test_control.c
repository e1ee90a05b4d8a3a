/*
 * Issue 13 through libxenapi: typed task waits (event.from on xapi, polling on xend), the
 * deadline and a cancel from another thread (both cancel and destroy the task), pool failover
 * (the simulator's HA control: the next call goes to the new coordinator; a side-effect call in
 * flight is not sent again), per-call deadlines and the cap on calls in flight.
 *
 * Simulators (ffi/ffi.mk): XENAPI and XEND with slow tasks (--task-delay-ms 800), POOL with
 * four hosts (127.0.0.1 to 127.0.0.4, one port).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <time.h>

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* A number member of the simulator's stats, or -1. */
static long stat_of(const char *ip, int port, const char *name) {
    char buf[1024], key[64];
    const char *p;
    if (http_at(ip, port, "GET", "/sim/stats", buf, sizeof buf) != 0) {
        return -1;
    }
    snprintf(key, sizeof key, "\"%s\":", name);
    p = strstr(buf, key);
    return p ? atol(p + strlen(key)) : -1;
}

static void set_delay(const char *ip, int port, int ms) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/sim/delay?ms=%d", ms);
    CHECK(http_at(ip, port, "POST", path, buf, sizeof buf) == 0);
}

/* The reference of the VM named `name` (owned), or NULL. */
static char *vm_named(xenapi_session *s, const char *name) {
    xenapi_error *err = NULL;
    xenapi_string_list *refs = NULL;
    char *out = NULL;
    CHECK_OK(xenapi_vm_get_by_name_label(s, name, &refs, &err), &err);
    if (refs != NULL && xenapi_string_list_len(refs) == 1) {
        out = strdup(xenapi_string_list_get(refs, 0));
    }
    xenapi_string_list_free(refs);
    return out;
}

static int task_exists(xenapi_session *s, const char *task) {
    xenapi_error *err = NULL;
    xenapi_string_list *tasks = NULL;
    size_t i;
    int found = 0;
    CHECK_OK(xenapi_task_get_all(s, &tasks, &err), &err);
    for (i = 0; tasks != NULL && i < xenapi_string_list_len(tasks); i++) {
        found |= strcmp(xenapi_string_list_get(tasks, i), task) == 0;
    }
    xenapi_string_list_free(tasks);
    return found;
}

struct canceller {
    xenapi_cancel *cancel;
};

static void *cancel_soon(void *arg) {
    struct canceller *c = arg;
    sleep_ms(200);
    xenapi_cancel_cancel(c->cancel);
    return NULL;
}

static void test_task_waits(const sim_t *sim) {
    xenapi_session *s = sim_login(sim);
    xenapi_error *err = NULL;
    char *vm, *task = NULL, *copy = NULL, *name = NULL;
    xenapi_vm_power_state st;
    xenapi_value *v = NULL;
    xenapi_cancel *cancel;
    struct canceller c;
    pthread_t t;
    int xapi = strcmp(sim->dialect, "xapi") == 0;
    CHECK(s != NULL);
    if (s == NULL) {
        return;
    }
    vm = vm_named(s, "vm02");
    CHECK(vm != NULL);
    if (vm == NULL) {
        xenapi_session_free(s);
        return;
    }
    if (xapi) {
        /* Success, the result typed as VM.clone's: a VM ref. */
        CHECK_OK(xenapi_async_vm_clone(s, vm, "copy", &task, &err), &err);
        CHECK_OK(xenapi_async_vm_clone_wait(s, task, 20, NULL, &copy, &err), &err);
        CHECK_OK(xenapi_vm_get_name_label(s, copy, &name, &err), &err);
        CHECK(name != NULL && strcmp(name, "copy") == 0);
        CHECK(!task_exists(s, task));
        xenapi_string_free(name);
        xenapi_string_free(copy);
        xenapi_string_free(task);
    }
    /* The deadline: cancelled and destroyed, and the VM did not start. */
    CHECK_OK(xenapi_async_vm_start(s, vm, false, false, &task, &err), &err);
    CHECK_STATUS(xenapi_async_vm_start_wait(s, task, 0.2, NULL, &err), XENAPI_STATUS_TIMEOUT, &err);
    CHECK(err != NULL && strstr(xenapi_error_message(err), "cancelled") != NULL &&
          strstr(xenapi_error_message(err), "destroyed") != NULL);
    clear_error(&err);
    CHECK(!task_exists(s, task));
    xenapi_string_free(task);
    /* A cancel from another thread. */
    cancel = xenapi_cancel_new();
    c.cancel = cancel;
    CHECK_OK(xenapi_async_vm_start(s, vm, false, false, &task, &err), &err);
    CHECK(pthread_create(&t, NULL, cancel_soon, &c) == 0);
    CHECK_STATUS(xenapi_async_vm_start_wait(s, task, 30, cancel, &err), XENAPI_STATUS_API, &err);
    CHECK(err != NULL && strcmp(xenapi_error_code(err), XENAPI_ERROR_TASK_CANCELLED) == 0);
    clear_error(&err);
    pthread_join(t, NULL);
    CHECK(!task_exists(s, task));
    xenapi_string_free(task);
    xenapi_cancel_free(cancel);
    sleep_ms(900);
    CHECK_OK(xenapi_vm_get_power_state(s, vm, &st, &err), &err);
    CHECK(st == XENAPI_VM_POWER_STATE_HALTED);
    /* Success of a void message, then its failure with the error code (untyped wait too). */
    CHECK_OK(xenapi_async_vm_start(s, vm, false, false, &task, &err), &err);
    CHECK_OK(xenapi_async_vm_start_wait(s, task, 20, NULL, &err), &err);
    xenapi_string_free(task);
    CHECK_OK(xenapi_vm_get_power_state(s, vm, &st, &err), &err);
    CHECK(st == XENAPI_VM_POWER_STATE_RUNNING);
    CHECK_OK(xenapi_async_vm_start(s, vm, false, false, &task, &err), &err);
    CHECK_STATUS(xenapi_task_wait_cancellable(s, task, 20, NULL, &v, &err), XENAPI_STATUS_API,
                 &err);
    CHECK(err != NULL && strcmp(xenapi_error_code(err), XENAPI_ERROR_VM_BAD_POWER_STATE) == 0);
    clear_error(&err);
    CHECK(v == NULL && !task_exists(s, task));
    xenapi_string_free(task);
    free(vm);
    xenapi_session_free(s);
}

struct clone_call {
    xenapi_session *s;
    const char *vm;
    xenapi_status status;
    char message[512];
};

static void *clone_in_flight(void *arg) {
    struct clone_call *c = arg;
    xenapi_error *err = NULL;
    char *copy = NULL;
    c->status = xenapi_vm_clone(c->s, c->vm, "in-flight", &copy, &err);
    if (err != NULL) {
        copy_text(c->message, sizeof c->message, xenapi_error_message(err));
    }
    xenapi_error_free(err);
    xenapi_string_free(copy);
    return NULL;
}

static void test_failover(const sim_t *pool) {
    xenapi_session *s = sim_login(pool);
    xenapi_error *err = NULL;
    xenapi_string_list *vms = NULL;
    char buf[512], *url = NULL, *vm, want[128];
    struct clone_call c;
    pthread_t t;
    long logins;
    CHECK(s != NULL);
    if (s == NULL) {
        return;
    }
    logins = stat_of("127.0.0.1", pool->port, "logins");
    CHECK(http_at("127.0.0.1", pool->port, "POST", "/sim/failover", buf, sizeof buf) == 0);
    CHECK(strstr(buf, "127.0.0.2") != NULL);
    /* The next call goes to the new coordinator, after a login there. */
    CHECK_OK(xenapi_vm_get_all(s, &vms, &err), &err);
    CHECK(vms != NULL && xenapi_string_list_len(vms) > 0);
    xenapi_string_list_free(vms);
    CHECK_OK(xenapi_session_get_url(s, &url, &err), &err);
    snprintf(want, sizeof want, "http://127.0.0.2:%d/", pool->port);
    CHECK(url != NULL && strcmp(url, want) == 0);
    xenapi_string_free(url);
    CHECK(stat_of("127.0.0.2", pool->port, "logins") == logins + 1);

    /* A side-effect call in flight when the coordinator dies is not sent again. */
    vm = vm_named(s, "vm02");
    CHECK(vm != NULL);
    set_delay("127.0.0.2", pool->port, 2000);
    memset(&c, 0, sizeof c);
    c.s = s;
    c.vm = vm;
    CHECK(pthread_create(&t, NULL, clone_in_flight, &c) == 0);
    sleep_ms(700); /* the call is in the server's hands (valgrind too) */
    CHECK(http_at("127.0.0.2", pool->port, "POST", "/sim/failover?to=3", buf, sizeof buf) == 0);
    set_delay("127.0.0.3", pool->port, 0);
    pthread_join(t, NULL);
    CHECK(c.status == XENAPI_STATUS_CONNECT);
    CHECK(strstr(c.message, "may have been carried out") != NULL);
    CHECK_OK(xenapi_vm_get_by_name_label(s, "in-flight", &vms, &err), &err);
    CHECK(vms != NULL && xenapi_string_list_len(vms) == 1); /* done once, not twice */
    xenapi_string_list_free(vms);
    free(vm);
    xenapi_session_free(s);
}

static void test_failover_off(const sim_t *pool) {
    /* POOL has failed over twice: the coordinator is host 3 on 127.0.0.3. */
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    xenapi_string_list *vms = NULL;
    char url[128], buf[256];
    snprintf(url, sizeof url, "http://127.0.0.3:%d/", pool->port);
    CHECK_OK(xenapi_options_new(url, &opts, &err), &err);
    CHECK_OK(xenapi_options_set_failover(opts, false, &err), &err);
    CHECK_OK(xenapi_session_connect(opts, pool->user, pool->password, &s, &err), &err);
    CHECK(http_at("127.0.0.3", pool->port, "POST", "/sim/failover?to=4", buf, sizeof buf) == 0);
    CHECK_STATUS(xenapi_vm_get_all(s, &vms, &err), XENAPI_STATUS_CONNECT, &err);
    clear_error(&err);
    xenapi_session_free(s);
    xenapi_options_free(opts);
}

struct get_all_call {
    xenapi_session *s;
    xenapi_status status;
};

static void *get_all(void *arg) {
    struct get_all_call *c = arg;
    xenapi_error *err = NULL;
    xenapi_string_list *vms = NULL;
    c->status = xenapi_vm_get_all(c->s, &vms, &err);
    xenapi_error_free(err);
    xenapi_string_list_free(vms);
    return NULL;
}

static void test_call_control(const sim_t *sim) {
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL, *slow = NULL, *quick = NULL;
    xenapi_error *err = NULL;
    xenapi_string_list *vms = NULL;
    xenapi_value *v = NULL;
    struct get_all_call calls[10];
    pthread_t t[10];
    int i;
    CHECK_OK(xenapi_options_new(sim->url, &opts, &err), &err);
    CHECK_OK(xenapi_options_set_max_concurrent_calls(opts, 3, &err), &err);
    CHECK_STATUS(xenapi_options_set_max_concurrent_calls(opts, 0, &err),
                 XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    CHECK_OK(xenapi_session_connect(opts, sim->user, sim->password, &s, &err), &err);
    CHECK(xenapi_session_get_max_concurrent_calls(s) == 3);
    /* A per-call deadline, shorter and longer than the session's. */
    set_delay("127.0.0.1", sim->port, 1000);
    CHECK_OK(xenapi_session_with_timeout(s, 0.3, &quick, &err), &err);
    CHECK_OK(xenapi_session_with_timeout(s, 10, &slow, &err), &err);
    CHECK_STATUS(xenapi_vm_get_all(quick, &vms, &err), XENAPI_STATUS_TIMEOUT, &err);
    clear_error(&err);
    CHECK_OK(xenapi_vm_get_all(slow, &vms, &err), &err);
    xenapi_string_list_free(vms);
    vms = NULL;
    CHECK_STATUS(xenapi_session_call_with_timeout(s, "VM.get_all", NULL, 0, 0.3, &v, &err),
                 XENAPI_STATUS_TIMEOUT, &err);
    clear_error(&err);
    CHECK_OK(xenapi_session_call_with_timeout(s, "VM.get_all", NULL, 0, 10, &v, &err), &err);
    xenapi_value_free(v);
    xenapi_session_free(quick);
    xenapi_session_free(slow);
    /* The cap: 10 threads, 3 calls at once. */
    set_delay("127.0.0.1", sim->port, 150);
    for (i = 0; i < 10; i++) {
        calls[i].s = s;
        CHECK(pthread_create(&t[i], NULL, get_all, &calls[i]) == 0);
    }
    for (i = 0; i < 10; i++) {
        pthread_join(t[i], NULL);
        CHECK(calls[i].status == XENAPI_STATUS_OK);
    }
    CHECK(stat_of("127.0.0.1", sim->port, "max_in_flight") == 3);
    set_delay("127.0.0.1", sim->port, 0);
    xenapi_session_free(s);
    xenapi_options_free(opts);
    CHECK(sim_sessions(sim) == 0); /* the views' frees did not log out; the last one did */
}

int main(void) {
    sim_t xapi, xend, pool;
    if (sim_of_dialect(&xapi, "xapi") != 0 || sim_of_dialect(&xend, "xend") != 0 ||
        sim_get(&pool, "POOL") != 0) {
        return 1;
    }
    test_task_waits(&xapi);
    test_task_waits(&xend);
    test_failover(&pool);
    test_failover_off(&pool);
    test_call_control(&xapi);
    return finish("control");
}
