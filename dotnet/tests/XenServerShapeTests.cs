using System;
using System.Collections.Generic;
using System.Linq;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// The parts of XenServer.NET's public shape beyond the messages: Helper, XenRef's
    /// constructors, records' change notification and DeepEquals.
    [TestFixture]
    public class XenServerShapeTests
    {
        [Test]
        public void NullReferencesAreRecognised()
        {
            Assert.IsTrue(Helper.IsNullOrEmptyOpaqueRef(null));
            Assert.IsTrue(Helper.IsNullOrEmptyOpaqueRef(""));
            Assert.IsTrue(Helper.IsNullOrEmptyOpaqueRef("OpaqueRef:NULL"));
            Assert.IsTrue(Helper.IsNullOrEmptyOpaqueRef("opaqueref:null"));
            Assert.IsFalse(Helper.IsNullOrEmptyOpaqueRef("OpaqueRef:1234"));
            Assert.IsTrue(Helper.IsNullOrEmptyOpaqueRef(new VM().resident_on), "a fresh record points nowhere");
        }

        [Test]
        public void EqualityHelpersCompareCollectionsByContent()
        {
            Assert.IsTrue(Helper.AreEqual(new[] { "a", "b" }, new List<string> { "a", "b" }));
            Assert.IsFalse(Helper.AreEqual(new[] { "a", "b" }, new[] { "b", "a" }));
            Assert.IsTrue(Helper.AreEqual(new Dictionary<string, string> { ["k"] = "v" }, new Dictionary<string, string> { ["k"] = "v" }));
            Assert.IsFalse(Helper.AreEqual(new string[0], null));
            Assert.IsTrue(Helper.AreEqual2(new string[0], null), "AreEqual2: empty equals null");
            Assert.IsTrue(Helper.AreEqual(null, null));
            Assert.IsTrue(Helper.DictEquals(new Dictionary<string, long> { ["a"] = 1 }, new Dictionary<string, long> { ["a"] = 1 }));
            Assert.IsFalse(Helper.DictEquals(new Dictionary<string, long> { ["a"] = 1 }, new Dictionary<string, long> { ["a"] = 2 }));
            Assert.IsFalse(Helper.DictEquals(new Dictionary<string, long>(), null));
        }

        [Test]
        public void ReferencesFromRecordsAndObjects()
        {
            var vm = new VM { opaque_ref = "OpaqueRef:abc" };
            Assert.AreEqual("OpaqueRef:abc", new XenRef<VM>(vm).opaque_ref);
            Assert.Throws<ArgumentNullException>(() => new XenRef<VM>((VM)null));
            Assert.AreEqual("OpaqueRef:x", XenRef<VM>.Create((object)"OpaqueRef:x").opaque_ref);
            Assert.Throws<ArgumentException>(() => XenRef<VM>.Create((object)42));
            var list = XenRef<Host>.Create(new[] { "OpaqueRef:1", "OpaqueRef:2" });
            Assert.AreEqual(new[] { "OpaqueRef:1", "OpaqueRef:2" }, list.Select(r => r.opaque_ref).ToArray());
            var fromObjects = XenRef<Host>.Create(new object[] { "OpaqueRef:1" });
            Assert.AreEqual(list[0], fromObjects[0]);
        }

        [Test]
        public void SettingAFieldToANewValueRaisesPropertyChanged()
        {
            var vm = new VM();
            var changed = new List<string>();
            vm.PropertyChanged += (s, e) => { Assert.AreSame(vm, s); changed.Add(e.PropertyName); };
            vm.name_label = "web";
            vm.name_label = "web"; // the same value: no event
            vm.VCPUs_max = 4;
            vm.tags = new[] { "a" };
            vm.tags = new[] { "a" }; // equal content: no event
            Assert.AreEqual(new[] { "name_label", "VCPUs_max", "tags" }, changed.ToArray());

            var copy = new VM();
            copy.PropertyChanged += (s, e) => changed.Add("copy:" + e.PropertyName);
            copy.UpdateFrom(vm);
            CollectionAssert.Contains(changed, "copy:name_label");
            Assert.IsTrue(copy.DeepEquals(vm, false));

            vm.ClearEventListeners();
            int before = changed.Count;
            vm.name_label = "db";
            Assert.AreEqual(before, changed.Count);
        }

        [Test]
        public void DeepEqualsComparesEveryField()
        {
            using (var sim = Sim.Start("--vms", "2"))
            using (var session = sim.Login())
            {
                var vmRef = VM.get_all(session).First(r => !VM.get_is_control_domain(session, r));
                VM a = VM.get_record(session, vmRef), b = VM.get_record(session, vmRef);
                Assert.IsTrue(a.DeepEquals(b, false));
                Assert.IsFalse(a.DeepEquals(null, false));
                b.name_description = b.name_description + " changed";
                Assert.IsFalse(a.DeepEquals(b, true));
                b.name_description = a.name_description;
                b.current_operations = new Dictionary<string, vm_operations> { ["OpaqueRef:t"] = vm_operations.start };
                Assert.IsFalse(a.DeepEquals(b, false));
                Assert.IsTrue(a.DeepEquals(b, true), "current_operations left out");

                var metrics = VM_metrics.get_record(session, a.metrics);
                Assert.IsTrue(metrics.DeepEquals(metrics), "a class without current_operations");
                Assert.IsFalse(metrics.DeepEquals(new VM_metrics()));
            }
        }
    }
}
