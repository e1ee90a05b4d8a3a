using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>The live object cache (libxenapi's) against xenapi-sim: full at once with typed
    /// records equal to get_all_records, changes in order with typed records, the refetch after
    /// EVENTS_LOST, re-login after session expiry, xend, and a prompt Dispose.</summary>
    [TestFixture]
    public class ObjectCacheTests
    {
        static CacheChange WaitFor(ObjectCache cache, Func<CacheChange, bool> want)
        {
            var seen = new List<CacheChange>();
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(10))
            {
                CacheChange c = cache.NextChange(TimeSpan.FromMilliseconds(200));
                if (c == null) continue;
                if (want(c)) return c;
                seen.Add(c);
            }
            Assert.Fail("no such change in 10 s; saw " + string.Join(", ", seen));
            return null;
        }

        static bool Power(CacheChange c, string vm, vm_power_state s) =>
            c.OpaqueRef == vm && c.RecordAs<VM>() != null && c.RecordAs<VM>().power_state == s;

        [Test]
        public void FillsAndFollowsChangesInOrder()
        {
            using (Sim sim = Sim.Start("--vms", "4", "--seed", "7"))
            using (Session session = sim.Login())
            using (var cache = new ObjectCache(session, TimeSpan.FromSeconds(1), "VM", "host"))
            {
                Dictionary<XenRef<VM>, VM> server = VM.get_all_records(session);
                Dictionary<XenRef<VM>, VM> cached = cache.Records<VM>();
                Assert.AreEqual(server.Count, cached.Count);
                foreach (var kv in server)
                {
                    VM c = cached[kv.Key];
                    Assert.AreEqual(kv.Value.uuid, c.uuid);
                    Assert.AreEqual(kv.Value.name_label, c.name_label);
                    Assert.AreEqual(kv.Value.power_state, c.power_state);
                    Assert.AreEqual(kv.Value.memory_static_max, c.memory_static_max);
                    Assert.AreEqual(kv.Key.opaque_ref, c.opaque_ref);
                }
                Assert.AreEqual(1, cache.Records<Host>().Count);
                Assert.IsNull(cache.Get(new XenRef<VM>("OpaqueRef:nosuch")));

                XenRef<VM> vm = VM.get_by_name_label(session, "vm02").Single();
                Assert.AreEqual(vm_power_state.Halted, cache.Get(vm).power_state);
                CacheSnapshot before = cache.Snapshot();
                VM.start(session, vm, false, false);
                VM.pause(session, vm);
                CacheChange first = WaitFor(cache, c => c.OpaqueRef == vm.opaque_ref);
                Assert.AreEqual(CacheChangeKind.Mod, first.Kind);
                Assert.AreEqual("VM", first.Class);
                if (first.RecordAs<VM>().power_state != vm_power_state.Paused)
                    WaitFor(cache, c => Power(c, vm, vm_power_state.Paused));
                Assert.AreEqual(vm_power_state.Paused, cache.Get(vm).power_state);
                // A snapshot keeps its moment, for every class at once.
                using (before)
                {
                    Assert.AreEqual(vm_power_state.Halted, before.Get(vm).power_state);
                    Assert.AreEqual(server.Count, before.Records<VM>().Count);
                    Assert.AreEqual(1, before.Records<Host>().Count);
                    Assert.IsNull(before.Get(new XenRef<VM>("OpaqueRef:nosuch")));
                }

                // Lost events: read again, and told.
                sim.Post("/sim/events-lost");
                WaitFor(cache, c => c.Kind == CacheChangeKind.Refetched);
                Assert.GreaterOrEqual(cache.Status.Refetches, 1UL);

                // An expired session: the cache logs in again and goes on.
                sim.Post("/sim/expire-sessions");
                VM.unpause(session, vm);
                WaitFor(cache, c => Power(c, vm, vm_power_state.Running));
                Assert.IsTrue(cache.Status.Connected);

                // Dispose ends the 1 s poll at once; Close first: no more changes.
                var clock = Stopwatch.StartNew();
                cache.Close();
                Assert.IsTrue(cache.IsClosed);
                while (cache.NextChange(TimeSpan.FromSeconds(5)) != null) { }
                Assert.Less(clock.Elapsed, TimeSpan.FromSeconds(3));
            }
        }

        [Test]
        public void FollowsXendWithEventNext()
        {
            using (Sim sim = Sim.Start("--vms", "4", "--dialect", "xend", "--event-next-wait-ms", "500"))
            using (Session session = sim.Login())
            using (var cache = new ObjectCache(session, "VM"))
            {
                Assert.AreEqual(VM.get_all(session).Count, cache.Records<VM>().Count);
                XenRef<VM> vm = VM.get_by_name_label(session, "vm02").Single();
                VM.start(session, vm, false, false);
                WaitFor(cache, c => Power(c, vm, vm_power_state.Running));
            }
        }

        [Test]
        public void RefusesUnknownClasses()
        {
            using (Sim sim = Sim.Start("--vms", "1"))
            using (Session session = sim.Login())
            {
                var e = Assert.Throws<XenApiException>(() => new ObjectCache(session, "VM", "nosuch"));
                StringAssert.Contains("nosuch", e.Message);
                Assert.Throws<ArgumentNullException>(() => new ObjectCache(null, "VM"));
            }
        }
    }
}
