using System;
using System.Linq;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// .NET's certificate callbacks: Options.ServerCertificateValidationCallback, and
    /// ServicePointManager's, which XenServer.NET programs set to accept a self-signed host.
    [TestFixture]
    public class CertificateCallbackTests
    {
        static string Sha256(X509Certificate certificate)
        {
            using (var sha = SHA256.Create())
                return string.Join(":", sha.ComputeHash(certificate.GetRawCertData()).Select(b => b.ToString("X2")));
        }

        [Test]
        public void ServicePointManagersCallbackDecidesAsInXenServerNet()
        {
            using (Sim tls = Sim.Start("--vms", "1", "--tls"))
            {
                SslPolicyErrors seen = SslPolicyErrors.None;
                string thumb = null;
                object sender = null;
                ServicePointManager.ServerCertificateValidationCallback = (s, cert, chain, errors) =>
                {
                    sender = s; seen = errors; thumb = Sha256(cert);
                    return true;
                };
                try
                {
                    // A program written for XenServer.NET: the callback, then new Session(url).
                    using (var session = new Session(tls.Url))
                    {
                        session.login_with_password(Sim.User, Sim.Password, "", "XenSdkSample");
                        Assert.IsNotEmpty(Host.get_all(session));
                    }
                    Assert.AreEqual(SslPolicyErrors.RemoteCertificateChainErrors, seen, "self-signed");
                    Assert.AreEqual(tls.Fingerprint.ToUpperInvariant(), thumb);
                    Assert.AreEqual(tls.Url, sender);

                    // Turned off by name, the default check refuses the self-signed certificate.
                    Assert.Throws<XenApiTlsException>(() =>
                        tls.Login(new Options(tls.Url) { IgnoreServicePointManager = true }));
                    // A pin set in the options wins over the process-wide callback.
                    ServicePointManager.ServerCertificateValidationCallback = (s, c, ch, e) => false;
                    using (Session xen = tls.Login(new Options(tls.Url) { Fingerprint = tls.Fingerprint }))
                        Assert.IsNotEmpty(xen.ListMethods());
                    Assert.Throws<XenApiTlsException>(() => tls.Login(new Options(tls.Url)));
                }
                finally
                {
                    ServicePointManager.ServerCertificateValidationCallback = null;
                }
            }
        }

        [Test]
        public void TheOptionsCallbackRefusesAndAThrowingOneToo()
        {
            using (Sim tls = Sim.Start("--vms", "1", "--tls"))
            {
                int calls = 0;
                var refuse = new Options(tls.Url) { ServerCertificateValidationCallback = (s, c, ch, e) => { calls++; return false; } };
                var e1 = Assert.Throws<XenApiTlsException>(() => tls.Login(refuse));
                StringAssert.Contains("callback refused", e1.Message);
                Assert.GreaterOrEqual(calls, 1);

                var throws = new Options(tls.Url) { ServerCertificateValidationCallback = (s, c, ch, e) => throw new InvalidOperationException("bug") };
                Assert.Throws<XenApiTlsException>(() => tls.Login(throws));

                var accept = new Options(tls.Url) { ServerCertificateValidationCallback = (s, c, ch, e) => e == SslPolicyErrors.RemoteCertificateChainErrors };
                using (Session xen = tls.Login(accept))
                    Assert.IsNotEmpty(xen.ListMethods());

                Assert.Throws<ArgumentException>(() => new Session(new Options(tls.Url)
                {
                    Fingerprint = tls.Fingerprint,
                    ServerCertificateValidationCallback = (s, c, ch, e) => true,
                }));
            }
        }
    }
}
