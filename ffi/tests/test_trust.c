/* The default TLS policy trusts what the system trusts: a company CA made here (the openssl
 * command) signs the simulator's certificate; a session with default options refuses it while
 * SSL_CERT_FILE holds another CA, naming that store in the error, and accepts it once
 * SSL_CERT_FILE holds the company CA. With neither variable set, it refuses the certificate
 * naming the system's bundle, accepts it once the CA is installed the way a Linux administrator
 * installs one (/usr/local/share/ca-certificates, update-ca-certificates; as root, which CI is),
 * and refuses it again once the CA is removed.
 *
 * Two steps in one program: run with XENAPI_SIM_BIN (ffi/ffi.mk sets it), it makes the CA and the
 * server certificate in a temporary directory, then replaces itself with
 * `xenapi-sim run --env TRUST --tls-cert ... --tls-key ... -- <this program>`; run so, it tests. */

#include "harness.h"

#include <sys/stat.h>

static int sh(const char *dir, const char *command) {
    char line[4096];
    snprintf(line, sizeof line, "cd '%s' && { %s; } >/dev/null 2>&1", dir, command);
    return system(line);
}

/* Makes DIR/ca.pem (company CA), DIR/server.pem + DIR/server.key (signed by it) and
 * DIR/stranger.pem (another CA). Returns 0 or -1. */
static int make_pki(const char *dir) {
    static const char *const steps[] = {
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
        "-out ca.pem -days 2 -subj '/O=Example Corp/CN=Example Corp Root CA' "
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key "
        "-out stranger.pem -days 2 -subj '/O=Someone Else/CN=Someone Else Root CA' "
        "-addext basicConstraints=critical,CA:TRUE",
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key "
        "-out server.csr -subj '/CN=pool coordinator'",
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' "
        "> ext.cnf",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 2 "
        "-extfile ext.cnf -out server.pem",
    };
    size_t i;
    for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (sh(dir, steps[i]) != 0) {
            fprintf(stderr, "making the test CA failed at: %s\n", steps[i]);
            return -1;
        }
    }
    return 0;
}

static int start_under_sim(const char *self) {
    const char *sim_bin = getenv("XENAPI_SIM_BIN");
    char dir[] = "/tmp/xenapi-trust-XXXXXX";
    char cert[256], key[256];
    if (sim_bin == NULL) {
        fprintf(stderr, "XENAPI_SIM_BIN is not set: run this test as ffi/ffi.mk does\n");
        return 1;
    }
    if (mkdtemp(dir) == NULL || make_pki(dir) != 0) {
        return 1;
    }
    snprintf(cert, sizeof cert, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    setenv("XENAPI_TRUST_DIR", dir, 1);
    execl(sim_bin, sim_bin, "run", "--env", "TRUST", "--templates", "0", "--tls-cert", cert,
          "--tls-key", key, "--", self, (char *)NULL);
    perror("exec xenapi-sim");
    return 1;
}

static xenapi_status connect_default(const sim_t *sim, xenapi_session **s, xenapi_error **err) {
    xenapi_options *opts = NULL;
    xenapi_status st = xenapi_options_new(sim->url, &opts, err);
    if (st == XENAPI_STATUS_OK) {
        st = xenapi_session_connect(opts, sim->user, sim->password, s, err);
    }
    xenapi_options_free(opts);
    return st;
}

/* The bundle update-ca-certificates writes (Debian, Ubuntu). */
#define SYSTEM_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define LOCAL_CAS "/usr/local/share/ca-certificates"

/* Installs (CA != NULL) or removes (CA == NULL) this test's CA in the system store; 0 or -1. */
static int system_ca(const char *ca) {
    char line[1024];
    if (ca != NULL) {
        snprintf(line, sizeof line,
                 "mkdir -p " LOCAL_CAS " && cp '%s' " LOCAL_CAS "/xenapi-rs-c-test-%ld.crt && "
                 "update-ca-certificates",
                 ca, (long)getpid());
    } else {
        snprintf(line, sizeof line,
                 "rm -f " LOCAL_CAS "/xenapi-rs-c-test-%ld.crt && update-ca-certificates",
                 (long)getpid());
    }
    return sh("/", line) == 0 ? 0 : -1;
}

/* Logs in with default options (sim_login sets no TLS option) and lists the VMs: 1 when the
 * certificate was trusted and the call answered. */
static int trusted(const sim_t *sim) {
    xenapi_session *s = sim_login(sim);
    xenapi_error *err = NULL;
    xenapi_value *vms = NULL;
    int ok = 0;
    CHECK(s != NULL);
    if (s != NULL) {
        CHECK_OK(xenapi_session_call(s, "VM.get_all", NULL, 0, &vms, &err), &err);
        ok = vms != NULL && xenapi_value_array_len(vms) >= 1;
        CHECK(ok);
        xenapi_value_free(vms);
        xenapi_session_free(s);
    }
    clear_error(&err);
    return ok;
}

/* The system store: refused naming it, trusted once the CA is installed, refused once removed. */
static void system_store(const sim_t *sim, const char *ca) {
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    unsetenv("SSL_CERT_FILE");
    unsetenv("SSL_CERT_DIR");
    CHECK_STATUS(connect_default(sim, &s, &err), XENAPI_STATUS_TLS, &err);
    CHECK(err != NULL && strstr(xenapi_error_message(err), "the system's certificates (") != NULL);
    CHECK(err != NULL && strstr(xenapi_error_message(err), SYSTEM_BUNDLE) != NULL);
    if (err != NULL) {
        printf("not installed, refused as expected: %s\n", xenapi_error_message(err));
    }
    clear_error(&err);
    if (geteuid() != 0) {
        printf("SKIPPED the installed-CA half: update-ca-certificates needs root (CI runs as "
               "root)\n");
        return;
    }
    CHECK(system_ca(ca) == 0);
    if (trusted(sim)) {
        printf("installed with update-ca-certificates: trusted\n");
    }
    CHECK(system_ca(NULL) == 0);
    s = NULL;
    CHECK_STATUS(connect_default(sim, &s, &err), XENAPI_STATUS_TLS, &err);
    clear_error(&err);
}

int main(int argc, char **argv) {
    sim_t sim;
    const char *dir = getenv("XENAPI_TRUST_DIR");
    char ca[256], stranger[256], named[300], rm[300];
    xenapi_session *s = NULL;
    xenapi_error *err = NULL;
    (void)argc;
    if (getenv("TRUST_URL") == NULL) {
        return start_under_sim(argv[0]);
    }
    if (dir == NULL || sim_get(&sim, "TRUST") != 0) {
        return 1;
    }
    CHECK(strncmp(sim.url, "https://127.0.0.1:", 18) == 0);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(stranger, sizeof stranger, "%s/stranger.pem", dir);
    unsetenv("SSL_CERT_DIR");

    /* Another CA in SSL_CERT_FILE: refused, and the error names the variable and the file. */
    setenv("SSL_CERT_FILE", stranger, 1);
    CHECK_STATUS(connect_default(&sim, &s, &err), XENAPI_STATUS_TLS, &err);
    snprintf(named, sizeof named, "SSL_CERT_FILE=%s", stranger);
    CHECK(err != NULL && strstr(xenapi_error_message(err), named) != NULL);
    CHECK(err != NULL && strstr(xenapi_error_message(err), "not trusted") != NULL);
    if (err != NULL) {
        printf("refused as expected: %s\n", xenapi_error_message(err));
    }
    clear_error(&err);

    /* The company CA: trusted, with no TLS option given (sim_login sets none). */
    setenv("SSL_CERT_FILE", ca, 1);
    trusted(&sim);

    system_store(&sim, ca);
    /* The harness's helpers for plain-HTTP simulators are not used here. */
    (void)sim_of_dialect;
    (void)sim_sessions;

    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    CHECK(system(rm) == 0);
    return finish("trust");
}
