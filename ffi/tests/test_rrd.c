/*
 * RRDs through the C ABI: /rrd_updates parsed from bytes (XML and JSON, NaN kept), whole RRD
 * dumps, usage figures, and fetches from the xapi simulator (a running VM has CPU use, a halted
 * one has no figures), and every NULL argument refused.
 *
 * Run under `xenapi-sim run` (ffi/ffi.mk: FFI_SIMS_rrd).
 */
#include "harness.h"

#include <math.h>

static const char XML[] =
    "<?xml version=\"1.0\"?><xport><meta><start>1700000000</start><step>5</step>"
    "<end>1700000010</end><rows>2</rows><columns>4</columns><legend>"
    "<entry>AVERAGE:vm:v1:cpu0</entry><entry>AVERAGE:vm:v1:cpu1</entry>"
    "<entry>AVERAGE:vm:v1:memory</entry><entry>MAX:host:h1:sr_a:read</entry>"
    "</legend></meta><data>"
    "<row><t>1700000010</t><v>0.5</v><v>NaN</v><v>1073741824</v><v>3</v></row>"
    "<row><t>1700000005</t><v>0.25</v><v>NaN</v><v>1073741824</v><v>Infinity</v></row>"
    "</data></xport>";

/* xapi's JSON: numbers as strings, "NaN" among them. */
static const char JSON[] =
    "{\"meta\":{\"start\":\"1700000000\",\"step\":\"5\",\"end\":\"1700000010\",\"rows\":\"2\","
    "\"columns\":\"2\",\"legend\":[\"AVERAGE:host:h1:cpu0\",\"AVERAGE:host:h1:memory_free_kib\"]},"
    "\"data\":[{\"t\":\"1700000010\",\"values\":[\"0.75\",\"NaN\"]},"
    "{\"t\":\"1700000005\",\"values\":[\"0.25\",\"2048\"]}]}";

static const char DUMP[] =
    "<?xml version=\"1.0\"?><rrd><version>0003</version><step>5</step>"
    "<lastupdate>1700000012</lastupdate>"
    "<ds><name>cpu0</name><type>DERIVE</type><minimal_heartbeat>300.0</minimal_heartbeat>"
    "<min>0.0</min><max>1.0</max><last_ds>0</last_ds><value>0.0</value>"
    "<unknown_sec>0</unknown_sec></ds>"
    "<ds><name>memory</name><type>GAUGE</type><minimal_heartbeat>300.0</minimal_heartbeat>"
    "<min>0.0</min><max>Infinity</max><last_ds>0</last_ds><value>0.0</value>"
    "<unknown_sec>0</unknown_sec></ds>"
    "<rra><cf>AVERAGE</cf><pdp_per_row>1</pdp_per_row><params><xff>0.5</xff></params>"
    "<cdp_prep></cdp_prep><database><row><v>0.1</v><v>100</v></row>"
    "<row><v>0.3</v><v>200</v></row><row><v>NaN</v><v>300</v></row></database></rra>"
    "<rra><cf>MAX</cf><pdp_per_row>12</pdp_per_row><params><xff>0.5</xff></params>"
    "<cdp_prep></cdp_prep><database><row><v>0.9</v><v>400</v></row></database></rra>"
    "</rrd>";

static xenapi_rrd_updates *parse_updates(const char *text) {
    xenapi_rrd_updates *u = NULL;
    xenapi_error *err = NULL;
    CHECK_OK(xenapi_rrd_updates_parse((const uint8_t *)text, strlen(text), &u, &err), &err);
    clear_error(&err);
    return u;
}

static void test_parse_xml(void) {
    xenapi_rrd_updates *u = parse_updates(XML);
    xenapi_error *err = NULL;
    const char *cf = NULL, *kind = NULL, *uuid = NULL, *name = NULL;
    double v = 0;
    int64_t t = 0;
    size_t col = 99;
    if (u == NULL) {
        return;
    }
    CHECK(xenapi_rrd_updates_start(u) == 1700000000);
    CHECK(xenapi_rrd_updates_end(u) == 1700000010);
    CHECK(xenapi_rrd_updates_step(u) == 5);
    CHECK(xenapi_rrd_updates_column_count(u) == 4);
    CHECK(xenapi_rrd_updates_row_count(u) == 2);

    CHECK_OK(xenapi_rrd_updates_column(u, 3, &cf, &kind, &uuid, &name, &err), &err);
    CHECK(cf != NULL && strcmp(cf, "MAX") == 0);
    CHECK(kind != NULL && strcmp(kind, "host") == 0);
    CHECK(uuid != NULL && strcmp(uuid, "h1") == 0);
    CHECK(name != NULL && strcmp(name, "sr_a:read") == 0); /* a name holding a colon */
    /* Every out-pointer may be NULL. */
    CHECK_OK(xenapi_rrd_updates_column(u, 0, NULL, NULL, NULL, &name, &err), &err);
    CHECK(strcmp(name, "cpu0") == 0);
    CHECK_STATUS(xenapi_rrd_updates_column(u, 4, &cf, NULL, NULL, NULL, &err),
                 XENAPI_STATUS_INVALID_ARGUMENT, &err);
    CHECK(err != NULL && strstr(xenapi_error_message(err), "out of range") != NULL);
    clear_error(&err);

    CHECK_OK(xenapi_rrd_updates_time(u, 0, &t, &err), &err);
    CHECK(t == 1700000010);
    CHECK_OK(xenapi_rrd_updates_time(u, 1, &t, &err), &err);
    CHECK(t == 1700000005);
    CHECK_OK(xenapi_rrd_updates_value(u, 1, 0, &v, &err), &err);
    CHECK(v == 0.25);
    CHECK_OK(xenapi_rrd_updates_value(u, 0, 1, &v, &err), &err);
    CHECK(isnan(v)); /* NaN kept */
    CHECK_OK(xenapi_rrd_updates_value(u, 1, 3, &v, &err), &err);
    CHECK(isinf(v) && v > 0);
    CHECK_OK(xenapi_rrd_updates_value(u, 0, 2, &v, &err), &err);
    CHECK(v == 1073741824.0);
    /* Out of range: an error, and the out-parameter untouched. */
    v = 42;
    CHECK_STATUS(xenapi_rrd_updates_value(u, 2, 0, &v, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_updates_value(u, 0, 4, &v, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    CHECK(v == 42);
    CHECK_STATUS(xenapi_rrd_updates_time(u, 2, &t, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);

    CHECK(xenapi_rrd_updates_find(u, "vm", "v1", "cpu1", "AVERAGE", &col) && col == 1);
    CHECK(xenapi_rrd_updates_find(u, "host", "h1", "sr_a:read", NULL, &col) && col == 3);
    CHECK(!xenapi_rrd_updates_find(u, "host", "h1", "sr_a:read", "AVERAGE", &col));
    CHECK(!xenapi_rrd_updates_find(u, "vm", "v2", "cpu0", NULL, &col));
    CHECK(!xenapi_rrd_updates_find(u, "vm", "v1", "cpu0", "MEDIAN", &col));
    CHECK(xenapi_rrd_updates_find(u, "vm", "v1", "memory", NULL, NULL));
    CHECK(!xenapi_rrd_updates_find(u, NULL, "v1", "memory", NULL, NULL));
    CHECK(!xenapi_rrd_updates_find(NULL, "vm", "v1", "memory", NULL, NULL));

    /* Usage from the updates: the newest 5 s row and the one before. */
    {
        xenapi_rrd_usage *usage = NULL;
        CHECK_OK(xenapi_rrd_usage_from_updates(u, "vm", "v1", 60, &usage, &err), &err);
        CHECK(xenapi_rrd_usage_cpu_count(usage) == 2);
        CHECK(xenapi_rrd_usage_cpu(usage, 0, &v) && fabs(v - 0.375) < 1e-9);
        CHECK(!xenapi_rrd_usage_cpu(usage, 1, &v)); /* only NaN: absent */
        CHECK(!xenapi_rrd_usage_cpu(usage, 2, &v));
        CHECK(xenapi_rrd_usage_cpu_average(usage, &v) && fabs(v - 0.375) < 1e-9);
        CHECK(xenapi_rrd_usage_memory_total(usage, &v) && v == 1073741824.0);
        CHECK(!xenapi_rrd_usage_memory_free(usage, &v));
        CHECK(!xenapi_rrd_usage_memory_used(usage, &v));
        CHECK(!xenapi_rrd_usage_disk_read(usage, &v));
        CHECK(!xenapi_rrd_usage_net_rx(usage, &v));
        xenapi_rrd_usage_free(usage);
        usage = NULL;
        CHECK_STATUS(xenapi_rrd_usage_from_updates(u, "vm", "nobody", 60, &usage, &err),
                     XENAPI_STATUS_INVALID_ARGUMENT, &err);
        CHECK(usage == NULL);
        clear_error(&err);
    }
    xenapi_rrd_updates_free(u);
}

static void test_parse_json(void) {
    xenapi_rrd_updates *u = parse_updates(JSON);
    xenapi_rrd_usage *usage = NULL;
    xenapi_error *err = NULL;
    double v = 0;
    size_t col = 0;
    if (u == NULL) {
        return;
    }
    CHECK(xenapi_rrd_updates_step(u) == 5);
    CHECK(xenapi_rrd_updates_column_count(u) == 2 && xenapi_rrd_updates_row_count(u) == 2);
    CHECK(xenapi_rrd_updates_find(u, "host", "h1", "memory_free_kib", "AVERAGE", &col) && col == 1);
    CHECK_OK(xenapi_rrd_updates_value(u, 0, 1, &v, &err), &err);
    CHECK(isnan(v));
    CHECK_OK(xenapi_rrd_updates_value(u, 1, 1, &v, &err), &err);
    CHECK(v == 2048);
    CHECK_OK(xenapi_rrd_usage_from_updates(u, "host", "h1", 0, &usage, &err), &err);
    /* The newest row alone: cpu0 0.75, memory free NaN (absent). */
    CHECK(xenapi_rrd_usage_cpu(usage, 0, &v) && v == 0.75);
    CHECK(!xenapi_rrd_usage_memory_free(usage, &v));
    xenapi_rrd_usage_free(usage);
    xenapi_rrd_updates_free(u);
}

static void test_parse_dump(void) {
    xenapi_rrd *r = NULL;
    xenapi_rrd_usage *usage = NULL;
    xenapi_error *err = NULL;
    double v = 0;
    int64_t t = 0;
    size_t src = 9;
    CHECK_OK(xenapi_rrd_parse((const uint8_t *)DUMP, strlen(DUMP), &r, &err), &err);
    if (r == NULL) {
        clear_error(&err);
        return;
    }
    CHECK(xenapi_rrd_step(r) == 5);
    CHECK(xenapi_rrd_last_update(r) == 1700000012);
    CHECK(xenapi_rrd_source_count(r) == 2);
    CHECK(strcmp(xenapi_rrd_source_name(r, 1), "memory") == 0);
    CHECK(xenapi_rrd_source_name(r, 2) == NULL);
    CHECK(xenapi_rrd_find_source(r, "memory", &src) && src == 1);
    CHECK(!xenapi_rrd_find_source(r, "cpu7", &src));
    CHECK(xenapi_rrd_archive_count(r) == 2);
    CHECK(strcmp(xenapi_rrd_archive_cf(r, 0), "AVERAGE") == 0);
    CHECK(strcmp(xenapi_rrd_archive_cf(r, 1), "MAX") == 0);
    CHECK(xenapi_rrd_archive_cf(r, 2) == NULL);
    CHECK(xenapi_rrd_archive_step(r, 0) == 5 && xenapi_rrd_archive_step(r, 1) == 60);
    CHECK(xenapi_rrd_archive_step(r, 2) == -1);
    CHECK(xenapi_rrd_archive_row_count(r, 0) == 3 && xenapi_rrd_archive_row_count(r, 1) == 1);
    /* Rows newest first: the newest ends at the last 5 s boundary. */
    CHECK_OK(xenapi_rrd_row_time(r, 0, 0, &t, &err), &err);
    CHECK(t == 1700000010);
    CHECK_OK(xenapi_rrd_row_time(r, 0, 2, &t, &err), &err);
    CHECK(t == 1700000000);
    CHECK_OK(xenapi_rrd_value(r, 0, 0, 0, &v, &err), &err);
    CHECK(isnan(v));
    CHECK_OK(xenapi_rrd_value(r, 0, 2, 1, &v, &err), &err);
    CHECK(v == 100);
    CHECK_STATUS(xenapi_rrd_value(r, 1, 1, 0, &v, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_value(r, 0, 0, 2, &v, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_row_time(r, 2, 0, &t, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    /* Usage over the last 10 s of the finest AVERAGE archive: 0.3 (the NaN skipped). */
    CHECK_OK(xenapi_rrd_usage_from_rrd(r, 10, &usage, &err), &err);
    CHECK(xenapi_rrd_usage_cpu(usage, 0, &v) && fabs(v - 0.3) < 1e-9);
    CHECK(xenapi_rrd_usage_memory_total(usage, &v) && v == 250);
    xenapi_rrd_usage_free(usage);
    xenapi_rrd_free(r);
}

static void test_bad_documents_and_nulls(void) {
    xenapi_rrd_updates *u = NULL;
    xenapi_rrd *r = NULL;
    xenapi_rrd_usage *usage = NULL;
    xenapi_error *err = NULL;
    const char *junk = "<xport><meta><legend><entry>MEDIAN:vm:u:cpu0</entry></legend></meta>";
    double v = 7;
    int64_t t = 7;

    CHECK_STATUS(xenapi_rrd_updates_parse((const uint8_t *)junk, strlen(junk), &u, &err),
                 XENAPI_STATUS_INVALID_ARGUMENT, &err);
    CHECK(u == NULL);
    CHECK(err != NULL && strstr(xenapi_error_message(err), "RRD") != NULL);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_updates_parse((const uint8_t *)"{}", 2, &u, &err),
                 XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_updates_parse(NULL, 0, &u, &err), XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_updates_parse(NULL, 5, &u, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_updates_parse((const uint8_t *)XML, strlen(XML), NULL, &err),
                 XENAPI_STATUS_NULL_ARGUMENT, &err);
    CHECK(err != NULL && strstr(xenapi_error_message(err), "out_updates") != NULL);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_parse((const uint8_t *)XML, strlen(XML), &r, &err),
                 XENAPI_STATUS_INVALID_ARGUMENT, &err);
    CHECK(r == NULL);
    clear_error(&err);

    /* NULL handles: the accessors' documented defaults, the fallible ones NULL_ARGUMENT. */
    CHECK(xenapi_rrd_updates_start(NULL) == -1 && xenapi_rrd_updates_step(NULL) == -1);
    CHECK(xenapi_rrd_updates_column_count(NULL) == 0 && xenapi_rrd_updates_row_count(NULL) == 0);
    CHECK_STATUS(xenapi_rrd_updates_value(NULL, 0, 0, &v, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_updates_time(NULL, 0, &t, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_updates_column(NULL, 0, NULL, NULL, NULL, NULL, &err),
                 XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK(xenapi_rrd_step(NULL) == -1 && xenapi_rrd_source_count(NULL) == 0);
    CHECK(xenapi_rrd_source_name(NULL, 0) == NULL && xenapi_rrd_archive_cf(NULL, 0) == NULL);
    CHECK_STATUS(xenapi_rrd_value(NULL, 0, 0, 0, &v, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK(xenapi_rrd_usage_cpu_count(NULL) == 0);
    CHECK(!xenapi_rrd_usage_cpu(NULL, 0, &v) && !xenapi_rrd_usage_memory_total(NULL, &v));
    CHECK(v == 7 && t == 7);
    CHECK_STATUS(xenapi_rrd_usage_from_updates(NULL, "vm", "u", 60, &usage, &err),
                 XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_fetch_host(NULL, &r, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_fetch_vm(NULL, "u", &r, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_updates_fetch(NULL, -60, 0, NULL, true, NULL, NULL, &u, &err),
                 XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_vm_usage(NULL, "u", 60, &usage, &err), XENAPI_STATUS_NULL_ARGUMENT,
                 &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_host_usage(NULL, "u", 60, &usage, &err), XENAPI_STATUS_NULL_ARGUMENT,
                 &err);
    clear_error(&err);
    CHECK(usage == NULL && u == NULL && r == NULL);
    xenapi_rrd_updates_free(NULL);
    xenapi_rrd_free(NULL);
    xenapi_rrd_usage_free(NULL);
}

/* Guests (not the control domain), by UUID: a running one on a pool member that is not the
 * coordinator (when there is one) and the host it is on, a running one on the coordinator, and a
 * halted one. */
typedef struct {
    char running[64];
    char resident[64];
    char running_here[64];
    char halted[64];
} guests_t;

static int pick_vms(xenapi_session *s, guests_t *g) {
    xenapi_string_list *refs = NULL, *pools = NULL;
    xenapi_error *err = NULL;
    char *master = NULL;
    size_t i;
    memset(g, 0, sizeof *g);
    if (xenapi_pool_get_all(s, &pools, &err) != XENAPI_STATUS_OK ||
        xenapi_pool_get_master(s, xenapi_string_list_get(pools, 0), &master, &err) !=
            XENAPI_STATUS_OK ||
        xenapi_vm_get_all(s, &refs, &err) != XENAPI_STATUS_OK) {
        fprintf(stderr, "pool or VMs: %s\n", err_text(&err));
        clear_error(&err);
        xenapi_string_list_free(pools);
        xenapi_string_free(master);
        return -1;
    }
    for (i = 0; i < xenapi_string_list_len(refs); i++) {
        xenapi_vm_record *r = NULL;
        if (xenapi_vm_get_record(s, xenapi_string_list_get(refs, i), &r, &err) !=
            XENAPI_STATUS_OK) {
            clear_error(&err);
            continue;
        }
        if (!xenapi_vm_record_is_a_template(r) && !xenapi_vm_record_is_control_domain(r)) {
            xenapi_vm_power_state p = xenapi_vm_record_power_state(r);
            const char *on = xenapi_vm_record_resident_on(r);
            if (p == XENAPI_VM_POWER_STATE_HALTED && !g->halted[0]) {
                copy_text(g->halted, sizeof g->halted, xenapi_vm_record_uuid(r));
            } else if (p == XENAPI_VM_POWER_STATE_RUNNING && strcmp(on, master) == 0) {
                if (!g->running_here[0]) {
                    copy_text(g->running_here, sizeof g->running_here, xenapi_vm_record_uuid(r));
                }
                if (!g->running[0]) {
                    copy_text(g->running, sizeof g->running, xenapi_vm_record_uuid(r));
                    copy_text(g->resident, sizeof g->resident, on);
                }
            } else if (p == XENAPI_VM_POWER_STATE_RUNNING) {
                /* A member's VM is preferred: its figures must be asked of its host. */
                copy_text(g->running, sizeof g->running, xenapi_vm_record_uuid(r));
                copy_text(g->resident, sizeof g->resident, on);
            }
        }
        xenapi_vm_record_free(r);
    }
    xenapi_string_list_free(refs);
    xenapi_string_list_free(pools);
    xenapi_string_free(master);
    return g->running[0] && g->running_here[0] && g->halted[0] ? 0 : -1;
}

/* The uuid of a host. */
static int host_uuid(xenapi_session *s, const char *host, char *uuid, size_t len) {
    xenapi_error *err = NULL;
    char *u = NULL;
    int rc = -1;
    if (xenapi_host_get_uuid(s, host, &u, &err) == XENAPI_STATUS_OK) {
        copy_text(uuid, len, u);
        rc = 0;
    }
    clear_error(&err);
    xenapi_string_free(u);
    return rc;
}

static void test_fetch(xenapi_session *s) {
    guests_t g;
    const char *running = g.running, *halted = g.halted, *resident = g.resident;
    char host[64];
    xenapi_rrd_updates *u = NULL;
    xenapi_rrd *r = NULL;
    xenapi_rrd_usage *usage = NULL;
    xenapi_error *err = NULL;
    size_t col = 0, row, rows;
    double v = 0, best = 0;

    CHECK(pick_vms(s, &g) == 0);
    CHECK(host_uuid(s, resident, host, sizeof host) == 0);
    if (!running[0] || !g.running_here[0] || !halted[0] || !host[0]) {
        return;
    }

    /* The last minute, averages, with the host's own sources, asked of the host the running VM
     * is on (a host answers for itself and its VMs only). */
    CHECK_OK(xenapi_rrd_updates_fetch(s, -60, 0, "AVERAGE", true, NULL, resident, &u, &err), &err);
    clear_error(&err);
    if (u != NULL) {
        rows = xenapi_rrd_updates_row_count(u);
        CHECK(rows >= 1);
        CHECK(xenapi_rrd_updates_step(u) == 5);
        CHECK(xenapi_rrd_updates_find(u, "vm", running, "cpu0", "AVERAGE", &col));
        for (row = 0; row < rows; row++) {
            if (xenapi_rrd_updates_value(u, row, col, &v, NULL) == XENAPI_STATUS_OK && v > best) {
                best = v;
            }
        }
        CHECK(best > 0 && best <= 1); /* a running VM uses CPU */
        CHECK(!xenapi_rrd_updates_find(u, "vm", halted, "cpu0", NULL, NULL));
        CHECK(xenapi_rrd_updates_find(u, "host", host, "cpu0", "AVERAGE", NULL));
        CHECK(!xenapi_rrd_updates_find(u, "vm", running, "cpu0", "MAX", NULL));

        CHECK_OK(xenapi_rrd_usage_from_updates(u, "vm", running, 60, &usage, &err), &err);
        CHECK(xenapi_rrd_usage_cpu_count(usage) >= 1);
        CHECK(xenapi_rrd_usage_cpu(usage, 0, &v) && v >= 0 && v <= 1);
        CHECK(xenapi_rrd_usage_memory_total(usage, &v) && v > 0);
        xenapi_rrd_usage_free(usage);
        usage = NULL;
        CHECK_STATUS(xenapi_rrd_usage_from_updates(u, "vm", halted, 60, &usage, &err),
                     XENAPI_STATUS_INVALID_ARGUMENT, &err);
        clear_error(&err);
        xenapi_rrd_updates_free(u);
        u = NULL;
    }

    /* One VM's sources only, every CF: no host columns. */
    CHECK_OK(xenapi_rrd_updates_fetch(s, -30, 5, NULL, false, running, resident, &u, &err), &err);
    clear_error(&err);
    if (u != NULL) {
        size_t i;
        int others = 0;
        for (i = 0; i < xenapi_rrd_updates_column_count(u); i++) {
            const char *uuid = NULL;
            xenapi_rrd_updates_column(u, i, NULL, NULL, &uuid, NULL, NULL);
            others += uuid == NULL || strcmp(uuid, running) != 0;
        }
        CHECK(others == 0);
        CHECK(xenapi_rrd_updates_column_count(u) > 0);
        CHECK(xenapi_rrd_updates_find(u, "vm", running, "cpu0", "MAX", NULL));
        xenapi_rrd_updates_free(u);
        u = NULL;
    }
    CHECK_STATUS(xenapi_rrd_updates_fetch(s, -60, 0, "MEDIAN", true, NULL, NULL, &u, &err),
                 XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    CHECK_STATUS(xenapi_rrd_updates_fetch(s, -60, -5, NULL, true, NULL, NULL, &u, &err),
                 XENAPI_STATUS_INVALID_ARGUMENT, &err);
    clear_error(&err);
    CHECK(u == NULL);

    /* Whole dumps. */
    CHECK_OK(xenapi_rrd_fetch_host(s, &r, &err), &err);
    clear_error(&err);
    if (r != NULL) {
        CHECK(xenapi_rrd_find_source(r, "cpu0", NULL));
        CHECK(xenapi_rrd_archive_count(r) >= 1);
        CHECK(xenapi_rrd_last_update(r) > 1700000000);
        xenapi_rrd_free(r);
        r = NULL;
    }
    /* /vm_rrd of a VM on the session's host (the coordinator). */
    CHECK_OK(xenapi_rrd_fetch_vm(s, g.running_here, &r, &err), &err);
    clear_error(&err);
    if (r != NULL) {
        CHECK(xenapi_rrd_find_source(r, "cpu0", NULL));
        CHECK(xenapi_rrd_find_source(r, "memory", NULL));
        CHECK_OK(xenapi_rrd_usage_from_rrd(r, 60, &usage, &err), &err);
        CHECK(xenapi_rrd_usage_cpu(usage, 0, &v) && v >= 0 && v <= 1);
        xenapi_rrd_usage_free(usage);
        usage = NULL;
        xenapi_rrd_free(r);
        r = NULL;
    }
    /* A halted VM has no RRD on its host: the server's refusal, reported. */
    CHECK(xenapi_rrd_fetch_vm(s, halted, &r, &err) != XENAPI_STATUS_OK);
    CHECK(r == NULL && err != NULL);
    clear_error(&err);

    /* The helpers people ask for first. */
    CHECK_OK(xenapi_rrd_vm_usage(s, running, 60, &usage, &err), &err);
    clear_error(&err);
    if (usage != NULL) {
        CHECK(xenapi_rrd_usage_cpu_count(usage) >= 1);
        CHECK(xenapi_rrd_usage_cpu(usage, 0, &v) && v >= 0 && v <= 1);
        CHECK(xenapi_rrd_usage_memory_total(usage, &v) && v > 0);
        xenapi_rrd_usage_free(usage);
        usage = NULL;
    }
    /* A halted VM: no CPU figure (no usage at all, or one without figures). */
    if (xenapi_rrd_vm_usage(s, halted, 60, &usage, &err) == XENAPI_STATUS_OK) {
        CHECK(!xenapi_rrd_usage_cpu_average(usage, &v));
        xenapi_rrd_usage_free(usage);
        usage = NULL;
    } else {
        CHECK(err != NULL && xenapi_error_message(err)[0] != '\0');
    }
    clear_error(&err);
    CHECK_OK(xenapi_rrd_host_usage(s, host, 60, &usage, &err), &err);
    clear_error(&err);
    if (usage != NULL) {
        CHECK(xenapi_rrd_usage_cpu_count(usage) >= 1);
        CHECK(xenapi_rrd_usage_cpu_average(usage, &v) && v >= 0 && v <= 1);
        CHECK(xenapi_rrd_usage_memory_total(usage, &v) && v > 0);
        CHECK(xenapi_rrd_usage_memory_free(usage, &v) && v >= 0);
        xenapi_rrd_usage_free(usage);
    }
    CHECK_STATUS(xenapi_rrd_vm_usage(s, NULL, 60, &usage, &err), XENAPI_STATUS_NULL_ARGUMENT, &err);
    clear_error(&err);
}

int main(void) {
    sim_t sim;
    xenapi_session *s;
    test_parse_xml();
    test_parse_json();
    test_parse_dump();
    test_bad_documents_and_nulls();
    if (sim_of_dialect(&sim, "xapi") != 0) {
        return 1;
    }
    s = sim_login(&sim);
    CHECK(s != NULL);
    if (s != NULL) {
        test_fetch(s);
        xenapi_session_free(s);
    }
    /* Every session, pool members' included, logged out. */
    CHECK(sim_sessions(&sim) == 0);
    return finish("test_rrd");
}
