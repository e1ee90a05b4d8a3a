using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>Issue 22 from C#: the CancellationToken overloads end a call the server holds
    /// within 200 ms of the cancel, and leave the session usable; a user's timeout bounds the whole
    /// login and the logout of Dispose (the simulator holds each reply, /sim/delay).</summary>
    [TestFixture]
    public class CancellationTests
    {
        internal const string Flag = "--vms";
        internal const string Vms = "5";

        [Test]
        public void ATokenEndsAHeldCallWithin200ms()
        {
            using (Sim sim = Sim.Start(Flag, Vms))
            using (Session s = sim.Login())
            using (var cts = new CancellationTokenSource())
            {
                int before = VM.get_all(s).Count;
                sim.Post("/sim/delay?ms=5000");
                long cancelledAt = 0;
                var clock = Stopwatch.StartNew();
                // The time is taken just before Cancel, from the thread that cancels.
                using (new Timer(_ => { Interlocked.Exchange(ref cancelledAt, clock.ElapsedTicks); cts.Cancel(); }, null, 300, Timeout.Infinite))
                {
                    var e = Assert.Throws<OperationCanceledException>(() => VM.get_all(s, cts.Token));
                    double afterCancel = (clock.ElapsedTicks - Interlocked.Read(ref cancelledAt)) * 1000.0 / Stopwatch.Frequency;
                    Assert.AreEqual(cts.Token, e.CancellationToken, "the exception carries the caller's token");
                    Assert.Greater(Interlocked.Read(ref cancelledAt), 0L);
                    Assert.Less(afterCancel, 200.0, "the call ended " + afterCancel + " ms after the cancel");
                    StringAssert.DoesNotContain("OpaqueRef", e.Message, "no session reference in the message");
                }
                sim.Post("/sim/delay?ms=0");
                Assert.AreEqual(before, VM.get_all(s).Count, "the session works after the cancel");
                Assert.AreEqual(before, VM.get_all(s, CancellationToken.None).Count);
            }
        }

        [Test]
        public void ATypedCallWithAnOverloadOfManyParametersObeysItToo()
        {
            using (Sim sim = Sim.Start(Flag, Vms))
            using (Session s = sim.Login())
            using (var cts = new CancellationTokenSource())
            {
                XenRef<VM> vm = VM.get_all(s).First();
                string label = VM.get_name_label(s, vm);
                sim.Post("/sim/delay?ms=5000");
                cts.CancelAfter(300);
                var clock = Stopwatch.StartNew();
                Assert.Throws<OperationCanceledException>(() => VM.set_name_description(s, vm, "not now", cts.Token));
                Assert.Less(clock.ElapsedMilliseconds, 300 + 200 + 100);
                sim.Post("/sim/delay?ms=0");
                Assert.AreEqual(label, VM.get_name_label(s, vm, CancellationToken.None));
            }
        }

        [Test]
        public void AnAlreadyCancelledTokenSendsNothing()
        {
            using (Sim sim = Sim.Start(Flag, Vms))
            using (Session s = sim.Login())
            using (var cts = new CancellationTokenSource())
            {
                cts.Cancel();
                long calls = sim.Stats()["calls"];
                var e = Assert.Throws<OperationCanceledException>(() => VM.get_all(s, cts.Token));
                Assert.AreEqual(cts.Token, e.CancellationToken);
                Assert.AreEqual(calls, sim.Stats()["calls"], "no call reached the server");
                Assert.IsNotEmpty(VM.get_all(s));
            }
        }

        /// <summary>"With a 5 s timeout, a connect to a server that stalls took 15 s": the login's
        /// own calls (protocol probe, login, pool members) share one deadline, and the C# Session
        /// adds none of its own.</summary>
        [Test]
        public void ATimeoutBoundsTheWholeLogin()
        {
            using (Sim sim = Sim.Start(Flag, Vms))
            {
                sim.Post("/sim/delay?ms=1500");
                var options = new Options(sim.Url) { Timeout = TimeSpan.FromSeconds(2) };
                var clock = Stopwatch.StartNew();
                // The login's calls take 1.5 s each: it ends at the deadline, in a timeout, or
                // just after the login itself when the core gives up on the pool's members
                // (failover's best effort), but never a second later.
                Session s = null;
                string outcome = "logged in";
                try
                {
                    s = Session.Connect(options, Sim.User, Sim.Password);
                }
                catch (XenApiTimeoutException e)
                {
                    outcome = e.Message;
                }
                double took = clock.Elapsed.TotalSeconds;
                s?.Dispose();
                Assert.Greater(took, 1.4, "the server held the login");
                Assert.Less(took, 2.3, "the login took " + took + " s: " + outcome);
                // The constructor alone sends nothing.
                clock.Restart();
                using (new Session(options)) { }
                Assert.Less(clock.Elapsed.TotalSeconds, 0.5);
            }
        }

        [Test]
        public void TheLogoutOfDisposeKeepsToTheTimeout()
        {
            using (Sim sim = Sim.Start(Flag, Vms))
            {
                Session s = sim.Login(new Options(sim.Url) { Timeout = TimeSpan.FromSeconds(2) });
                Assert.IsNotEmpty(VM.get_all(s));
                sim.Post("/sim/delay?ms=4000");
                var clock = Stopwatch.StartNew();
                s.Dispose();
                Assert.Less(clock.Elapsed.TotalSeconds, 2.3, "Dispose took " + clock.Elapsed.TotalSeconds + " s");
            }
        }
    }
}
