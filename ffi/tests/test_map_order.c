/*
 * Map handles in the order the server sent, call after call (issue 22): a VM's other_config
 * filled in a known order on the simulator and read back 20 times, VM.get_all_records against the
 * raw reply's order, a map sent in the order of its _set calls, and a raw server (a thread here)
 * that sends int, string and ref keys in a fixed order no sort or hash gives. Int-keyed maps:
 * _get (no scan) and _sorted (entry indices in key order).
 */
#include <pthread.h>

#include "harness.h"

#define ROUNDS 20

/* Keys added in this order: neither sorted nor any hash order of them. */
static const char *const ADDED[] = {"zeta",  "alpha", "mu",    "beta",
                                    "omega", "kappa", "delta", "psi"};
#define NADDED (sizeof ADDED / sizeof ADDED[0])

static int rounds(void) {
    const char *r = getenv("XENAPI_TEST_ROUNDS");
    return r != NULL && atoi(r) > 0 ? atoi(r) : ROUNDS;
}

/* A raw call of `method` with one reference argument (NULL for none); the caller frees. */
static xenapi_value *raw_call(xenapi_session *s, const char *method, const char *ref) {
    xenapi_value *arg = NULL, *out = NULL;
    xenapi_error *err = NULL;
    if (ref != NULL) {
        CHECK_OK(xenapi_value_new_ref(ref, &arg, &err), &err);
    }
    CHECK_OK(
        xenapi_session_call(s, method, (const xenapi_value *const *)&arg, arg ? 1 : 0, &out, &err),
        &err);
    clear_error(&err);
    xenapi_value_free(arg);
    return out;
}

/* Whether `m` has exactly the keys `keys[0..n]`, in that order (and _entries agrees). */
static int string_map_is(const xenapi_string_map *m, const char *const *keys, size_t n) {
    const char *k[16], *v[16];
    size_t i, got = xenapi_string_map_entries(m, k, v, 16);
    if (m == NULL || xenapi_string_map_len(m) != n || got != n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (strcmp(xenapi_string_map_key(m, i), keys[i]) != 0 || strcmp(k[i], keys[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

static void other_config_in_added_order(xenapi_session *s) {
    xenapi_string_list *refs = NULL;
    xenapi_string_map *empty = xenapi_string_map_new(), *sent = xenapi_string_map_new();
    xenapi_value *raw;
    xenapi_error *err = NULL;
    const char *vm;
    const char *const resent[] = {"psi", "alpha", "zeta"};
    size_t i;
    int r;
    CHECK_OK(xenapi_vm_get_by_name_label(s, "vm02", &refs, &err), &err);
    CHECK(xenapi_string_list_len(refs) == 1);
    vm = xenapi_string_list_get(refs, 0);
    CHECK_OK(xenapi_vm_set_other_config(s, vm, empty, &err), &err);
    for (i = 0; i < NADDED; i++) {
        char value[8];
        snprintf(value, sizeof value, "%zu", i);
        CHECK_OK(xenapi_vm_add_to_other_config(s, vm, ADDED[i], value, &err), &err);
    }
    /* The simulator answers in insertion order: what the handles must then keep. */
    raw = raw_call(s, "VM.get_other_config", vm);
    CHECK(xenapi_value_struct_len(raw) == NADDED);
    for (i = 0; i < NADDED && i < xenapi_value_struct_len(raw); i++) {
        CHECK(strcmp(xenapi_value_struct_key(raw, i), ADDED[i]) == 0);
    }
    xenapi_value_free(raw);
    for (r = 0; r < rounds(); r++) {
        xenapi_vm_record *rec = NULL;
        xenapi_string_map *field = NULL;
        CHECK_OK(xenapi_vm_get_record(s, vm, &rec, &err), &err);
        CHECK(string_map_is(xenapi_vm_record_other_config(rec), ADDED, NADDED));
        CHECK(strcmp(xenapi_string_map_value(xenapi_vm_record_other_config(rec), 2), "2") == 0);
        CHECK_OK(xenapi_vm_get_other_config(s, vm, &field, &err), &err);
        CHECK(string_map_is(field, ADDED, NADDED));
        xenapi_string_map_free(field);
        xenapi_vm_record_free(rec);
    }
    /* A map built with _set goes out in that order (an existing key keeps its place). */
    for (i = 0; i < 3; i++) {
        CHECK_OK(xenapi_string_map_set(sent, resent[i], "x", &err), &err);
    }
    CHECK_OK(xenapi_string_map_set(sent, "psi", "again", &err), &err);
    CHECK(string_map_is(sent, resent, 3));
    CHECK_OK(xenapi_vm_set_other_config(s, vm, sent, &err), &err);
    raw = raw_call(s, "VM.get_other_config", vm);
    CHECK(xenapi_value_struct_len(raw) == 3);
    for (i = 0; i < 3 && i < xenapi_value_struct_len(raw); i++) {
        CHECK(strcmp(xenapi_value_struct_key(raw, i), resent[i]) == 0);
    }
    xenapi_value_free(raw);
    xenapi_string_map_free(sent);
    xenapi_string_map_free(empty);
    xenapi_string_list_free(refs);
    clear_error(&err);
}

static void all_records_in_the_replys_order(xenapi_session *s) {
    xenapi_value *raw = raw_call(s, "VM.get_all_records", NULL);
    xenapi_error *err = NULL;
    size_t i, n = xenapi_value_struct_len(raw), sorted_already = 1;
    int r;
    CHECK(n > 6);
    for (i = 1; i < n; i++) {
        if (strcmp(xenapi_value_struct_key(raw, i - 1), xenapi_value_struct_key(raw, i)) > 0) {
            sorted_already = 0;
        }
    }
    CHECK(!sorted_already);
    for (r = 0; r < rounds(); r++) {
        xenapi_vm_record_map *vms = NULL;
        CHECK_OK(xenapi_vm_get_all_records(s, &vms, &err), &err);
        CHECK(xenapi_vm_record_map_len(vms) == n);
        for (i = 0; i < n && i < xenapi_vm_record_map_len(vms); i++) {
            CHECK(strcmp(xenapi_vm_record_map_key(vms, i), xenapi_value_struct_key(raw, i)) == 0);
        }
        xenapi_vm_record_map_free(vms);
    }
    xenapi_value_free(raw);
    clear_error(&err);
}

/* _get and _sorted on a map built by the caller: keys 5, 0, 12, 3, 1, 10, 2. */
static const int64_t CPUS[] = {5, 0, 12, 3, 1, 10, 2};
#define NCPUS (sizeof CPUS / sizeof CPUS[0])

/* Whether `m` is keyed CPUS in entry order, with values key/100, and _get and _sorted agree. */
static int cpu_map_ok(const xenapi_int64_double_map *m) {
    size_t i, order[NCPUS + 1];
    int ok = xenapi_int64_double_map_len(m) == NCPUS;
    for (i = 0; ok && i < NCPUS; i++) {
        double v = -1;
        ok = xenapi_int64_double_map_key(m, i) == CPUS[i] &&
             xenapi_int64_double_map_get(m, CPUS[i], &v) && v == (double)CPUS[i] / 100.0;
    }
    ok = ok && xenapi_int64_double_map_sorted(m, order, NCPUS + 1) == NCPUS;
    for (i = 1; ok && i < NCPUS; i++) {
        ok =
            xenapi_int64_double_map_key(m, order[i - 1]) < xenapi_int64_double_map_key(m, order[i]);
    }
    return ok && xenapi_int64_double_map_key(m, order[0]) == 0 &&
           xenapi_int64_double_map_key(m, order[NCPUS - 1]) == 12;
}

static void int_keys_by_key(void) {
    xenapi_int64_double_map *m = xenapi_int64_double_map_new();
    xenapi_error *err = NULL;
    size_t i, order[16];
    double v = -1;
    for (i = 0; i < NCPUS; i++) {
        CHECK_OK(xenapi_int64_double_map_set(m, CPUS[i], (double)CPUS[i] / 100.0, &err), &err);
    }
    CHECK(cpu_map_ok(m));
    CHECK(!xenapi_int64_double_map_get(m, 4, &v) && v == -1);
    CHECK(!xenapi_int64_double_map_get(m, 13, NULL));
    CHECK(xenapi_int64_double_map_get(m, 12, NULL));
    CHECK(xenapi_int64_double_map_find(m, 12, &i) && i == 2);
    CHECK(!xenapi_int64_double_map_find(m, 4, NULL));
    /* Room for 2: the first two in key order, and the length. */
    CHECK(xenapi_int64_double_map_sorted(m, order, 2) == NCPUS);
    CHECK(order[0] == 1 && order[1] == 4);
    CHECK(xenapi_int64_double_map_sorted(m, NULL, 0) == NCPUS);
    /* A new key: appended, and found in the key order; an existing key keeps its place. */
    CHECK_OK(xenapi_int64_double_map_set(m, 7, 0.7, &err), &err);
    CHECK_OK(xenapi_int64_double_map_set(m, 5, 0.55, &err), &err);
    CHECK(xenapi_int64_double_map_key(m, NCPUS) == 7 && xenapi_int64_double_map_key(m, 0) == 5);
    CHECK(xenapi_int64_double_map_get(m, 7, &v) && v == 0.7);
    CHECK(xenapi_int64_double_map_get(m, 5, &v) && v == 0.55);
    CHECK(xenapi_int64_double_map_sorted(m, order, 16) == NCPUS + 1);
    CHECK(order[4] == 0 && order[5] == NCPUS); /* 0 1 2 3 5 7 10 12 */
    /* NULL maps. */
    CHECK(!xenapi_int64_double_map_get(NULL, 0, &v));
    CHECK(xenapi_int64_double_map_sorted(NULL, order, 16) == 0);
    CHECK(!xenapi_int64_int64_map_get(NULL, 0, NULL));
    CHECK(xenapi_int64_string_list_map_sorted(NULL, NULL, 0) == 0);
    xenapi_int64_double_map_free(m);
    clear_error(&err);
}

/* Per-CPU maps from a server (xend's live VCPUs_utilisation): in the reply's order, every call. */
static void vcpus_from_xend(xenapi_session *s) {
    xenapi_vm_record_map *vms = NULL;
    xenapi_error *err = NULL;
    size_t i, seen = 0;
    CHECK_OK(xenapi_vm_get_all_records(s, &vms, &err), &err);
    for (i = 0; i < xenapi_vm_record_map_len(vms); i++) {
        const char *metrics = xenapi_vm_record_metrics(xenapi_vm_record_map_value(vms, i));
        xenapi_value *raw = raw_call(s, "VM_metrics.get_VCPUs_utilisation", metrics);
        size_t n = xenapi_value_struct_len(raw);
        int r;
        for (r = 0; r < rounds(); r++) {
            xenapi_int64_double_map *u = NULL;
            size_t c;
            CHECK_OK(xenapi_vm_metrics_get_vcpus_utilisation(s, metrics, &u, &err), &err);
            CHECK(xenapi_int64_double_map_len(u) == n);
            for (c = 0; c < n && c < xenapi_int64_double_map_len(u); c++) {
                CHECK(xenapi_int64_double_map_key(u, c) == atoll(xenapi_value_struct_key(raw, c)));
                CHECK(xenapi_int64_double_map_get(u, xenapi_int64_double_map_key(u, c), NULL));
            }
            xenapi_int64_double_map_free(u);
        }
        seen += n;
        xenapi_value_free(raw);
    }
    CHECK(seen > 1);
    xenapi_vm_record_map_free(vms);
    clear_error(&err);
}

/* ---- a raw server with fixed replies --------------------------------------------------------- */

#define OTHER_XML                                                                             \
    "<struct><member><name>z</name><value>Z</value></member><member><name>a</name><value>A</" \
    "value>"                                                                                  \
    "</member><member><name>m</name><value>M</value></member><member><name>b</name><value>B"  \
    "</value></member></struct>"
static const char *const OTHER[] = {"z", "a", "m", "b"};
static const char *const VMS[] = {"OpaqueRef:d", "OpaqueRef:a", "OpaqueRef:c", "OpaqueRef:b"};

static void vm_member(char *out, size_t len, const char *ref) {
    snprintf(out, len,
             "<member><name>%s</name><value><struct><member><name>name_label</name><value>%s"
             "</value></member><member><name>other_config</name><value>" OTHER_XML
             "</value></member></struct></value></member>",
             ref, ref);
}

/* The value of a reply to `method`. */
static void answer(const char *method, char *out, size_t len) {
    size_t i, at;
    if (strcmp(method, "session.login_with_password") == 0) {
        snprintf(out, len, "OpaqueRef:session");
    } else if (strcmp(method, "VM_metrics.get_VCPUs_utilisation") == 0) {
        at = (size_t)snprintf(out, len, "<struct>");
        for (i = 0; i < NCPUS; i++) {
            at += (size_t)snprintf(out + at, len - at,
                                   "<member><name>%lld</name><value><double>%.2f</double></value>"
                                   "</member>",
                                   (long long)CPUS[i], (double)CPUS[i] / 100.0);
        }
        snprintf(out + at, len - at, "</struct>");
    } else if (strcmp(method, "VM.get_all_records") == 0) {
        at = (size_t)snprintf(out, len, "<struct>");
        for (i = 0; i < 4; i++) {
            vm_member(out + at, len - at, VMS[i]);
            at += strlen(out + at);
        }
        snprintf(out + at, len - at, "</struct>");
    } else if (strcmp(method, "host.get_all_records") == 0) {
        snprintf(out, len, "<struct></struct>");
    } else {
        out[0] = '\0';
    }
}

static socket_t listener = SOCKET_BAD;

/* Serves one request per connection until the listener is closed. */
static void *serve(void *unused) {
    static char req[16384], value[8192], reply[9216];
    (void)unused;
    for (;;) {
        socket_t c = accept(listener, NULL, NULL);
        size_t got = 0;
        long n;
        const char *head, *body, *name, *end;
        size_t length = 0, total;
        char method[96] = "";
        if (c == SOCKET_BAD) {
            return NULL;
        }
        /* The head, then Content-Length bytes of body. */
        for (;;) {
            n = (long)recv(c, req + got, (int)(sizeof req - 1 - got), 0);
            if (n <= 0) {
                break;
            }
            got += (size_t)n;
            req[got] = '\0';
            body = strstr(req, "\r\n\r\n");
            head = strstr(req, "Content-Length:");
            if (head == NULL) {
                head = strstr(req, "content-length:");
            }
            if (body != NULL && head != NULL) {
                length = (size_t)atol(head + 15);
                if (got >= (size_t)(body + 4 - req) + length) {
                    break;
                }
            }
        }
        if (strncmp(req, "POST / ", 7) != 0) {
            const char *nf =
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            send(c, nf, (int)strlen(nf), 0);
            socket_close(c);
            continue;
        }
        name = strstr(req, "<methodName>");
        end = name ? strstr(name, "</methodName>") : NULL;
        if (name != NULL && end != NULL && (size_t)(end - name - 12) < sizeof method) {
            memcpy(method, name + 12, (size_t)(end - name - 12));
            method[end - name - 12] = '\0';
        }
        answer(method, value, sizeof value);
        total = (size_t)snprintf(
            reply, sizeof reply,
            "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct><member><name>"
            "Status</name><value>Success</value></member><member><name>Value</name><value>%s"
            "</value></member></struct></value></param></params></methodResponse>",
            value);
        snprintf(req, sizeof req,
                 "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 total);
        send(c, req, (int)strlen(req), 0);
        send(c, reply, (int)total, 0);
        socket_close(c);
    }
}

static void a_raw_servers_order(void) {
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    pthread_t thread;
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    char url[64];
    int r;
    listener = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(listener, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(listen(listener, 8) == 0);
    CHECK(getsockname(listener, (struct sockaddr *)&addr, &alen) == 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(addr.sin_port));
    CHECK(pthread_create(&thread, NULL, serve, NULL) == 0);
    CHECK_OK(xenapi_options_new(url, &opts, &err), &err);
    CHECK_OK(xenapi_options_set_protocol(opts, XENAPI_PROTOCOL_XMLRPC, &err), &err);
    CHECK_OK(xenapi_session_connect(opts, "root", "password", &s, &err), &err);
    for (r = 0; s != NULL && r < rounds(); r++) {
        xenapi_int64_double_map *u = NULL;
        xenapi_vm_record_map *vms = NULL;
        size_t i;
        CHECK_OK(xenapi_vm_metrics_get_vcpus_utilisation(s, "OpaqueRef:m", &u, &err), &err);
        CHECK(cpu_map_ok(u));
        xenapi_int64_double_map_free(u);
        CHECK_OK(xenapi_vm_get_all_records(s, &vms, &err), &err);
        CHECK(xenapi_vm_record_map_len(vms) == 4);
        for (i = 0; i < 4 && i < xenapi_vm_record_map_len(vms); i++) {
            const xenapi_vm_record *rec = xenapi_vm_record_map_value(vms, i);
            CHECK(strcmp(xenapi_vm_record_map_key(vms, i), VMS[i]) == 0);
            CHECK(string_map_is(xenapi_vm_record_other_config(rec), OTHER, 4));
        }
        xenapi_vm_record_map_free(vms);
    }
    xenapi_session_free(s);
    xenapi_options_free(opts);
    clear_error(&err);
    shutdown(listener, SHUT_RDWR);
    socket_close(listener);
    pthread_join(thread, NULL);
}

int main(void) {
    sim_t sim, xend;
    xenapi_session *s;
    if (sim_of_dialect(&sim, "xapi") != 0 || sim_of_dialect(&xend, "xend") != 0) {
        return 1;
    }
    s = sim_login(&sim);
    CHECK(s != NULL);
    if (s != NULL) {
        other_config_in_added_order(s);
        all_records_in_the_replys_order(s);
        xenapi_session_free(s);
        CHECK(sim_sessions(&sim) == 0);
    }
    s = sim_login(&xend);
    CHECK(s != NULL);
    if (s != NULL) {
        vcpus_from_xend(s);
        xenapi_session_free(s);
    }
    int_keys_by_key();
    a_raw_servers_order();
    return finish("test_map_order");
}
