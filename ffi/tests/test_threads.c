/*
 * 8 threads share one session: each lists VMs, reads power states, methods and metrics, drives
 * its own VM through start/pause/unpause/shutdown, and makes failing calls, all at once. The
 * server's session count shows that they shared one login, and freeing it logs out.
 */
#include "harness.h"

#include <pthread.h>

#define THREADS 8

/* Rounds per thread: 5, or $XENAPI_TEST_ROUNDS (fewer under valgrind, which runs one thread at a
 * time). */
static int rounds = 5;

typedef struct {
    xenapi_session *session;
    char vm[96];
    int failures;
} worker_t;

static void *work(void *arg) {
    worker_t *w = arg;
    xenapi_error *err = NULL;
    int r;
    for (r = 0; r < rounds; r++) {
        xenapi_vm_record_map *vms = NULL;
        xenapi_string_list *methods = NULL;
        xenapi_vm_power_state st;
        xenapi_value *result = NULL;
        if (xenapi_vm_get_all_records(w->session, &vms, &err) != XENAPI_STATUS_OK ||
            xenapi_vm_record_map_len(vms) < THREADS) {
            w->failures++;
            fprintf(stderr, "thread list: %s\n", err_text(&err));
            clear_error(&err);
        }
        xenapi_vm_record_map_free(vms);
        if (xenapi_host_list_methods(w->session, &methods, &err) != XENAPI_STATUS_OK) {
            w->failures++;
            clear_error(&err);
        }
        xenapi_string_list_free(methods);
        if (xenapi_vm_start(w->session, w->vm, false, false, &err) != XENAPI_STATUS_OK ||
            xenapi_vm_pause(w->session, w->vm, &err) != XENAPI_STATUS_OK ||
            xenapi_vm_get_power_state(w->session, w->vm, &st, &err) != XENAPI_STATUS_OK ||
            st != XENAPI_VM_POWER_STATE_PAUSED ||
            xenapi_vm_unpause(w->session, w->vm, &err) != XENAPI_STATUS_OK ||
            xenapi_vm_hard_shutdown(w->session, w->vm, &err) != XENAPI_STATUS_OK) {
            w->failures++;
            fprintf(stderr, "thread power ops on %s: %s\n", w->vm, err_text(&err));
            clear_error(&err);
        }
        /* Errors from several threads at once stay separate. */
        if (xenapi_vm_unpause(w->session, w->vm, &err) != XENAPI_STATUS_API ||
            strcmp(xenapi_error_code(err), "VM_BAD_POWER_STATE") != 0 ||
            strcmp(xenapi_error_param(err, 0), w->vm) != 0) {
            w->failures++;
        }
        clear_error(&err);
        if (xenapi_session_call(w->session, "no.such", NULL, 0, &result, &err) != XENAPI_STATUS_API) {
            w->failures++;
        }
        clear_error(&err);
    }
    return NULL;
}

int main(void) {
    sim_t sim;
    xenapi_session *s;
    xenapi_vm_record_map *vms = NULL;
    xenapi_error *err = NULL;
    pthread_t threads[THREADS];
    worker_t workers[THREADS];
    size_t i, n = 0;

    if (getenv("XENAPI_TEST_ROUNDS") != NULL && atoi(getenv("XENAPI_TEST_ROUNDS")) > 0) {
        rounds = atoi(getenv("XENAPI_TEST_ROUNDS"));
    }
    if (sim_of_dialect(&sim, "xapi") != 0) {
        return 1;
    }
    s = sim_login(&sim);
    CHECK(s != NULL);
    if (s == NULL) {
        return finish("threads");
    }
    /* One halted guest per thread. */
    CHECK_OK(xenapi_vm_get_all_records(s, &vms, &err), &err);
    for (i = 0; i < xenapi_vm_record_map_len(vms) && n < THREADS; i++) {
        const xenapi_vm_record *rec = xenapi_vm_record_map_value(vms, i);
        if (!xenapi_vm_record_is_a_template(rec) &&
            xenapi_vm_record_power_state(rec) == XENAPI_VM_POWER_STATE_HALTED) {
            workers[n].session = s;
            workers[n].failures = 0;
            copy_text(workers[n].vm, sizeof workers[n].vm, xenapi_vm_record_map_key(vms, i));
            n++;
        }
    }
    xenapi_vm_record_map_free(vms);
    CHECK(n == THREADS);
    for (i = 0; i < n; i++) {
        CHECK(pthread_create(&threads[i], NULL, work, &workers[i]) == 0);
    }
    for (i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
        CHECK(workers[i].failures == 0);
    }
    CHECK(sim_sessions(&sim) == 1);
    xenapi_session_free(s);
    CHECK(sim_sessions(&sim) == 0);
    return finish("threads");
}
