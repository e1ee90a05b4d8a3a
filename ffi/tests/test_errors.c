/*
 * Every error path of libxenapi: server failures (bad password, wrong power state, invalid
 * handle, unknown method), transport failures (unreachable host, HTTP error, garbage reply,
 * timeout), TLS (untrusted certificate, pin mismatch, then the right pin), and NULL or invalid
 * arguments to every kind of function. Run under valgrind too: failures must not leak.
 */
#include "harness.h"

/* Checks an API error's code and parameter count, then frees it. */
static void expect_api(xenapi_error **err, const char *code, size_t nparams) {
    CHECK(*err != NULL);
    if (*err == NULL) {
        return;
    }
    CHECK(xenapi_error_status(*err) == XENAPI_STATUS_API);
    CHECK(xenapi_error_code(*err) != NULL && strcmp(xenapi_error_code(*err), code) == 0);
    CHECK(xenapi_error_param_count(*err) == nparams);
    CHECK(xenapi_error_param(*err, nparams) == NULL);
    CHECK(strstr(xenapi_error_message(*err), code) != NULL);
    clear_error(err);
}

/* Checks a non-API error: status, no code, a message. */
static void expect_kind(xenapi_error **err, xenapi_status status) {
    CHECK(*err != NULL);
    if (*err == NULL) {
        return;
    }
    CHECK(xenapi_error_status(*err) == status);
    CHECK(xenapi_error_code(*err) == NULL);
    CHECK(xenapi_error_param_count(*err) == 0);
    CHECK(xenapi_error_message(*err) != NULL && strlen(xenapi_error_message(*err)) > 0);
    clear_error(err);
}

static void test_server_errors(const sim_t *sim) {
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL, *bad = NULL;
    xenapi_error *err = NULL;
    xenapi_vm_record_map *vms = NULL;
    xenapi_value *result = NULL;
    xenapi_vm_power_state st;
    const char *running = NULL;
    size_t i;

    /* Bad password: SESSION_AUTHENTICATION_FAILED, nothing to free but the error. */
    CHECK_OK(xenapi_options_new(sim->url, &opts, &err), &err);
    CHECK_STATUS(xenapi_session_connect(opts, "root", "wrong", &bad, &err), XENAPI_STATUS_API, &err);
    CHECK(bad == NULL);
    CHECK(err != NULL && strcmp(xenapi_error_code(err), "SESSION_AUTHENTICATION_FAILED") == 0);
    CHECK(strstr(xenapi_error_message(err), "wrong") == NULL); /* no password in messages */
    clear_error(&err);
    /* The same through new + login. */
    CHECK_OK(xenapi_session_new(opts, &bad, &err), &err);
    CHECK_STATUS(xenapi_session_login_with_password(bad, "root", "wrong", NULL, NULL, &err),
                 XENAPI_STATUS_API, &err);
    expect_api(&err, "SESSION_AUTHENTICATION_FAILED", 2);
    CHECK(!xenapi_session_is_logged_in(bad));
    /* Not logged in: calls are refused locally. */
    CHECK_STATUS(xenapi_vm_get_all_records(bad, &vms, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
    expect_kind(&err, XENAPI_STATUS_INVALID_ARGUMENT);
    xenapi_session_free(bad);
    xenapi_options_free(opts);

    s = sim_login(sim);
    CHECK(s != NULL);
    if (s == NULL) {
        return;
    }

    /* Wrong power state: start a running VM. */
    CHECK_OK(xenapi_vm_get_all_records(s, &vms, &err), &err);
    for (i = 0; i < xenapi_vm_record_map_len(vms); i++) {
        const xenapi_vm_record *rec = xenapi_vm_record_map_value(vms, i);
        if (xenapi_vm_record_power_state(rec) == XENAPI_VM_POWER_STATE_RUNNING &&
            !xenapi_vm_record_is_control_domain(rec)) {
            running = xenapi_vm_record_map_key(vms, i);
        }
    }
    CHECK(running != NULL);
    CHECK_STATUS(xenapi_vm_start(s, running, false, false, &err), XENAPI_STATUS_API, &err);
    CHECK(err != NULL && strcmp(xenapi_error_param(err, 0), running) == 0);
    CHECK(err != NULL && strcmp(xenapi_error_param(err, 1), "halted") == 0);
    CHECK(err != NULL && strcmp(xenapi_error_param(err, 2), "running") == 0);
    /* The datamodel's names of the parameters, and the generated code macros. */
    CHECK(err != NULL && strcmp(xenapi_error_code(err), XENAPI_ERROR_VM_BAD_POWER_STATE) == 0);
    CHECK(err != NULL && strcmp(xenapi_error_param_name(err, 0), "vm") == 0);
    CHECK(err != NULL && strcmp(xenapi_error_param_name(err, 1), "expected") == 0);
    CHECK(err != NULL && strcmp(xenapi_error_param_name(err, 2), "actual") == 0);
    CHECK(xenapi_error_param_name(err, 3) == NULL);
    CHECK(xenapi_error_param_name(NULL, 0) == NULL);
    expect_api(&err, "VM_BAD_POWER_STATE", 3);
    CHECK_STATUS(xenapi_vm_unpause(s, running, &err), XENAPI_STATUS_API, &err);
    expect_api(&err, "VM_BAD_POWER_STATE", 3);
    CHECK_STATUS(xenapi_vm_resume(s, running, false, false, &err), XENAPI_STATUS_API, &err);
    expect_api(&err, "VM_BAD_POWER_STATE", 3);
    /* err may be NULL: the status alone. */
    CHECK(xenapi_vm_start(s, running, false, false, NULL) == XENAPI_STATUS_API);
    xenapi_vm_record_map_free(vms);

    /* Invalid handle: a reference to no VM. */
    st = XENAPI_VM_POWER_STATE_HALTED;
    CHECK_STATUS(xenapi_vm_get_power_state(s, "OpaqueRef:00000000-dead-beef-0000-000000000000", &st,
                                           &err),
                 XENAPI_STATUS_API, &err);
    CHECK(st == XENAPI_VM_POWER_STATE_HALTED); /* out-parameters untouched on failure */
    CHECK(err != NULL && strcmp(xenapi_error_param(err, 0), "VM") == 0);
    CHECK(err != NULL && strcmp(xenapi_error_param_name(err, 1), "handle") == 0);
    expect_api(&err, "HANDLE_INVALID", 2);
    CHECK_STATUS(xenapi_vm_hard_shutdown(s, "OpaqueRef:nope", &err), XENAPI_STATUS_API, &err);
    expect_api(&err, "HANDLE_INVALID", 2);

    /* Unknown method. */
    CHECK_STATUS(xenapi_session_call(s, "VM.no_such_method", NULL, 0, &result, &err),
                 XENAPI_STATUS_API, &err);
    CHECK(result == NULL);
    expect_api(&err, "MESSAGE_METHOD_UNKNOWN", 1);
    /* Wrong parameter count. */
    CHECK_STATUS(xenapi_session_call(s, "VM.start", NULL, 0, &result, &err), XENAPI_STATUS_API, &err);
    CHECK(err != NULL && strcmp(xenapi_error_code(err), "MESSAGE_PARAMETER_COUNT_MISMATCH") == 0);
    clear_error(&err);

    /* A task that fails: Async.VM.start of no VM, then task wait. */
    {
        char *task = NULL;
        if (xenapi_async_vm_start(s, "OpaqueRef:nope", false, false, &task, &err) ==
            XENAPI_STATUS_OK) {
            CHECK_STATUS(xenapi_task_wait(s, task, 30.0, &result, &err), XENAPI_STATUS_API, &err);
            CHECK(err != NULL && strcmp(xenapi_error_code(err), "HANDLE_INVALID") == 0);
            CHECK(result == NULL);
            clear_error(&err);
        } else {
            /* Some servers check the handle before making the task. */
            CHECK(task == NULL);
            expect_api(&err, "HANDLE_INVALID", 2);
        }
        xenapi_string_free(task);
    }

    /* Server faults injected through the side channel. */
    {
        char buf[256];
        xenapi_string_list *hosts = NULL;
        sim_http(sim, "POST", "/sim/fault?kind=http500&count=1", buf, sizeof buf);
        CHECK_STATUS(xenapi_host_get_all(s, &hosts, &err), XENAPI_STATUS_HTTP, &err);
        CHECK(xenapi_error_http_status(err) == 500);
        expect_kind(&err, XENAPI_STATUS_HTTP);
        sim_http(sim, "POST", "/sim/fault?kind=garbage&count=1", buf, sizeof buf);
        CHECK_STATUS(xenapi_host_get_all(s, &hosts, &err), XENAPI_STATUS_PROTOCOL, &err);
        expect_kind(&err, XENAPI_STATUS_PROTOCOL);
        CHECK_OK(xenapi_host_get_all(s, &hosts, &err), &err); /* and then it works again */
        xenapi_string_list_free(hosts);
    }

    /* An expired session is renewed transparently. */
    {
        char buf[256];
        xenapi_string_list *hosts = NULL;
        sim_http(sim, "POST", "/sim/expire-sessions", buf, sizeof buf);
        CHECK_OK(xenapi_host_get_all(s, &hosts, &err), &err);
        xenapi_string_list_free(hosts);
    }
    xenapi_session_free(s);
    CHECK(sim_sessions(sim) == 0);
}

static void test_timeout(const sim_t *sim) {
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    xenapi_string_list *hosts = NULL;
    char buf[256];
    /* The deadline is generous enough for a login under valgrind, far below the delay. */
    CHECK_OK(xenapi_options_new(sim->url, &opts, &err), &err);
    CHECK_OK(xenapi_options_set_timeout_ms(opts, 1500, &err), &err);
    CHECK_OK(xenapi_session_connect(opts, "root", "password", &s, &err), &err);
    clear_error(&err);
    if (s != NULL) {
        sim_http(sim, "POST", "/sim/delay?ms=6000", buf, sizeof buf);
        CHECK_STATUS(xenapi_host_get_all(s, &hosts, &err), XENAPI_STATUS_TIMEOUT, &err);
        expect_kind(&err, XENAPI_STATUS_TIMEOUT);
        sim_http(sim, "POST", "/sim/delay?ms=0", buf, sizeof buf);
        xenapi_string_list_free(hosts);
    }
    xenapi_session_free(s);
    xenapi_options_free(opts);
}

static void test_unreachable(void) {
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    CHECK_OK(xenapi_options_new("http://127.0.0.1:1", &opts, &err), &err);
    CHECK_OK(xenapi_options_set_connect_timeout_ms(opts, 2000, &err), &err);
    CHECK_STATUS(xenapi_session_connect(opts, "root", "password", &s, &err), XENAPI_STATUS_CONNECT,
                 &err);
    CHECK(s == NULL);
    expect_kind(&err, XENAPI_STATUS_CONNECT);
    xenapi_options_free(opts);
}

/* What a certificate callback saw, and what it answers. */
typedef struct {
    int calls;
    bool accept;
    xenapi_certificate_problem problem;
    size_t der_len;
    char explanation[512];
    int finalized;
} cert_decision;

static bool decide_certificate(void *user_data, const uint8_t *der, size_t der_len,
                               const char *server_name, xenapi_certificate_problem problem,
                               const char *explanation) {
    cert_decision *d = user_data;
    d->calls++;
    d->problem = problem;
    d->der_len = (der != NULL && server_name != NULL) ? der_len : 0;
    copy_text(d->explanation, sizeof d->explanation, explanation ? explanation : "");
    return d->accept;
}

static void finalize_decision(void *user_data) { ((cert_decision *)user_data)->finalized++; }

/* The program decides on the self-signed certificate, told what the default check found. */
static void test_certificate_callback(const char *url, const char *fingerprint) {
    cert_decision d = {0};
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    CHECK_OK(xenapi_options_new(url, &opts, &err), &err);
    CHECK_STATUS(xenapi_options_set_certificate_callback(opts, NULL, &d, NULL, &err),
                 XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    d.accept = true;
    CHECK_OK(xenapi_options_set_certificate_callback(opts, decide_certificate, &d, finalize_decision,
                                                     &err),
             &err);
    CHECK_OK(xenapi_session_connect(opts, "root", "password", &s, &err), &err);
    CHECK(d.calls >= 1);
    CHECK(d.problem == XENAPI_CERTIFICATE_PROBLEM_UNTRUSTED);
    CHECK(d.der_len > 100);
    CHECK(strstr(d.explanation, fingerprint) != NULL);
    xenapi_session_free(s);
    s = NULL;
    /* Refused: a TLS error that says the callback refused it. */
    d.accept = false;
    CHECK_STATUS(xenapi_session_connect(opts, "root", "password", &s, &err), XENAPI_STATUS_TLS, &err);
    CHECK(err != NULL && strstr(xenapi_error_message(err), "callback refused") != NULL);
    clear_error(&err);
    CHECK(d.finalized == 0);
    xenapi_options_free(opts);
    CHECK(d.finalized == 1); /* the last holder is gone */
}

static void test_tls(void) {
    sim_t sim;
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    char url[160];
    const char *wrong = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
    if (sim_get(&sim, "TLS") != 0) {
        CHECK(0);
        return;
    }
    CHECK(strlen(sim.fingerprint) > 0);
    /* The simulator may print http://; the TLS listener answers https. */
    if (strncmp(sim.url, "http://", 7) == 0) {
        memcpy(url, "https://", 8);
        copy_text(url + 8, sizeof url - 8, sim.url + 7);
    } else {
        copy_text(url, sizeof url, sim.url);
    }
    CHECK_OK(xenapi_options_new(url, &opts, &err), &err);
    /* Default verification: a self-signed certificate is refused. */
    CHECK_STATUS(xenapi_session_connect(opts, "root", "password", &s, &err), XENAPI_STATUS_TLS, &err);
    expect_kind(&err, XENAPI_STATUS_TLS);
    /* A pin that does not match. */
    CHECK_OK(xenapi_options_set_fingerprint(opts, wrong, &err), &err);
    CHECK_STATUS(xenapi_session_connect(opts, "root", "password", &s, &err), XENAPI_STATUS_TLS, &err);
    expect_kind(&err, XENAPI_STATUS_TLS);
    CHECK(s == NULL);
    /* The right pin. */
    CHECK_OK(xenapi_options_set_fingerprint(opts, sim.fingerprint, &err), &err);
    CHECK_OK(xenapi_session_connect(opts, "root", "password", &s, &err), &err);
    xenapi_session_free(s);
    s = NULL;
    /* Skipping verification, by name. */
    xenapi_options_free(opts);
    opts = NULL;
    CHECK_OK(xenapi_options_new(url, &opts, &err), &err);
    CHECK_OK(xenapi_options_set_insecure_skip_verify(opts, true, &err), &err);
    CHECK_OK(xenapi_session_connect(opts, "root", "password", &s, &err), &err);
    xenapi_session_free(s);
    s = NULL;
    CHECK_OK(xenapi_options_set_insecure_skip_verify(opts, false, &err), &err);
    CHECK_STATUS(xenapi_session_connect(opts, "root", "password", &s, &err), XENAPI_STATUS_TLS, &err);
    clear_error(&err);
    xenapi_options_free(opts);
    test_certificate_callback(url, sim.fingerprint);
}

static void test_arguments(const sim_t *sim) {
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    xenapi_value *v = NULL, *arr, *st;
    xenapi_string_list *list = NULL;
    xenapi_vm_record_map *vms = NULL;
    xenapi_int64_double_map *usage = NULL;
    xenapi_event_batch *batch = NULL;
    char *text = NULL;
    const char *cstr = NULL;
    int64_t i64 = 0;
    bool b = false;
    double d = 0;
    const uint8_t *bytes = NULL;
    size_t len = 0;
    xenapi_vm_power_state ps;
    static const char bad_utf8[] = {'a', (char)0xff, 'b', 0};

    /* Options */
    CHECK_STATUS(xenapi_options_new(NULL, &opts, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    CHECK(err != NULL && strstr(xenapi_error_message(err), "url") != NULL);
    expect_kind(&err, XENAPI_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(xenapi_options_new("http://x", NULL, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    expect_kind(&err, XENAPI_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(xenapi_options_new(bad_utf8, &opts, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
    expect_kind(&err, XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK(xenapi_options_set_timeout_ms(NULL, 5, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_options_set_connect_timeout_ms(NULL, 5, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_options_set_ca_file(NULL, "x", NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_options_set_fingerprint(NULL, "x", NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_options_set_insecure_skip_verify(NULL, true, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_options_set_follow_coordinator(NULL, true, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_options_set_version(NULL, "1.0", NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_options_set_originator(NULL, "x", NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_options_set_max_response_bytes(NULL, 1, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK_OK(xenapi_options_new(sim->url, &opts, &err), &err);
    CHECK_STATUS(xenapi_options_set_fingerprint(opts, "not-hex", &err), XENAPI_STATUS_INVALID_ARGUMENT,
                 &err);
    expect_kind(&err, XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(xenapi_options_set_timeout_ms(opts, 0, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
    expect_kind(&err, XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK(xenapi_options_set_ca_file(opts, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK_OK(xenapi_options_set_follow_coordinator(opts, false, &err), &err);
    CHECK_OK(xenapi_options_set_version(opts, "1.2", &err), &err);
    CHECK_OK(xenapi_options_set_originator(opts, "c-tests", &err), &err);
    CHECK_OK(xenapi_options_set_max_response_bytes(opts, 64 << 20, &err), &err);
    /* A CA file that does not exist: refused when the session is made. */
    {
        xenapi_options *ca = NULL;
        CHECK_OK(xenapi_options_new("https://127.0.0.1:1", &ca, &err), &err);
        CHECK_OK(xenapi_options_set_ca_file(ca, "/nonexistent/ca.pem", &err), &err);
        CHECK(xenapi_session_new(ca, &s, &err) != XENAPI_STATUS_OK);
        CHECK(s == NULL);
        clear_error(&err);
        xenapi_options_free(ca);
    }
    /* A URL that cannot be used. */
    {
        xenapi_options *badurl = NULL;
        CHECK_OK(xenapi_options_new("ftp://host", &badurl, &err), &err);
        CHECK_STATUS(xenapi_session_new(badurl, &s, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
        expect_kind(&err, XENAPI_STATUS_INVALID_ARGUMENT);
        xenapi_options_free(badurl);
    }

    /* Sessions */
    CHECK(xenapi_session_new(NULL, &s, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_session_new(opts, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_session_connect(opts, NULL, "password", &s, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_session_connect(opts, "root", NULL, &s, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_session_connect(opts, bad_utf8, "x", &s, NULL) == XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK(xenapi_session_login_with_password(NULL, "root", "password", NULL, NULL, NULL) ==
          XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_session_logout(NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_session_call(NULL, "VM.get_all", NULL, 0, &v, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(!xenapi_session_is_logged_in(NULL));
    CHECK(xenapi_session_get_dialect(NULL) == XENAPI_DIALECT_XAPI);
    CHECK(xenapi_session_get_url(NULL, &text, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_session_get_reference(NULL, &text, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK_OK(xenapi_session_connect(opts, "root", "password", &s, &err), &err);
    CHECK_OK(xenapi_session_get_url(s, &text, &err), &err);
    CHECK(text != NULL && strncmp(text, "http://127.0.0.1:", 17) == 0);
    xenapi_string_free(text);
    text = NULL;
    CHECK_OK(xenapi_session_get_reference(s, &text, &err), &err);
    CHECK(text != NULL && strncmp(text, "OpaqueRef:", 10) == 0);
    xenapi_string_free(text);
    text = NULL;
    CHECK(xenapi_session_call(s, NULL, NULL, 0, &v, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_session_call(s, "VM.get_all", NULL, 0, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_session_call(s, "VM.get_record", NULL, 1, &v, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    {
        const xenapi_value *nulls[1] = {NULL};
        CHECK_STATUS(xenapi_session_call(s, "VM.get_record", nulls, 1, &v, &err),
                     XENAPI_STATUS_NULL_ARGUMENT, &err);
        CHECK(err != NULL && strstr(xenapi_error_message(err), "args[0]") != NULL);
        clear_error(&err);
    }

    /* Typed functions */
    CHECK(xenapi_vm_get_all_records(NULL, &vms, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_get_all_records(s, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_get_by_name_label(s, NULL, &list, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_get_power_state(s, NULL, &ps, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_get_power_state(s, "OpaqueRef:x", NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_start(NULL, "OpaqueRef:x", false, false, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_start(s, NULL, false, false, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_start(s, bad_utf8, false, false, NULL) == XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK(xenapi_vm_resume(s, NULL, false, false, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_clean_shutdown(s, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_hard_shutdown(NULL, "x", NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_clean_reboot(s, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_hard_reboot(s, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_pause(s, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_unpause(s, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_suspend(s, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_metrics_get_memory_actual(s, "x", NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_vm_metrics_get_vcpus_utilisation(s, NULL, &usage, NULL) ==
          XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_async_vm_start(s, "x", false, false, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_async_vm_start(NULL, "x", false, false, &text, NULL) ==
          XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_host_get_all(s, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_host_list_methods(NULL, &list, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_host_dmesg(s, NULL, &text, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_host_get_log(s, "x", NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_host_get_host_cpus(s, NULL, &list, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_host_metrics_get_memory_total(s, "x", NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_task_wait(s, NULL, 1.0, &v, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_event_from(s, NULL, "", 0.0, &batch, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(batch == NULL);
    CHECK(xenapi_host_dmesg(s, "OpaqueRef:nope", &text, NULL) == XENAPI_STATUS_API);
    CHECK(text == NULL);
    {
        /* Enum parameters: UNKNOWN and numbers out of range are refused before any call. */
        xenapi_string_list *classes = xenapi_string_list_new();
        CHECK(xenapi_event_from(s, classes, NULL, 0.0, &batch, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
        CHECK_STATUS(xenapi_vm_set_actions_after_shutdown(s, "OpaqueRef:x",
                                                          XENAPI_ON_NORMAL_EXIT_UNKNOWN, &err),
                     XENAPI_STATUS_INVALID_ARGUMENT, &err);
        expect_kind(&err, XENAPI_STATUS_INVALID_ARGUMENT);
        CHECK(xenapi_vm_set_actions_after_shutdown(s, "OpaqueRef:x", (xenapi_on_normal_exit)99,
                                                   NULL) == XENAPI_STATUS_INVALID_ARGUMENT);
        CHECK(xenapi_string_list_push(NULL, "x", NULL) == XENAPI_STATUS_NULL_ARGUMENT);
        CHECK(xenapi_string_list_push(classes, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
        CHECK(xenapi_string_list_push(classes, bad_utf8, NULL) == XENAPI_STATUS_INVALID_ARGUMENT);
        CHECK(xenapi_string_list_len(classes) == 0);
        xenapi_string_list_free(classes);
    }
    {
        /* Records and maps built by the caller. */
        xenapi_vm_record *rec = xenapi_vm_record_new();
        xenapi_string_map *map = xenapi_string_map_new();
        xenapi_vm_operations_list *ops = xenapi_vm_operations_list_new();
        size_t at = 99;
        CHECK(rec != NULL && strcmp(xenapi_vm_record_name_label(rec), "") == 0);
        CHECK(xenapi_vm_record_power_state(rec) == XENAPI_VM_POWER_STATE_UNKNOWN);
        CHECK(strcmp(xenapi_vm_record_power_state_name(rec), "") == 0);
        CHECK_OK(xenapi_vm_record_set_name_label(rec, "web", &err), &err);
        CHECK(strcmp(xenapi_vm_record_name_label(rec), "web") == 0);
        CHECK_OK(xenapi_vm_record_set_power_state(rec, XENAPI_VM_POWER_STATE_PAUSED, &err), &err);
        CHECK(strcmp(xenapi_vm_record_power_state_name(rec), "Paused") == 0);
        CHECK(xenapi_vm_record_set_power_state(rec, XENAPI_VM_POWER_STATE_UNKNOWN, NULL) ==
              XENAPI_STATUS_INVALID_ARGUMENT);
        CHECK(xenapi_vm_record_power_state(rec) == XENAPI_VM_POWER_STATE_PAUSED);
        CHECK(xenapi_vm_record_set_name_label(rec, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
        CHECK(xenapi_vm_record_set_name_label(NULL, "x", NULL) == XENAPI_STATUS_NULL_ARGUMENT);
        CHECK_OK(xenapi_string_map_set(map, "a", "1", &err), &err);
        CHECK_OK(xenapi_string_map_set(map, "b", "2", &err), &err);
        CHECK_OK(xenapi_string_map_set(map, "a", "3", &err), &err);
        CHECK(xenapi_string_map_len(map) == 2);
        CHECK(xenapi_string_map_find(map, "a", &at) && at == 0);
        CHECK(strcmp(xenapi_string_map_value(map, 0), "3") == 0);
        CHECK(!xenapi_string_map_find(map, "c", &at));
        CHECK_OK(xenapi_vm_record_set_other_config(rec, map, &err), &err);
        CHECK(xenapi_string_map_len(xenapi_vm_record_other_config(rec)) == 2);
        CHECK_OK(xenapi_vm_operations_list_push(ops, XENAPI_VM_OPERATIONS_START, &err), &err);
        CHECK(xenapi_vm_operations_list_push(ops, (xenapi_vm_operations)0, NULL) ==
              XENAPI_STATUS_INVALID_ARGUMENT);
        CHECK_OK(xenapi_vm_record_set_allowed_operations(rec, ops, &err), &err);
        CHECK(xenapi_vm_operations_list_len(xenapi_vm_record_allowed_operations(rec)) == 1);
        CHECK(strcmp(xenapi_vm_operations_list_get_name(xenapi_vm_record_allowed_operations(rec), 0),
                     "start") == 0);
        CHECK(xenapi_vm_operations_list_get(ops, 1) == XENAPI_VM_OPERATIONS_UNKNOWN);
        CHECK(xenapi_value_struct_len(xenapi_vm_record_extra(rec)) == 0);
        xenapi_vm_operations_list_free(ops);
        xenapi_string_map_free(map);
        xenapi_vm_record_free(rec);
    }

    /* Accessors on NULL or out of range */
    CHECK(xenapi_vm_record_map_len(NULL) == 0);
    CHECK(xenapi_vm_record_map_key(NULL, 0) == NULL);
    CHECK(xenapi_vm_record_map_value(NULL, 0) == NULL);
    CHECK(!xenapi_vm_record_map_find(NULL, "x", NULL));
    CHECK(xenapi_vm_record_name_label(NULL) == NULL);
    CHECK(xenapi_vm_record_uuid(NULL) == NULL);
    CHECK(xenapi_vm_record_extra(NULL) == NULL);
    CHECK(xenapi_vm_record_memory_static_max(NULL) == 0);
    CHECK(xenapi_vm_record_power_state(NULL) == XENAPI_VM_POWER_STATE_UNKNOWN);
    CHECK(xenapi_vm_record_power_state_name(NULL) == NULL);
    CHECK(xenapi_string_list_len(NULL) == 0);
    CHECK(xenapi_string_list_get(NULL, 0) == NULL);
    CHECK(xenapi_int64_double_map_len(NULL) == 0);
    CHECK(xenapi_int64_double_map_key(NULL, 0) == 0);
    CHECK(xenapi_int64_double_map_value(NULL, 0) == 0.0);
    CHECK(xenapi_vm_operations_list_get_name(NULL, 0) == NULL);
    CHECK(xenapi_error_status(NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_error_message(NULL) == NULL);
    CHECK(xenapi_error_code(NULL) == NULL);
    CHECK(xenapi_error_param_count(NULL) == 0);
    CHECK(xenapi_error_param(NULL, 0) == NULL);
    CHECK(xenapi_error_http_status(NULL) == 0);
    CHECK(strcmp(xenapi_status_name(XENAPI_STATUS_TLS), "XENAPI_STATUS_TLS") == 0);
    CHECK(strcmp(xenapi_status_name(12345), "XENAPI_STATUS_UNKNOWN") == 0);
    CHECK(strcmp(xenapi_status_name(-1), "XENAPI_STATUS_UNKNOWN") == 0);
    CHECK(xenapi_vm_power_state_to_string((xenapi_vm_power_state)99) == NULL);
    CHECK(xenapi_vm_power_state_from_string(NULL) == XENAPI_VM_POWER_STATE_UNKNOWN);
    CHECK(xenapi_pif_igmp_status_from_string("unknown") == XENAPI_PIF_IGMP_STATUS_UNKNOWN_VALUE);

    /* Values: NULLs, wrong kinds, bad text; items given to push/set are taken even on failure. */
    CHECK(xenapi_value_get_kind(NULL) == XENAPI_VALUE_KIND_INVALID);
    CHECK(xenapi_value_new_string(NULL, &v, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_value_new_string("x", NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_value_new_string(bad_utf8, &v, NULL) == XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK(xenapi_value_new_ref(NULL, &v, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_value_new_datetime(NULL, &v, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_value_new_base64(NULL, 3, &v, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK_OK(xenapi_value_new_base64(NULL, 0, &v, &err), &err);
    CHECK_OK(xenapi_value_get_base64(v, &bytes, &len, &err), &err);
    CHECK(bytes == NULL && len == 0);
    xenapi_value_free(v);
    v = NULL;
    arr = xenapi_value_new_array();
    st = xenapi_value_new_struct();
    CHECK(xenapi_value_array_push(NULL, xenapi_value_new_int64(1), NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_value_array_push(arr, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(xenapi_value_array_push(st, xenapi_value_new_int64(1), &err),
                 XENAPI_STATUS_INVALID_ARGUMENT, &err);
    expect_kind(&err, XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK(xenapi_value_struct_set(arr, "k", xenapi_value_new_nil(), NULL) ==
          XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK(xenapi_value_struct_set(st, NULL, xenapi_value_new_nil(), NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_value_struct_set(NULL, "k", xenapi_value_new_nil(), NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_value_struct_set(st, bad_utf8, xenapi_value_new_nil(), NULL) ==
          XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK_OK(xenapi_value_array_push(arr, xenapi_value_new_double(1.5), &err), &err);
    CHECK(xenapi_value_get_string(arr, &cstr, NULL) == XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK(xenapi_value_get_string(NULL, &cstr, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_value_get_string(arr, NULL, NULL) == XENAPI_STATUS_NULL_ARGUMENT);
    CHECK(xenapi_value_get_int64(xenapi_value_array_get(arr, 0), &i64, NULL) ==
          XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK(xenapi_value_get_bool(xenapi_value_array_get(arr, 0), &b, NULL) ==
          XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK_OK(xenapi_value_get_double(xenapi_value_array_get(arr, 0), &d, &err), &err);
    CHECK(d == 1.5);
    CHECK(xenapi_value_get_datetime(st, &cstr, NULL) == XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK(xenapi_value_get_datetime_unix(st, &i64, NULL) == XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK(xenapi_value_get_base64(st, &bytes, &len, NULL) == XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK(xenapi_value_array_len(st) == 0 && xenapi_value_array_len(NULL) == 0);
    CHECK(xenapi_value_array_get(st, 0) == NULL);
    CHECK(xenapi_value_struct_len(arr) == 0 && xenapi_value_struct_key(arr, 0) == NULL);
    CHECK(xenapi_value_struct_value(NULL, 0) == NULL);
    CHECK(xenapi_value_struct_get(st, NULL) == NULL);
    CHECK(xenapi_value_clone(NULL) == NULL);
    CHECK_OK(xenapi_value_new_string("12x", &v, &err), &err);
    CHECK(xenapi_value_get_int64(v, &i64, NULL) == XENAPI_STATUS_INVALID_ARGUMENT);
    xenapi_value_free(v);
    CHECK_OK(xenapi_value_new_datetime("yesterday", &v, &err), &err);
    CHECK(xenapi_value_get_datetime_unix(v, &i64, NULL) == XENAPI_STATUS_INVALID_ARGUMENT);
    CHECK_OK(xenapi_value_get_datetime(v, &cstr, &err), &err);
    CHECK(strcmp(cstr, "yesterday") == 0);
    xenapi_value_free(v);
    xenapi_value_free(arr);
    xenapi_value_free(st);

    /* Freeing NULL is allowed everywhere. */
    xenapi_options_free(NULL);
    xenapi_session_free(NULL);
    xenapi_value_free(NULL);
    xenapi_error_free(NULL);
    xenapi_string_free(NULL);
    xenapi_string_list_free(NULL);
    xenapi_vm_record_map_free(NULL);
    xenapi_vm_record_free(NULL);
    xenapi_int64_double_map_free(NULL);
    xenapi_event_batch_free(NULL);

    xenapi_session_free(s);
    xenapi_options_free(opts);
}

/* The emergency-mode login: no redirect, ends with local_logout; xend has none. */
static void test_slave_local_login(const sim_t *sim) {
    sim_t xend;
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    int before = sim_sessions(sim);
    CHECK_OK(xenapi_options_new(sim->url, &opts, &err), &err);
    CHECK_OK(xenapi_session_new(opts, &s, &err), &err);
    CHECK_STATUS(xenapi_session_slave_local_login_with_password(s, "root", "wrong", &err),
                 XENAPI_STATUS_API, &err);
    expect_api(&err, XENAPI_ERROR_SESSION_AUTHENTICATION_FAILED, 2);
    CHECK_OK(xenapi_session_slave_local_login_with_password(s, "root", "password", &err), &err);
    CHECK(xenapi_session_is_logged_in(s));
    CHECK(sim_sessions(sim) == before + 1);
    CHECK_OK(xenapi_session_local_logout(s, &err), &err);
    CHECK(!xenapi_session_is_logged_in(s));
    CHECK(sim_sessions(sim) == before);
    CHECK_STATUS(xenapi_session_slave_local_login_with_password(s, NULL, "password", &err),
                 XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    xenapi_session_free(s);
    s = NULL;
    xenapi_options_free(opts);
    opts = NULL;

    if (sim_of_dialect(&xend, "xend") != 0) {
        CHECK(0);
        return;
    }
    CHECK_OK(xenapi_options_new(xend.url, &opts, &err), &err);
    CHECK_OK(xenapi_session_new(opts, &s, &err), &err);
    CHECK_STATUS(xenapi_session_slave_local_login_with_password(s, "root", "password", &err),
                 XENAPI_STATUS_API, &err);
    expect_api(&err, XENAPI_ERROR_MESSAGE_METHOD_UNKNOWN, 1);
    xenapi_session_free(s);
    xenapi_options_free(opts);
}

int main(void) {
    sim_t sim;
    if (sim_of_dialect(&sim, "xapi") != 0) {
        return 1;
    }
    test_server_errors(&sim);
    test_arguments(&sim);
    test_timeout(&sim);
    test_slave_local_login(&sim);
    test_unreachable();
    test_tls();
    return finish("errors");
}
