using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>Issue 10's load check: one Session shared by 64 threads, 200 small calls each,
    /// with no error. The rates at 1, 4, 16 and 64 threads are `make load-bench`.</summary>
    [TestFixture]
    public class LoadTests
    {
        Sim sim;

        [SetUp] public void StartSim() { sim = Sim.Start("--vms", "4"); }
        [TearDown] public void StopSim() { sim.Dispose(); }

        [Test]
        public void SixtyFourThreadsMake200CallsEachOnOneSession()
        {
            const int threads = 64, calls = 200;
            using (Session xen = sim.Login())
            {
                XenRef<VM> vm = VM.get_all(xen).First();
                int errors = 0, done = 0;
                var firstError = new List<Exception>();
                var gate = new ManualResetEventSlim(false);
                var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
                {
                    gate.Wait();
                    for (int i = 0; i < calls; i++)
                    {
                        try
                        {
                            vm_power_state st = VM.get_power_state(xen, vm);
                            if (st != vm_power_state.Running && st != vm_power_state.Halted)
                                throw new Exception("power state " + st);
                            Interlocked.Increment(ref done);
                        }
                        catch (Exception e)
                        {
                            Interlocked.Increment(ref errors);
                            lock (firstError) { if (firstError.Count == 0) firstError.Add(e); }
                        }
                    }
                })).ToList();
                workers.ForEach(t => t.Start());
                var sw = Stopwatch.StartNew();
                gate.Set();
                workers.ForEach(t => t.Join());
                Assert.AreEqual(0, errors, firstError.Count > 0 ? firstError[0].ToString() : "");
                Assert.AreEqual(threads * calls, done);
                System.Console.WriteLine("64 threads x {0} calls: {1:0} calls/s", calls, threads * calls / sw.Elapsed.TotalSeconds);
            }
        }
    }
}
