using System;
using System.Collections.Generic;
using System.Linq;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>Options.Protocol: JSON-RPC and XML-RPC give the same values; Auto falls back.</summary>
    [TestFixture]
    public class ProtocolTests
    {
        [Test]
        public void BothProtocolsGiveTheSameRecords()
        {
            using (Sim sim = Sim.Start("--vms", "3"))
            using (Session json = sim.Login(new Options(sim.Url) { Protocol = Protocol.JsonRpc }))
            using (Session xml = sim.Login(new Options(sim.Url) { Protocol = Protocol.XmlRpc }))
            using (Session auto = sim.Login())
            {
                Assert.AreEqual(Protocol.JsonRpc, json.Protocol);
                Assert.AreEqual(Protocol.XmlRpc, xml.Protocol);
                Assert.AreEqual(Protocol.JsonRpc, auto.Protocol);
                var a = (Dictionary<string, object>)json.Call("VM.get_all_records");
                var b = (Dictionary<string, object>)xml.Call("VM.get_all_records");
                CollectionAssert.AreEquivalent(b.Keys, a.Keys);
                foreach (string vm in a.Keys)
                {
                    var ra = (Dictionary<string, object>)a[vm];
                    var rb = (Dictionary<string, object>)b[vm];
                    foreach (string field in rb.Keys)
                    {
                        object x = ra[field], y = rb[field];
                        Assert.AreEqual(y?.GetType(), x?.GetType(), field);
                        if (!(y is object[]) && !(y is Dictionary<string, object>))
                            Assert.AreEqual(y, x, field);
                    }
                }
                Assert.AreEqual(VM.get_all_records(xml).Count, VM.get_all_records(json).Count);
            }
        }

        [Test]
        public void AutoFallsBackToXmlRpc()
        {
            using (Sim sim = Sim.Start("--vms", "2", "--no-jsonrpc"))
            using (Session auto = sim.Login())
                Assert.AreEqual(Protocol.XmlRpc, auto.Protocol);
            using (Sim xend = Sim.Start("--vms", "2", "--dialect", "xend"))
            using (Session auto = xend.Login())
                Assert.AreEqual(Protocol.XmlRpc, auto.Protocol);
        }
    }
}
