/*
 * The live object cache through the C ABI against xenapi-sim: full at once (every VM record
 * equal to VM.get_record, read typed with xenapi_vm_record_from_value), changes in order with
 * their typed records, a refetch after EVENTS_LOST, a re-login after session expiry, a prompt
 * close, and the argument checks. Valgrind-clean (make ffi-valgrind).
 */
#include "harness.h"

#include <time.h>

/* The first change for `ref` whose record's power state is `state` (or any change of `kind`
 * when ref is NULL), waiting up to 10 s; the caller frees it. NULL when none came. */
static xenapi_cache_change *wait_change(xenapi_cache *cache, const char *ref, int state,
                                        xenapi_change_kind kind) {
    int i;
    xenapi_error *err = NULL;
    for (i = 0; i < 50; i++) {
        xenapi_cache_change *c = NULL;
        CHECK_OK(xenapi_cache_next_change(cache, 200, &c, &err), &err);
        if (c == NULL) {
            continue;
        }
        if (ref == NULL && xenapi_cache_change_kind(c) == kind) {
            return c;
        }
        if (ref != NULL && strcmp(xenapi_cache_change_ref(c), ref) == 0 &&
            xenapi_cache_change_record(c) != NULL) {
            xenapi_vm_record *rec = NULL;
            int ps;
            CHECK_OK(xenapi_vm_record_from_value(xenapi_cache_change_record(c), &rec, &err), &err);
            ps = xenapi_vm_record_power_state(rec);
            xenapi_vm_record_free(rec);
            if (ps == state) {
                return c;
            }
        }
        xenapi_cache_change_free(c);
    }
    return NULL;
}

static char *vm_named(xenapi_session *s, const char *name) {
    xenapi_string_list *l = NULL;
    xenapi_error *err = NULL;
    char *out = NULL;
    CHECK_OK(xenapi_vm_get_by_name_label(s, name, &l, &err), &err);
    if (l != NULL && xenapi_string_list_len(l) == 1) {
        const char *r = xenapi_string_list_get(l, 0);
        out = malloc(strlen(r) + 1);
        strcpy(out, r);
    }
    xenapi_string_list_free(l);
    return out;
}

static void test_fill_and_records(xenapi_session *s, xenapi_cache *cache) {
    xenapi_string_list *refs = NULL, *server = NULL;
    xenapi_error *err = NULL;
    xenapi_value *v = NULL;
    size_t i;
    CHECK_OK(xenapi_cache_refs(cache, "VM", &refs, &err), &err);
    CHECK_OK(xenapi_vm_get_all(s, &server, &err), &err);
    CHECK(refs != NULL && server != NULL &&
          xenapi_string_list_len(refs) == xenapi_string_list_len(server));
    for (i = 0; refs != NULL && i < xenapi_string_list_len(refs); i++) {
        const char *r = xenapi_string_list_get(refs, i);
        xenapi_vm_record *cached = NULL, *live = NULL;
        CHECK_OK(xenapi_cache_get(cache, "VM", r, &v, &err), &err);
        CHECK(v != NULL);
        CHECK_OK(xenapi_vm_record_from_value(v, &cached, &err), &err);
        CHECK_OK(xenapi_vm_get_record(s, r, &live, &err), &err);
        if (cached != NULL && live != NULL) {
            CHECK(strcmp(xenapi_vm_record_uuid(cached), xenapi_vm_record_uuid(live)) == 0);
            CHECK(strcmp(xenapi_vm_record_name_label(cached), xenapi_vm_record_name_label(live)) ==
                  0);
            CHECK(xenapi_vm_record_power_state(cached) == xenapi_vm_record_power_state(live));
            CHECK(xenapi_vm_record_memory_static_max(cached) ==
                  xenapi_vm_record_memory_static_max(live));
        }
        xenapi_vm_record_free(cached);
        xenapi_vm_record_free(live);
        xenapi_value_free(v);
        v = NULL;
    }
    xenapi_string_list_free(refs);
    xenapi_string_list_free(server);
    /* host is followed too; an unknown object is no error, just NULL. */
    CHECK_OK(xenapi_cache_refs(cache, "host", &refs, &err), &err);
    CHECK(refs != NULL && xenapi_string_list_len(refs) == 1);
    xenapi_string_list_free(refs);
    v = (xenapi_value *)1;
    CHECK_OK(xenapi_cache_get(cache, "VM", "OpaqueRef:nosuch", &v, &err), &err);
    CHECK(v == NULL);
}

/* The power state of `vm` in a snapshot, or -1. */
static int snapshot_power_state(const xenapi_cache_snapshot *snap, const char *vm) {
    xenapi_error *err = NULL;
    xenapi_value *v = NULL;
    xenapi_vm_record *rec = NULL;
    int state = -1;
    CHECK_OK(xenapi_cache_snapshot_get(snap, "VM", vm, &v, &err), &err);
    if (v != NULL) {
        CHECK_OK(xenapi_vm_record_from_value(v, &rec, &err), &err);
    }
    if (rec != NULL) {
        state = (int)xenapi_vm_record_power_state(rec);
    }
    xenapi_vm_record_free(rec);
    xenapi_value_free(v);
    return state;
}

static void test_changes(const sim_t *sim, xenapi_session *s, xenapi_cache *cache) {
    xenapi_error *err = NULL;
    xenapi_cache_snapshot *before = NULL, *after = NULL;
    xenapi_string_list *refs = NULL;
    xenapi_cache_change *c;
    xenapi_cache_stats st;
    char buf[512];
    char *vm = vm_named(s, "vm02");
    CHECK(vm != NULL);
    if (vm == NULL) {
        return;
    }
    CHECK_OK(xenapi_cache_take_snapshot(cache, &before, &err), &err);
    CHECK_OK(xenapi_vm_start(s, vm, false, false, &err), &err);
    c = wait_change(cache, vm, XENAPI_VM_POWER_STATE_RUNNING, XENAPI_CHANGE_KIND_MOD);
    CHECK(c != NULL);
    if (c != NULL) {
        CHECK(xenapi_cache_change_kind(c) == XENAPI_CHANGE_KIND_MOD);
        CHECK(strcmp(xenapi_cache_change_class(c), "VM") == 0);
    }
    xenapi_cache_change_free(c);
    /* A snapshot keeps the moment it was taken; a new one sees the change. */
    CHECK(snapshot_power_state(before, vm) == XENAPI_VM_POWER_STATE_HALTED);
    CHECK_OK(xenapi_cache_take_snapshot(cache, &after, &err), &err);
    CHECK(snapshot_power_state(after, vm) == XENAPI_VM_POWER_STATE_RUNNING);
    CHECK_OK(xenapi_cache_snapshot_refs(before, "VM", &refs, &err), &err);
    CHECK(refs != NULL && xenapi_string_list_len(refs) > 0);
    xenapi_string_list_free(refs);
    xenapi_cache_snapshot_free(before);
    xenapi_cache_snapshot_free(after);

    /* Lost events: everything is read again, and subscribers told. */
    sim_http(sim, "POST", "/sim/events-lost", buf, sizeof buf);
    c = wait_change(cache, NULL, 0, XENAPI_CHANGE_KIND_REFETCHED);
    CHECK(c != NULL);
    if (c != NULL) {
        CHECK(strcmp(xenapi_cache_change_class(c), "") == 0);
        CHECK(xenapi_cache_change_record(c) == NULL);
    }
    xenapi_cache_change_free(c);
    st = xenapi_cache_status(cache);
    CHECK(st.refetches >= 1);

    /* An expired session: the cache's next call logs in again and goes on. */
    sim_http(sim, "POST", "/sim/expire-sessions", buf, sizeof buf);
    CHECK_OK(xenapi_vm_pause(s, vm, &err), &err);
    c = wait_change(cache, vm, XENAPI_VM_POWER_STATE_PAUSED, XENAPI_CHANGE_KIND_MOD);
    CHECK(c != NULL);
    xenapi_cache_change_free(c);
    st = xenapi_cache_status(cache);
    CHECK(st.connected && st.events >= 2);
    free(vm);
}

static void test_close(xenapi_cache *cache) {
    xenapi_error *err = NULL;
    xenapi_cache_change *c = (xenapi_cache_change *)1;
    struct timespec t0, t1;
    double secs;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    xenapi_cache_close(cache);
    xenapi_cache_close(cache); /* harmless twice */
    CHECK(xenapi_cache_is_closed(cache));
    /* Drain what was queued; then none, at once. */
    do {
        xenapi_cache_change_free(c == (xenapi_cache_change *)1 ? NULL : c);
        c = NULL;
        CHECK_OK(xenapi_cache_next_change(cache, 5000, &c, &err), &err);
    } while (c != NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK(secs < 4.0); /* the poll waits up to 30 s: close ends it (generous under valgrind) */
}

static void test_arguments(xenapi_session *s) {
    xenapi_error *err = NULL;
    xenapi_cache *cache = NULL;
    const char *bad[] = {"VM", "nosuch"};
    const char *one[] = {"VM"};
    xenapi_vm_record *rec = NULL;
    CHECK_STATUS(xenapi_cache_new(NULL, one, 1, &cache, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_cache_new(s, one, 1, NULL, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_cache_new(s, NULL, 1, &cache, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_cache_new(s, bad, 2, &cache, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
    CHECK(err != NULL && strstr(xenapi_error_message(err), "nosuch") != NULL);
    clear_error(&err);
    CHECK_STATUS(xenapi_cache_new_with_options(s, one, 1, 0.0, 10, &cache, &err),
                 XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    CHECK(cache == NULL);
    CHECK_STATUS(xenapi_cache_next_change(NULL, 0, NULL, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_vm_record_from_value(NULL, &rec, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK(xenapi_cache_is_closed(NULL));
    CHECK(xenapi_cache_change_kind(NULL) == XENAPI_CHANGE_KIND_MISSED);
    CHECK(xenapi_cache_change_ref(NULL) == NULL && xenapi_cache_change_record(NULL) == NULL);
    CHECK(xenapi_cache_status(NULL).polls == 0);
    xenapi_cache_close(NULL);
    xenapi_cache_free(NULL);
    xenapi_cache_change_free(NULL);
}

/* xend has no event.from: the cache registers and follows event.next. */
static void test_xend(const sim_t *sim) {
    xenapi_session *s = sim_login(sim);
    const char *classes[] = {"VM"};
    xenapi_cache *cache = NULL;
    xenapi_error *err = NULL;
    xenapi_cache_change *c;
    char *vm;
    CHECK(s != NULL);
    if (s == NULL) {
        return;
    }
    CHECK_OK(xenapi_cache_new(s, classes, 1, &cache, &err), &err);
    vm = vm_named(s, "vm02");
    if (cache != NULL && vm != NULL) {
        CHECK_OK(xenapi_vm_start(s, vm, false, false, &err), &err);
        c = wait_change(cache, vm, XENAPI_VM_POWER_STATE_RUNNING, XENAPI_CHANGE_KIND_MOD);
        CHECK(c != NULL);
        xenapi_cache_change_free(c);
    }
    free(vm);
    xenapi_cache_free(cache);
    xenapi_session_free(s);
}

int main(void) {
    sim_t sim, xend;
    const char *classes[] = {"VM", "host"};
    xenapi_session *s;
    xenapi_cache *cache = NULL;
    xenapi_error *err = NULL;
    if (sim_of_dialect(&sim, "xapi") != 0 || sim_of_dialect(&xend, "xend") != 0) {
        return 1;
    }
    s = sim_login(&sim);
    CHECK(s != NULL);
    if (s != NULL) {
        /* The default poll: 30 s, ended at once by close. */
        CHECK_OK(xenapi_cache_new(s, classes, 2, &cache, &err), &err);
        if (cache != NULL) {
            test_fill_and_records(s, cache);
            test_changes(&sim, s, cache);
            test_close(cache);
        }
        xenapi_cache_free(cache);
        test_arguments(s);
        xenapi_session_free(s);
    }
    /* The cache's session is the caller's: logged out with it, none left on the server. */
    CHECK(sim_sessions(&sim) == 0);
    test_xend(&xend);
    return finish("test_cache");
}
