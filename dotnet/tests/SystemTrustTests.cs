using System;
using System.Diagnostics;
using System.IO;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>The default TLS policy trusts what the system trusts, from C#: a company CA made for
    /// the run (dotnet/scripts/test-ca.sh) signed the certificate of the simulator dotnet/dotnet.mk
    /// starts as <c>SIM_TRUST</c>; with that CA in <c>SSL_CERT_FILE</c> a session with no TLS option
    /// logs in; with another CA there it is refused, and the message names the store it read. With
    /// neither variable set, the CA installed the way a Linux administrator installs one
    /// (/usr/local/share/ca-certificates, then update-ca-certificates; as root, which CI is) is
    /// trusted, and refused again once removed. (Mono's Environment.SetEnvironmentVariable changes the process's environment, which
    /// libxenapi reads when a session is made.)</summary>
    [TestFixture]
    public class SystemTrustTests
    {
        static string Env(string name)
        {
            string v = Environment.GetEnvironmentVariable(name);
            if (string.IsNullOrEmpty(v))
                throw new InvalidOperationException(name + " is not set: run the suite as `make dotnet-test` does (dotnet/dotnet.mk)");
            return v;
        }

        [Test]
        public void TheDefaultPolicyTrustsACaGivenBySslCertFile()
        {
            string url = Env("SIM_TRUST_URL");
            string dir = Env("XENAPI_TRUST_DIR");
            string ca = Path.Combine(dir, "ca.pem");
            string stranger = Path.Combine(dir, "stranger.pem");
            StringAssert.StartsWith("https://127.0.0.1:", url);
            string file = Environment.GetEnvironmentVariable("SSL_CERT_FILE");
            string certDir = Environment.GetEnvironmentVariable("SSL_CERT_DIR");
            // No TLS option, and no ServicePointManager callback another test may have left.
            Func<Options> Default = () => new Options(url) { IgnoreServicePointManager = true };
            try
            {
                Environment.SetEnvironmentVariable("SSL_CERT_DIR", null);
                Environment.SetEnvironmentVariable("SSL_CERT_FILE", stranger);
                var e = Assert.Throws<XenApiTlsException>(() => Session.Connect(Default(), Sim.User, Sim.Password).Dispose());
                StringAssert.Contains("not trusted", e.Message);
                StringAssert.Contains("SSL_CERT_FILE=" + stranger, e.Message);

                Environment.SetEnvironmentVariable("SSL_CERT_FILE", ca);
                using (Session s = Session.Connect(Default(), Sim.User, Sim.Password))
                    Assert.IsNotEmpty(VM.get_all(s));
            }
            finally
            {
                Environment.SetEnvironmentVariable("SSL_CERT_FILE", file);
                Environment.SetEnvironmentVariable("SSL_CERT_DIR", certDir);
            }
        }

        /// <summary>The bundle update-ca-certificates writes (Debian, Ubuntu).</summary>
        const string SystemBundle = "/etc/ssl/certs/ca-certificates.crt";

        static string Run(string file, string args)
        {
            var info = new ProcessStartInfo(file, args)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using (Process p = Process.Start(info))
            {
                string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
                p.WaitForExit();
                if (p.ExitCode != 0)
                    throw new InvalidOperationException(file + " " + args + " failed: " + output);
                return output;
            }
        }

        [Test]
        public void ACaInstalledWithUpdateCaCertificatesIsTrusted()
        {
            string url = Env("SIM_TRUST_URL");
            string ca = Path.Combine(Env("XENAPI_TRUST_DIR"), "ca.pem");
            string file = Environment.GetEnvironmentVariable("SSL_CERT_FILE");
            string certDir = Environment.GetEnvironmentVariable("SSL_CERT_DIR");
            Func<Options> Default = () => new Options(url) { IgnoreServicePointManager = true };
            string installed = "/usr/local/share/ca-certificates/xenapi-rs-dotnet-test-"
                + Process.GetCurrentProcess().Id + ".crt";
            try
            {
                Environment.SetEnvironmentVariable("SSL_CERT_FILE", null);
                Environment.SetEnvironmentVariable("SSL_CERT_DIR", null);

                // Not installed: refused, naming the system's store.
                var e = Assert.Throws<XenApiTlsException>(() => Session.Connect(Default(), Sim.User, Sim.Password).Dispose());
                StringAssert.Contains("not trusted", e.Message);
                StringAssert.Contains("the system's certificates (", e.Message);
                if (File.Exists(SystemBundle))
                    StringAssert.Contains(SystemBundle, e.Message);

                if (Run("id", "-u").Trim() != "0")
                    Assert.Ignore("installing a CA with update-ca-certificates needs root (CI runs as root)");
                Directory.CreateDirectory(Path.GetDirectoryName(installed));
                File.Copy(ca, installed, true);
                Run("update-ca-certificates", "");
                string body = File.ReadAllLines(ca)[1];
                StringAssert.Contains(body, File.ReadAllText(SystemBundle), "update-ca-certificates did not add the CA");
                using (Session s = Session.Connect(Default(), Sim.User, Sim.Password))
                    Assert.IsNotEmpty(VM.get_all(s));

                // Removed again: refused again (the store is read again when it changes).
                File.Delete(installed);
                Run("update-ca-certificates", "");
                Assert.Throws<XenApiTlsException>(() => Session.Connect(Default(), Sim.User, Sim.Password).Dispose());
            }
            finally
            {
                if (File.Exists(installed))
                {
                    File.Delete(installed);
                    Run("update-ca-certificates", "");
                }
                Environment.SetEnvironmentVariable("SSL_CERT_FILE", file);
                Environment.SetEnvironmentVariable("SSL_CERT_DIR", certDir);
            }
        }
    }
}
