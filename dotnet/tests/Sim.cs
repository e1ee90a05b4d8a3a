using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>
    /// A running <c>xenapi-sim</c> (the project's XenAPI simulator), started for a test or a fixture
    /// and killed on Dispose (and at the end of the run, whatever happens). The binary comes from
    /// <c>$XENAPI_SIM</c>, else <c>target/release/xenapi-sim</c> above the test assembly.
    /// Users: root / password.
    /// </summary>
    public sealed class Sim : IDisposable
    {
        public const string User = "root";
        public const string Password = "password";

        static readonly List<Sim> Running = new List<Sim>();

        readonly Process proc;

        /// <summary>http://127.0.0.1:PORT (https with --tls).</summary>
        public string Url { get; }
        /// <summary>With --tls: the certificate's SHA-256 fingerprint as the simulator prints it.</summary>
        public string Fingerprint { get; }
        /// <summary>With --tls: the certificate (PEM) file, usable as a CA file.</summary>
        public string CertFile { get; }
        /// <summary>With --hosts N: the URLs of the pool members (they answer login with HOST_IS_SLAVE).</summary>
        public string[] MemberUrls { get; }

        Sim(Process p, string url, string fingerprint, string certFile, string[] members)
        {
            proc = p; Url = url; Fingerprint = fingerprint; CertFile = certFile; MemberUrls = members;
        }

        public static string Binary
        {
            get
            {
                string env = Environment.GetEnvironmentVariable("XENAPI_SIM");
                if (!string.IsNullOrEmpty(env)) return env;
                string dir = AppDomain.CurrentDomain.BaseDirectory;
                while (dir != null)
                {
                    string c = Path.Combine(dir, "target", "release", "xenapi-sim");
                    if (File.Exists(c)) return c;
                    dir = Path.GetDirectoryName(dir);
                }
                throw new InvalidOperationException("xenapi-sim not found: set XENAPI_SIM or run cargo build --release -p xenapi-sim");
            }
        }

        /// <summary>Starts a simulator with these extra flags (e.g. "--vms", "4", "--tls").</summary>
        public static Sim Start(params string[] flags)
        {
            // The tests count guests: no templates (the command line's default has five).
            var args = new List<string> { "--listen", "127.0.0.1:0", "--templates", "0" };
            string cert = null;
            if (Array.IndexOf(flags, "--tls") >= 0)
            {
                cert = Path.Combine(Path.GetTempPath(), "xenapi-sim-" + Guid.NewGuid().ToString("N") + ".pem");
                args.Add("--cert-out");
                args.Add(cert);
            }
            args.AddRange(flags);
            var psi = new ProcessStartInfo(Binary, string.Join(" ", args))
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = false,
                CreateNoWindow = true,
            };
            Process p = Process.Start(psi);
            string fingerprint = null, url = null;
            var members = new List<string>();
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (url == null)
            {
                string line = p.StandardOutput.ReadLine();
                if (line == null || DateTime.UtcNow > deadline)
                {
                    try { p.Kill(); } catch { }
                    throw new InvalidOperationException("xenapi-sim did not start (" + Binary + " " + string.Join(" ", args) + ")");
                }
                Match m = Regex.Match(line, @"^listening on (\S+)");
                if (m.Success) url = m.Groups[1].Value;
                m = Regex.Match(line, @"^fingerprint sha256 (\S+)");
                if (m.Success) fingerprint = m.Groups[1].Value;
                m = Regex.Match(line, @"^pool member \S+ (\S+)");
                if (m.Success) members.Add(m.Groups[1].Value);
            }
            var sim = new Sim(p, url, fingerprint, cert, members.ToArray());
            lock (Running) Running.Add(sim);
            return sim;
        }

        /// <summary>The side channel's URL for this path (always plain HTTP on the same port for
        /// a plain simulator).</summary>
        string Side(string path) => Url.TrimEnd('/') + path;

        /// <summary>GET /sim/stats: {"sessions", "calls", "logins", "logouts"}.</summary>
        public Dictionary<string, long> Stats()
        {
            string json = Http("GET", "/sim/stats");
            var d = new Dictionary<string, long>();
            foreach (Match m in Regex.Matches(json, "\"(\\w+)\"\\s*:\\s*(-?\\d+)"))
                d[m.Groups[1].Value] = long.Parse(m.Groups[2].Value);
            return d;
        }

        public long LiveSessions => Stats()["sessions"];

        /// <summary>POST to the side channel, e.g. "/sim/delay?ms=500".</summary>
        public string Post(string pathAndQuery) => Http("POST", pathAndQuery);

        string Http(string method, string path)
        {
            var req = (HttpWebRequest)WebRequest.Create(Side(path));
            req.Method = method;
            req.Timeout = 10000;
            req.Proxy = null;
            if (method == "POST") req.ContentLength = 0;
            if (Url.StartsWith("https", StringComparison.Ordinal))
                req.ServerCertificateValidationCallback = (a, b, c, d) => true;
            using (var resp = (HttpWebResponse)req.GetResponse())
            using (var r = new StreamReader(resp.GetResponseStream()))
                return r.ReadToEnd();
        }

        /// <summary>A logged-in session on this simulator.</summary>
        public Session Login(Options o = null)
        {
            return Session.Connect(o ?? new Options(Url), User, Password);
        }

        public void Dispose()
        {
            lock (Running) Running.Remove(this);
            try { if (!proc.HasExited) { proc.Kill(); proc.WaitForExit(5000); } } catch { }
            proc.Dispose();
            if (CertFile != null) try { File.Delete(CertFile); } catch { }
        }

        internal static void StopAll()
        {
            Sim[] all;
            lock (Running) all = Running.ToArray();
            foreach (Sim s in all) s.Dispose();
        }
    }

    /// <summary>Kills any simulator a test left running when the run ends.</summary>
    [SetUpFixture]
    public class SimCleanup
    {
#if NUNIT3
        [OneTimeTearDown]
#else
        [TearDown] // NUnit 2.6 (Debian's nunit-console): a SetUpFixture's TearDown runs once, at the end
#endif
        public void StopSimulators() => Sim.StopAll();
    }
}
