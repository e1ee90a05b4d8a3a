/*
 * One session shared by 64 threads, 200 VM.get_power_state calls each, with no error (issue 10's
 * load check). Under valgrind ($XENAPI_TEST_ROUNDS set) each thread makes 5 x ROUNDS calls.
 *
 * `test_load URL CALLS THREADS...` is the bench instead: against a running server, one line per
 * thread count, `c THREADS CALLS_PER_SECOND ERRORS` (make load-bench).
 */
#include "harness.h"

#include <pthread.h>
#include <time.h>

#define MAX_THREADS 256

typedef struct {
    xenapi_session *session;
    const char *vm;
    int calls;
    int failures;
} worker_t;

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open = 0;

static void *work(void *arg) {
    worker_t *w = arg;
    xenapi_error *err = NULL;
    int i;
    pthread_mutex_lock(&gate_lock);
    while (!gate_open) {
        pthread_cond_wait(&gate_cond, &gate_lock);
    }
    pthread_mutex_unlock(&gate_lock);
    for (i = 0; i < w->calls; i++) {
        xenapi_vm_power_state st;
        if (xenapi_vm_get_power_state(w->session, w->vm, &st, &err) != XENAPI_STATUS_OK) {
            if (w->failures++ < 3) {
                fprintf(stderr, "VM.get_power_state: %s\n", err_text(&err));
            }
            clear_error(&err);
        }
    }
    return NULL;
}

/* Runs `n` threads of `calls` calls on `s`; returns the failures, and the seconds in `secs`. */
static int run(xenapi_session *s, const char *vm, int n, int calls, double *secs) {
    pthread_t threads[MAX_THREADS];
    worker_t workers[MAX_THREADS];
    struct timespec t0, t1;
    int i, failures = 0;
    gate_open = 0;
    for (i = 0; i < n; i++) {
        workers[i].session = s;
        workers[i].vm = vm;
        workers[i].calls = calls;
        workers[i].failures = 0;
        if (pthread_create(&threads[i], NULL, work, &workers[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return -1;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_mutex_lock(&gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    for (i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
        failures += workers[i].failures;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return failures;
}

/* The first VM's reference, copied into `buf`. */
static int first_vm(xenapi_session *s, char *buf, size_t len) {
    xenapi_string_list *vms = NULL;
    xenapi_error *err = NULL;
    if (xenapi_vm_get_all(s, &vms, &err) != XENAPI_STATUS_OK || xenapi_string_list_len(vms) == 0) {
        fprintf(stderr, "VM.get_all: %s\n", err_text(&err));
        clear_error(&err);
        xenapi_string_list_free(vms);
        return -1;
    }
    copy_text(buf, len, xenapi_string_list_get(vms, 0));
    xenapi_string_list_free(vms);
    return 0;
}

static int bench(int argc, char **argv) {
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    char vm[128];
    int calls = argc > 2 ? atoi(argv[2]) : 200, i, failed = 0;
    if (xenapi_options_new(argv[1], &opts, &err) != XENAPI_STATUS_OK ||
        xenapi_session_connect(opts, "root", "password", &s, &err) != XENAPI_STATUS_OK) {
        fprintf(stderr, "login failed: %s\n", err_text(&err));
        return 1;
    }
    xenapi_options_free(opts);
    if (first_vm(s, vm, sizeof vm) != 0) {
        return 1;
    }
    for (i = 3; i < argc; i++) {
        int n = atoi(argv[i]);
        double secs = 0;
        int failures;
        if (n < 1 || n > MAX_THREADS) {
            continue;
        }
        failures = run(s, vm, n, calls, &secs);
        printf("c %d %.0f %d\n", n, (double)n * calls / secs, failures);
        fflush(stdout);
        failed |= failures != 0;
    }
    xenapi_session_free(s);
    return failed;
}

int main(int argc, char **argv) {
    sim_t sim;
    xenapi_session *s;
    char vm[128];
    int calls = 200;
    double secs = 0;

    if (argc > 1) {
        return bench(argc, argv);
    }
    if (getenv("XENAPI_TEST_ROUNDS") != NULL && atoi(getenv("XENAPI_TEST_ROUNDS")) > 0) {
        calls = 5 * atoi(getenv("XENAPI_TEST_ROUNDS"));
    }
    if (sim_of_dialect(&sim, "xapi") != 0) {
        return 1;
    }
    s = sim_login(&sim);
    CHECK(s != NULL);
    if (s == NULL) {
        return finish("load");
    }
    CHECK(first_vm(s, vm, sizeof vm) == 0);
    CHECK(run(s, vm, 64, calls, &secs) == 0);
    printf("64 threads x %d calls: %.0f calls/s\n", calls, 64.0 * calls / secs);
    CHECK(sim_sessions(&sim) == 1);
    xenapi_session_free(s);
    CHECK(sim_sessions(&sim) == 0);
    return finish("load");
}
