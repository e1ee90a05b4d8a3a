using System;
using System.Collections.Generic;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>Session as XenServer.NET has it: the connection and the session class's record in
    /// one class, and the slave-local login.</summary>
    [TestFixture]
    public class SessionRecordTests
    {
        [TestCase("xapi")]
        [TestCase("xend")]
        public void RecordOfTheOwnSession(string dialect)
        {
            using (Sim sim = Sim.Start("--vms", "1", "--dialect", dialect))
            using (Session session = sim.Login())
            {
                Session record = Session.get_record(session, session.opaque_ref);
                Assert.IsNotNull(record);
                Assert.IsNotNull(record.uuid);
                Assert.IsNotNull(record.this_host);
                Assert.IsNotNull(record.other_config);
                Assert.AreEqual(record.uuid, Session.get_uuid(session, session.opaque_ref));
                Assert.AreEqual(record.this_host, Session.get_this_host(session, session.opaque_ref));

                // A record is no connection, and its reference is the caller's to set.
                Assert.IsFalse(record.IsLoggedIn);
                Assert.IsNull(record.opaque_ref);
                record.opaque_ref = session.opaque_ref;
                Assert.AreEqual(session.opaque_ref, record.opaque_ref);
                Assert.Throws<InvalidOperationException>(() => Host.get_all(record));
                Assert.Throws<InvalidOperationException>(() => session.opaque_ref = "OpaqueRef:x");

                // The generic record base and its copy.
                XenObject<Session> asRecord = record;
                Assert.AreEqual(session.opaque_ref, asRecord.opaque_ref);
                var copy = new Session();
                copy.UpdateFrom(record);
                Assert.AreEqual(record.uuid, copy.uuid);

                // session.get_all_records is not in the datamodel; through the untyped call, where served.
                try
                {
                    var all = session.Call<Dictionary<string, object>>("session.get_all_records");
                    Assert.IsTrue(all.ContainsKey(session.opaque_ref));
                }
                catch (Failure f)
                {
                    System.Console.WriteLine("{0}: session.get_all_records: {1}", dialect, f.ErrorDescription[0]);
                }
            }
        }

        [Test]
        public void SlaveLocalLoginXapi()
        {
            using (Sim sim = Sim.Start("--vms", "1"))
            using (var session = new Session(sim.Url))
            {
                long before = sim.LiveSessions;
                session.slave_local_login_with_password(Sim.User, Sim.Password);
                Assert.IsTrue(session.IsLoggedIn);
                Assert.IsNotNull(session.opaque_ref);
                Assert.AreEqual(before + 1, sim.LiveSessions);
                Assert.IsNotEmpty(Host.get_all(session));
                Session.get_record(session, session.opaque_ref);
                session.local_logout();
                Assert.IsFalse(session.IsLoggedIn);
                Assert.IsNull(session.opaque_ref);
                Assert.AreEqual(before, sim.LiveSessions);
                session.local_logout();
            }
        }

        [Test]
        public void SlaveLocalLoginXendIsUnknown()
        {
            using (Sim sim = Sim.Start("--vms", "1", "--dialect", "xend"))
            using (var session = new Session(sim.Url))
            {
                var f = Assert.Throws<Failure>(() => session.slave_local_login_with_password(Sim.User, Sim.Password));
                Assert.AreEqual("MESSAGE_METHOD_UNKNOWN", f.ErrorDescription[0]);
                Assert.IsFalse(session.IsLoggedIn);
            }
        }
    }
}
