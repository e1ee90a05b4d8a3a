"""The default TLS policy trusts what the system trusts: a company CA made here (openssl) signs the
simulator's certificate, and a session with no TLS option accepts it through ``SSL_CERT_FILE``
or once installed with ``update-ca-certificates``, and refuses it, naming the store it consulted,
when the file holds another CA or the CA is not installed.

The core reads the variables when a session is made, so setting them in this process is enough.
"""

import os
import shutil
import subprocess

import pytest

from conftest import PASSWORD, USER


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    """A CA certificate and key in ``d`` (``ca.pem``, ``ca.key``)."""
    d.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/O=%s/CN=%s Root CA" % (name, name),
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return d / "ca.pem"


def make_server_cert(d):
    """A certificate for 127.0.0.1 signed by ``d``'s CA (``server.pem``, ``server.key``)."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=pool coordinator",
            cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                               "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", "2", "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem", cwd=d)
    return d / "server.pem", d / "server.key"


def refusal(xr, url):
    """The message of the TlsError a login with no TLS option meets; it says "not trusted"."""
    with pytest.raises(xr.TlsError) as refused:
        xr.Session(url).login_with_password(USER, PASSWORD)
    message = str(refused.value)
    assert "not trusted" in message, message
    return message


def assert_trusted(xr, url):
    """A login with no TLS option goes through, and the session answers."""
    s = xr.Session(url)
    s.login_with_password(USER, PASSWORD)
    try:
        assert len(s.xenapi.VM.get_all()) >= 2
    finally:
        s.logout()


@pytest.fixture
def company(tmp_path, start_sim):
    """A simulator whose certificate a fresh company CA signed: (sim, CA file, another CA file)."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed to make the test CA")
    ca = make_ca(tmp_path / "company", "Example Corp")
    cert, key = make_server_cert(tmp_path / "company")
    stranger = make_ca(tmp_path / "stranger", "Someone Else")
    sim = start_sim("--vms", "2", "--tls-cert", str(cert), "--tls-key", str(key))
    assert sim.url.startswith("https://127.0.0.1:"), sim.url
    return sim, ca, stranger


def test_default_policy_trusts_a_ca_in_ssl_cert_file(company, xr, monkeypatch):
    sim, ca, stranger = company
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)

    monkeypatch.setenv("SSL_CERT_FILE", str(stranger))
    message = refusal(xr, sim.url)
    assert "SSL_CERT_FILE=%s" % stranger in message, message

    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    assert_trusted(xr, sim.url)


#: The bundle update-ca-certificates writes (Debian, Ubuntu).
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def update_ca_certificates():
    subprocess.run(["update-ca-certificates"], check=True, capture_output=True)


@pytest.fixture
def installer():
    """Installs a CA the way a Linux administrator does (a file in
    /usr/local/share/ca-certificates, then ``update-ca-certificates``); removes it afterwards,
    also when the test fails. Needs root (CI runs as root)."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("installing a CA with update-ca-certificates needs root (CI runs as root)")
    if shutil.which("update-ca-certificates") is None:
        pytest.fail("update-ca-certificates (Debian package ca-certificates) is missing")
    local = "/usr/local/share/ca-certificates"
    os.makedirs(local, exist_ok=True)
    installed = []

    def install(ca):
        path = os.path.join(local, "xenapi-rs-python-test-%d.crt" % os.getpid())
        shutil.copyfile(ca, path)
        installed.append(path)
        update_ca_certificates()
        return path

    def remove():
        while installed:
            os.remove(installed.pop())
            update_ca_certificates()

    install.remove = remove
    yield install
    remove()


def test_a_ca_installed_with_update_ca_certificates_is_trusted(company, installer, xr,
                                                             monkeypatch):
    sim, ca, _ = company
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)

    # Not installed: refused, naming the system's store.
    message = refusal(xr, sim.url)
    assert "the system's certificates (" in message, message
    if os.path.exists(SYSTEM_BUNDLE):
        assert SYSTEM_BUNDLE in message, message

    installer(ca)
    body = ca.read_text().splitlines()[1]
    with open(SYSTEM_BUNDLE) as bundle:
        assert body in bundle.read(), "update-ca-certificates did not add the CA"
    assert_trusted(xr, sim.url)

    # Removed again: refused again (the store is read again when it changes).
    installer.remove()
    refusal(xr, sim.url)
