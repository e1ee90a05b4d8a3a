/*
 * The scenario's C driver: runs tests/scenario/scenario.txt (its head says what a step means)
 * through libxenapi's untyped xenapi_session_call against the simulator `xenapi-sim run` started
 * around it (XENAPI_URL, XENAPI_DIALECT):
 *
 *     xenapi-sim run -- scenario_c tests/scenario/scenario.txt [xmlrpc|jsonrpc]
 *
 * It only translates the steps; at the first one that fails it names it, says why, and exits 1.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenapi.h"

#define MAX_WORDS 32
#define MAX_KEPT 32

typedef struct {
    char name[64];
    xenapi_value *value; /* owned */
} kept_t;

static kept_t kept[MAX_KEPT];
static size_t n_kept = 0;
static xenapi_session *session = NULL;
static char why[1024];

static const xenapi_value *lookup(const char *name) {
    size_t i;
    for (i = 0; i < n_kept; i++) {
        if (strcmp(kept[i].name, name) == 0) {
            return kept[i].value;
        }
    }
    return NULL;
}

static void keep(const char *name, const xenapi_value *v) {
    size_t i;
    for (i = 0; i < n_kept; i++) {
        if (strcmp(kept[i].name, name) == 0) {
            xenapi_value_free(kept[i].value);
            kept[i].value = xenapi_value_clone(v);
            return;
        }
    }
    if (n_kept < MAX_KEPT) {
        snprintf(kept[n_kept].name, sizeof kept[n_kept].name, "%s", name);
        kept[n_kept].value = xenapi_value_clone(v);
        n_kept++;
    }
}

/* A scalar as the file writes it (strings as they are, booleans true/false) into buf; 0 if the
 * value is not a scalar. */
static int text(const xenapi_value *v, char *buf, size_t len) {
    const char *s = NULL;
    bool b;
    int64_t i;
    switch (xenapi_value_get_kind(v)) {
    case XENAPI_VALUE_KIND_STRING:
        if (xenapi_value_get_string(v, &s, NULL) != XENAPI_STATUS_OK) {
            return 0;
        }
        snprintf(buf, len, "%s", s);
        return 1;
    case XENAPI_VALUE_KIND_BOOL:
        if (xenapi_value_get_bool(v, &b, NULL) != XENAPI_STATUS_OK) {
            return 0;
        }
        snprintf(buf, len, "%s", b ? "true" : "false");
        return 1;
    case XENAPI_VALUE_KIND_INT:
        if (xenapi_value_get_int64(v, &i, NULL) != XENAPI_STATUS_OK) {
            return 0;
        }
        snprintf(buf, len, "%lld", (long long)i);
        return 1;
    default:
        return 0;
    }
}

/* A word of the file as text: $NAME's kept value, or the word itself; 0 if not kept. */
static int word_text(const char *w, char *buf, size_t len) {
    if (w[0] == '$') {
        const xenapi_value *v = lookup(w);
        if (v == NULL || !text(v, buf, len)) {
            snprintf(why, sizeof why, "%s is not a kept scalar", w);
            return 0;
        }
        return 1;
    }
    snprintf(buf, len, "%s", w);
    return 1;
}

/* A word of the file as an argument value (owned), or NULL. */
static xenapi_value *word_value(const char *w) {
    xenapi_value *v = NULL;
    if (w[0] == '$') {
        const xenapi_value *k = lookup(w);
        if (k == NULL) {
            snprintf(why, sizeof why, "%s is not kept by an earlier step", w);
            return NULL;
        }
        return xenapi_value_clone(k);
    }
    if (strcmp(w, "true") == 0 || strcmp(w, "false") == 0) {
        return xenapi_value_new_bool(w[0] == 't');
    }
    if (xenapi_value_new_string(w, &v, NULL) != XENAPI_STATUS_OK) {
        snprintf(why, sizeof why, "%s is not UTF-8", w);
        return NULL;
    }
    return v;
}

static int check_error(char **expect, int n, const xenapi_value *result, const xenapi_error *err) {
    char want[256];
    const char *code;
    size_t i, params;
    if (err == NULL) {
        snprintf(why, sizeof why, "wanted the error %s, the call succeeded", expect[1]);
        return 0;
    }
    (void)result;
    code = xenapi_error_code(err);
    if (code == NULL) {
        snprintf(why, sizeof why, "wanted the error %s, got: %s", expect[1], xenapi_error_message(err));
        return 0;
    }
    params = xenapi_error_param_count(err);
    if (strcmp(code, expect[1]) != 0 || params != (size_t)(n - 2)) {
        snprintf(why, sizeof why, "wanted the error %s with %d parameters, got: %s", expect[1], n - 2,
                 xenapi_error_message(err));
        return 0;
    }
    for (i = 0; i < params; i++) {
        const char *got = xenapi_error_param(err, i);
        if (strcmp(expect[2 + i], "*") == 0) {
            continue;
        }
        if (!word_text(expect[2 + i], want, sizeof want)) {
            return 0;
        }
        if (got == NULL || strcmp(got, want) != 0) {
            snprintf(why, sizeof why, "error %s parameter %zu: wanted %s, got %s", code, i, want,
                     got ? got : "(none)");
            return 0;
        }
    }
    return 1;
}

static int check(char **expect, int n, const xenapi_value *result, const xenapi_error *err) {
    char want[256], got[256];
    const char *kind = expect[0];
    if (strcmp(kind, "error") == 0 && n >= 2) {
        return check_error(expect, n, result, err);
    }
    if (err != NULL) {
        snprintf(why, sizeof why, "failed: %s", xenapi_error_message(err));
        return 0;
    }
    if (strcmp(kind, "ok") == 0) {
        return 1;
    }
    if (strcmp(kind, "=") == 0 && n == 2) {
        if (!word_text(expect[1], want, sizeof want)) {
            return 0;
        }
        if (!text(result, got, sizeof got) || strcmp(got, want) != 0) {
            snprintf(why, sizeof why, "wanted %s, got %s", want, text(result, got, sizeof got) ? got : "a non-scalar");
            return 0;
        }
        return 1;
    }
    if (strcmp(kind, "field") == 0 && n == 4) {
        const xenapi_value *f = xenapi_value_struct_get(result, expect[1]);
        if (!word_text(expect[3], want, sizeof want)) {
            return 0;
        }
        if (f == NULL) {
            snprintf(why, sizeof why, "wanted a record with the field %s", expect[1]);
            return 0;
        }
        if (!text(f, got, sizeof got) || strcmp(got, want) != 0) {
            snprintf(why, sizeof why, "field %s: wanted %s, got %s", expect[1], want,
                     text(f, got, sizeof got) ? got : "a non-scalar");
            return 0;
        }
        return 1;
    }
    if (strcmp(kind, "has") == 0 && n == 2) {
        if (xenapi_value_struct_get(result, expect[1]) == NULL) {
            snprintf(why, sizeof why, "wanted a record with the field %s", expect[1]);
            return 0;
        }
        return 1;
    }
    if (strcmp(kind, "contains") == 0 && n == 2) {
        size_t i;
        if (!word_text(expect[1], want, sizeof want)) {
            return 0;
        }
        for (i = 0; i < xenapi_value_array_len(result); i++) {
            if (text(xenapi_value_array_get(result, i), got, sizeof got) && strcmp(got, want) == 0) {
                return 1;
            }
        }
        snprintf(why, sizeof why, "wanted a list holding %s (%zu elements)", want, xenapi_value_array_len(result));
        return 0;
    }
    if (strcmp(kind, "nonempty") == 0 && n == 1) {
        const char *s = NULL;
        if (xenapi_value_array_len(result) > 0 || xenapi_value_struct_len(result) > 0 ||
            (xenapi_value_get_string(result, &s, NULL) == XENAPI_STATUS_OK && s[0] != '\0')) {
            return 1;
        }
        snprintf(why, sizeof why, "wanted a non-empty value");
        return 0;
    }
    snprintf(why, sizeof why, "unknown expectation %s", kind);
    return 0;
}

/* Runs one step (words[0] the dialects, words[1] the method); 1 if it passed. */
static int step(char **words, int n, const char *url, xenapi_protocol protocol) {
    int e, call_end, first = 0, ok = 0, i;
    const char *keep_name = NULL;
    xenapi_value *args[MAX_WORDS];
    int nargs = 0;
    xenapi_value *result = NULL;
    xenapi_error *err = NULL;
    const char *method = words[1];

    for (e = 0; e < n && strcmp(words[e], "expect") != 0; e++) {
    }
    call_end = e;
    for (i = 2; i < e; i++) {
        if (strcmp(words[i], "keep") == 0 && i + 1 < e) {
            keep_name = words[i + 1];
            first = i + 2 < e && strcmp(words[i + 2], "first") == 0;
            call_end = i;
            break;
        }
    }
    if (strcmp(method, "login") == 0) {
        xenapi_options *opts = NULL;
        if (call_end < 4) {
            snprintf(why, sizeof why, "login USER PASSWORD");
            return 0;
        }
        xenapi_session_free(session);
        session = NULL;
        if (xenapi_options_new(url, &opts, &err) == XENAPI_STATUS_OK &&
            xenapi_options_set_protocol(opts, protocol, &err) == XENAPI_STATUS_OK) {
            xenapi_session_connect(opts, words[2], words[3], &session, &err);
        }
        xenapi_options_free(opts);
    } else if (session == NULL) {
        snprintf(why, sizeof why, "no login before this step");
        return 0;
    } else if (strcmp(method, "logout") == 0) {
        xenapi_session_logout(session, &err);
    } else {
        for (i = 2; i < call_end; i++) {
            args[nargs] = word_value(words[i]);
            if (args[nargs] == NULL) {
                goto out;
            }
            nargs++;
        }
        xenapi_session_call(session, method, (const xenapi_value *const *)args, (size_t)nargs,
                            &result, &err);
    }
    if (err != NULL && xenapi_error_status(err) != XENAPI_STATUS_API) {
        snprintf(why, sizeof why, "failed, not with a XenAPI error: %s", xenapi_error_message(err));
        goto out;
    }
    if (!check(words + e + 1, n - e - 1, result, err)) {
        goto out;
    }
    if (keep_name != NULL && err == NULL) {
        const xenapi_value *v = result;
        if (first) {
            v = xenapi_value_array_get(result, 0);
            if (v == NULL) {
                snprintf(why, sizeof why, "keep %s first: wanted a non-empty list", keep_name);
                goto out;
            }
        }
        keep(keep_name, v);
    }
    ok = 1;
out:
    for (i = 0; i < nargs; i++) {
        xenapi_value_free(args[i]);
    }
    xenapi_value_free(result);
    xenapi_error_free(err);
    return ok;
}

int main(int argc, char **argv) {
    const char *url = getenv("XENAPI_URL"), *dialect = getenv("XENAPI_DIALECT");
    xenapi_protocol protocol = XENAPI_PROTOCOL_AUTO;
    const char *proto_name = "auto";
    char line[1024], copy[1024];
    FILE *f;
    int lineno = 0, ran = 0, failed = 0;
    size_t i;

    if (argc < 2 || url == NULL || dialect == NULL) {
        fprintf(stderr, "usage: xenapi-sim run -- %s SCENARIO [xmlrpc|jsonrpc]\n", argv[0]);
        return 2;
    }
    if (argc > 2) {
        proto_name = argv[2];
        protocol = strcmp(argv[2], "jsonrpc") == 0 ? XENAPI_PROTOCOL_JSONRPC : XENAPI_PROTOCOL_XMLRPC;
    }
    f = fopen(argv[1], "r");
    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }
    while (!failed && fgets(line, sizeof line, f) != NULL) {
        char *words[MAX_WORDS], *save = NULL, *w;
        int n = 0, has_expect = 0;
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        snprintf(copy, sizeof copy, "%s", line);
        for (w = strtok_r(line, " \t", &save); w != NULL && n < MAX_WORDS; w = strtok_r(NULL, " \t", &save)) {
            words[n++] = w;
            has_expect |= strcmp(w, "expect") == 0;
        }
        if (n == 0 || words[0][0] == '#') {
            continue;
        }
        if (n < 4 || !has_expect) {
            fprintf(stderr, "%s:%d: a step is DIALECTS METHOD ARG... expect KIND\n", argv[1], lineno);
            failed = 1;
            break;
        }
        if (strcmp(words[0], "any") != 0 && strcmp(words[0], dialect) != 0) {
            continue;
        }
        why[0] = '\0';
        if (step(words, n, url, protocol)) {
            ran++;
            printf("step %d: %s ok\n", lineno, words[1]);
        } else {
            printf("step %d: %s (C, %s, %s): FAILED: %s\n", lineno, copy, dialect, proto_name, why);
            failed = 1;
        }
    }
    fclose(f);
    xenapi_session_free(session);
    for (i = 0; i < n_kept; i++) {
        xenapi_value_free(kept[i].value);
    }
    if (!failed) {
        printf("scenario: %d steps passed (C, %s dialect, %s)\n", ran, dialect, proto_name);
    }
    return failed;
}
