using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>Every failure arrives as the right exception, with the XenAPI code when the server sent one.</summary>
    [TestFixture]
    public class ErrorTests
    {
        Sim sim;

        [SetUp] public void StartSim() { sim = Sim.Start("--vms", "2"); }
        [TearDown] public void StopSim() { sim.Dispose(); }

        [Test]
        public void BadPassword()
        {
            using (var xen = new Session(sim.Url))
            {
                var e = Assert.Throws<Failure>(() => xen.LoginWithPassword("root", "wrong"));
                Assert.AreEqual(ErrorKind.Api, e.Kind);
                Assert.AreEqual(Failure.SESSION_AUTHENTICATION_FAILED, e.Code);
                Assert.AreEqual(e.Code, e.ErrorDescription[0]);
                StringAssert.DoesNotContain("wrong", e.Message);
                Assert.IsFalse(xen.IsLoggedIn);
                // Catching the root catches it too.
                Assert.Throws(Is.InstanceOf<XenApiException>(), () => xen.login_with_password("root", "wrong"));
            }
        }

        static KeyValuePair<XenRef<VM>, VM> Guest(Session xen, vm_power_state state) =>
            VM.get_all_records(xen).First(kv => !kv.Value.is_control_domain && !kv.Value.is_a_template && kv.Value.power_state == state);

        [Test]
        public void WrongPowerState()
        {
            using (Session xen = sim.Login())
            {
                XenRef<VM> running = Guest(xen, vm_power_state.Running).Key;
                var e = Assert.Throws<Failure>(() => VM.start(xen, running, false, false));
                Assert.AreEqual(Failure.VM_BAD_POWER_STATE, e.Code);
                Assert.AreEqual(new[] { running.opaque_ref, "halted", "running" }, e.Params);
                Assert.IsTrue(e.Is(Failure.VM_BAD_POWER_STATE));
                StringAssert.Contains("VM_BAD_POWER_STATE", e.Message);

                e = Assert.Throws<Failure>(() => VM.unpause(xen, running));
                Assert.AreEqual(Failure.VM_BAD_POWER_STATE, e.ErrorDescription[0]);
            }
        }

        [Test]
        public void InvalidHandle()
        {
            using (Session xen = sim.Login())
            {
                var bogus = new XenRef<VM>("OpaqueRef:00000000-dead-beef-0000-000000000000");
                var e = Assert.Throws<Failure>(() => VM.start(xen, bogus, false, false));
                Assert.AreEqual(Failure.HANDLE_INVALID, e.Code);
                Assert.AreEqual(new[] { "VM", bogus.opaque_ref }, e.Params);
                e = Assert.Throws<Failure>(() => VM.get_power_state(xen, bogus));
                Assert.AreEqual(Failure.HANDLE_INVALID, e.Code);
                e = Assert.Throws<Failure>(() => Host.dmesg(xen, "OpaqueRef:nope"));
                Assert.AreEqual(Failure.HANDLE_INVALID, e.Code);
                e = Assert.Throws<Failure>(() => VM.get_record(xen, bogus));
                Assert.AreEqual(Failure.HANDLE_INVALID, e.Code);
            }
        }

        [Test]
        public void UnknownMethod()
        {
            using (Session xen = sim.Login())
            {
                var e = Assert.Throws<Failure>(() => xen.Call("VM.no_such_method"));
                Assert.AreEqual(Failure.MESSAGE_METHOD_UNKNOWN, e.Code);
                Assert.AreEqual("VM.no_such_method", e.Params[0]);
            }
        }

        [Test]
        public void ParameterCountMismatch()
        {
            using (Session xen = sim.Login())
            {
                var e = Assert.Throws<Failure>(() => xen.Call("VM.get_record"));
                Assert.AreEqual(Failure.MESSAGE_PARAMETER_COUNT_MISMATCH, e.Code);
            }
        }

        static int FreePort()
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            l.Stop();
            return port;
        }

        [Test]
        public void UnreachableHost()
        {
            var o = new Options("http://127.0.0.1:" + FreePort()) { ConnectTimeout = TimeSpan.FromSeconds(2) };
            using (var xen = new Session(o))
            {
                var e = Assert.Throws<XenApiTransportException>(() => xen.LoginWithPassword("root", "password"));
                Assert.AreEqual(ErrorKind.Connect, e.Kind);
                Assert.IsNotInstanceOf<Failure>(e);
            }
            Assert.Throws<XenApiTransportException>(() => Session.Connect("http://127.0.0.1:" + FreePort(), "root", "password"));
        }

        [Test]
        public void CallTimeout()
        {
            using (Sim slow = Sim.Start("--vms", "1"))
            using (Session xen = slow.Login(new Options(slow.Url) { Timeout = TimeSpan.FromMilliseconds(300) }))
            {
                slow.Post("/sim/delay?ms=2000");
                var e = Assert.Throws<XenApiTimeoutException>(() => xen.ListMethods());
                Assert.AreEqual(ErrorKind.Timeout, e.Kind);
                Assert.IsInstanceOf<XenApiTransportException>(e);
                slow.Post("/sim/delay?ms=0");
            }
        }

        [Test]
        public void HttpErrorAndGarbage()
        {
            using (Sim bad = Sim.Start("--vms", "1"))
            using (Session xen = bad.Login())
            {
                bad.Post("/sim/fault?kind=http500&count=1");
                var e = Assert.Throws<XenApiTransportException>(() => xen.ListMethods());
                Assert.AreEqual(ErrorKind.Http, e.Kind);
                Assert.AreEqual(500, e.HttpStatus);
                bad.Post("/sim/fault?kind=garbage&count=1");
                e = Assert.Throws<XenApiTransportException>(() => xen.ListMethods());
                Assert.AreEqual(ErrorKind.Protocol, e.Kind);
                Assert.IsNotEmpty(xen.ListMethods());
            }
        }

        [Test]
        public void TlsVerification()
        {
            using (Sim tls = Sim.Start("--vms", "1", "--tls"))
            {
                // Default policy: the simulator's self-signed certificate is not trusted.
                var e = Assert.Throws<XenApiTlsException>(() => tls.Login(new Options(tls.Url)));
                Assert.AreEqual(ErrorKind.Tls, e.Kind);
                Assert.IsInstanceOf<XenApiTransportException>(e);

                using (Session xen = tls.Login(new Options(tls.Url) { CaFile = tls.CertFile }))
                    Assert.IsNotEmpty(xen.ListMethods());
                using (Session xen = tls.Login(new Options(tls.Url) { InsecureSkipVerify = true }))
                    Assert.IsNotEmpty(xen.ListMethods());
            }
        }

        [Test]
        public void TlsPinMismatch()
        {
            using (Sim tls = Sim.Start("--vms", "1", "--tls"))
            {
                Assert.IsNotNull(tls.Fingerprint);
                string wrong = string.Join(":", Enumerable.Repeat("ab", 32));
                var ex = Assert.Throws<XenApiTlsException>(() => tls.Login(new Options(tls.Url) { Fingerprint = wrong }));
                Assert.AreEqual(ErrorKind.Tls, ex.Kind);
                using (Session xen = tls.Login(new Options(tls.Url) { Fingerprint = tls.Fingerprint }))
                    Assert.IsNotEmpty(xen.ListMethods());
                using (Session xen = tls.Login(new Options(tls.Url) { Fingerprint = "sha256:" + tls.Fingerprint.Replace(":", "").ToLowerInvariant() }))
                    Assert.IsNotEmpty(xen.ListMethods());
            }
        }

        [Test]
        public void BadOptions()
        {
            var e = Assert.Throws<XenApiException>(() => new Session(new Options("http://x") { Fingerprint = "not hex" }));
            Assert.AreEqual(ErrorKind.InvalidArgument, e.Kind);
            Assert.Throws<ArgumentException>(() => new Session(new Options("https://x") { Fingerprint = new string('a', 64), InsecureSkipVerify = true }));
            Assert.Throws<ArgumentOutOfRangeException>(() => new Session(new Options("http://x") { Timeout = TimeSpan.Zero }));
            Assert.Throws<ArgumentNullException>(() => new Options(null));
        }

        [Test]
        public void CallsAfterLogoutAndDispose()
        {
            Session xen = sim.Login();
            xen.Logout();
            var e = Assert.Throws<XenApiException>(() => xen.ListMethods());
            Assert.AreEqual(ErrorKind.InvalidArgument, e.Kind);
            Assert.Throws<XenApiException>(() => VM.get_all(xen));
            xen.Logout(); // twice is harmless
            xen.Dispose();
            Assert.Throws<ObjectDisposedException>(() => xen.ListMethods());
            Assert.Throws<ObjectDisposedException>(() => xen.Call("host.get_all"));
            Assert.Throws<ObjectDisposedException>(() => VM.get_all(xen));
            Assert.IsFalse(xen.IsLoggedIn);
            xen.Dispose(); // twice is harmless
        }

        [Test]
        public void UnsendableArgument()
        {
            using (Session xen = sim.Login())
            {
                Assert.Throws<ArgumentException>(() => xen.Call("VM.get_record", new object()));
                Assert.Throws<ArgumentOutOfRangeException>(() => xen.Call("VM.get_record", ulong.MaxValue));
                Assert.Throws<ArgumentNullException>(() => VM.get_all(null));
                // An enum value the library does not know is refused before anything is sent.
                XenRef<VM> vm = Guest(xen, vm_power_state.Halted).Key;
                var e = Assert.Throws<XenApiException>(() => VM.set_actions_after_crash(xen, vm, on_crash_behaviour.unknown));
                Assert.AreEqual(ErrorKind.InvalidArgument, e.Kind);
            }
        }
    }
}
