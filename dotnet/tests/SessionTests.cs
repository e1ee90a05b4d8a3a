using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using NUnit.Framework;

namespace XenAPI.Tests
{
    [TestFixture]
    public class SessionTests
    {
        Sim sim;

        [SetUp] public void StartSim() { sim = Sim.Start("--vms", "6"); }
        [TearDown] public void StopSim() { sim.Dispose(); }

        [Test]
        public void DisposeLogsOut()
        {
            long before = sim.LiveSessions;
            using (Session xen = sim.Login())
            {
                Assert.IsTrue(xen.IsLoggedIn);
                Assert.AreEqual(before + 1, sim.LiveSessions);
            }
            Assert.AreEqual(before, sim.LiveSessions);

            // Many sessions, none left behind.
            for (int i = 0; i < 20; i++)
                using (Session xen = sim.Login()) xen.ListMethods();
            Assert.AreEqual(before, sim.LiveSessions);
            Assert.AreEqual(sim.Stats()["logins"], sim.Stats()["logouts"]);
        }

        [Test]
        public void FinalizerLogsOutAForgottenSession()
        {
            long before = sim.LiveSessions;
            Forget();
            for (int i = 0; i < 50 && sim.LiveSessions != before; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                Thread.Sleep(100);
            }
            Assert.AreEqual(before, sim.LiveSessions);
        }

        void Forget() { sim.Login().ListMethods(); }

        [Test]
        public void EightThreadsShareOneSession()
        {
            using (Session xen = sim.Login())
            {
                long sessionsBefore = sim.LiveSessions;
                var errors = new List<Exception>();
                int calls = 0;
                var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
                {
                    try
                    {
                        for (int i = 0; i < 25; i++)
                        {
                            switch ((t + i) % 4)
                            {
                                case 0: Assert.IsNotEmpty(xen.ListMethods()); break;
                                case 1: Assert.Greater(VM.get_all_records(xen).Count, 4); break;
                                case 2: Assert.IsInstanceOf<object[]>(xen.Call("VM.get_all")); break;
                                case 3: Assert.Greater(Host_metrics.get_memory_total(xen, Host.get_metrics(xen, Host.get_all(xen)[0])), 0); break;
                            }
                            Interlocked.Increment(ref calls);
                        }
                    }
                    catch (Exception e) { lock (errors) errors.Add(e); }
                })).ToList();
                threads.ForEach(th => th.Start());
                threads.ForEach(th => th.Join());
                Assert.IsEmpty(errors, string.Join("\n", errors));
                Assert.AreEqual(8 * 25, calls);
                Assert.AreEqual(sessionsBefore, sim.LiveSessions, "one session serves every thread");
            }
        }

        [Test]
        public void DisposeWhileOtherThreadsCall()
        {
            Session xen = sim.Login();
            var stop = DateTime.UtcNow.AddMilliseconds(300);
            var unexpected = new List<Exception>();
            var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
            {
                while (DateTime.UtcNow < stop)
                {
                    try { xen.ListMethods(); }
                    catch (ObjectDisposedException) { return; }
                    catch (XenApiException) { }
                    catch (Exception e) { lock (unexpected) unexpected.Add(e); return; }
                }
            })).ToList();
            threads.ForEach(th => th.Start());
            Thread.Sleep(50);
            xen.Dispose();
            threads.ForEach(th => th.Join());
            Assert.IsEmpty(unexpected, string.Join("\n", unexpected));
        }

        [Test]
        public void ExpiredSessionLogsInAgain()
        {
            using (Session xen = sim.Login())
            {
                string first = xen.SessionRef;
                sim.Post("/sim/expire-sessions");
                Assert.IsNotEmpty(xen.ListMethods());
                Assert.AreNotEqual(first, xen.SessionRef);
            }
        }

        [Test]
        public void CallReturnsDotNetValues()
        {
            using (Session xen = sim.Login())
            {
                var all = (Dictionary<string, object>)xen.Call("VM.get_all_records");
                Assert.Greater(all.Count, 4);
                var rec = (Dictionary<string, object>)all.Values.First();
                Assert.IsInstanceOf<string>(rec["uuid"]);
                Assert.IsInstanceOf<bool>(rec["is_a_template"]);
                Assert.IsInstanceOf<object[]>(rec["VBDs"]);
                Assert.IsInstanceOf<Dictionary<string, object>>(rec["other_config"]);
                // int64s travel as strings; the typed layer reads them as numbers.
                Assert.IsInstanceOf<string>(rec["memory_target"]);

                string[] refs = xen.Call<string[]>("VM.get_all");
                Assert.AreEqual(all.Count, refs.Length);
                Assert.AreEqual(refs.Length, VM.get_all(xen).Count);

                // Round trips: a map, an int above 2^31, a float, a bool, a datetime.
                // A halted guest: xapi changes the static memory range of a halted VM only.
                string vm = refs.First(r => !(bool)((Dictionary<string, object>)all[r])["is_control_domain"]
                    && (string)((Dictionary<string, object>)all[r])["power_state"] == "Halted");
                xen.Call("VM.add_to_other_config", vm, "dotnet", "yes");
                var oc = (Dictionary<string, object>)xen.Call("VM.get_other_config", vm);
                Assert.AreEqual("yes", oc["dotnet"]);
                xen.Call("VM.set_memory_static_max", vm, 8L << 30);
                Assert.AreEqual((8L << 30).ToString(), xen.Call("VM.get_memory_static_max", vm));

                var metrics = (string)rec["metrics"];
                object lastUpdated = xen.Call("VM_metrics.get_last_updated", metrics);
                Assert.IsInstanceOf<DateTime>(lastUpdated);
                Assert.AreEqual(DateTimeKind.Utc, ((DateTime)lastUpdated).Kind);
            }
        }

        static XenRef<VM> Halted(Session xen) =>
            VM.get_all_records(xen).First(kv => !kv.Value.is_control_domain && !kv.Value.is_a_template && kv.Value.power_state == vm_power_state.Halted).Key;

        [Test]
        public void AsyncTaskWait()
        {
            using (Session xen = sim.Login())
            {
                XenRef<VM> vm = Halted(xen);
                XenRef<Task> task = VM.async_start(xen, vm, false, false);
                StringAssert.StartsWith("OpaqueRef:", task.opaque_ref);
                Assert.AreEqual("", xen.WaitForTask(task, TimeSpan.FromSeconds(30)));
                Assert.AreEqual(vm_power_state.Running, VM.get_power_state(xen, vm));

                // A failing task throws with the task's error code.
                XenRef<Task> bad = VM.async_start(xen, vm, false, false);
                var e = Assert.Throws<Failure>(() => xen.WaitForTask(bad, TimeSpan.FromSeconds(30)));
                Assert.AreEqual(Failure.VM_BAD_POWER_STATE, e.Code);

                // A finished task, followed as XenServer.NET programs do.
                VM.hard_shutdown(xen, vm);
                XenRef<Task> again = VM.async_start(xen, vm, false, false);
                var deadline = DateTime.UtcNow.AddSeconds(30);
                while (Task.get_status(xen, again) == task_status_type.pending && DateTime.UtcNow < deadline)
                    Thread.Sleep(20);
                Assert.AreEqual(task_status_type.success, Task.get_status(xen, again));
                Assert.AreEqual(1.0, Task.get_progress(xen, again));
                Assert.AreEqual(vm_power_state.Running, VM.get_power_state(xen, vm));
            }
        }

        [Test]
        public void TaskWaitTimesOut()
        {
            using (Sim slow = Sim.Start("--vms", "2", "--task-delay-ms", "3000"))
            using (Session xen = slow.Login())
            {
                XenRef<Task> task = VM.async_start(xen, Halted(xen), false, false);
                Assert.AreEqual(task_status_type.pending, Task.get_status(xen, task));
                Assert.Throws<XenApiTimeoutException>(() => xen.WaitForTask(task, TimeSpan.FromMilliseconds(200)));
            }
        }

        [Test]
        public void Events()
        {
            using (Session xen = sim.Login())
            {
                EventBatch first = Event.from(xen, new[] { "vm" }, "", 0.0);
                Assert.IsNotNull(first.token);
                Assert.Greater(first.valid_ref_counts.Count, 0);
                XenRef<VM> halted = Halted(xen);
                VM.start(xen, halted, false, false);
                EventBatch next = Event.from(xen, new[] { "vm" }, first.token, 5.0);
                Event ev = next.events.Last(x => x.opaqueRef == halted.opaque_ref);
                Assert.AreEqual("vm", ev.class_.ToLowerInvariant());
                Assert.AreEqual(event_operation.mod, ev.operation);
                Assert.AreEqual("Running", ((Dictionary<string, object>)ev.snapshot)["power_state"]);
                Assert.AreNotEqual(first.token, next.token);
            }
        }

        [Test]
        public void TypedRoundTrips()
        {
            using (Session xen = sim.Login())
            {
                XenRef<VM> vm = Halted(xen);
                VM.add_to_other_config(xen, vm, "dotnet", "yes");
                Assert.AreEqual("yes", VM.get_other_config(xen, vm)["dotnet"]);
                VM.set_other_config(xen, vm, new Dictionary<string, string> { { "a", "1" }, { "b", "\u00e9" } });
                CollectionAssert.AreEquivalent(new Dictionary<string, string> { { "a", "1" }, { "b", "\u00e9" } }, VM.get_other_config(xen, vm));
                VM.set_memory_static_max(xen, vm, 8L << 30);
                Assert.AreEqual(8L << 30, VM.get_memory_static_max(xen, vm));
                VM.set_tags(xen, vm, new[] { "x", "y" });
                CollectionAssert.AreEqual(new[] { "x", "y" }, VM.get_tags(xen, vm));
                VM.set_actions_after_crash(xen, vm, on_crash_behaviour.coredump_and_restart);
                Assert.AreEqual(on_crash_behaviour.coredump_and_restart, VM.get_actions_after_crash(xen, vm));
                Assert.AreEqual("coredump_and_restart", on_crash_behaviour.coredump_and_restart.StringOf());
                Assert.AreEqual(vm_power_state.Paused, vm_power_state_helper.FromString("Paused"));
                Assert.AreEqual(vm_power_state.unknown, vm_power_state_helper.FromString("Levitating"));
                Assert.AreEqual("balance-slb", bond_mode.balance_slb.StringOf());

                DateTime updated = VM_metrics.get_last_updated(xen, VM.get_metrics(xen, vm));
                Assert.AreEqual(DateTimeKind.Utc, updated.Kind);
                var rec = VM.get_record(xen, vm);
                Assert.AreEqual(8L << 30, rec.memory_static_max);
                Assert.AreEqual("yes", rec.other_config.ContainsKey("a") ? "yes" : "no");
                Assert.IsInstanceOf<List<XenRef<VBD>>>(rec.VBDs);
                XenRef<VM> same = VM.get_by_uuid(xen, rec.uuid);
                Assert.AreEqual(vm, same);
                Assert.AreEqual(vm.GetHashCode(), same.GetHashCode());
                string s = same; // implicit conversion
                Assert.AreEqual(vm.opaque_ref, s);
            }
        }

        [Test]
        public void LoginOnAPoolMemberFollowsTheCoordinator()
        {
            using (Sim pool = Sim.Start("--vms", "2", "--hosts", "2"))
            {
                Assert.AreEqual(1, pool.MemberUrls.Length);
                string member = pool.MemberUrls[0];
                using (Session xen = Session.Connect(member, Sim.User, Sim.Password))
                {
                    Assert.AreEqual(pool.Url.TrimEnd('/'), xen.Url.TrimEnd('/'));
                    Assert.AreEqual(2, Host.get_all(xen).Count);
                }
                var e = Assert.Throws<Failure>(() =>
                    Session.Connect(new Options(member) { FollowCoordinator = false }, Sim.User, Sim.Password));
                Assert.AreEqual(Failure.HOST_IS_SLAVE, e.Code);
            }
        }

        [Test]
        public void LoginSendsVersionAndOriginator()
        {
            using (Session xen = sim.Login(new Options(sim.Url) { Originator = "dotnet-tests" }))
                StringAssert.Contains("originator \"dotnet-tests\"", Host.get_log(xen, Host.get_all(xen)[0]));
            using (var xen = new Session(sim.Url))
            {
                xen.LoginWithPassword(Sim.User, Sim.Password, "2.0", "per-login");
                StringAssert.Contains("originator \"per-login\"", Host.get_log(xen, Host.get_all(xen)[0]));
            }
        }

        [Test]
        public void XenServerNetConstructorsAndSessionMessages()
        {
            using (var xen = new Session(10000, sim.Url))
            {
                Assert.IsNull(xen.opaque_ref);
                xen.login_with_password(Sim.User, Sim.Password, "2.0");
                Assert.IsNotNull(xen.opaque_ref);
                Assert.AreEqual(sim.Url.TrimEnd('/'), xen.Url.TrimEnd('/'));
                // The datamodel's session messages are static methods of Session, as in XenServer.NET.
                XenRef<Host> host = Session.get_this_host(xen, xen.opaque_ref);
                Assert.AreEqual(Host.get_all(xen)[0], host);
                xen.logout();
                Assert.IsFalse(xen.IsLoggedIn);
            }
            using (var xen = new Session("127.0.0.1", 4443))
                StringAssert.StartsWith("https://127.0.0.1:4443", xen.Url);
            using (var xen = new Session(5000, "127.0.0.1", 80))
                StringAssert.StartsWith("http://127.0.0.1:80", xen.Url);
        }

        [Test]
        public void TextRoundTripsAcrossRecords()
        {
            // Consecutive records hold these at the same field: the readers reuse strings they have
            // seen there, and must never take one text for another.
            using (Session xen = sim.Login())
            {
                XenRef<VM>[] vms = VM.get_all_records(xen).Where(kv => !kv.Value.is_control_domain).Select(kv => kv.Key).ToArray();
                string[] names = { "\u00c3\u00a9", "\u00e9", "仮想マシン", "vm-é", "vm-e", "", "vm-e2", "vm-" };
                for (int i = 0; i < vms.Length; i++)
                {
                    VM.set_name_label(xen, vms[i], names[i % names.Length]);
                    VM.set_other_config(xen, vms[i], new Dictionary<string, string> { { names[i % names.Length], names[(i + 1) % names.Length] } });
                }
                for (int round = 0; round < 2; round++)
                {
                    var typed = VM.get_all_records(xen);
                    var generic = (Dictionary<string, object>)xen.Call("VM.get_all_records");
                    for (int i = 0; i < vms.Length; i++)
                    {
                        Assert.AreEqual(names[i % names.Length], typed[vms[i]].name_label);
                        Assert.AreEqual(names[(i + 1) % names.Length], typed[vms[i]].other_config[names[i % names.Length]]);
                        Assert.AreEqual(names[i % names.Length], ((Dictionary<string, object>)generic[vms[i].opaque_ref])["name_label"]);
                    }
                }
            }
        }
    }
}
