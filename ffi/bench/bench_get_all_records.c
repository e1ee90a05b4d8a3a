/*
 * bench_get_all_records URL [ROUNDS]: VM.get_all_records through the generated C API, timed.
 *
 * Logs in as root/password, then ROUNDS times (default 10) calls xenapi_vm_get_all_records and
 * reads every VM's name_label, power_state, memory_static_max and other_config (every entry)
 * through the typed getters. Prints `c-typed MS`: the best round, in milliseconds (the call,
 * the conversion to C records and the reads; freeing the map is not timed), and the median on
 * stderr.
 *
 * Built against the release libxenapi by `make ffi-bench-build`; compare with
 * dotnet/bench/bench-rs (`rust-core-typed MS`, the core's Vm::get_all_records) against
 * `xenapi-sim --vms 2000`.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenapi.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    int rounds = argc > 2 ? atoi(argv[2]) : 10;
    const char *protocol = argc > 3 ? argv[3] : "jsonrpc";
    int r;
    double best = -1.0, *times;
    size_t count = 0, checksum = 0;

    if (argc < 2 || rounds <= 0) {
        fprintf(stderr, "usage: bench_get_all_records URL [ROUNDS [jsonrpc|xmlrpc]]\n");
        return 2;
    }
    if (strcmp(protocol, "jsonrpc") != 0 && strcmp(protocol, "xmlrpc") != 0) {
        fprintf(stderr, "the protocol is jsonrpc or xmlrpc, not %s\n", protocol);
        return 2;
    }
    if (xenapi_options_new(argv[1], &opts, &err) != XENAPI_STATUS_OK ||
        xenapi_options_set_protocol(opts, strcmp(protocol, "xmlrpc") == 0 ? XENAPI_PROTOCOL_XMLRPC
                                                                          : XENAPI_PROTOCOL_JSONRPC,
                                    &err) != XENAPI_STATUS_OK ||
        xenapi_session_connect(opts, "root", "password", &s, &err) != XENAPI_STATUS_OK) {
        fprintf(stderr, "login: %s\n", xenapi_error_message(err));
        xenapi_error_free(err);
        xenapi_options_free(opts);
        return 1;
    }
    xenapi_options_free(opts);
    times = malloc((size_t)rounds * sizeof *times);
    if (times == NULL) {
        xenapi_session_free(s);
        return 1;
    }
    for (r = 0; r < rounds; r++) {
        xenapi_vm_record_map *vms = NULL;
        size_t i, n;
        double t = now_ms(), ms;
        if (xenapi_vm_get_all_records(s, &vms, &err) != XENAPI_STATUS_OK) {
            fprintf(stderr, "VM.get_all_records: %s\n", xenapi_error_message(err));
            xenapi_error_free(err);
            xenapi_session_free(s);
            free(times);
            return 1;
        }
        n = xenapi_vm_record_map_len(vms);
        for (i = 0; i < n; i++) {
            const xenapi_vm_record *rec = xenapi_vm_record_map_value(vms, i);
            const xenapi_string_map *oc = xenapi_vm_record_other_config(rec);
            size_t j, m = xenapi_string_map_len(oc);
            checksum += strlen(xenapi_vm_record_name_label(rec));
            checksum += (size_t)xenapi_vm_record_power_state(rec);
            checksum += (size_t)(xenapi_vm_record_memory_static_max(rec) >> 20);
            for (j = 0; j < m; j++) {
                checksum += strlen(xenapi_string_map_key(oc, j)) + strlen(xenapi_string_map_value(oc, j));
            }
        }
        ms = now_ms() - t;
        count = n;
        xenapi_vm_record_map_free(vms);
        times[r] = ms;
        if (best < 0 || ms < best) {
            best = ms;
        }
    }
    qsort(times, (size_t)rounds, sizeof *times, by_value);
    /* The median on stderr, to compare with bench-rs, which prints medians. */
    fprintf(stderr, "records %zu (checksum %zu); c-typed-%s median %.1f\n", count, checksum,
            protocol, times[rounds / 2]);
    free(times);
    printf("c-typed-%s %.1f\n", protocol, best);
    xenapi_session_free(s);
    return 0;
}
