/*
 * The talk's whole scenario through libxenapi's generated API, against xenapi-sim in both
 * dialects (xapi and xend): log in, list methods, list VMs, every power operation, CPU and
 * memory use, dmesg, the log, a generic call, an Async call with task wait, event.from, log out;
 * and the value API round trip.
 */
#include "harness.h"

static void test_values(void) {
    xenapi_error *err = NULL;
    xenapi_value *st = xenapi_value_new_struct();
    xenapi_value *arr = xenapi_value_new_array();
    xenapi_value *v = NULL, *copy;
    const char *text = NULL;
    const uint8_t *bytes = NULL;
    size_t len = 0;
    int64_t i = 0;
    double d = 0;
    bool b = false;
    char *dbg = NULL;
    static const uint8_t raw[3] = {1, 2, 255};

    CHECK_OK(xenapi_value_new_string("héllo", &v, &err), &err);
    CHECK_OK(xenapi_value_struct_set(st, "name", v, &err), &err);
    CHECK_OK(xenapi_value_struct_set(st, "big", xenapi_value_new_int64(INT64_C(1) << 40), &err),
             &err);
    CHECK_OK(xenapi_value_struct_set(st, "flag", xenapi_value_new_bool(true), &err), &err);
    CHECK_OK(xenapi_value_struct_set(st, "ratio", xenapi_value_new_double(0.25), &err), &err);
    CHECK_OK(xenapi_value_struct_set(st, "when", xenapi_value_new_datetime_unix(1180701000), &err),
             &err);
    CHECK_OK(xenapi_value_struct_set(st, "none", xenapi_value_new_nil(), &err), &err);
    CHECK_OK(xenapi_value_new_base64(raw, sizeof raw, &v, &err), &err);
    CHECK_OK(xenapi_value_struct_set(st, "blob", v, &err), &err);
    CHECK_OK(xenapi_value_new_ref("OpaqueRef:abc", &v, &err), &err);
    CHECK_OK(xenapi_value_array_push(arr, v, &err), &err);
    CHECK_OK(xenapi_value_array_push(arr, xenapi_value_new_int64(7), &err), &err);
    CHECK_OK(xenapi_value_struct_set(st, "list", arr, &err), &err);
    /* Replacing a member frees the old one. */
    CHECK_OK(xenapi_value_struct_set(st, "flag", xenapi_value_new_bool(false), &err), &err);

    CHECK(xenapi_value_get_kind(st) == XENAPI_VALUE_KIND_STRUCT);
    CHECK(xenapi_value_struct_len(st) == 8);
    CHECK(strcmp(xenapi_value_struct_key(st, 0), "name") == 0);
    CHECK_OK(xenapi_value_get_string(xenapi_value_struct_get(st, "name"), &text, &err), &err);
    CHECK(text != NULL && strcmp(text, "héllo") == 0);
    CHECK_OK(xenapi_value_get_int64(xenapi_value_struct_get(st, "big"), &i, &err), &err);
    CHECK(i == INT64_C(1) << 40);
    CHECK_OK(xenapi_value_get_bool(xenapi_value_struct_get(st, "flag"), &b, &err), &err);
    CHECK(b == false);
    CHECK_OK(xenapi_value_get_double(xenapi_value_struct_get(st, "ratio"), &d, &err), &err);
    CHECK(d == 0.25);
    CHECK_OK(xenapi_value_get_datetime_unix(xenapi_value_struct_get(st, "when"), &i, &err), &err);
    CHECK(i == 1180701000);
    CHECK_OK(xenapi_value_get_datetime(xenapi_value_struct_get(st, "when"), &text, &err), &err);
    CHECK(strcmp(text, "20070601T12:30:00Z") == 0);
    CHECK(xenapi_value_get_kind(xenapi_value_struct_get(st, "none")) == XENAPI_VALUE_KIND_NIL);
    CHECK_OK(xenapi_value_get_base64(xenapi_value_struct_get(st, "blob"), &bytes, &len, &err),
             &err);
    CHECK(len == 3 && bytes[2] == 255);
    arr = (xenapi_value *)xenapi_value_struct_get(st, "list"); /* borrowed, only read */
    CHECK(xenapi_value_array_len(arr) == 2);
    CHECK_OK(xenapi_value_get_string(xenapi_value_array_get(arr, 0), &text, &err), &err);
    CHECK(strcmp(text, "OpaqueRef:abc") == 0);
    CHECK(xenapi_value_array_get(arr, 2) == NULL);
    CHECK(xenapi_value_struct_get(st, "missing") == NULL);

    copy = xenapi_value_clone(st);
    CHECK(copy != NULL && xenapi_value_struct_len(copy) == 8);
    CHECK_OK(xenapi_value_to_debug_string(copy, &dbg, &err), &err);
    CHECK(dbg != NULL && strstr(dbg, "héllo") != NULL);
    xenapi_string_free(dbg);
    xenapi_value_free(copy);
    xenapi_value_free(st);
}

/* The utilisation of every VCPU of `vm` (through VM.metrics), checked to be fractions; returns
 * how many there are. */
/* A running VM's per-vCPU use, each 0 to 1; returns how many vCPUs have a figure. On xapi the
 * figures are in the RRDs only (VM_metrics.VCPUs_utilisation was removed in XenServer 6.1: its
 * getter answers MESSAGE_REMOVED), on xend in the metrics field. */
static size_t check_vcpus(xenapi_session *s, const char *vm, int xend) {
    xenapi_error *err = NULL;
    char *metrics = NULL;
    xenapi_int64_double_map *util = NULL;
    size_t i, n = 0;
    if (!xend) {
        char *uuid = NULL;
        xenapi_rrd_usage *u = NULL;
        CHECK_OK(xenapi_vm_get_uuid(s, vm, &uuid, &err), &err);
        clear_error(&err);
        CHECK_OK(xenapi_rrd_vm_usage(s, uuid, 60, &u, &err), &err);
        clear_error(&err);
        for (i = 0; i < xenapi_rrd_usage_cpu_count(u); i++) {
            double f = -1;
            if (xenapi_rrd_usage_cpu(u, i, &f)) {
                CHECK(f >= 0.0 && f <= 1.0);
                n++;
            }
        }
        xenapi_rrd_usage_free(u);
        xenapi_string_free(uuid);
        return n;
    }
    CHECK_OK(xenapi_vm_get_metrics(s, vm, &metrics, &err), &err);
    clear_error(&err);
    CHECK_OK(xenapi_vm_metrics_get_vcpus_utilisation(s, metrics, &util, &err), &err);
    clear_error(&err);
    n = xenapi_int64_double_map_len(util);
    for (i = 0; i < n; i++) {
        double f = xenapi_int64_double_map_value(util, i);
        size_t at = n;
        CHECK(f >= 0.0 && f <= 1.0);
        CHECK(xenapi_int64_double_map_find(util, xenapi_int64_double_map_key(util, i), &at) &&
              at == i);
    }
    xenapi_int64_double_map_free(util);
    xenapi_string_free(metrics);
    return n;
}

static int64_t memory_actual(xenapi_session *s, const char *vm) {
    xenapi_error *err = NULL;
    char *metrics = NULL;
    int64_t bytes = -1;
    CHECK_OK(xenapi_vm_get_metrics(s, vm, &metrics, &err), &err);
    clear_error(&err);
    CHECK_OK(xenapi_vm_metrics_get_memory_actual(s, metrics, &bytes, &err), &err);
    clear_error(&err);
    xenapi_string_free(metrics);
    return bytes;
}

static void scenario(const char *dialect) {
    sim_t sim;
    xenapi_session *s;
    xenapi_error *err = NULL;
    xenapi_string_list *methods = NULL, *hosts = NULL, *byname = NULL, *cpus = NULL;
    xenapi_vm_record_map *vms = NULL;
    xenapi_value *result = NULL, *arg = NULL;
    xenapi_vm_power_state st = XENAPI_VM_POWER_STATE_UNKNOWN;
    char *halted = NULL, *text = NULL, *token = NULL, *hmetrics = NULL, *task = NULL;
    const char *host, *name = NULL, *str = NULL;
    size_t i, n;
    int found_start = 0;
    int xend = strcmp(dialect, "xend") == 0;

    printf("dialect %s\n", dialect);
    if (sim_of_dialect(&sim, dialect) != 0) {
        CHECK(0);
        return;
    }
    s = sim_login(&sim);
    CHECK(s != NULL);
    if (s == NULL) {
        return;
    }
    CHECK(xenapi_session_is_logged_in(s));
    CHECK(xenapi_session_get_dialect(s) == (xend ? XENAPI_DIALECT_XEND : XENAPI_DIALECT_XAPI));
    CHECK(sim_sessions(&sim) == 1);

    /* host.list_methods */
    CHECK_OK(xenapi_host_list_methods(s, &methods, &err), &err);
    n = xenapi_string_list_len(methods);
    CHECK(n > 10);
    for (i = 0; i < n; i++) {
        found_start |= strcmp(xenapi_string_list_get(methods, i), "VM.start") == 0;
    }
    CHECK(found_start);
    CHECK(xenapi_string_list_get(methods, n) == NULL);
    /* The bulk getter: the length whatever the room; only the first `capacity` items written. */
    {
        const char *first[4] = {NULL, NULL, NULL, NULL};
        const char **all = malloc(n * sizeof *all);
        CHECK(all != NULL);
        CHECK(xenapi_string_list_items(methods, first, 3) == n);
        for (i = 0; i < 3; i++) {
            CHECK(first[i] == xenapi_string_list_get(methods, i));
        }
        CHECK(first[3] == NULL);
        CHECK(xenapi_string_list_items(methods, NULL, 0) == n);
        CHECK(xenapi_string_list_items(NULL, first, 4) == 0);
        CHECK(xenapi_string_list_items(methods, all, n) == n);
        for (i = 0; i < n; i++) {
            CHECK(all[i] == xenapi_string_list_get(methods, i));
        }
        free(all);
    }
    xenapi_string_list_free(methods);

    /* xm list */
    CHECK_OK(xenapi_vm_get_all_records(s, &vms, &err), &err);
    n = xenapi_vm_record_map_len(vms);
    CHECK(n >= 5); /* 4 guests and the control domain */
    /* The map's bulk getter: both sides, one side, none. */
    {
        const char **keys = malloc(n * sizeof *keys);
        const xenapi_vm_record **recs = malloc(n * sizeof *recs);
        CHECK(keys != NULL && recs != NULL);
        CHECK(xenapi_vm_record_map_entries(vms, keys, recs, n) == n);
        for (i = 0; i < n; i++) {
            CHECK(keys[i] == xenapi_vm_record_map_key(vms, i));
            CHECK(recs[i] == xenapi_vm_record_map_value(vms, i));
        }
        CHECK(xenapi_vm_record_map_entries(vms, NULL, recs, 1) == n);
        CHECK(xenapi_vm_record_map_entries(vms, NULL, NULL, 0) == n);
        CHECK(xenapi_vm_record_map_entries(NULL, keys, recs, n) == 0);
        CHECK(xenapi_string_map_entries(NULL, NULL, NULL, 0) == 0);
        free(keys);
        free(recs);
    }
    for (i = 0; i < n; i++) {
        const char *ref = xenapi_vm_record_map_key(vms, i);
        const xenapi_vm_record *rec = xenapi_vm_record_map_value(vms, i);
        CHECK(ref != NULL && rec != NULL);
        CHECK(xenapi_vm_record_name_label(rec) != NULL);
        CHECK(xenapi_vm_record_uuid(rec) != NULL && strlen(xenapi_vm_record_uuid(rec)) > 0);
        CHECK(xenapi_vm_record_power_state(rec) != XENAPI_VM_POWER_STATE_UNKNOWN);
        CHECK(strcmp(xenapi_vm_record_power_state_name(rec),
                     xenapi_vm_power_state_to_string(xenapi_vm_record_power_state(rec))) == 0);
        CHECK(xenapi_vm_record_memory_static_max(rec) > 0);
        CHECK(xenapi_vm_record_other_config(rec) != NULL);
        if (halted == NULL && !xenapi_vm_record_is_a_template(rec) &&
            xenapi_vm_record_power_state(rec) == XENAPI_VM_POWER_STATE_HALTED) {
            size_t len = strlen(ref) + 1;
            halted = malloc(len);
            memcpy(halted, ref, len);
            name = xenapi_vm_record_name_label(rec);
            CHECK_OK(xenapi_vm_get_by_name_label(s, name, &byname, &err), &err);
            CHECK(xenapi_string_list_len(byname) == 1 &&
                  strcmp(xenapi_string_list_get(byname, 0), halted) == 0);
            xenapi_string_list_free(byname);
        }
    }
    CHECK(xenapi_vm_record_map_key(vms, n) == NULL);
    CHECK(xenapi_vm_record_map_value(vms, n) == NULL);
    CHECK(xenapi_vm_record_power_state(NULL) == XENAPI_VM_POWER_STATE_UNKNOWN);
    xenapi_vm_record_map_free(vms);
    CHECK(halted != NULL);
    if (halted == NULL) {
        xenapi_session_free(s);
        return;
    }

    /* Host CPU (every host_cpu's utilisation) and memory (host_metrics) */
    CHECK_OK(xenapi_host_get_all(s, &hosts, &err), &err);
    CHECK(xenapi_string_list_len(hosts) >= 1);
    host = xenapi_string_list_get(hosts, 0);
    CHECK_OK(xenapi_host_get_host_cpus(s, host, &cpus, &err), &err);
    CHECK(xenapi_string_list_len(cpus) == 8);
    for (i = 0; i < xenapi_string_list_len(cpus); i++) {
        xenapi_host_cpu_record *cpu = NULL;
        CHECK_OK(xenapi_host_cpu_get_record(s, xenapi_string_list_get(cpus, i), &cpu, &err), &err);
        CHECK(xenapi_host_cpu_record_utilisation(cpu) >= 0.0 &&
              xenapi_host_cpu_record_utilisation(cpu) <= 1.0);
        CHECK(strcmp(xenapi_host_cpu_record_host(cpu), host) == 0);
        xenapi_host_cpu_record_free(cpu);
    }
    xenapi_string_list_free(cpus);
    CHECK_OK(xenapi_host_get_metrics(s, host, &hmetrics, &err), &err);
    {
        xenapi_host_metrics_record *m = NULL;
        CHECK_OK(xenapi_host_metrics_get_record(s, hmetrics, &m, &err), &err);
        CHECK(xenapi_host_metrics_record_memory_total(m) > 0);
        CHECK(xenapi_host_metrics_record_memory_free(m) > 0);
        CHECK(xenapi_host_metrics_record_memory_free(m) <=
              xenapi_host_metrics_record_memory_total(m));
        xenapi_host_metrics_record_free(m);
    }
    xenapi_string_free(hmetrics);

    /* Power operations on the halted VM */
#define STATE_IS(want)                                                   \
    do {                                                                 \
        CHECK_OK(xenapi_vm_get_power_state(s, halted, &st, &err), &err); \
        clear_error(&err);                                               \
        CHECK(st == (want));                                             \
    } while (0)
    CHECK_OK(xenapi_vm_start(s, halted, false, false, &err), &err);
    STATE_IS(XENAPI_VM_POWER_STATE_RUNNING);
    CHECK(memory_actual(s, halted) > 0);
    CHECK(check_vcpus(s, halted, xend) >= 1);
    CHECK_OK(xenapi_vm_pause(s, halted, &err), &err);
    STATE_IS(XENAPI_VM_POWER_STATE_PAUSED);
    CHECK_OK(xenapi_vm_unpause(s, halted, &err), &err);
    STATE_IS(XENAPI_VM_POWER_STATE_RUNNING);
    CHECK_OK(xenapi_vm_suspend(s, halted, &err), &err);
    STATE_IS(XENAPI_VM_POWER_STATE_SUSPENDED);
    CHECK_OK(xenapi_vm_resume(s, halted, false, false, &err), &err);
    STATE_IS(XENAPI_VM_POWER_STATE_RUNNING);
    CHECK_OK(xenapi_vm_clean_reboot(s, halted, &err), &err);
    STATE_IS(XENAPI_VM_POWER_STATE_RUNNING);
    CHECK_OK(xenapi_vm_hard_reboot(s, halted, &err), &err);
    STATE_IS(XENAPI_VM_POWER_STATE_RUNNING);
    CHECK_OK(xenapi_vm_clean_shutdown(s, halted, &err), &err);
    STATE_IS(XENAPI_VM_POWER_STATE_HALTED);
    CHECK(memory_actual(s, halted) == 0);
    CHECK_OK(xenapi_vm_start(s, halted, true, false, &err), &err);
    STATE_IS(XENAPI_VM_POWER_STATE_PAUSED);
    CHECK_OK(xenapi_vm_hard_shutdown(s, halted, &err), &err);
    STATE_IS(XENAPI_VM_POWER_STATE_HALTED);
    /* A XenAPI error in this dialect: its code, parameters and their datamodel names. */
    CHECK_STATUS(xenapi_vm_unpause(s, halted, &err), XENAPI_STATUS_API, &err);
    CHECK(err != NULL && strcmp(xenapi_error_code(err), XENAPI_ERROR_VM_BAD_POWER_STATE) == 0);
    CHECK(err != NULL && xenapi_error_param_count(err) == 3);
    CHECK(err != NULL && strcmp(xenapi_error_param(err, 0), halted) == 0);
    CHECK(err != NULL && strcmp(xenapi_error_param_name(err, 0), "vm") == 0);
    CHECK(err != NULL && strcmp(xenapi_error_param_name(err, 2), "actual") == 0);
    clear_error(&err);
    CHECK(strcmp(xenapi_vm_power_state_to_string(XENAPI_VM_POWER_STATE_RUNNING), "Running") == 0);
    CHECK(xenapi_vm_power_state_from_string("Paused") == XENAPI_VM_POWER_STATE_PAUSED);
    CHECK(xenapi_vm_power_state_from_string("paused") == XENAPI_VM_POWER_STATE_UNKNOWN);
    CHECK(xenapi_vm_power_state_to_string(XENAPI_VM_POWER_STATE_UNKNOWN) == NULL);

    /* dmesg and the log */
    CHECK_OK(xenapi_host_dmesg(s, host, &text, &err), &err);
    CHECK(text != NULL && strstr(text, "created") != NULL);
    xenapi_string_free(text);
    text = NULL;
    CHECK_OK(xenapi_host_get_log(s, host, &text, &err), &err);
    CHECK(text != NULL && strlen(text) > 0);
    xenapi_string_free(text);

    /* The generic call: VM.get_record */
    CHECK_OK(xenapi_value_new_ref(halted, &arg, &err), &err);
    CHECK_OK(xenapi_session_call(s, "VM.get_record", (const xenapi_value *const *)&arg, 1, &result,
                                 &err),
             &err);
    CHECK(xenapi_value_get_kind(result) == XENAPI_VALUE_KIND_STRUCT);
    CHECK_OK(xenapi_value_get_string(xenapi_value_struct_get(result, "power_state"), &str, &err),
             &err);
    CHECK(str != NULL && strcmp(str, "Halted") == 0);
    xenapi_value_free(result);
    xenapi_value_free(arg);

    /* event.from: take a token, start the VM as a task, see the change */
    {
        xenapi_string_list *classes = xenapi_string_list_new();
        xenapi_event_batch *batch = NULL;
        const xenapi_event_record_list *events;
        CHECK_OK(xenapi_string_list_push(classes, "vm", &err), &err);
        CHECK_OK(xenapi_event_from(s, classes, "", 0.0, &batch, &err), &err);
        str = xenapi_event_batch_token(batch);
        CHECK(str != NULL && strlen(str) > 0);
        token = malloc(strlen(str) + 1);
        strcpy(token, str);
        CHECK(xenapi_event_batch_valid_ref_counts(batch) != NULL);
        xenapi_event_batch_free(batch);
        batch = NULL;

        /* Async.VM.start and task wait */
        CHECK_OK(xenapi_async_vm_start(s, halted, false, false, &task, &err), &err);
        CHECK(task != NULL && strlen(task) > 0);
        if (!xend) {
            CHECK(strncmp(task, "OpaqueRef:", 10) == 0);
        }
        CHECK_OK(xenapi_task_wait(s, task, 30.0, &result, &err), &err);
        xenapi_value_free(result);
        xenapi_string_free(task);
        STATE_IS(XENAPI_VM_POWER_STATE_RUNNING);

        CHECK_OK(xenapi_event_from(s, classes, token, 5.0, &batch, &err), &err);
        events = xenapi_event_batch_events(batch);
        CHECK(xenapi_event_record_list_len(events) >= 1);
        for (i = 0; i < xenapi_event_record_list_len(events); i++) {
            const xenapi_event_record *ev = xenapi_event_record_list_get(events, i);
            CHECK(strcmp(xenapi_event_record_class(ev), "vm") == 0);
            CHECK(xenapi_event_record_operation(ev) != XENAPI_EVENT_OPERATION_UNKNOWN);
            CHECK(xenapi_event_record_ref(ev) != NULL);
        }
        CHECK(xenapi_event_record_list_get(events, i) == NULL);
        xenapi_event_batch_free(batch);
        xenapi_string_list_free(classes);
        free(token);
    }
#undef STATE_IS

    /* Log out, then calls fail; free logs out a session left logged in */
    CHECK_OK(xenapi_session_logout(s, &err), &err);
    CHECK(!xenapi_session_is_logged_in(s));
    CHECK(sim_sessions(&sim) == 0);
    xenapi_string_list_free(hosts);
    hosts = NULL;
    CHECK_STATUS(xenapi_host_get_all(s, &hosts, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
    CHECK(hosts == NULL);
    clear_error(&err);
    CHECK_OK(xenapi_session_logout(s, &err), &err); /* twice is harmless */
    CHECK_OK(xenapi_session_login_with_password(s, "root", "password", "1.0", "c-tests", &err),
             &err);
    CHECK(sim_sessions(&sim) == 1);
    xenapi_session_free(s);
    CHECK(sim_sessions(&sim) == 0);

    free(halted);
}

int main(void) {
    CHECK(strcmp(xenapi_version(), XENAPI_VERSION) == 0);
    test_values();
    scenario("xapi");
    scenario("xend");
    return finish("scenario");
}
