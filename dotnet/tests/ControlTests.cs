using System;
using System.Linq;
using System.Threading;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>Issue 13 from C#: typed task waits (event.from on xapi, polling on xend), the
    /// deadline and a CancellationToken (both cancel and destroy the task), pool failover (the
    /// simulator's HA control) and call control (per-call deadlines, the cap on calls).</summary>
    [TestFixture]
    public class ControlTests
    {
        static XenRef<VM> Named(Session s, string name) => VM.get_by_name_label(s, name).Single();

        static bool TaskGone(Session s, XenRef<Task> t) => !Task.get_all(s).Contains(t);

        [TestCase("xapi")]
        [TestCase("xend")]
        public void TypedWaitsDeadlineAndCancel(string dialect)
        {
            using (Sim sim = Sim.Start("--vms", "3", "--dialect", dialect, "--task-delay-ms", "800"))
            using (Session s = sim.Login())
            {
                XenRef<VM> vm = Named(s, "vm02");
                if (dialect == "xapi")
                {
                    XenRef<Task> t = VM.async_clone(s, vm, "copy");
                    XenRef<VM> copy = VM.async_clone_wait(s, t, TimeSpan.FromSeconds(20));
                    Assert.AreEqual("copy", VM.get_name_label(s, copy));
                    Assert.IsTrue(TaskGone(s, t));
                    // The untyped wait gives the same.
                    t = VM.async_clone(s, vm, "copy2");
                    var untyped = (string)s.WaitForTask(t, TimeSpan.FromSeconds(20));
                    Assert.AreEqual("copy2", VM.get_name_label(s, new XenRef<VM>(untyped)));
                }
                // The deadline cancels and destroys the task.
                XenRef<Task> slow = VM.async_start(s, vm, false, false);
                var e = Assert.Throws<XenApiTimeoutException>(() => VM.async_start_wait(s, slow, TimeSpan.FromMilliseconds(200)));
                StringAssert.Contains("cancelled", e.Message);
                StringAssert.Contains("destroyed", e.Message);
                Assert.IsTrue(TaskGone(s, slow));
                // A CancellationToken from another thread.
                using (var cts = new CancellationTokenSource())
                {
                    XenRef<Task> t = VM.async_start(s, vm, false, false);
                    cts.CancelAfter(200);
                    var f = Assert.Throws<Failure>(() => VM.async_start_wait(s, t, TimeSpan.FromSeconds(30), cts.Token));
                    Assert.AreEqual("TASK_CANCELLED", f.ErrorDescription[0]);
                    Assert.IsTrue(TaskGone(s, t));
                }
                Thread.Sleep(900);
                Assert.AreEqual(vm_power_state.Halted, VM.get_power_state(s, vm), "neither task ran");
                // Success of a void message, then its failure with the error code.
                VM.async_start_wait(s, VM.async_start(s, vm, false, false), TimeSpan.FromSeconds(20));
                Assert.AreEqual(vm_power_state.Running, VM.get_power_state(s, vm));
                var g = Assert.Throws<Failure>(() => VM.async_start_wait(s, VM.async_start(s, vm, false, false), TimeSpan.FromSeconds(20)));
                Assert.AreEqual("VM_BAD_POWER_STATE", g.ErrorDescription[0]);
            }
        }

        [Test]
        public void FailoverToTheNewCoordinator()
        {
            using (Sim sim = Sim.Start("--vms", "2", "--hosts", "4"))
            using (Session s = sim.Login())
            {
                int n = VM.get_all(s).Count;
                long logins = sim.Stats()["logins"];
                string now = sim.Failover();
                Assert.AreEqual(sim.MemberUrls[0].TrimEnd('/'), now.TrimEnd('/'));
                Assert.AreEqual(n, VM.get_all(s).Count, "the next call goes to the new coordinator");
                Assert.AreEqual(logins + 1, sim.Stats()["logins"]);

                // A side-effect call in flight is not sent again; a getter is.
                XenRef<VM> vm = Named(s, "vm02");
                sim.Post("/sim/delay?ms=2000");
                Exception writeError = null;
                int records = 0;
                var writer = new Thread(() => { try { VM.clone(s, vm, "in-flight"); } catch (Exception ex) { writeError = ex; } });
                var reader = new Thread(() => records = VM.get_all_records(s).Count);
                writer.Start();
                reader.Start();
                Thread.Sleep(700);
                sim.Failover(3);
                sim.Post("/sim/delay?ms=0");
                writer.Join();
                reader.Join();
                Assert.IsInstanceOf<XenApiTransportException>(writeError);
                StringAssert.Contains("may have been carried out", writeError.Message);
                Assert.Greater(records, 0);
                Assert.AreEqual(1, VM.get_by_name_label(s, "in-flight").Count, "done once");

                // Failover off: the call fails when the coordinator dies.
                using (Session off = Session.Connect(new Options(sim.CoordinatorUrl) { Failover = false }, Sim.User, Sim.Password))
                {
                    sim.Failover(4);
                    Assert.Throws<XenApiTransportException>(() => VM.get_all(off));
                }
            }
        }

        [Test]
        public void PerCallDeadlineAndTheCap()
        {
            using (Sim sim = Sim.Start("--vms", "3", "--task-delay-ms", "800"))
            using (Session s = Session.Connect(new Options(sim.Url) { Timeout = TimeSpan.FromMilliseconds(700), MaxConcurrentCalls = 3 }, Sim.User, Sim.Password))
            {
                Assert.AreEqual(3, s.MaxConcurrentCalls);
                sim.Post("/sim/delay?ms=1200");
                Assert.Throws<XenApiTimeoutException>(() => VM.get_all(s));
                using (s.WithTimeout(TimeSpan.FromSeconds(10)))
                {
                    Assert.Greater(VM.get_all(s).Count, 0);
                    using (s.WithTimeout(TimeSpan.FromMilliseconds(300)))
                        Assert.Throws<XenApiTimeoutException>(() => VM.get_all(s));
                    Assert.Greater(VM.get_all(s).Count, 0, "the outer scope is back");
                    // Another thread keeps the session's deadline.
                    Exception other = null;
                    var t = new Thread(() => { try { VM.get_all(s); } catch (Exception ex) { other = ex; } });
                    t.Start();
                    t.Join();
                    Assert.IsInstanceOf<XenApiTimeoutException>(other);
                }
                // The cap: 10 threads, 3 calls at once (after the calls that timed out above have
                // ended on the server, which still counts them in flight).
                Thread.Sleep(1500);
                sim.Post("/sim/delay?ms=150");
                var threads = Enumerable.Range(0, 10).Select(_ => new Thread(() =>
                {
                    using (s.WithTimeout(TimeSpan.FromSeconds(20))) VM.get_all(s);
                })).ToList();
                threads.ForEach(x => x.Start());
                threads.ForEach(x => x.Join());
                Assert.AreEqual(3, sim.Stats()["max_in_flight"]);
            }
            using (Sim sim = Sim.Start("--vms", "3", "--task-delay-ms", "800"))
            using (Session d = sim.Login())
                Assert.AreEqual(20, d.MaxConcurrentCalls);
        }
    }
}
