"""The default TLS policy trusts what the system trusts: a company CA made here (openssl) signs the
simulator's certificate, and a session with no TLS option accepts it through ``SSL_CERT_FILE``
and refuses it, naming the store it consulted, when the file holds another CA.

The core reads the variables when a session is made, so setting them in this process is enough.
"""

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
    with pytest.raises(xr.TlsError) as refused:
        xr.Session(sim.url).login_with_password(USER, PASSWORD)
    message = str(refused.value)
    assert "not trusted" in message, message
    assert "SSL_CERT_FILE=%s" % stranger in message, message

    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    s = xr.Session(sim.url)
    s.login_with_password(USER, PASSWORD)
    try:
        assert len(s.xenapi.VM.get_all()) >= 2
    finally:
        s.logout()
