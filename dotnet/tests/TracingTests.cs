using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>Issue 22 from C#: what xapi can log and trace: a User-Agent naming this package and
    /// its version, and a W3C <c>traceparent</c> from <c>Activity.Current</c>. A small TCP relay in
    /// front of the simulator keeps every byte the client sends.</summary>
    [TestFixture]
    public class TracingTests
    {
        /// <summary>Accepts connections on a loopback port and relays each to the simulator,
        /// keeping what clients send (at most 4 MiB).</summary>
        sealed class Relay : IDisposable
        {
            readonly TcpListener listener = new TcpListener(IPAddress.Loopback, 0);
            readonly int target;
            readonly StringBuilder sent = new StringBuilder();
            readonly List<TcpClient> open = new List<TcpClient>();
            volatile bool stopped;

            internal Relay(string simUrl)
            {
                target = new Uri(simUrl).Port;
                listener.Start();
                new Thread(Accept) { IsBackground = true }.Start();
            }

            internal string Url => "http://127.0.0.1:" + ((IPEndPoint)listener.LocalEndpoint).Port;

            /// <summary>What clients sent so far, as Latin-1 text.</summary>
            internal string Sent
            {
                get { lock (sent) return sent.ToString(); }
            }

            void Accept()
            {
                while (!stopped)
                {
                    TcpClient client;
                    try { client = listener.AcceptTcpClient(); }
                    catch (Exception) { return; }
                    var server = new TcpClient();
                    server.Connect(IPAddress.Loopback, target);
                    lock (open) { open.Add(client); open.Add(server); }
                    Pump(client.GetStream(), server.GetStream(), true);
                    Pump(server.GetStream(), client.GetStream(), false);
                }
            }

            void Pump(NetworkStream from, NetworkStream to, bool keep)
            {
                new Thread(() =>
                {
                    var buf = new byte[16384];
                    try
                    {
                        int n;
                        while ((n = from.Read(buf, 0, buf.Length)) > 0)
                        {
                            if (keep)
                                lock (sent)
                                    if (sent.Length < 4 << 20) sent.Append(Encoding.GetEncoding("ISO-8859-1").GetString(buf, 0, n));
                            to.Write(buf, 0, n);
                        }
                    }
                    catch (Exception) { }
                    try { to.Close(); } catch (Exception) { }
                }) { IsBackground = true }.Start();
            }

            public void Dispose()
            {
                stopped = true;
                listener.Stop();
                lock (open) foreach (var c in open) c.Close();
            }
        }

        static Options Plain(string url) => new Options(url) { Failover = false };

        /// <summary>The header lines named <paramref name="name"/> (any case) in what was sent.</summary>
        static string[] Headers(string sent, string name) =>
            Regex.Matches(sent, "^" + name + ":[ \t]*(.*?)\r?$", RegexOptions.Multiline | RegexOptions.IgnoreCase)
                .Cast<Match>().Select(m => m.Groups[1].Value).ToArray();

        [Test]
        public void TheUserAgentNamesThePackageAndItsVersion()
        {
            using (Sim sim = Sim.Start(CancellationTests.Flag, CancellationTests.Vms))
            using (var relay = new Relay(sim.Url))
            using (Session s = Session.Connect(Plain(relay.Url), Sim.User, Sim.Password))
            {
                Assert.IsNotEmpty(VM.get_all(s));
                string version = typeof(Session).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
                    .Cast<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion;
                string[] agents = Headers(relay.Sent, "User-Agent");
                Assert.IsNotEmpty(agents, "no User-Agent in: " + relay.Sent.Substring(0, Math.Min(400, relay.Sent.Length)));
                foreach (string a in agents)
                    StringAssert.IsMatch("^XenApi\\.NET/" + Regex.Escape(version) + " xenapi-rs/[0-9][^ ]*$", a);
            }
        }

        [Test]
        public void CallsSendTheCurrentActivitysTraceparent()
        {
            using (Sim sim = Sim.Start(CancellationTests.Flag, CancellationTests.Vms))
            using (var relay = new Relay(sim.Url))
            using (Session s = Session.Connect(Plain(relay.Url), Sim.User, Sim.Password))
            {
                Assert.IsNull(Activity.Current);
                Assert.IsNotEmpty(VM.get_all(s));
                Assert.IsEmpty(Headers(relay.Sent, "traceparent"), "no activity, no header");

                var activity = new Activity("list VMs").SetIdFormat(ActivityIdFormat.W3C).Start();
                try
                {
                    StringAssert.IsMatch("^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$", activity.Id);
                    Assert.AreEqual(activity.Id, Tracing.Current(), "XenApi finds the current activity");
                    Assert.IsNotEmpty(VM.get_all(s));
                    CollectionAssert.AreEqual(new[] { activity.Id }, Headers(relay.Sent, "traceparent"));
                    // The task form reads it on the caller's thread, and the token overload too.
                    Assert.IsNotEmpty(VM.get_allAsync(s).Result);
                    Assert.IsNotEmpty(VM.get_all(s, new CancellationTokenSource().Token));
                    CollectionAssert.AreEqual(new[] { activity.Id, activity.Id, activity.Id }, Headers(relay.Sent, "traceparent"));
                }
                finally
                {
                    activity.Stop();
                }
                Assert.IsNotEmpty(VM.get_all(s));
                Assert.AreEqual(3, Headers(relay.Sent, "traceparent").Length, "none after the activity stopped");

                // A hierarchical id is no W3C trace context: nothing is sent.
                var old = new Activity("old style").SetIdFormat(ActivityIdFormat.Hierarchical).Start();
                try
                {
                    StringAssert.StartsWith("|", old.Id);
                    Assert.IsNotEmpty(VM.get_all(s));
                    Assert.AreEqual(3, Headers(relay.Sent, "traceparent").Length);
                }
                finally
                {
                    old.Stop();
                }
            }
        }
    }
}
