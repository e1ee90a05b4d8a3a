using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>Programs written the XenServer.NET way: HTTP_actions with a task from Task.create,
    /// a local file, FuncBool cancelling, then the task's record read.</summary>
    [TestFixture]
    public class HttpActionsTests
    {
        [Test]
        public void BuildUriAsXenServerNet()
        {
            Uri u = HTTP.BuildUri("xs1.example", "/export_raw_vdi",
                "task_id", "OpaqueRef:t 1", "session_id", null, "vdi", "OpaqueRef:v", "format", "vhd", "all", true, "dry_run", false,
                "start", -300L, "none", (bool?)null);
            Assert.AreEqual("https", u.Scheme);
            Assert.AreEqual(443, u.Port);
            Assert.AreEqual("xs1.example", u.Host);
            Assert.AreEqual("/export_raw_vdi", u.AbsolutePath);
            Assert.AreEqual("?task_id=OpaqueRef%3At%201&vdi=OpaqueRef%3Av&format=vhd&all=true&start=-300", u.Query);
        }

        [Test]
        public void BuildUriFlattensTrailingArgsAndTakesAPort()
        {
            Uri u = HTTP.BuildUri("127.0.0.1:8080", "/wlb_report", "report", "r", new[] { "a", "1", "b", "2" });
            Assert.AreEqual(8080, u.Port);
            Assert.AreEqual("127.0.0.1", u.Host);
            Assert.AreEqual("?report=r&a=1&b=2", u.Query);
            Assert.IsTrue(HTTP.UseSSL(u));
            Assert.IsFalse(HTTP.UseSSL(new Uri("http://h:80/")));
        }

        [Test]
        public void CopyStreamReportsAndCancels()
        {
            var data = new byte[100000];
            new Random(9).NextBytes(data);
            var into = new MemoryStream();
            long last = -1;
            Assert.AreEqual(data.Length, HTTP.CopyStream(new MemoryStream(data), into, b => last = b, () => false));
            Assert.AreEqual(data.Length, last);
            CollectionAssert.AreEqual(data, into.ToArray());
            Assert.Throws<HTTP.CancelledException>(() => HTTP.CopyStream(new MemoryStream(data), new MemoryStream(), null, () => true));
        }

        [TestCase("raw")]
        [TestCase("vhd")]
        public void ImportThenExportRawVdiTheXenServerNetWay(string format)
        {
            using (Sim sim = Sim.Start("--vms", "2"))
            {
                var session = new Session(sim.Url);
                session.login_with_password(Sim.User, Sim.Password);
                try
                {
                    string host = new Uri(sim.Url).Host;
                    XenRef<VDI> vdi = Disks.Create(session, "xs-style-" + format);
                    XenRef<VDI> copy = Disks.Create(session, "xs-style-copy-" + format);
                    byte[] content = Disks.Content(format == "raw" ? 11 : 12);
                    string raw = Disks.TempFile("xs-" + format + ".raw");
                    File.WriteAllBytes(raw, content);

                    // Raw in, as XenServer.NET programs do it.
                    XenRef<Task> task = Task.create(session, "import", "");
                    var percents = new List<int>();
                    HTTP_actions.put_import_raw_vdi(p => percents.Add(p), () => false, 60000, host, null, raw,
                        task.opaque_ref, session.opaque_ref, vdi.opaque_ref, "raw");
                    Assert.AreEqual(100, percents.Last());
                    Disks.Succeeded(session, task);
                    Task.destroy(session, task);

                    // Out in the format, then into the copy, then out raw again.
                    string image = Disks.TempFile("xs-image." + format);
                    task = Task.create(session, "export", "");
                    long copied = -1;
                    HTTP_actions.get_export_raw_vdi(b => copied = b, () => false, 60000, host, null, image,
                        task.opaque_ref, session.opaque_ref, vdi.opaque_ref, format);
                    Assert.AreEqual(new FileInfo(image).Length, copied);
                    Disks.Succeeded(session, task);
                    Task.destroy(session, task);

                    task = Task.create(session, "import copy", "");
                    HTTP_actions.put_import_raw_vdi(null, null, 60000, host, null, image,
                        task.opaque_ref, session.opaque_ref, copy.opaque_ref, format);
                    Disks.Succeeded(session, task);
                    Task.destroy(session, task);

                    string back = Disks.TempFile("xs-back-" + format + ".raw");
                    task = Task.create(session, "export copy", "");
                    HTTP_actions.get_export_raw_vdi(null, null, 60000, host, null, back,
                        task.opaque_ref, session.opaque_ref, copy.opaque_ref, "raw");
                    Disks.Succeeded(session, task);
                    Task.destroy(session, task);
                    CollectionAssert.AreEqual(content, File.ReadAllBytes(back));
                }
                finally
                {
                    session.logout();
                    session.Dispose();
                }
            }
        }

        [Test]
        public void FuncBoolCancelsAndTheDiskStays()
        {
            using (Sim sim = Sim.Start("--vms", "2"))
            using (Session session = sim.Login())
            {
                string host = new Uri(sim.Url).Host;
                XenRef<VDI> vdi = Disks.Create(session, "xs-cancel", 16 << 20);
                byte[] before = Disks.Content(13, 16 << 20);
                session.ImportVdi(vdi, new MemoryStream(before));
                string other = Disks.TempFile("xs-cancel.raw");
                File.WriteAllBytes(other, Disks.Content(14, 16 << 20));

                XenRef<Task> task = Task.create(session, "cancelled", "");
                bool cancel = false;
                Assert.Throws<HTTP.CancelledException>(() =>
                    HTTP_actions.put_import_raw_vdi(p => cancel = p > 0, () => cancel, 60000, host, null, other,
                        task.opaque_ref, session.opaque_ref, vdi.opaque_ref, "raw"));
                // The server fails or cancels the task when the upload stops short.
                task_status_type status = Disks.Settled(session, task);
                Assert.IsTrue(status == task_status_type.failure || status == task_status_type.cancelled, status.ToString());
                Task.destroy(session, task);

                var back = new MemoryStream();
                session.ExportVdi(vdi, back);
                CollectionAssert.AreEqual(before, back.ToArray());
            }
        }

        [Test]
        public void AnUnknownVdiIsABadServerResponse()
        {
            using (Sim sim = Sim.Start("--vms", "2"))
            using (Session session = sim.Login())
            {
                string path = Disks.TempFile("missing.raw");
                var e = Assert.Throws<HTTP.BadServerResponseException>(() =>
                    HTTP_actions.get_export_raw_vdi(null, null, 60000, new Uri(sim.Url).Host, null, path,
                        null, session.opaque_ref, "OpaqueRef:no-such-vdi", "raw"));
                StringAssert.DoesNotContain(session.opaque_ref, e.Message);
                Assert.IsFalse(File.Exists(path), "a failed download leaves no file");
            }
        }

        [Test]
        public void RrdUpdatesIntoAFileParseTyped()
        {
            using (Sim sim = Sim.Start("--vms", "2"))
            using (Session session = sim.Login())
            {
                string path = Disks.TempFile("updates.xml");
                HTTP_actions.rrd_updates(null, null, 60000, new Uri(sim.Url).Host, null, path,
                    null, session.opaque_ref, -600, "AVERAGE", 5, true, null, false);
                Rrd.Updates u = Rrd.Parse(File.ReadAllBytes(path));
                Assert.Greater(u.Columns.Count, 0);
                Assert.IsTrue(u.Columns.Any(c => c.Kind == "host"), "host=true brings the host's sources");
                Assert.IsTrue(u.Columns.All(c => c.Cf == "AVERAGE"));
            }
        }

        [Test]
        public void WithoutASessionTheDefaultPolicyVerifies()
        {
            // No session of this program is for the TLS simulator's port: the policy of HTTP
            // applies, which verifies, so the self-signed certificate is refused.
            using (Sim sim = Sim.Start("--vms", "1", "--tls"))
            {
                var uri = new Uri(sim.Url);
                string path = Disks.TempFile("tls.xml");
                Assert.Throws<XenApiTlsException>(() =>
                    HTTP.Get(null, null, HTTP.BuildUri(uri.Host + ":" + uri.Port, "/rrd_updates", "start", -60L), null, path, 10000));
                Assert.IsFalse(File.Exists(path));
            }
        }

        [Test]
        public void TlsFollowsTheSessionOfTheSessionId()
        {
            // BuildUri's https://127.0.0.1:443 becomes the session's https://127.0.0.1:PORT, under
            // the session's certificate pin.
            using (Sim tls = Sim.Start("--vms", "1", "--tls"))
            using (Session pinned = Session.Connect(new Options(tls.Url) { Fingerprint = tls.Fingerprint }, Sim.User, Sim.Password))
            {
                string path = Disks.TempFile("pinned.xml");
                HTTP_actions.rrd_updates(null, null, 10000, new Uri(tls.Url).Host, null, path, null, pinned.opaque_ref, -60, host: true);
                Assert.Greater(Rrd.Parse(File.ReadAllBytes(path)).Columns.Count, 0);
            }
        }

        [Test]
        public void TheProxyIsUsedUnlessItBypasses()
        {
            using (Sim sim = Sim.Start("--vms", "2"))
            using (Session session = sim.Login())
            {
                string host = new Uri(sim.Url).Host, path = Disks.TempFile("proxied.xml");
                // Nothing listens on port 9: going through the proxy fails to connect.
                var proxy = new FixedProxy { Address = new Uri("http://127.0.0.1:9") };
                var e = Assert.Throws<XenApiTransportException>(() =>
                    HTTP_actions.rrd_updates(null, null, 10000, host, proxy, path, null, session.opaque_ref, -60));
                Assert.AreEqual(ErrorKind.Connect, e.Kind);
                // Its credentials go with it, and never into an error.
                proxy.Credentials = new NetworkCredential("proxy-user", "s3cr3t-proxy");
                e = Assert.Throws<XenApiTransportException>(() =>
                    HTTP_actions.rrd_updates(null, null, 10000, host, proxy, path, null, session.opaque_ref, -60));
                StringAssert.DoesNotContain("s3cr3t-proxy", e.ToString());
                StringAssert.DoesNotContain(session.opaque_ref, e.ToString());
                proxy.Bypass = true;
                HTTP_actions.rrd_updates(null, null, 10000, host, proxy, path, null, session.opaque_ref, -60);
                Assert.Greater(new FileInfo(path).Length, 0);
            }
        }

        /// <summary>A proxy for every URI (WebProxy bypasses loopback addresses whatever it is told).</summary>
        sealed class FixedProxy : IWebProxy
        {
            public Uri Address;
            public bool Bypass;
            public ICredentials Credentials { get; set; }
            public Uri GetProxy(Uri destination) => Address;
            public bool IsBypassed(Uri host) => Bypass;
        }
    }
}
