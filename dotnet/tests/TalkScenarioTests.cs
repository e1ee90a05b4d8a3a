using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>The 2007 talk's demo through the generated API, in both dialects.</summary>
    [TestFixture]
    public class TalkScenarioTests
    {
        [Test]
        public void TheTalksListMethodsExample()
        {
            using (Sim sim = Sim.Start("--vms", "2"))
            {
                var xen = new Session(sim.Url);
                xen.LoginWithPassword("root", "password");
                string[] methods = xen.ListMethods();
                xen.Logout();

                CollectionAssert.Contains(methods, "VM.start");
                CollectionAssert.Contains(methods, "host.dmesg");
                Assert.IsFalse(xen.IsLoggedIn);
                xen.Dispose();
            }
        }

        [Test] public void ScenarioXapi() { Scenario("xapi"); }

        [Test] public void ScenarioXend() { Scenario("xend"); }

        static void Scenario(string dialect)
        {
            using (Sim sim = Sim.Start("--vms", "4", "--dialect", dialect))
            using (var session = new Session(sim.Url))
            {
                session.login_with_password(Sim.User, Sim.Password);
                Assert.AreEqual(dialect == "xend" ? Dialect.Xend : Dialect.Xapi, session.Dialect);

                Dictionary<XenRef<VM>, VM> all = VM.get_all_records(session);
                VM dom0 = all.Values.Single(r => r.is_control_domain);
                Assert.AreEqual(vm_power_state.Running, dom0.power_state);
                Assert.AreEqual(0, dom0.domid);
                var guests = all.Where(kv => !kv.Value.is_control_domain && !kv.Value.is_a_template)
                                .OrderBy(kv => kv.Value.name_label, StringComparer.Ordinal).ToList();
                Assert.AreEqual(4, guests.Count);
                foreach (var kv in guests)
                {
                    Assert.IsNotEmpty(kv.Value.uuid);
                    Assert.Greater(kv.Value.VCPUs_max, 0);
                    Assert.Greater(kv.Value.memory_static_max, 0);
                    Assert.AreEqual(kv.Value.name_label, VM.get_name_label(session, kv.Key));
                    Assert.AreEqual(kv.Value.power_state, VM.get_power_state(session, kv.Key));
                }

                XenRef<VM> vm = guests.First(kv => kv.Value.power_state == vm_power_state.Halted).Key;
                VM.start(session, vm, false, false);
                Assert.AreEqual(vm_power_state.Running, VM.get_power_state(session, vm));

                XenRef<VM_metrics> metrics = VM.get_metrics(session, vm);
                Assert.Greater(VM_metrics.get_memory_actual(session, metrics), 0);
                if (dialect == "xend")
                {
                    Dictionary<long, double> vcpus = VM_metrics.get_VCPUs_utilisation(session, metrics);
                    Assert.Greater(vcpus.Count, 0);
                    foreach (double u in vcpus.Values) Assert.That(u, Is.InRange(0.0, 1.0));
                }
                else
                {
                    // Today's xapi (since 6.1) removed the field: its getter is refused, and the
                    // figures are in the RRDs.
                    var removed = Assert.Throws<Failure>(() => VM_metrics.get_VCPUs_utilisation(session, metrics));
                    Assert.AreEqual(Failure.MESSAGE_REMOVED, removed.Code);
                    string uuid = VM.get_uuid(session, vm);
                    Rrd.Updates u = Rrd.FetchUpdates(session, -60, 0, "AVERAGE", false, uuid);
                    int cpu0 = u.Find("vm", uuid, "cpu0");
                    Assert.GreaterOrEqual(cpu0, 0, "the started VM's vCPU is in the RRDs");
                    Assert.That(u.Rows[0].Values[cpu0], Is.InRange(0.0, 1.0));
                }
                Assert.AreEqual(VM_metrics.get_memory_actual(session, metrics), VM_metrics.get_record(session, metrics).memory_actual);

                VM.pause(session, vm);
                Assert.AreEqual(vm_power_state.Paused, VM.get_power_state(session, vm));
                VM.unpause(session, vm);
                Assert.AreEqual(vm_power_state.Running, VM.get_power_state(session, vm));
                VM.clean_shutdown(session, vm);
                Assert.AreEqual(vm_power_state.Halted, VM.get_power_state(session, vm));

                // A VM in the wrong state: the code and its parameters (vm, expected, actual).
                var f = Assert.Throws<Failure>(() => VM.unpause(session, vm));
                Assert.AreEqual(Failure.VM_BAD_POWER_STATE, f.ErrorDescription[0]);
                Assert.AreEqual(vm.opaque_ref, f.ErrorDescription[1]);
                Assert.AreEqual(4, f.ErrorDescription.Count);
                StringAssert.AreEqualIgnoringCase("halted", f.ErrorDescription[3]);

                XenRef<Host> host = Host.get_all(session)[0];
                StringAssert.Contains("CPUs", Host.dmesg(session, host));
                Assert.IsNotEmpty(Host.get_log(session, host));
                XenRef<Host_metrics> hm = Host.get_metrics(session, host);
                long total = Host_metrics.get_memory_total(session, hm);
                Assert.Greater(total, 0);
                if (dialect == "xend")
                    Assert.That(Host_metrics.get_memory_free(session, hm), Is.InRange(0L, total));
                else
                    Assert.AreEqual(Failure.MESSAGE_REMOVED,
                        Assert.Throws<Failure>(() => Host_metrics.get_memory_free(session, hm)).Code);
                List<XenRef<Host_cpu>> cpus = Host.get_host_CPUs(session, host);
                Assert.Greater(cpus.Count, 0);
                foreach (XenRef<Host_cpu> c in cpus)
                    Assert.That(Host_cpu.get_utilisation(session, c), Is.InRange(0.0, 1.0));

                // An asynchronous start: a task to follow.
                XenRef<Task> task = VM.async_start(session, vm, false, false);
                Assert.IsNotEmpty(task.opaque_ref);
                WaitFor(session, task);
                Assert.AreEqual(vm_power_state.Running, VM.get_power_state(session, vm));
                VM.hard_shutdown(session, vm);

                // A bad password.
                using (var other = new Session(sim.Url))
                {
                    var bad = Assert.Throws<Failure>(() => other.login_with_password(Sim.User, "wrong"));
                    Assert.AreEqual(Failure.SESSION_AUTHENTICATION_FAILED, bad.ErrorDescription[0]);
                    StringAssert.DoesNotContain("wrong", bad.Message);
                }

                // Events: event.from (both dialects here), and xend's register/next.
                EventBatch first = Event.from(session, new[] { "vm" }, "", 0.0);
                Assert.IsNotEmpty(first.token);
                if (dialect == "xend") Event.register(session, new[] { "vm" });
                VM.start(session, vm, false, false);
                EventBatch next = Event.from(session, new[] { "vm" }, first.token, 5.0);
                Event ev = next.events.Last(e => e.opaqueRef == vm.opaque_ref);
                Assert.AreEqual("vm", ev.class_.ToLowerInvariant());
                Assert.AreEqual(event_operation.mod, ev.operation);
                var snapshot = (Dictionary<string, object>)ev.snapshot;
                Assert.AreEqual("Running", snapshot["power_state"]);
                Assert.AreNotEqual(first.token, next.token);
                if (dialect == "xend")
                {
                    List<Event> events = Event.next(session);
                    Assert.IsTrue(events.Exists(e => e.opaqueRef == vm.opaque_ref), "event.next has the start");
                    Event.unregister(session, new[] { "vm" });
                }
                session.logout();
                Assert.IsFalse(session.IsLoggedIn);
            }
        }

        /// <summary>Follows a task with Task.get_status as XenServer.NET programs do, where the server
        /// keeps tasks; else waits for it through libxenapi.</summary>
        static void WaitFor(Session session, XenRef<Task> task)
        {
            task_status_type status;
            try
            {
                status = Task.get_status(session, task);
            }
            catch (Failure)
            {
                session.WaitForTask(task, TimeSpan.FromSeconds(30));
                return;
            }
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (status == task_status_type.pending && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
                status = Task.get_status(session, task);
            }
            Assert.AreEqual(task_status_type.success, status, string.Join(" ", Task.get_error_info(session, task)));
        }
    }
}
