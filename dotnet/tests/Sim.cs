using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>
    /// A <c>xenapi-sim</c> (the project's XenAPI simulator) that <c>xenapi-sim run</c> started
    /// around the test run: the suite never starts one. A test asks for the simulator it needs by
    /// its flags (<c>Sim.Start("--vms", "1", "--tls")</c>); the run that provides it is named
    /// after them, <c>--env SIM_VMS_1_TLS</c> (see <see cref="EnvName"/>), and dotnet/dotnet.mk
    /// lists every set of flags the suite uses. Simulators are shared by the tests that ask for
    /// the same flags, one test at a time; Dispose clears the faults and delay a test set.
    /// Users: <c>NAME_USER</c> / <c>NAME_PASSWORD</c> (root / password).
    /// </summary>
    public sealed class Sim : IDisposable
    {
        public const string User = "root";
        public const string Password = "password";

        /// <summary>http://127.0.0.1:PORT (https with --tls).</summary>
        public string Url { get; }
        /// <summary>With --tls: the certificate's SHA-256 fingerprint (<c>NAME_FINGERPRINT</c>).</summary>
        public string Fingerprint { get; }
        /// <summary>With --tls: the certificate (PEM) file, usable as a CA file (<c>NAME_CA_FILE</c>).</summary>
        public string CertFile { get; }
        /// <summary>With --hosts N: the URLs of the pool members (they answer login with HOST_IS_SLAVE).</summary>
        public string[] MemberUrls { get; }

        /// <summary>Where the side channel answers: the pool coordinator's URL (after
        /// <see cref="Failover"/>, the promoted member's).</summary>
        public string CoordinatorUrl { get; private set; }

        Sim(string url, string fingerprint, string certFile, string[] members)
        {
            Url = url; Fingerprint = fingerprint; CertFile = certFile; MemberUrls = members;
            CoordinatorUrl = url;
        }

        /// <summary>POST /sim/failover: with --hosts N, the coordinator dies (its port closes,
        /// calls in flight drop) and host <paramref name="to"/> (1-based; null: the first live
        /// member) takes over, as under HA. Returns the new coordinator's URL.</summary>
        public string Failover(int? to = null)
        {
            string json = Post("/sim/failover" + (to.HasValue ? "?to=" + to.Value : ""));
            Match m = Regex.Match(json, "\"coordinator\"\\s*:\\s*\"([^\"]+)\"");
            if (!m.Success) throw new InvalidOperationException("failover: " + json);
            CoordinatorUrl = (Url.StartsWith("https", StringComparison.Ordinal) ? "https://" : "http://") + m.Groups[1].Value;
            return CoordinatorUrl;
        }

        /// <summary>The prefix of the variables <c>xenapi-sim run --env</c> exports for the
        /// simulator started with these flags: <c>SIM_</c> and the flags, upper case, each run of
        /// other characters than letters and digits as one <c>_</c> (<c>--vms 2 --dialect xend</c>:
        /// <c>SIM_VMS_2_DIALECT_XEND</c>). dotnet/dotnet.mk derives the same names.</summary>
        public static string EnvName(params string[] flags) =>
            "SIM_" + Regex.Replace(string.Join(" ", flags).TrimStart('-'), "[^A-Za-z0-9]+", "_").ToUpperInvariant();

        /// <summary>The simulator started with these extra flags (e.g. "--vms", "4", "--tls").</summary>
        public static Sim Start(params string[] flags)
        {
            string name = EnvName(flags);
            string url = Environment.GetEnvironmentVariable(name + "_URL");
            if (string.IsNullOrEmpty(url))
                throw new InvalidOperationException(name + "_URL is not set: run the suite under `xenapi-sim run --env "
                    + name + " --templates 0 " + string.Join(" ", flags) + " -- ...` (add the flags to DOTNET_SIMS in dotnet/dotnet.mk)");
            string members = Environment.GetEnvironmentVariable(name + "_MEMBER_URLS") ?? "";
            return new Sim(url, Environment.GetEnvironmentVariable(name + "_FINGERPRINT"),
                           Environment.GetEnvironmentVariable(name + "_CA_FILE"),
                           members.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries));
        }

        /// <summary>The side channel's URL for this path (always plain HTTP on the same port for
        /// a plain simulator).</summary>
        string Side(string path) => CoordinatorUrl.TrimEnd('/') + path;

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

        /// <summary>Clears what a test may have armed on the shared simulator (faults, delay).</summary>
        public void Dispose()
        {
            Post("/sim/fault?kind=none");
            Post("/sim/delay?ms=0");
        }
    }
}
