/*
 * xenapi_options_set_protocol: JSON-RPC, XML-RPC and Auto against xenapi-sim (with and without
 * its JSON-RPC endpoint), and the same values whichever protocol carried them.
 */
#include "harness.h"

static xenapi_session *login_with(const sim_t *sim, xenapi_protocol p) {
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    CHECK_OK(xenapi_options_new(sim->url, &opts, &err), &err);
    CHECK_OK(xenapi_options_set_protocol(opts, p, &err), &err);
    CHECK_OK(xenapi_session_connect(opts, "root", "password", &s, &err), &err);
    xenapi_options_free(opts);
    return s;
}

/* VM.get_all_records over `s`, as its debug text (every value and type). */
static char *all_vms(const xenapi_session *s) {
    xenapi_error *err = NULL;
    xenapi_value *v = NULL;
    char *text = NULL;
    CHECK_OK(xenapi_session_call(s, "VM.get_all_records", NULL, 0, &v, &err), &err);
    if (v != NULL) {
        CHECK_OK(xenapi_value_to_debug_string(v, &text, &err), &err);
    }
    xenapi_value_free(v);
    return text;
}

int main(void) {
    sim_t sim;
    xenapi_session *json, *xml, *autos;
    char *a, *b;

    (void)clear_error;
    (void)sim_sessions;
    (void)sim_login;
    if (sim_of_dialect(&sim, "xapi") != 0) {
        return 1;
    }
    json = login_with(&sim, XENAPI_PROTOCOL_JSONRPC);
    xml = login_with(&sim, XENAPI_PROTOCOL_XMLRPC);
    autos = login_with(&sim, XENAPI_PROTOCOL_AUTO);
    CHECK(xenapi_session_get_protocol(json) == XENAPI_PROTOCOL_JSONRPC);
    CHECK(xenapi_session_get_protocol(xml) == XENAPI_PROTOCOL_XMLRPC);
    CHECK(xenapi_session_get_protocol(autos) == XENAPI_PROTOCOL_JSONRPC);
    CHECK(xenapi_session_get_protocol(NULL) == XENAPI_PROTOCOL_AUTO);
    a = all_vms(json);
    b = all_vms(xml);
    CHECK(a != NULL && b != NULL && strcmp(a, b) == 0);
    xenapi_string_free(a);
    xenapi_string_free(b);
    xenapi_session_free(json);
    xenapi_session_free(xml);
    xenapi_session_free(autos);

    /* A simulator run with --no-jsonrpc. */
    if (sim_get(&sim, "NOJSON") != 0) {
        return 1;
    }
    autos = login_with(&sim, XENAPI_PROTOCOL_AUTO);
    CHECK(xenapi_session_get_protocol(autos) == XENAPI_PROTOCOL_XMLRPC);
    xenapi_session_free(autos);
    return finish("protocol");
}
