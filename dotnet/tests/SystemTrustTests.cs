using System;
using System.IO;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>The default TLS policy trusts what the system trusts, from C#: a company CA made for
    /// the run (dotnet/scripts/test-ca.sh) signed the certificate of the simulator dotnet/dotnet.mk
    /// starts as <c>SIM_TRUST</c>; with that CA in <c>SSL_CERT_FILE</c> a session with no TLS option
    /// logs in; with another CA there it is refused, and the message names the store it read.
    /// (Mono's Environment.SetEnvironmentVariable changes the process's environment, which
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
    }
}
