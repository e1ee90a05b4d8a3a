using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using NUnit.Framework;

namespace XenApi.Tests
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
                                case 1: Assert.Greater(xen.GetAllVMRecords().Length, 4); break;
                                case 2: Assert.IsInstanceOf<object[]>(xen.Call("VM.get_all")); break;
                                case 3: Assert.Greater(xen.Host.GetMemory().Total, 0); break;
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
                string host = xen.GetHosts()[0].Ref;
                Assert.AreEqual(host, xen.Host.Ref);

                // Round trips: a map, an int above 2^31, a float, a bool, a datetime.
                string vm = refs.First(r => !(bool)((Dictionary<string, object>)all[r])["is_control_domain"]);
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

        [Test]
        public void AsyncTaskWait()
        {
            using (Session xen = sim.Login())
            {
                VM vm = xen.GetAllVMRecords().First(r => !r.IsControlDomain && r.PowerState == VMPowerState.Halted).VM;
                XenTask task = xen.Async("VM.start", vm, false, false);
                StringAssert.StartsWith("OpaqueRef:", task.Ref);
                Assert.AreEqual("", task.Wait(TimeSpan.FromSeconds(30)));
                Assert.AreEqual(VMPowerState.Running, vm.PowerState);

                // A failing task throws with the task's error code.
                XenTask bad = xen.Async("VM.start", vm, false, false);
                var e = Assert.Throws<XenApiException>(() => bad.Wait(TimeSpan.FromSeconds(30)));
                Assert.AreEqual(ErrorCodes.VM_BAD_POWER_STATE, e.Code);
            }
        }

        [Test]
        public void TaskWaitTimesOut()
        {
            using (Sim slow = Sim.Start("--vms", "2", "--task-delay-ms", "3000"))
            using (Session xen = slow.Login())
            {
                VM vm = xen.GetAllVMRecords().First(r => !r.IsControlDomain && r.PowerState == VMPowerState.Halted).VM;
                XenTask task = xen.Async("VM.start", vm, false, false);
                Assert.Throws<XenApiTimeoutException>(() => task.Wait(TimeSpan.FromMilliseconds(200)));
            }
        }

        [Test]
        public void Events()
        {
            using (Session xen = sim.Login())
            {
                EventBatch first = xen.EventFrom(new[] { "vm" }, "", TimeSpan.Zero);
                Assert.IsNotNull(first.Token);
                VMRecord halted = xen.GetAllVMRecords().First(r => !r.IsControlDomain && r.PowerState == VMPowerState.Halted);
                halted.VM.Start();
                EventBatch next = xen.EventFrom(new[] { "vm" }, first.Token, TimeSpan.FromSeconds(5));
                XenEvent ev = next.Events.Last(x => x.Ref == halted.Ref);
                Assert.AreEqual("vm", ev.Class.ToLowerInvariant());
                Assert.AreEqual("mod", ev.Operation);
                Assert.AreEqual("Running", ev.Snapshot["power_state"]);
                Assert.AreNotEqual(first.Token, next.Token);
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
                    Assert.AreEqual(2, xen.GetHosts().Length);
                }
                var e = Assert.Throws<XenApiException>(() =>
                    Session.Connect(new Options(member) { FollowCoordinator = false }, Sim.User, Sim.Password));
                Assert.AreEqual(ErrorCodes.HOST_IS_SLAVE, e.Code);
            }
        }

        [Test]
        public void LoginSendsVersionAndOriginator()
        {
            using (Session xen = sim.Login(new Options(sim.Url) { Originator = "dotnet-tests" }))
                StringAssert.Contains("originator \"dotnet-tests\"", xen.Host.GetLog());
            using (var xen = new Session(sim.Url))
            {
                xen.LoginWithPassword(Sim.User, Sim.Password, "2.0", "per-login");
                StringAssert.Contains("originator \"per-login\"", xen.Host.GetLog());
            }
        }

        [Test]
        public void TextRoundTripsAcrossRecords()
        {
            // Consecutive records hold these at the same position: the reply walk reuses strings it
            // has seen there, and must never take one text for another.
            using (Session xen = sim.Login())
            {
                string[] vms = xen.GetAllVMRecords().Where(r => !r.IsControlDomain).Select(r => r.Ref).ToArray();
                string[] names = { "\u00c3\u00a9", "\u00e9", "仮想マシン", "vm-é", "vm-e", "" };
                for (int i = 0; i < vms.Length; i++)
                    xen.Call("VM.set_name_label", vms[i], names[i % names.Length]);
                for (int round = 0; round < 2; round++)
                {
                    var byRef = xen.GetAllVMRecords().ToDictionary(r => r.Ref);
                    var generic = (Dictionary<string, object>)xen.Call("VM.get_all_records");
                    for (int i = 0; i < vms.Length; i++)
                    {
                        Assert.AreEqual(names[i % names.Length], byRef[vms[i]].NameLabel);
                        Assert.AreEqual(names[i % names.Length], byRef[vms[i]].Fields["name_label"]);
                        Assert.AreEqual(names[i % names.Length], ((Dictionary<string, object>)generic[vms[i]])["name_label"]);
                    }
                }
            }
        }
    }
}
