using NUnit.Framework;

namespace XenAPI.Tests
{
    /// XenServer.NET's API_Version and Helper, generated from spec/releases.json, and the session's
    /// APIVersion, read from the pool coordinator as XenServer.NET reads it.
    [TestFixture]
    public class ApiVersionTests
    {
        [Test]
        public void VersionsConvertBothWays()
        {
            Assert.AreEqual("1.1", Helper.APIVersionString(API_Version.API_1_1));
            Assert.AreEqual(1, (int)API_Version.API_1_1);
            Assert.AreEqual("2.15", Helper.APIVersionString(API_Version.API_2_15));
            Assert.AreEqual("Unknown", Helper.APIVersionString(API_Version.UNKNOWN));
            Assert.AreEqual(API_Version.API_2_21, Helper.GetAPIVersion(2, 21));
            Assert.AreEqual(API_Version.API_2_5, Helper.GetAPIVersion("2.5"));
            Assert.AreEqual(API_Version.UNKNOWN, Helper.GetAPIVersion(2, 16));
            Assert.AreEqual(API_Version.UNKNOWN, Helper.GetAPIVersion("two.five"));
            Assert.AreEqual(API_Version.UNKNOWN, Helper.GetAPIVersion(null));
            Assert.Less((int)API_Version.API_2_15, (int)API_Version.LATEST);
            Assert.AreNotEqual("Unknown", Helper.APIVersionString(API_Version.LATEST));
        }

        [Test]
        public void LoginWithAnApiVersionAnnouncesItAndReadsTheCoordinators()
        {
            using (var sim = Sim.Start("--vms", "1"))
            using (var session = new Session(sim.Url))
            {
                Assert.AreEqual(API_Version.UNKNOWN, session.APIVersion, "before the login");
#pragma warning disable 618 // XenServer.NET marks this overload obsolete; programs still call it
                session.login_with_password(Sim.User, Sim.Password, API_Version.LATEST);
#pragma warning restore 618
                var pool = Pool.get_all(session)[0];
                var master = Pool.get_master(session, pool.opaque_ref);
                var expected = Helper.GetAPIVersion(Host.get_API_version_major(session, master.opaque_ref),
                    Host.get_API_version_minor(session, master.opaque_ref));
                Assert.AreNotEqual(API_Version.UNKNOWN, expected);
                Assert.AreEqual(expected, session.APIVersion);
                session.logout();
                Assert.AreEqual(API_Version.UNKNOWN, session.APIVersion, "after the logout");
            }
        }

        [Test]
        public void XendHasNoPoolSoTheVersionIsUnknown()
        {
            using (var sim = Sim.Start("--vms", "1", "--dialect", "xend"))
            using (var session = new Session(sim.Url))
            {
                session.login_with_password(Sim.User, Sim.Password);
                Assert.AreEqual(API_Version.UNKNOWN, session.APIVersion);
            }
        }
    }
}
