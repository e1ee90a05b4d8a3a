using System;
using System.Linq;
using System.Text;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>RRD figures, typed: what replaced VM_metrics.VCPUs_utilisation on xapi.</summary>
    [TestFixture]
    public class RrdTests
    {
        Sim sim;

        [SetUp] public void StartSim() { sim = Sim.Start("--vms", "2"); }
        [TearDown] public void StopSim() { sim.Dispose(); }

        static VM Running(Session xen, bool running) =>
            VM.get_all_records(xen).Values.First(r => !r.is_a_template && !r.is_control_domain
                && (r.power_state == vm_power_state.Running) == running);

        [Test]
        public void UpdatesAreTyped()
        {
            using (Session xen = sim.Login())
            {
                VM vm = Running(xen, true);
                Rrd.Updates u = Rrd.FetchUpdates(xen, -300, 5, "AVERAGE", true);
                Assert.Greater(u.Step, 0);
                Assert.LessOrEqual(u.Start, u.End);
                Assert.Greater(u.Rows.Count, 0);
                Assert.IsTrue(u.Rows.All(r => r.Values.Count == u.Columns.Count));
                Assert.IsTrue(u.Columns.All(c => c.Cf == "AVERAGE"));
                int cpu0 = u.Find("vm", vm.uuid, "cpu0");
                Assert.GreaterOrEqual(cpu0, 0, "the running VM's first vCPU is a column");
                Assert.IsTrue(u.Columns.Any(c => c.Kind == "host"), "host=true");
                double last = u.Rows.Last().Values[cpu0];
                Assert.That(last, Is.InRange(0.0, 1.0));
                Assert.AreEqual(DateTimeKind.Utc, u.Rows[0].TimeUtc.Kind);

                // One VM only.
                Rrd.Updates one = Rrd.FetchUpdates(xen, DateTime.UtcNow.AddMinutes(-5), vmUuid: vm.uuid);
                Assert.IsTrue(one.Columns.All(c => c.Kind != "vm" || c.Uuid == vm.uuid));
            }
        }

        [Test]
        public void ParseKeepsNaN()
        {
            string xml = "<xport><meta><start>100</start><step>5</step><end>105</end><rows>2</rows><columns>2</columns>"
                + "<legend><entry>AVERAGE:vm:u-1:cpu0</entry><entry>MAX:host:h-1:memory_free_kib</entry></legend></meta>"
                + "<data><row><t>105</t><v>0.25</v><v>NaN</v></row><row><t>100</t><v>0.5</v><v>1024</v></row></data></xport>";
            Rrd.Updates u = Rrd.Parse(Encoding.UTF8.GetBytes(xml));
            Assert.AreEqual(100, u.Start);
            Assert.AreEqual(105, u.End);
            Assert.AreEqual(5, u.Step);
            Assert.AreEqual("AVERAGE:vm:u-1:cpu0", u.Columns[0].ToString());
            Assert.AreEqual("MAX", u.Columns[1].Cf);
            Assert.AreEqual("host", u.Columns[1].Kind);
            Assert.AreEqual("h-1", u.Columns[1].Uuid);
            Assert.AreEqual("memory_free_kib", u.Columns[1].Name);
            Assert.AreEqual(1, u.Find("host", "h-1", "memory_free_kib", "MAX"));
            Assert.AreEqual(-1, u.Find("host", "h-1", "memory_free_kib", "MIN"));
            Assert.AreEqual(2, u.Rows.Count);
            Assert.AreEqual(0.25, u.Rows[0].Values[0]);
            Assert.IsTrue(double.IsNaN(u.Rows[0].Values[1]));
            Assert.AreEqual(1024.0, u.Rows[1].Values[1]);
            Assert.Throws<XenApiException>(() => Rrd.Parse(Encoding.UTF8.GetBytes("<xport><meta>")));
        }

        [Test]
        public void VmUsageOfARunningVmAndNoneOfAHaltedOne()
        {
            using (Session xen = sim.Login())
            {
                VM vm = Running(xen, true);
                Rrd.Usage u = Rrd.VmUsage(xen, vm.uuid, 5);
                Assert.AreEqual(VM_metrics.get_VCPUs_number(xen, vm.metrics), u.Cpus.Count);
                Assert.IsTrue(u.Cpus.All(c => c.HasValue && c.Value >= 0 && c.Value <= 1));
                Assert.Greater(u.Cpus.Sum(c => c.Value), 0.0, "a running VM uses CPU");
                Assert.Greater(u.MemoryTotal ?? 0, 0.0);

                // A halted VM has no live figures: said so, not zeros.
                VM halted = Running(xen, false);
                var e = Assert.Throws<XenApiException>(() => Rrd.VmUsage(xen, halted.uuid, 5));
                Assert.AreEqual(ErrorKind.InvalidArgument, e.Kind);
            }
        }

        [Test]
        public void HostUsage()
        {
            using (Session xen = sim.Login())
            {
                XenRef<Host> h = Host.get_all(xen)[0];
                Rrd.Usage u = Rrd.HostUsage(xen, Host.get_uuid(xen, h), 5);
                Assert.AreEqual(Host.get_host_CPUs(xen, h).Count, u.Cpus.Count);
                Assert.IsTrue(u.Cpus.All(c => c.HasValue && c.Value >= 0 && c.Value <= 1));
                Assert.Greater(u.MemoryTotal ?? 0, 0.0);
                Assert.IsTrue(u.MemoryFree.HasValue);
                Assert.LessOrEqual(u.MemoryFree.Value, u.MemoryTotal.Value);
            }
        }
    
        [Test]
        public void WholeRrdsOfTheHostAndARunningVm()
        {
            using (Session xen = sim.Login())
            {
                Rrd.Dump host = Rrd.FetchHost(xen);
                Assert.Greater(host.Step, 0);
                Assert.Greater(host.LastUpdate, 0);
                Assert.Contains("cpu0", host.Sources);
                Assert.Greater(host.Archives.Count, 0);
                Rrd.Archive average = host.Archives.First(a => a.Cf == "AVERAGE");
                Assert.Greater(average.Rows.Count, 1);
                Assert.Greater(average.Rows[0].Time, average.Rows[1].Time, "newest first");
                Assert.IsTrue(average.Rows.All(r => r.Values.Count == host.Sources.Count));

                VM vm = Running(xen, true);
                Rrd.Dump dump = Rrd.FetchVm(xen, vm.uuid);
                int cpu0 = dump.Sources.IndexOf("cpu0");
                Assert.GreaterOrEqual(cpu0, 0);
                double v = dump.Archives.First(a => a.Cf == "AVERAGE").Rows[0].Values[cpu0];
                Assert.That(v, Is.InRange(0.0, 1.0));
            }
        }
    }
}
