using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using NUnit.Framework;

namespace XenApi.Tests
{
    /// <summary>VM.get_all_records of 2,000 VMs, typed and generic. The comparison with the Rust
    /// core is `make dotnet-bench` (one run, both timed).</summary>
    [TestFixture]
    public class ScaleTests
    {
        Sim sim;

        [SetUp] public void StartSim() { sim = Sim.Start("--vms", "2000"); }
        [TearDown] public void StopSim() { sim.Dispose(); }

        [Test]
        public void GetAllRecordsOf2000VMs()
        {
            using (Session xen = sim.Login())
            {
                xen.GetAllVMRecords(); // warm up (JIT, connection)
                var sw = Stopwatch.StartNew();
                VMRecord[] typed = xen.GetAllVMRecords();
                double typedMs = sw.Elapsed.TotalMilliseconds;
                Assert.AreEqual(2000, typed.Count(r => !r.IsControlDomain && !r.IsATemplate));
                Assert.AreEqual(1000, typed.Count(r => !r.IsControlDomain && r.PowerState == VMPowerState.Running));
                Assert.AreEqual(typed.Length, typed.Select(r => r.Ref).Distinct().Count());

                sw.Restart();
                var generic = (Dictionary<string, object>)xen.Call("VM.get_all_records");
                double genericMs = sw.Elapsed.TotalMilliseconds;
                Assert.AreEqual(typed.Length, generic.Count);

                Console.WriteLine("VM.get_all_records, {0} VMs: typed {1:0.0} ms, Call {2:0.0} ms", typed.Length, typedMs, genericMs);
            }
        }
    }
}
