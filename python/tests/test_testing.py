"""xenapi_rs.testing: the fixtures and launcher the package ships for users' own tests.

These tests use the fixtures as a user would (by name, loaded through the pytest11 entry point),
and run the provisioning example of the module's documentation.
"""

import textwrap

import pytest

import xenapi_rs
import xenapi_rs.testing
from xenapi_rs.testing import Simulator


def documented_example():
    """The code block of the module's documentation, as a namespace: a user's provisioning code
    and its test, run here as written there."""
    doc = xenapi_rs.testing.__doc__
    block = doc[doc.index("::\n") + 3:].split("\n\n" + "The simulator binary")[0]
    code = textwrap.dedent(block)
    namespace = {}
    exec(compile(code, "xenapi_rs.testing example", "exec"), namespace)
    return namespace


def test_the_documented_example(xenapi_sim):
    example = documented_example()
    example["test_provision"](xenapi_sim)
    with xenapi_sim.session() as s:
        vm = example["provision"](s, "web-2")
        assert s.xenapi.VM.get_name_label(vm) == "web-2"
        assert s.xenapi.VM.get_VBDs(vm), "provisioning made the template's disks"


def test_each_test_gets_a_fresh_simulator(xenapi_sim):
    with xenapi_sim.session() as s:
        assert not s.xenapi.VM.get_by_name_label("web-1")


def test_module_simulator_is_shared(xenapi_sim_module):
    with xenapi_sim_module.session() as s:
        s.xenapi.VM.clone(s.xenapi.VM.get_by_name_label("Rocky Linux 9")[0], "shared-1")


def test_module_simulator_is_shared_still(xenapi_sim_module):
    with xenapi_sim_module.session() as s:
        assert s.xenapi.VM.get_by_name_label("shared-1")


def test_factory_takes_the_simulator_options(xenapi_sim_factory):
    xend = xenapi_sim_factory("--dialect", "xend", "--vms", "2", "--templates", "0")
    assert xend.dialect == "xend"
    with xend.session() as s:
        assert len(s.xenapi.VM.get_all()) == 3  # two guests and Domain-0


def test_faults_and_expiry_reach_the_client(xenapi_sim):
    s = xenapi_sim.session()
    xenapi_sim.fault("http500")
    with pytest.raises(xenapi_rs.HttpError):
        s.xenapi.VM.get_all()
    assert xenapi_sim.expire_sessions() >= 1
    s.xenapi.VM.get_all()  # the session logs in again by itself
    s.xenapi.session.logout()


def test_launcher_without_pytest_fixtures():
    with Simulator("--vms", "1") as sim:
        assert sim.url.startswith("http://127.0.0.1:")
        assert sim.stats()["sessions"] == 0
