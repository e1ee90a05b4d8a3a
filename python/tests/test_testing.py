"""xenapi_rs.testing: the fixtures and launcher the package ships for users' own tests.

These tests use the fixtures as a user would (by name, loaded through the pytest11 entry point),
and run the provisioning example of the module's documentation.
"""

import pytest

import xenapi_rs
from xenapi_rs.testing import Simulator


def provision(session, name):
    """The documentation's example: a user's own provisioning code."""
    x = session.xenapi
    vm = x.VM.clone(x.VM.get_by_name_label("Debian Bookworm 12")[0], name)
    # As xe vm-install does: put the disks on the pool's default SR, then provision.
    sr = x.pool.get_default_SR(x.pool.get_all()[0])
    disks = x.VM.get_other_config(vm)["disks"].replace('sr=""', 'sr="%s"' % x.SR.get_uuid(sr))
    x.VM.remove_from_other_config(vm, "disks")
    x.VM.add_to_other_config(vm, "disks", disks)
    x.VM.provision(vm)
    return vm


def test_the_documented_example(xenapi_sim):
    with xenapi_sim.session() as s:
        vm = provision(s, "web-1")
        assert s.xenapi.VM.get_name_label(vm) == "web-1"
        assert s.xenapi.VM.get_is_a_template(vm) is False
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
