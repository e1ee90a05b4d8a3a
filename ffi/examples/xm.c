/*
 * xm: the talk's `xm` in C over libxenapi.
 *
 *   xm [-u URL] [-l USER] [-p PASSWORD] [--fingerprint SHA256 | --insecure] COMMAND [ARGS]
 *
 *   list                 Name, ID, Mem, VCPUs, State, Time(s) of every domain
 *   start NAME           start a halted domain (--paused to leave it paused)
 *   shutdown NAME        clean shutdown (--hard: hard shutdown)
 *   reboot NAME          clean reboot (--hard: hard reboot)
 *   pause NAME | unpause NAME | suspend NAME | resume NAME
 *   top                  CPU (per vCPU) and memory of the hosts and every running domain: from
 *                        the RRDs on xapi (the last minute), from the metrics fields on xend
 *   dmesg                the Xen console ring
 *   log                  the management daemon's log
 *   methods              the server's methods (host.list_methods)
 *
 * Defaults: URL $XENAPI_URL or http://127.0.0.1:9363, user root, password $XENAPI_PASSWORD or
 * "password". Exit status 0 on success, 1 on a XenAPI or connection failure, 2 on bad usage.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenapi.h"

static int fail(const char *what, xenapi_error *err) {
    const char *code = xenapi_error_code(err);
    fprintf(stderr, "xm: %s: %s\n", what, xenapi_error_message(err));
    if (code != NULL) {
        size_t i, n = xenapi_error_param_count(err);
        fprintf(stderr, "    XenAPI error %s", code);
        for (i = 0; i < n; i++) {
            fprintf(stderr, "%s%s", i == 0 ? " [" : ", ", xenapi_error_param(err, i));
        }
        fprintf(stderr, "%s\n", n ? "]" : "");
    }
    xenapi_error_free(err);
    return 1;
}

static const char *state_flags(const xenapi_vm_record *rec) {
    switch (xenapi_vm_record_power_state(rec)) {
    case XENAPI_VM_POWER_STATE_RUNNING: return "r-----";
    case XENAPI_VM_POWER_STATE_PAUSED: return "--p---";
    case XENAPI_VM_POWER_STATE_SUSPENDED: return "---s--";
    case XENAPI_VM_POWER_STATE_HALTED: return "------";
    default:
        /* xend 3.3's "Crashed" is not in the datamodel: its wire name is still readable. */
        return strcmp(xenapi_vm_record_power_state_name(rec), "Crashed") == 0 ? "----c-" : "??????";
    }
}

/* Seconds since the VM started (VM_metrics.start_time). */
static double uptime(xenapi_session *s, const xenapi_vm_record *rec) {
    int64_t started = 0;
    double t = 0.0;
    if (xenapi_vm_metrics_get_start_time(s, xenapi_vm_record_metrics(rec), &started, NULL) !=
            XENAPI_STATUS_OK ||
        started <= 0) {
        return 0.0;
    }
    t = difftime(time(NULL), (time_t)started);
    return t < 0 ? 0.0 : t;
}

/* The memory a running VM has now (VM_metrics.memory_actual), or `dflt`. */
static int64_t memory_actual(xenapi_session *s, const xenapi_vm_record *rec, int64_t dflt) {
    int64_t mem = dflt;
    if (xenapi_vm_metrics_get_memory_actual(s, xenapi_vm_record_metrics(rec), &mem, NULL) !=
        XENAPI_STATUS_OK) {
        return dflt;
    }
    return mem;
}

/* Domains in the server's order (the map keeps it: xapi's database order, the same from call to
 * call), as xm listed them. */
static int cmd_list(xenapi_session *s) {
    xenapi_vm_record_map *vms = NULL;
    xenapi_error *err = NULL;
    size_t i, n;
    if (xenapi_vm_get_all_records(s, &vms, &err) != XENAPI_STATUS_OK) {
        return fail("VM.get_all_records", err);
    }
    n = xenapi_vm_record_map_len(vms);
    printf("%-30s %4s %6s %5s %6s %9s\n", "Name", "ID", "Mem", "VCPUs", "State", "Time(s)");
    for (i = 0; i < n; i++) {
        const xenapi_vm_record *rec = xenapi_vm_record_map_value(vms, i);
        xenapi_vm_power_state st = xenapi_vm_record_power_state(rec);
        int64_t mem = xenapi_vm_record_memory_static_max(rec);
        bool live = st == XENAPI_VM_POWER_STATE_RUNNING || st == XENAPI_VM_POWER_STATE_PAUSED;
        char id[24];
        if (xenapi_vm_record_is_a_template(rec)) {
            continue;
        }
        if (live) {
            mem = memory_actual(s, rec, mem);
            snprintf(id, sizeof id, "%lld", (long long)xenapi_vm_record_domid(rec));
        } else {
            snprintf(id, sizeof id, "%s", "-");
        }
        printf("%-30s %4s %6lld %5lld %6s %9.1f\n", xenapi_vm_record_name_label(rec), id,
               (long long)(mem >> 20), (long long)xenapi_vm_record_vcpus_max(rec), state_flags(rec),
               live ? uptime(s, rec) : 0.0);
    }
    xenapi_vm_record_map_free(vms);
    return 0;
}

/* The reference of the one VM named `name` into `out` (owned by the list `*keep`). */
static int find_vm(xenapi_session *s, const char *name, xenapi_string_list **keep,
                   const char **out) {
    xenapi_error *err = NULL;
    if (xenapi_vm_get_by_name_label(s, name, keep, &err) != XENAPI_STATUS_OK) {
        return fail("VM.get_by_name_label", err);
    }
    if (xenapi_string_list_len(*keep) != 1) {
        fprintf(stderr, "xm: %zu domains are named %s\n", xenapi_string_list_len(*keep), name);
        return 1;
    }
    *out = xenapi_string_list_get(*keep, 0);
    return 0;
}

static int cmd_vm(xenapi_session *s, const char *cmd, const char *name, bool hard, bool paused) {
    xenapi_string_list *refs = NULL;
    xenapi_error *err = NULL;
    const char *vm = NULL;
    xenapi_status st;
    int rc = find_vm(s, name, &refs, &vm);
    if (rc != 0) {
        xenapi_string_list_free(refs);
        return rc;
    }
    if (strcmp(cmd, "start") == 0) {
        st = xenapi_vm_start(s, vm, paused, false, &err);
    } else if (strcmp(cmd, "shutdown") == 0) {
        st = hard ? xenapi_vm_hard_shutdown(s, vm, &err) : xenapi_vm_clean_shutdown(s, vm, &err);
    } else if (strcmp(cmd, "reboot") == 0) {
        st = hard ? xenapi_vm_hard_reboot(s, vm, &err) : xenapi_vm_clean_reboot(s, vm, &err);
    } else if (strcmp(cmd, "pause") == 0) {
        st = xenapi_vm_pause(s, vm, &err);
    } else if (strcmp(cmd, "unpause") == 0) {
        st = xenapi_vm_unpause(s, vm, &err);
    } else if (strcmp(cmd, "suspend") == 0) {
        st = xenapi_vm_suspend(s, vm, &err);
    } else {
        st = xenapi_vm_resume(s, vm, paused, false, &err);
    }
    xenapi_string_list_free(refs);
    if (st != XENAPI_STATUS_OK) {
        return fail(cmd, err);
    }
    return 0;
}

/* Prints " N:P%" for every entry of a CPU number -> utilisation map, in CPU order (xend): the
 * map's key order, its entries staying as the server sent them. */
static void print_cpus(const xenapi_int64_double_map *u) {
    size_t c, n = xenapi_int64_double_map_sorted(u, NULL, 0);
    size_t *order = malloc((n + 1) * sizeof *order);
    n = order != NULL ? xenapi_int64_double_map_sorted(u, order, n) : 0;
    for (c = 0; c < n; c++) {
        printf(" %lld:%.0f%%", (long long)xenapi_int64_double_map_key(u, order[c]),
               100.0 * xenapi_int64_double_map_value(u, order[c]));
    }
    free(order);
    printf("\n");
}

/* Prints " N:P%" for every CPU of an RRD usage ("-" where it has no figure) (xapi). */
static void print_usage_cpus(const xenapi_rrd_usage *u) {
    size_t c, n = xenapi_rrd_usage_cpu_count(u);
    for (c = 0; c < n; c++) {
        double v;
        if (xenapi_rrd_usage_cpu(u, c, &v)) {
            printf(" %zu:%.0f%%", c, 100.0 * v);
        } else {
            printf(" %zu:-", c);
        }
    }
    printf("\n");
}

/* A figure in MiB, or -1 when absent. */
static long long usage_mib(bool (*get)(const xenapi_rrd_usage *, double *),
                           const xenapi_rrd_usage *u) {
    double v;
    return get(u, &v) ? (long long)(v / 1048576.0) : -1;
}

/* The average CPU use in percent, or "-" when absent. */
static const char *usage_cpu_text(const xenapi_rrd_usage *u, char *buf, size_t len) {
    double v;
    if (xenapi_rrd_usage_cpu_average(u, &v)) {
        snprintf(buf, len, "%3.0f%%", 100.0 * v);
    } else {
        snprintf(buf, len, "   -");
    }
    return buf;
}

/* The last minute on xapi: since XenServer 6.1 the CPU and memory figures are in the RRDs only
 * (VM_metrics.VCPUs_utilisation and host_metrics.memory_free were removed), which the library
 * asks of the right host: a host's own, a VM's the host it runs on. */
#define TOP_SECONDS 60

static int top_host_xapi(xenapi_session *s, size_t h, const xenapi_host_record *hrec) {
    xenapi_rrd_usage *u = NULL;
    xenapi_error *err = NULL;
    char cpu[16];
    if (xenapi_rrd_host_usage(s, xenapi_host_record_uuid(hrec), TOP_SECONDS, &u, &err) !=
        XENAPI_STATUS_OK) {
        return fail("host RRD", err);
    }
    printf("host %zu: memory %lld MiB total, %lld MiB free; CPU %s; pCPUs", h,
           usage_mib(xenapi_rrd_usage_memory_total, u), usage_mib(xenapi_rrd_usage_memory_free, u),
           usage_cpu_text(u, cpu, sizeof cpu));
    print_usage_cpus(u);
    xenapi_rrd_usage_free(u);
    return 0;
}

static int top_vm_xapi(xenapi_session *s, const xenapi_vm_record *rec) {
    xenapi_rrd_usage *u = NULL;
    xenapi_error *err = NULL;
    char cpu[16];
    if (xenapi_rrd_vm_usage(s, xenapi_vm_record_uuid(rec), TOP_SECONDS, &u, &err) !=
        XENAPI_STATUS_OK) {
        return fail("VM RRD", err);
    }
    printf("%-24s %6lld MiB  CPU %s  VCPUs", xenapi_vm_record_name_label(rec),
           usage_mib(xenapi_rrd_usage_memory_total, u), usage_cpu_text(u, cpu, sizeof cpu));
    print_usage_cpus(u);
    xenapi_rrd_usage_free(u);
    return 0;
}

static int top_host_xend(xenapi_session *s, size_t h, const xenapi_host_record *hrec) {
    xenapi_host_metrics_record *m = NULL;
    xenapi_int64_double_map *u = NULL;
    xenapi_error *err = NULL;
    const xenapi_string_list *cpus;
    size_t c;
    if (xenapi_host_metrics_get_record(s, xenapi_host_record_metrics(hrec), &m, &err) !=
        XENAPI_STATUS_OK) {
        return fail("host metrics", err);
    }
    printf("host %zu: memory %lld MiB total, %lld MiB free; CPUs", h,
           (long long)(xenapi_host_metrics_record_memory_total(m) >> 20),
           (long long)(xenapi_host_metrics_record_memory_free(m) >> 20));
    xenapi_host_metrics_record_free(m);
    /* Every physical CPU's host_cpu record: its number and utilisation. */
    u = xenapi_int64_double_map_new();
    cpus = xenapi_host_record_host_cpus(hrec);
    for (c = 0; c < xenapi_string_list_len(cpus); c++) {
        xenapi_host_cpu_record *cpu = NULL;
        if (xenapi_host_cpu_get_record(s, xenapi_string_list_get(cpus, c), &cpu, &err) !=
                XENAPI_STATUS_OK ||
            xenapi_int64_double_map_set(u, xenapi_host_cpu_record_number(cpu),
                                        xenapi_host_cpu_record_utilisation(cpu),
                                        &err) != XENAPI_STATUS_OK) {
            xenapi_host_cpu_record_free(cpu);
            xenapi_int64_double_map_free(u);
            return fail("host_cpu", err);
        }
        xenapi_host_cpu_record_free(cpu);
    }
    print_cpus(u);
    xenapi_int64_double_map_free(u);
    return 0;
}

static int top_vm_xend(xenapi_session *s, const xenapi_vm_record *rec) {
    xenapi_int64_double_map *u = NULL;
    xenapi_error *err = NULL;
    int64_t mem = 0;
    double sum = 0;
    size_t i, n;
    if (xenapi_vm_metrics_get_memory_actual(s, xenapi_vm_record_metrics(rec), &mem, &err) !=
            XENAPI_STATUS_OK ||
        xenapi_vm_metrics_get_vcpus_utilisation(s, xenapi_vm_record_metrics(rec), &u, &err) !=
            XENAPI_STATUS_OK) {
        return fail("VM metrics", err);
    }
    n = xenapi_int64_double_map_len(u);
    for (i = 0; i < n; i++) {
        sum += xenapi_int64_double_map_value(u, i);
    }
    if (n > 0) {
        printf("%-24s %6lld MiB  CPU %3.0f%%  VCPUs", xenapi_vm_record_name_label(rec),
               (long long)(mem >> 20), 100.0 * sum / (double)n);
    } else {
        printf("%-24s %6lld MiB  CPU    -  VCPUs", xenapi_vm_record_name_label(rec),
               (long long)(mem >> 20));
    }
    print_cpus(u);
    xenapi_int64_double_map_free(u);
    return 0;
}

/* CPU and memory of every host and running domain: from the RRDs on xapi, from the metrics
 * fields on xend (which has them). */
static int cmd_top(xenapi_session *s) {
    bool xapi = xenapi_session_get_dialect(s) == XENAPI_DIALECT_XAPI;
    xenapi_string_list *hosts = NULL;
    xenapi_vm_record_map *vms = NULL;
    xenapi_error *err = NULL;
    size_t h, i;
    int rc = 0;
    if (xenapi_host_get_all(s, &hosts, &err) != XENAPI_STATUS_OK) {
        return fail("host.get_all", err);
    }
    for (h = 0; rc == 0 && h < xenapi_string_list_len(hosts); h++) {
        xenapi_host_record *hrec = NULL;
        if (xenapi_host_get_record(s, xenapi_string_list_get(hosts, h), &hrec, &err) !=
            XENAPI_STATUS_OK) {
            rc = fail("host.get_record", err);
            break;
        }
        rc = xapi ? top_host_xapi(s, h, hrec) : top_host_xend(s, h, hrec);
        xenapi_host_record_free(hrec);
    }
    xenapi_string_list_free(hosts);
    if (rc != 0) {
        return rc;
    }
    if (xenapi_vm_get_all_records(s, &vms, &err) != XENAPI_STATUS_OK) {
        return fail("VM.get_all_records", err);
    }
    /* In the server's order, as `list`. */
    for (i = 0; rc == 0 && i < xenapi_vm_record_map_len(vms); i++) {
        const xenapi_vm_record *rec = xenapi_vm_record_map_value(vms, i);
        if (xenapi_vm_record_power_state(rec) == XENAPI_VM_POWER_STATE_RUNNING) {
            rc = xapi ? top_vm_xapi(s, rec) : top_vm_xend(s, rec);
        }
    }
    xenapi_vm_record_map_free(vms);
    return rc;
}

static int cmd_host_text(xenapi_session *s, bool dmesg) {
    xenapi_string_list *hosts = NULL;
    xenapi_error *err = NULL;
    char *text = NULL;
    xenapi_status st;
    if (xenapi_host_get_all(s, &hosts, &err) != XENAPI_STATUS_OK) {
        return fail("host.get_all", err);
    }
    st = dmesg ? xenapi_host_dmesg(s, xenapi_string_list_get(hosts, 0), &text, &err)
               : xenapi_host_get_log(s, xenapi_string_list_get(hosts, 0), &text, &err);
    xenapi_string_list_free(hosts);
    if (st != XENAPI_STATUS_OK) {
        return fail(dmesg ? "host.dmesg" : "host.get_log", err);
    }
    fputs(text, stdout);
    if (*text != '\0' && text[strlen(text) - 1] != '\n') {
        putchar('\n');
    }
    xenapi_string_free(text);
    return 0;
}

static int cmd_methods(xenapi_session *s) {
    xenapi_string_list *m = NULL;
    xenapi_error *err = NULL;
    size_t i;
    if (xenapi_host_list_methods(s, &m, &err) != XENAPI_STATUS_OK) {
        return fail("host.list_methods", err);
    }
    for (i = 0; i < xenapi_string_list_len(m); i++) {
        puts(xenapi_string_list_get(m, i));
    }
    xenapi_string_list_free(m);
    return 0;
}

static int usage(void) {
    fprintf(
        stderr,
        "usage: xm [-u URL] [-l USER] [-p PASSWORD] [--fingerprint SHA256 | --insecure]\n"
        "          list | start NAME [--paused] | shutdown NAME [--hard] | reboot NAME [--hard]\n"
        "          | pause NAME | unpause NAME | suspend NAME | resume NAME | top | dmesg | log\n"
        "          | methods\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *url = getenv("XENAPI_URL");
    const char *user = "root";
    const char *password = getenv("XENAPI_PASSWORD");
    const char *fingerprint = NULL, *cmd = NULL, *name = NULL;
    bool insecure = false, hard = false, paused = false;
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    int i, rc;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-u") == 0 || strcmp(a, "--url") == 0) && i + 1 < argc) {
            url = argv[++i];
        } else if ((strcmp(a, "-l") == 0 || strcmp(a, "--user") == 0) && i + 1 < argc) {
            user = argv[++i];
        } else if ((strcmp(a, "-p") == 0 || strcmp(a, "--password") == 0) && i + 1 < argc) {
            password = argv[++i];
        } else if (strcmp(a, "--fingerprint") == 0 && i + 1 < argc) {
            fingerprint = argv[++i];
        } else if (strcmp(a, "--insecure") == 0) {
            insecure = true;
        } else if (strcmp(a, "--hard") == 0) {
            hard = true;
        } else if (strcmp(a, "--paused") == 0) {
            paused = true;
        } else if (cmd == NULL) {
            cmd = a;
        } else if (name == NULL) {
            name = a;
        } else {
            return usage();
        }
    }
    if (cmd == NULL) {
        return usage();
    }
    if (url == NULL) {
        url = "http://127.0.0.1:9363";
    }
    if (password == NULL) {
        password = "password";
    }
    if (xenapi_options_new(url, &opts, &err) != XENAPI_STATUS_OK ||
        (fingerprint &&
         xenapi_options_set_fingerprint(opts, fingerprint, &err) != XENAPI_STATUS_OK) ||
        (insecure &&
         xenapi_options_set_insecure_skip_verify(opts, true, &err) != XENAPI_STATUS_OK)) {
        xenapi_options_free(opts);
        return fail("options", err);
    }
    rc = xenapi_session_connect(opts, user, password, &s, &err);
    xenapi_options_free(opts);
    if (rc != XENAPI_STATUS_OK) {
        return fail("login", err);
    }

    if (strcmp(cmd, "list") == 0) {
        rc = cmd_list(s);
    } else if (strcmp(cmd, "top") == 0) {
        rc = cmd_top(s);
    } else if (strcmp(cmd, "dmesg") == 0 || strcmp(cmd, "log") == 0) {
        rc = cmd_host_text(s, strcmp(cmd, "dmesg") == 0);
    } else if (strcmp(cmd, "methods") == 0) {
        rc = cmd_methods(s);
    } else if (name != NULL && (strcmp(cmd, "start") == 0 || strcmp(cmd, "shutdown") == 0 ||
                                strcmp(cmd, "reboot") == 0 || strcmp(cmd, "pause") == 0 ||
                                strcmp(cmd, "unpause") == 0 || strcmp(cmd, "suspend") == 0 ||
                                strcmp(cmd, "resume") == 0)) {
        rc = cmd_vm(s, cmd, name, hard, paused);
    } else {
        rc = usage();
    }
    if (xenapi_session_logout(s, &err) != XENAPI_STATUS_OK) {
        rc = fail("logout", err);
    }
    xenapi_session_free(s);
    return rc;
}
