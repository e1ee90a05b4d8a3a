#!/usr/bin/env python3
"""The talk's demo in Python: an ``xm``-style tour of the XenAPI with xenapi_rs.

    xm.py [URL [USER [PASSWORD]]]     (defaults: $XENAPI_URL, $XENAPI_USER, $XENAPI_PASSWORD)

Connects and logs in, lists the API's methods and the VMs (``xm list``), starts a halted VM,
pauses and unpauses it, shows Xen's console ring (``host.dmesg``) and the log (``host.get_log``),
CPU and memory use (from the RRDs on xapi, from the records on xend), shuts the VM down and
logs out. Written as for the official XenAPI module: only the import and the RRDs differ.
"""

import calendar
import os
import sys
import time

import xenapi_rs as XenAPI


def mib(n):
    return int(n) // (1024 * 1024)


def xm_list(x):
    print("%-30s %5s %6s %5s %-9s %8s" % ("Name", "ID", "Mem", "VCPUs", "State", "Time(s)"))
    records = x.VM.get_all_records()
    for _ref, vm in sorted(records.items(), key=lambda kv: (not kv[1]["is_control_domain"], kv[1]["name_label"])):
        if vm.get("is_a_template") or vm.get("is_a_snapshot"):
            continue
        seconds = "-"
        try:
            metrics = x.VM_metrics.get_record(vm["metrics"])
            start = metrics.get("start_time")
            if vm["power_state"] != "Halted" and start is not None:
                started = calendar.timegm(time.strptime(str(start.value)[:17], "%Y%m%dT%H:%M:%S"))
                seconds = "%.1f" % max(0.0, time.time() - started)
        except (XenAPI.Failure, KeyError, ValueError):
            pass
        domid = vm.get("domid", "-")
        print(
            "%-30s %5s %6d %5s %-9s %8s"
            % (vm["name_label"][:30], "-" if str(domid) == "-1" else domid,
               mib(vm["memory_dynamic_max"]), vm["VCPUs_max"], vm["power_state"], seconds)
        )
    return records


def show_use(session, vm):
    """CPU and memory use (``xm top``). On xapi since XenServer 6.1 the figures are only in the
    RRDs (``VM_metrics.VCPUs_utilisation`` and ``host_metrics.memory_free`` were removed); xend
    has them in its records."""
    x = session.xenapi
    if getattr(session, "dialect", "xapi") == "xend":
        return show_use_from_fields(x, vm)
    from xenapi_rs import rrd

    try:
        u = rrd.vm_usage(session, x.VM.get_uuid(vm), minutes=1)
    except XenAPI.InvalidArgument as e:  # not running: no live figures
        print("  VM: %s" % e)
    else:
        print("  VM memory: %s MiB used of %s; VCPU use: %s" % (
            "-" if u.memory_used is None else mib(u.memory_used),
            "-" if u.memory_total is None else mib(u.memory_total),
            ", ".join("vcpu%d %s" % (i, percent(c)) for i, c in enumerate(u.cpus)) or "-"))
    for host in x.host.get_all():
        h = rrd.host_usage(session, x.host.get_uuid(host), minutes=1)
        print("  host %s: memory %s of %s MiB used" % (
            x.host.get_name_label(host),
            "-" if h.memory_used is None else mib(h.memory_used),
            "-" if h.memory_total is None else mib(h.memory_total)))
        if h.cpus:
            print("  host CPUs: %s" % ", ".join(percent(c) for c in h.cpus))


def percent(share):
    return "-" if share is None else "%.0f%%" % (100 * share)


def show_use_from_fields(x, vm):
    metrics = x.VM_metrics.get_record(x.VM.get_metrics(vm))
    cpus = metrics.get("VCPUs_utilisation", {})
    print("  VM memory_actual: %d MiB; VCPU use: %s" % (
        mib(metrics["memory_actual"]),
        ", ".join("vcpu%s %s" % (k, percent(float(v))) for k, v in sorted(cpus.items())) or "-"))
    for host in x.host.get_all():
        hm = x.host_metrics.get_record(x.host.get_metrics(host))
        used = int(hm["memory_total"]) - int(hm["memory_free"])
        print("  host %s: memory %d of %d MiB used" % (
            x.host.get_name_label(host), mib(used), mib(hm["memory_total"])))
        cpus = [x.host_cpu.get_utilisation(c) for c in x.host.get_host_CPUs(host)]
        if cpus:
            print("  host CPUs: %s" % ", ".join(percent(float(u)) for u in cpus))


def main(argv):
    url = argv[1] if len(argv) > 1 else os.environ.get("XENAPI_URL", "http://127.0.0.1:9363")
    user = argv[2] if len(argv) > 2 else os.environ.get("XENAPI_USER", "root")
    password = argv[3] if len(argv) > 3 else os.environ.get("XENAPI_PASSWORD", "password")

    print("== connect to %s as %s" % (url, user))
    session = XenAPI.Session(url, ignore_ssl=url.startswith("https"))
    session.xenapi.login_with_password(user, password, "1.0", "xenapi-rs-demo")
    # XenAPI.py itself has no `protocol`: it speaks XML-RPC.
    print("== transport: %s" % getattr(session, "protocol", "xmlrpc"))
    x = session.xenapi
    try:
        methods = x.host.list_methods()
        print("== host.list_methods: %d methods, e.g. %s" % (len(methods), ", ".join(sorted(methods)[:4])))

        print("== xm list")
        records = xm_list(x)
        guests = [r for r, v in records.items()
                  if not v["is_control_domain"] and not v.get("is_a_template") and v["power_state"] == "Halted"]
        if not guests:
            print("no halted guest to start")
            return 0
        vm = guests[0]
        name = records[vm]["name_label"]

        print("== start %s" % name)
        x.VM.start(vm, False, False)
        print("  power state: %s" % x.VM.get_power_state(vm))
        print("== pause %s" % name)
        x.VM.pause(vm)
        print("  power state: %s" % x.VM.get_power_state(vm))
        print("== unpause %s" % name)
        x.VM.unpause(vm)
        print("  power state: %s" % x.VM.get_power_state(vm))
        try:
            x.VM.unpause(vm)
        except XenAPI.Failure as e:
            print("  unpause again fails as it should: %s" % e.details)

        host = x.host.get_all()[0]
        print("== dmesg (host.dmesg), last lines")
        for line in x.host.dmesg(host).splitlines()[-5:]:
            print("  " + line)
        print("== log (host.get_log), last lines")
        for line in x.host.get_log(host).splitlines()[-5:]:
            print("  " + line)

        print("== CPU and memory use")
        show_use(session, vm)

        print("== xm list")
        xm_list(x)
        print("== shutdown %s" % name)
        x.VM.clean_shutdown(vm)
        print("  power state: %s" % x.VM.get_power_state(vm))
    finally:
        print("== logout")
        session.xenapi.session.logout()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
