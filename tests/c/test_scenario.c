/*
 * The talk's whole scenario through libxenapi, against xenapi-sim: log in, list methods, list
 * VMs, every power operation, CPU and memory use, dmesg, the log, a generic call, an Async call
 * with task wait, event.from, log out; and the value API round trip.
 */
#include "harness.h"

static xenapi_vm_power_state state_of(xenapi_session *s, const char *vm) {
    xenapi_vm_power_state st = XENAPI_VM_POWER_STATE_UNKNOWN;
    xenapi_error *err = NULL;
    CHECK_OK(xenapi_vm_get_power_state(s, vm, &st, &err), &err);
    clear_error(&err);
    return st;
}

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
    CHECK_OK(xenapi_value_struct_set(st, "big", xenapi_value_new_int64(INT64_C(1) << 40), &err), &err);
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
    CHECK_OK(xenapi_value_get_base64(xenapi_value_struct_get(st, "blob"), &bytes, &len, &err), &err);
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

int main(void) {
    sim_t sim;
    const char *args[] = {"--vms", "4", NULL};
    xenapi_session *s;
    xenapi_error *err = NULL;
    xenapi_string_list *methods = NULL, *hosts = NULL, *byname = NULL;
    xenapi_vm_list *vms = NULL;
    xenapi_cpu_usage *usage = NULL;
    xenapi_value *result = NULL, *arg = NULL, *task = NULL, *events = NULL;
    char *halted = NULL, *text = NULL, *token = NULL;
    const char *host, *name = NULL, *str = NULL;
    size_t i, n;
    int found_start = 0;
    int64_t total = 0, freemem = 0, bytes = 0;

    CHECK(strcmp(xenapi_version(), XENAPI_VERSION) == 0);
    test_values();

    if (sim_start(&sim, args) != 0) {
        return 1;
    }
    s = sim_login(&sim);
    CHECK(s != NULL);
    if (s == NULL) {
        sim_stop(&sim);
        return finish("scenario");
    }
    CHECK(xenapi_session_is_logged_in(s));
    CHECK(xenapi_session_get_dialect(s) == XENAPI_DIALECT_XAPI);
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
    xenapi_string_list_free(methods);

    /* xm list */
    CHECK_OK(xenapi_vm_get_all_records(s, &vms, &err), &err);
    n = xenapi_vm_list_len(vms);
    CHECK(n >= 5); /* 4 guests and the control domain */
    for (i = 0; i < n; i++) {
        const xenapi_value *rec = xenapi_vm_list_record(vms, i);
        bool is_template = false;
        CHECK(xenapi_vm_list_ref(vms, i) != NULL);
        CHECK(xenapi_vm_list_name_label(vms, i) != NULL);
        CHECK(xenapi_vm_list_uuid(vms, i) != NULL);
        CHECK(xenapi_vm_list_power_state(vms, i) != XENAPI_VM_POWER_STATE_UNKNOWN);
        xenapi_value_get_bool(xenapi_value_struct_get(rec, "is_a_template"), &is_template, NULL);
        if (halted == NULL && !is_template &&
            xenapi_vm_list_power_state(vms, i) == XENAPI_VM_POWER_STATE_HALTED) {
            size_t len = strlen(xenapi_vm_list_ref(vms, i)) + 1;
            halted = malloc(len);
            memcpy(halted, xenapi_vm_list_ref(vms, i), len);
            name = xenapi_vm_list_name_label(vms, i);
            CHECK_OK(xenapi_vm_get_by_name_label(s, name, &byname, &err), &err);
            CHECK(xenapi_string_list_len(byname) == 1 &&
                  strcmp(xenapi_string_list_get(byname, 0), halted) == 0);
            xenapi_string_list_free(byname);
        }
    }
    CHECK(xenapi_vm_list_ref(vms, n) == NULL);
    CHECK(xenapi_vm_list_power_state(vms, n) == XENAPI_VM_POWER_STATE_UNKNOWN);
    xenapi_vm_list_free(vms);
    CHECK(halted != NULL);
    if (halted == NULL) {
        xenapi_session_free(s);
        sim_stop(&sim);
        return finish("scenario");
    }

    /* Host CPU and memory */
    CHECK_OK(xenapi_host_get_all(s, &hosts, &err), &err);
    CHECK(xenapi_string_list_len(hosts) >= 1);
    host = xenapi_string_list_get(hosts, 0);
    CHECK_OK(xenapi_host_get_cpu_utilisation(s, host, &usage, &err), &err);
    CHECK(xenapi_cpu_usage_len(usage) == 8);
    for (i = 0; i < xenapi_cpu_usage_len(usage); i++) {
        double f = xenapi_cpu_usage_fraction(usage, i);
        CHECK(xenapi_cpu_usage_cpu(usage, i) == (int64_t)i);
        CHECK(f >= 0.0 && f <= 1.0);
    }
    xenapi_cpu_usage_free(usage);
    CHECK_OK(xenapi_host_get_memory(s, host, &total, &freemem, &err), &err);
    CHECK(total > 0 && freemem > 0 && freemem <= total);

    /* Power operations on the halted VM */
    CHECK_OK(xenapi_vm_start(s, halted, false, false, &err), &err);
    CHECK(state_of(s, halted) == XENAPI_VM_POWER_STATE_RUNNING);
    CHECK_OK(xenapi_vm_get_memory_actual(s, halted, &bytes, &err), &err);
    CHECK(bytes > 0);
    CHECK_OK(xenapi_vm_get_vcpus_utilisation(s, halted, &usage, &err), &err);
    CHECK(xenapi_cpu_usage_len(usage) >= 1);
    CHECK(xenapi_cpu_usage_fraction(usage, 0) >= 0.0 && xenapi_cpu_usage_fraction(usage, 0) <= 1.0);
    xenapi_cpu_usage_free(usage);
    CHECK_OK(xenapi_vm_pause(s, halted, &err), &err);
    CHECK(state_of(s, halted) == XENAPI_VM_POWER_STATE_PAUSED);
    CHECK_OK(xenapi_vm_unpause(s, halted, &err), &err);
    CHECK(state_of(s, halted) == XENAPI_VM_POWER_STATE_RUNNING);
    CHECK_OK(xenapi_vm_suspend(s, halted, &err), &err);
    CHECK(state_of(s, halted) == XENAPI_VM_POWER_STATE_SUSPENDED);
    CHECK_OK(xenapi_vm_resume(s, halted, false, false, &err), &err);
    CHECK(state_of(s, halted) == XENAPI_VM_POWER_STATE_RUNNING);
    CHECK_OK(xenapi_vm_clean_reboot(s, halted, &err), &err);
    CHECK(state_of(s, halted) == XENAPI_VM_POWER_STATE_RUNNING);
    CHECK_OK(xenapi_vm_hard_reboot(s, halted, &err), &err);
    CHECK(state_of(s, halted) == XENAPI_VM_POWER_STATE_RUNNING);
    CHECK_OK(xenapi_vm_clean_shutdown(s, halted, &err), &err);
    CHECK(state_of(s, halted) == XENAPI_VM_POWER_STATE_HALTED);
    CHECK_OK(xenapi_vm_get_memory_actual(s, halted, &bytes, &err), &err);
    CHECK(bytes == 0);
    CHECK_OK(xenapi_vm_start(s, halted, true, false, &err), &err);
    CHECK(state_of(s, halted) == XENAPI_VM_POWER_STATE_PAUSED);
    CHECK_OK(xenapi_vm_hard_shutdown(s, halted, &err), &err);
    CHECK(state_of(s, halted) == XENAPI_VM_POWER_STATE_HALTED);
    CHECK(strcmp(xenapi_vm_power_state_name(XENAPI_VM_POWER_STATE_RUNNING), "Running") == 0);

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

    /* event.from: take a token, change the VM, see the change */
    {
        const char *classes[] = {"vm"};
        const xenapi_value *ev;
        CHECK_OK(xenapi_event_from(s, classes, 1, "", 0.0, &events, &err), &err);
        CHECK_OK(xenapi_value_get_string(xenapi_value_struct_get(events, "token"), &str, &err),
                 &err);
        token = malloc(strlen(str) + 1);
        strcpy(token, str);
        xenapi_value_free(events);

        /* Async.VM.start and task wait */
        {
            const xenapi_value *start_args[3];
            xenapi_value *paused = xenapi_value_new_bool(false), *force = xenapi_value_new_bool(false);
            start_args[0] = arg;
            start_args[1] = paused;
            start_args[2] = force;
            CHECK_OK(xenapi_session_call(s, "Async.VM.start", start_args, 3, &task, &err), &err);
            CHECK_OK(xenapi_value_get_string(task, &str, &err), &err);
            CHECK(strncmp(str, "OpaqueRef:", 10) == 0);
            CHECK_OK(xenapi_task_wait(s, str, 30.0, &result, &err), &err);
            xenapi_value_free(result);
            xenapi_value_free(task);
            xenapi_value_free(paused);
            xenapi_value_free(force);
            CHECK(state_of(s, halted) == XENAPI_VM_POWER_STATE_RUNNING);
        }

        CHECK_OK(xenapi_event_from(s, classes, 1, token, 5.0, &events, &err), &err);
        ev = xenapi_value_struct_get(events, "events");
        CHECK(xenapi_value_array_len(ev) >= 1);
        if (xenapi_value_array_len(ev) >= 1) {
            CHECK_OK(xenapi_value_get_string(xenapi_value_struct_get(xenapi_value_array_get(ev, 0),
                                                                     "class"),
                                             &str, &err),
                     &err);
            CHECK(str != NULL && strcmp(str, "vm") == 0);
        }
        xenapi_value_free(events);
        free(token);
    }
    xenapi_value_free(arg);

    /* Log out, then calls fail; free logs out a session left logged in */
    CHECK_OK(xenapi_session_logout(s, &err), &err);
    CHECK(!xenapi_session_is_logged_in(s));
    CHECK(sim_sessions(&sim) == 0);
    CHECK_STATUS(xenapi_host_get_all(s, &hosts, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    CHECK_OK(xenapi_session_logout(s, &err), &err); /* twice is harmless */
    CHECK_OK(xenapi_session_login_with_password(s, "root", "password", "1.0", "c-tests", &err), &err);
    CHECK(sim_sessions(&sim) == 1);
    xenapi_session_free(s);
    CHECK(sim_sessions(&sim) == 0);

    xenapi_string_list_free(hosts);
    free(halted);
    sim_stop(&sim);
    return finish("scenario");
}
