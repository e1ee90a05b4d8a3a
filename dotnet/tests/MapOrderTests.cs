using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>
    /// Dictionaries in the order the server sent their members, call after call (issue 22): the
    /// generated readers insert in the native map's order, which is the wire order, and a
    /// Dictionary filled without removals enumerates in insertion order (Conv.cs). Checked on the
    /// simulator (other_config filled in a known order, get_all_records against the raw reply,
    /// xend's per-CPU maps) and against a raw server sending keys in an order no sort or hash gives.
    /// </summary>
    [TestFixture]
    public class MapOrderTests
    {
        const int Rounds = 20;

        /// <summary>Added in this order: neither sorted nor any hash order of them.</summary>
        static readonly string[] Added = { "zeta", "alpha", "mu", "beta", "omega", "kappa", "delta", "psi" };

        static string[] KeysOf(object rawStruct) =>
            ((Dictionary<string, object>)rawStruct).Keys.ToArray();

        [Test]
        public void OtherConfigReadsBackInTheOrderItWasAdded()
        {
            using (Sim sim = Sim.Start("--vms", "3"))
            using (Session xen = sim.Login())
            {
                string vm = VM.get_by_name_label(xen, "vm02").Single();
                VM.set_other_config(xen, vm, new Dictionary<string, string>());
                for (int i = 0; i < Added.Length; i++)
                    VM.add_to_other_config(xen, vm, Added[i], i.ToString());
                // The simulator answers in insertion order: what the dictionaries must then keep.
                CollectionAssert.AreEqual(Added, KeysOf(xen.Call("VM.get_other_config", vm)));

                for (int round = 0; round < Rounds; round++)
                {
                    VM rec = VM.get_record(xen, vm);
                    CollectionAssert.AreEqual(Added, rec.other_config.Keys.ToArray(), "round " + round);
                    CollectionAssert.AreEqual(Enumerable.Range(0, Added.Length).Select(i => i.ToString()).ToArray(),
                        rec.other_config.Values.ToArray());
                    CollectionAssert.AreEqual(Added, VM.get_other_config(xen, vm).Keys.ToArray(), "round " + round);
                }

                // A dictionary goes out in its order: set, then read raw.
                var sent = new Dictionary<string, string> { { "psi", "1" }, { "alpha", "2" }, { "zeta", "3" } };
                VM.set_other_config(xen, vm, sent);
                CollectionAssert.AreEqual(new[] { "psi", "alpha", "zeta" }, KeysOf(xen.Call("VM.get_other_config", vm)));
            }
        }

        [Test]
        public void GetAllRecordsKeepsTheRepliesOrder()
        {
            using (Sim sim = Sim.Start("--vms", "6"))
            using (Session xen = sim.Login())
            {
                string[] expected = KeysOf(xen.Call("VM.get_all_records"));
                Assert.Greater(expected.Length, 6);
                CollectionAssert.AreNotEqual(expected.OrderBy(k => k, StringComparer.Ordinal).ToArray(), expected,
                    "the simulator sends references unsorted");
                for (int round = 0; round < Rounds; round++)
                {
                    string[] got = VM.get_all_records(xen).Keys.Select(r => r.opaque_ref).ToArray();
                    CollectionAssert.AreEqual(expected, got, "round " + round);
                }
            }
        }

        [Test]
        public void PerCpuMapsFromXendInTheRepliesOrder()
        {
            using (Sim sim = Sim.Start("--vms", "3", "--dialect", "xend"))
            using (Session xen = sim.Login())
            {
                int seen = 0;
                foreach (VM rec in VM.get_all_records(xen).Values)
                {
                    string[] raw = KeysOf(xen.Call("VM_metrics.get_VCPUs_utilisation", rec.metrics.opaque_ref));
                    for (int round = 0; round < Rounds; round++)
                    {
                        Dictionary<long, double> u = VM_metrics.get_VCPUs_utilisation(xen, rec.metrics);
                        CollectionAssert.AreEqual(raw, u.Keys.Select(k => k.ToString()).ToArray(), "round " + round);
                    }
                    seen += raw.Length;
                }
                Assert.Greater(seen, 1);
            }
        }

        // ---- a raw server with fixed replies ----

        static readonly long[] Cpus = { 5, 0, 12, 3, 1, 10, 2 };
        static readonly string[] Other = { "z", "a", "m", "b", "y" };
        static readonly string[] Vms = { "OpaqueRef:d", "OpaqueRef:a", "OpaqueRef:c", "OpaqueRef:b" };

        static string Member(string name, string value) =>
            "<member><name>" + name + "</name><value>" + value + "</value></member>";

        static string Answer(string method)
        {
            string other = "<struct>" + string.Concat(Other.Select(k => Member(k, k.ToUpperInvariant()))) + "</struct>";
            switch (method)
            {
                case "session.login_with_password": return "OpaqueRef:session";
                case "VM_metrics.get_VCPUs_utilisation":
                    return "<struct>" + string.Concat(Cpus.Select(c =>
                        Member(c.ToString(), "<double>" + (c / 100.0).ToString(System.Globalization.CultureInfo.InvariantCulture) + "</double>"))) + "</struct>";
                case "VM.get_all_records":
                    return "<struct>" + string.Concat(Vms.Select(r =>
                        Member(r, "<struct>" + Member("name_label", r) + Member("other_config", other) + "</struct>"))) + "</struct>";
                case "host.get_all_records": return "<struct></struct>";
                default: return "";
            }
        }

        /// <summary>Serves one request per connection until <paramref name="listener"/> stops.</summary>
        static void Serve(TcpListener listener)
        {
            for (;;)
            {
                TcpClient c;
                try { c = listener.AcceptTcpClient(); }
                catch (SocketException) { return; }
                catch (ObjectDisposedException) { return; }
                using (c)
                using (NetworkStream s = c.GetStream())
                {
                    var buf = new MemoryStream();
                    var chunk = new byte[8192];
                    string text = "";
                    for (;;)
                    {
                        int n = s.Read(chunk, 0, chunk.Length);
                        if (n <= 0) break;
                        buf.Write(chunk, 0, n);
                        text = Encoding.UTF8.GetString(buf.ToArray());
                        int head = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                        Match len = Regex.Match(text, "content-length:\\s*(\\d+)", RegexOptions.IgnoreCase);
                        if (head >= 0 && len.Success && buf.Length >= head + 4 + int.Parse(len.Groups[1].Value)) break;
                    }
                    byte[] reply;
                    if (!text.StartsWith("POST / ", StringComparison.Ordinal))
                    {
                        reply = Encoding.ASCII.GetBytes("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                    else
                    {
                        Match m = Regex.Match(text, "<methodName>([^<]*)</methodName>");
                        string body = "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
                            + Member("Status", "Success") + Member("Value", Answer(m.Groups[1].Value))
                            + "</struct></value></param></params></methodResponse>";
                        byte[] b = Encoding.UTF8.GetBytes(body);
                        reply = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: "
                            + b.Length + "\r\nConnection: close\r\n\r\n").Concat(b).ToArray();
                    }
                    s.Write(reply, 0, reply.Length);
                }
            }
        }

        [Test]
        public void ARawServersOrderIsKeptForEveryKeyType()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var thread = new Thread(() => Serve(listener)) { IsBackground = true };
            thread.Start();
            try
            {
                string url = "http://127.0.0.1:" + ((IPEndPoint)listener.LocalEndpoint).Port + "/";
                using (Session xen = Session.Connect(new Options(url) { Protocol = Protocol.XmlRpc }, "root", "password"))
                {
                    for (int round = 0; round < Rounds; round++)
                    {
                        Dictionary<long, double> u = VM_metrics.get_VCPUs_utilisation(xen, "OpaqueRef:m");
                        CollectionAssert.AreEqual(Cpus, u.Keys.ToArray(), "round " + round);
                        Assert.AreEqual(0.12, u[12]);
                        Dictionary<XenRef<VM>, VM> all = VM.get_all_records(xen);
                        CollectionAssert.AreEqual(Vms, all.Keys.Select(r => r.opaque_ref).ToArray(), "round " + round);
                        foreach (VM rec in all.Values)
                            CollectionAssert.AreEqual(Other, rec.other_config.Keys.ToArray(), "round " + round);
                    }
                }
            }
            finally
            {
                listener.Stop();
                thread.Join(5000);
            }
        }
    }
}
