using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using NUnit.Framework;

namespace XenAPI.Tests
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
                VM.get_all_records(xen); // warm up (JIT, connection)
                var sw = Stopwatch.StartNew();
                Dictionary<XenRef<VM>, VM> typed = VM.get_all_records(xen);
                double typedMs = sw.Elapsed.TotalMilliseconds;
                Assert.AreEqual(2000, typed.Values.Count(r => !r.is_control_domain && !r.is_a_template));
                Assert.AreEqual(1000, typed.Values.Count(r => !r.is_control_domain && r.power_state == vm_power_state.Running));

                sw.Restart();
                var generic = (Dictionary<string, object>)xen.Call("VM.get_all_records");
                double genericMs = sw.Elapsed.TotalMilliseconds;
                Assert.AreEqual(typed.Count, generic.Count);

                System.Console.WriteLine("VM.get_all_records, {0} VMs: typed {1:0.0} ms, Call {2:0.0} ms", typed.Count, typedMs, genericMs);
            }
        }
    }
}
