using System;
using System.Collections.Generic;
using System.Linq;
using NUnit.Framework;

namespace XenApi.Tests
{
    /// <summary>The 2007 talk's demo, step by step, from C#.</summary>
    [TestFixture]
    public class TalkScenarioTests
    {
        Sim sim;

        [SetUp] public void StartSim() { sim = Sim.Start("--vms", "4"); }
        [TearDown] public void StopSim() { sim.Dispose(); }

        [Test]
        public void TheTalksListMethodsExample()
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

        [Test]
        public void ListStartStopPauseUnpauseDmesgLog()
        {
            using (Session xen = sim.Login())
            {
                Assert.AreEqual(Dialect.Xapi, xen.Dialect);
                VMRecord[] all = xen.GetAllVMRecords();
                VMRecord dom0 = all.Single(r => r.IsControlDomain);
                Assert.AreEqual(VMPowerState.Running, dom0.PowerState);
                Assert.AreEqual(0, dom0.DomId);

                VMRecord[] guests = all.Where(r => !r.IsControlDomain && !r.IsATemplate).OrderBy(r => r.NameLabel).ToArray();
                Assert.AreEqual(4, guests.Length);
                foreach (VMRecord r in guests)
                {
                    Assert.IsNotNull(r.Uuid);
                    Assert.Greater(r.VcpusMax, 0);
                    Assert.Greater(r.MemoryDynamicMax, 0);
                    Assert.AreEqual(r.PowerStateText, r.PowerState.ToString());
                    Assert.IsTrue(r.Fields.ContainsKey("name_label"));
                }

                VM vm = guests.First(r => r.PowerState == VMPowerState.Halted).VM;
                Assert.AreEqual(-1, guests.First(r => r.PowerState == VMPowerState.Halted).DomId);
                Assert.AreEqual(0, vm.GetMemoryActual());
                // Halted: no VCPU is busy (the simulator keeps one zero entry per VCPU; xenapi.h
                // says the list is empty, which a real halted xapi VM gives).
                Assert.IsTrue(vm.GetVcpusUtilisation().All(u => u.Fraction == 0));

                vm.Start();
                Assert.AreEqual(VMPowerState.Running, vm.PowerState);
                Assert.Greater(vm.GetMemoryActual(), 0);
                CpuUsage[] vcpus = vm.GetVcpusUtilisation();
                Assert.Greater(vcpus.Length, 0);
                foreach (CpuUsage u in vcpus) Assert.That(u.Fraction, Is.InRange(0.0, 1.0));

                vm.Pause();
                Assert.AreEqual(VMPowerState.Paused, vm.PowerState);
                vm.Unpause();
                Assert.AreEqual(VMPowerState.Running, vm.PowerState);
                vm.Suspend();
                Assert.AreEqual(VMPowerState.Suspended, vm.PowerState);
                vm.Resume();
                Assert.AreEqual(VMPowerState.Running, vm.PowerState);
                vm.CleanReboot();
                Assert.AreEqual(VMPowerState.Running, vm.PowerState);
                vm.HardReboot();
                Assert.AreEqual(VMPowerState.Running, vm.PowerState);
                vm.CleanShutdown();
                Assert.AreEqual(VMPowerState.Halted, vm.PowerState);
                vm.Start(startPaused: true);
                Assert.AreEqual(VMPowerState.Paused, vm.PowerState);
                vm.HardShutdown();
                Assert.AreEqual(VMPowerState.Halted, vm.PowerState);

                Host host = xen.Host;
                StringAssert.Contains("CPUs", host.Dmesg());
                Assert.IsNotEmpty(host.GetLog());
                HostMemory mem = host.GetMemory();
                Assert.Greater(mem.Total, 0);
                Assert.That(mem.Free, Is.InRange(0L, mem.Total));
                CpuUsage[] cpus = host.GetCpuUtilisation();
                Assert.Greater(cpus.Length, 0);
                CollectionAssert.AreEqual(cpus.Select(c => c.Cpu).OrderBy(c => c).ToArray(), cpus.Select(c => c.Cpu).ToArray());

                xen.Logout();
            }
        }

        [Test]
        public void VMsByNameLabel()
        {
            using (Session xen = sim.Login())
            {
                string name = xen.GetAllVMRecords().First(r => !r.IsControlDomain && !r.IsATemplate).NameLabel;
                VM[] found = xen.GetVMsByNameLabel(name);
                Assert.AreEqual(1, found.Length);
                Assert.AreEqual(name, found[0].GetRecord()["name_label"]);
                Assert.AreEqual(0, xen.GetVMsByNameLabel("no such vm").Length);
            }
        }

        [Test]
        public void XendDialect()
        {
            using (Sim xend = Sim.Start("--vms", "2", "--dialect", "xend"))
            using (Session xen = xend.Login())
            {
                Assert.AreEqual(Dialect.Xend, xen.Dialect);
                VMRecord dom0 = xen.GetAllVMRecords().Single(r => r.IsControlDomain);
                Assert.AreEqual("00000000-0000-0000-0000-000000000000", dom0.Ref);
                VM vm = xen.GetAllVMRecords().First(r => r.PowerState == VMPowerState.Halted).VM;
                vm.Start();
                Assert.AreEqual(VMPowerState.Running, vm.PowerState);
                vm.Suspend();
                vm.Resume();
                Assert.AreEqual(VMPowerState.Running, vm.PowerState);
                StringAssert.Contains("CPUs", xen.Host.Dmesg());
            }
        }
    }
}
