using System;
using System.Collections.Generic;
using System.Linq;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>
    /// The shorter overloads XenServer.NET has for messages whose later parameters have defaults,
    /// called as programs written for it call them; each reaches the simulator with the defaults
    /// xapi would fill in. What a test makes it destroys (the simulator is shared).
    /// </summary>
    [TestFixture]
    public class DefaultOverloadsTests
    {
        [Test]
        public void ShortOverloadsRunAgainstTheSimulator()
        {
            using (Sim sim = Sim.Start("--vms", "3"))
            using (Session xen = sim.Login())
            {
                XenRef<VM> vm = VM.get_all_records(xen).First(kv => !kv.Value.is_control_domain
                    && !kv.Value.is_a_template && !kv.Value.is_a_snapshot
                    && kv.Value.power_state == vm_power_state.Running).Key;
                XenRef<VDI> disk = VM.get_VBDs(xen, vm)
                    .Where(b => VBD.get_type(xen, b) == vbd_type.Disk)
                    .Select(b => VBD.get_VDI(xen, b)).First();
                XenRef<SR> sr = VDI.get_SR(xen, disk);
                XenRef<Host> host = VM.get_resident_on(xen, vm);

                XenRef<VM> snap = VM.snapshot(xen, vm, "before");
                Assert.IsTrue(VM.get_is_a_snapshot(xen, snap));
                Assert.AreEqual(vm.opaque_ref, VM.get_snapshot_of(xen, snap).opaque_ref);
                XenRef<Task> task = VM.async_snapshot(xen, vm, "as a task");
                var asyncSnap = new XenRef<VM>((string)xen.WaitForTask(task, TimeSpan.FromSeconds(30)));
                Assert.IsTrue(VM.get_is_a_snapshot(xen, asyncSnap));

                XenRef<VDI> clone = VDI.clone(xen, disk);
                XenRef<VDI> vdiSnap = VDI.snapshot(xen, disk);
                Assert.IsTrue(VDI.get_is_a_snapshot(xen, vdiSnap));
                XenRef<VDI> copy = VDI.copy(xen, clone, sr);
                Assert.AreEqual(sr.opaque_ref, VDI.get_SR(xen, copy).opaque_ref);

                XenRef<Blob> blob = VM.create_new_blob(xen, vm, "notes", "text/plain");
                Assert.IsFalse(Blob.get_public(xen, blob));
                Assert.AreEqual(blob.opaque_ref, VM.get_blobs(xen, vm)["notes"].opaque_ref);

                // One host: nowhere to evacuate to.
                var e = Assert.Throws<Failure>(() => Host.evacuate(xen, host));
                Assert.AreEqual(Failure.NO_HOSTS_AVAILABLE, e.Code);

                // Within the pool, without vgpu_map.
                var dest = new Dictionary<string, string> { { "host", host.opaque_ref } };
                var vdiMap = new Dictionary<XenRef<VDI>, XenRef<SR>> { { disk, sr } };
                var vifMap = new Dictionary<XenRef<VIF>, XenRef<Network>>();
                var options = new Dictionary<string, string>();
                VM.assert_can_migrate(xen, vm, dest, true, vdiMap, vifMap, options);
                Assert.AreEqual(vm.opaque_ref, VM.migrate_send(xen, vm, dest, true, vdiMap, vifMap, options).opaque_ref);

                Blob.destroy(xen, blob);
                foreach (XenRef<VM> s in new[] { snap, asyncSnap })
                {
                    var disks = VM.get_VBDs(xen, s).Where(b => VBD.get_type(xen, b) == vbd_type.Disk)
                        .Select(b => VBD.get_VDI(xen, b)).ToList();
                    VM.destroy(xen, s);
                    foreach (XenRef<VDI> d in disks) VDI.destroy(xen, d);
                }
                foreach (XenRef<VDI> d in new[] { clone, vdiSnap, copy }) VDI.destroy(xen, d);
            }
        }
    }
}
