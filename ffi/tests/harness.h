/*
 * A small test harness for the libxenapi C tests: checks that count passes and failures, and
 * the simulator (xenapi-sim) as a subprocess. The binary is $XENAPI_SIM, else
 * target/debug/xenapi-sim. Header-only: each test program includes it once.
 */
#ifndef XENAPI_TEST_HARNESS_H
#define XENAPI_TEST_HARNESS_H

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xenapi.h"

static const char *err_text(xenapi_error *const *err) {
    return err != NULL && *err != NULL ? xenapi_error_message(*err) : "(no error)";
}

/* Copies at most size-1 bytes and terminates. */
static void copy_text(char *dst, size_t size, const char *src) {
    size_t n = strlen(src);
    if (n >= size) {
        n = size - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int t_passed = 0;
static int t_failed = 0;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (cond) {                                                                    \
            t_passed++;                                                                \
        } else {                                                                       \
            t_failed++;                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                              \
    } while (0)

/* Checks that a call returned `expected`; on a mismatch prints the error's message. */
#define CHECK_STATUS(call, expected, errp)                                                 \
    do {                                                                                   \
        xenapi_status st_ = (call);                                                        \
        if (st_ == (expected)) {                                                           \
            t_passed++;                                                                    \
        } else {                                                                           \
            t_failed++;                                                                    \
            fprintf(stderr, "%s:%d: %s gave %s, wanted %s: %s\n", __FILE__, __LINE__, #call, \
                    xenapi_status_name(st_), xenapi_status_name(expected),                 \
                    err_text(errp));                                                       \
        }                                                                                  \
    } while (0)

#define CHECK_OK(call, errp) CHECK_STATUS(call, XENAPI_STATUS_OK, errp)

/* Frees and clears an error slot. */
static void clear_error(xenapi_error **err) {
    xenapi_error_free(*err);
    *err = NULL;
}

static int finish(const char *name) {
    printf("%s: %d passed, %d failed\n", name, t_passed, t_failed);
    return t_failed == 0 ? 0 : 1;
}

typedef struct {
    pid_t pid;
    char url[128];
    char fingerprint[160];
    int port;
    char out_path[64];
} sim_t;

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* Starts the simulator with extra arguments (NULL-terminated array, or NULL) and waits for its
 * "listening on" line. Returns 0 on success. */
static int sim_start(sim_t *sim, const char *const *extra) {
    const char *bin = getenv("XENAPI_SIM");
    const char *argv[24];
    int argc = 0, fd, i;
    memset(sim, 0, sizeof *sim);
    if (bin == NULL || *bin == '\0') {
        bin = "target/debug/xenapi-sim";
    }
    strcpy(sim->out_path, "/tmp/xenapi-sim-out-XXXXXX");
    fd = mkstemp(sim->out_path);
    if (fd < 0) {
        perror("mkstemp");
        return -1;
    }
    argv[argc++] = bin;
    argv[argc++] = "--listen";
    argv[argc++] = "127.0.0.1:0";
    /* The tests count guests: no templates (the command line's default has five). */
    argv[argc++] = "--templates";
    argv[argc++] = "0";
    for (i = 0; extra != NULL && extra[i] != NULL && argc < 22; i++) {
        argv[argc++] = extra[i];
    }
    argv[argc] = NULL;
    sim->pid = fork();
    if (sim->pid < 0) {
        perror("fork");
        close(fd);
        return -1;
    }
    if (sim->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(fd, STDOUT_FILENO);
        if (devnull >= 0 && getenv("XENAPI_SIM_STDERR") == NULL) {
            dup2(devnull, STDERR_FILENO);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fd);
    for (i = 0; i < 1500; i++) { /* up to 30 s (slow under valgrind) */
        char line[512];
        FILE *f = fopen(sim->out_path, "r");
        int status;
        if (f != NULL) {
            while (fgets(line, sizeof line, f) != NULL) {
                line[strcspn(line, "\r\n")] = '\0';
                if (strncmp(line, "fingerprint sha256 ", 19) == 0) {
                    copy_text(sim->fingerprint, sizeof sim->fingerprint, line + 19);
                } else if (strncmp(line, "listening on ", 13) == 0) {
                    const char *colon;
                    copy_text(sim->url, sizeof sim->url, line + 13);
                    colon = strrchr(sim->url, ':');
                    sim->port = colon ? atoi(colon + 1) : 0;
                    fclose(f);
                    return 0;
                }
            }
            fclose(f);
        }
        if (waitpid(sim->pid, &status, WNOHANG) == sim->pid) {
            fprintf(stderr, "xenapi-sim (%s) exited before listening\n", bin);
            sim->pid = 0;
            return -1;
        }
        sleep_ms(20);
    }
    fprintf(stderr, "xenapi-sim did not start listening\n");
    return -1;
}

static void sim_stop(sim_t *sim) {
    if (sim->pid > 0) {
        kill(sim->pid, SIGTERM);
        waitpid(sim->pid, NULL, 0);
        sim->pid = 0;
    }
    if (sim->out_path[0] != '\0') {
        unlink(sim->out_path);
        sim->out_path[0] = '\0';
    }
}

/* One plain-HTTP request to the simulator's side channel (/sim/...); returns the body in `buf`. */
static int sim_http(const sim_t *sim, const char *method, const char *path, char *buf, size_t len) {
    struct sockaddr_in addr;
    char req[256];
    size_t got = 0;
    ssize_t n;
    char *body;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
        return -1;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)sim->port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(s);
        return -1;
    }
    snprintf(req, sizeof req,
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
             method, path);
    if (write(s, req, strlen(req)) < 0) {
        close(s);
        return -1;
    }
    while (got + 1 < len && (n = read(s, buf + got, len - got - 1)) > 0) {
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(s);
    body = strstr(buf, "\r\n\r\n");
    if (body != NULL) {
        memmove(buf, body + 4, strlen(body + 4) + 1);
    }
    return 0;
}

/* The number of live sessions on the simulator, or -1. (Only over plain HTTP.) */
static int sim_sessions(const sim_t *sim) {
    char buf[1024];
    const char *p;
    if (sim_http(sim, "GET", "/sim/stats", buf, sizeof buf) != 0) {
        return -1;
    }
    p = strstr(buf, "\"sessions\":");
    return p ? atoi(p + 11) : -1;
}

/* Options for the simulator's URL, and a logged-in session (root/password). */
static xenapi_session *sim_login(const sim_t *sim) {
    xenapi_options *opts = NULL;
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    if (xenapi_options_new(sim->url, &opts, &err) != XENAPI_STATUS_OK ||
        xenapi_session_connect(opts, "root", "password", &s, &err) != XENAPI_STATUS_OK) {
        fprintf(stderr, "login failed: %s\n", err ? xenapi_error_message(err) : "?");
        xenapi_error_free(err);
        s = NULL;
    }
    xenapi_options_free(opts);
    return s;
}

#endif
