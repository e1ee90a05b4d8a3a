// TracingTests' check on .NET (Core), against the real System.Diagnostics.Activity (Mono has none;
// its NUnit run uses a stand-in): `make dotnet-coreclr-test` runs this under a simulator.
//
//   dotnet Tracing.exe URL
//
// A relay in front of the simulator keeps what the client sends. The program starts a W3C
// Activity (by reflection: mcs compiles this against .NET Framework's reference assemblies, which
// lack it), calls VM.get_all through the relay, and checks that the request carried the
// activity's id as its traceparent and a User-Agent naming XenApi.NET, then the same through
// VM.get_allAsync (completed by libxenapi's callback on this runtime). Prints one line per check;
// exits 1 on the first failure.
using System;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using System.Threading;
using XenAPI;

static class Tracing
{
    static readonly StringBuilder Sent = new StringBuilder();

    static void Relay(TcpListener listener, int target)
    {
        while (true)
        {
            TcpClient client = listener.AcceptTcpClient();
            var server = new TcpClient();
            server.Connect(IPAddress.Loopback, target);
            Pump(client.GetStream(), server.GetStream(), true);
            Pump(server.GetStream(), client.GetStream(), false);
        }
    }

    static void Pump(NetworkStream from, NetworkStream to, bool keep)
    {
        new Thread(() =>
        {
            var buf = new byte[16384];
            try
            {
                int n;
                while ((n = from.Read(buf, 0, buf.Length)) > 0)
                {
                    if (keep) lock (Sent) Sent.Append(Encoding.ASCII.GetString(buf, 0, n));
                    to.Write(buf, 0, n);
                }
            }
            catch (Exception) { }
            try { to.Close(); } catch (Exception) { }
        }) { IsBackground = true }.Start();
    }

    static int Fail(string what)
    {
        System.Console.WriteLine("FAILED: " + what);
        return 1;
    }

    static int Main(string[] args)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int target = new Uri(args[0]).Port;
        new Thread(() => Relay(listener, target)) { IsBackground = true }.Start();
        string url = "http://127.0.0.1:" + ((IPEndPoint)listener.LocalEndpoint).Port;

        Type activity = Type.GetType("System.Diagnostics.Activity, System.Diagnostics.DiagnosticSource");
        Type format = Type.GetType("System.Diagnostics.ActivityIdFormat, System.Diagnostics.DiagnosticSource");
        if (activity == null || format == null) return Fail("no System.Diagnostics.Activity on this runtime");
        object a = Activator.CreateInstance(activity, "list VMs");
        activity.GetMethod("SetIdFormat").Invoke(a, new[] { Enum.Parse(format, "W3C") });
        activity.GetMethod("Start").Invoke(a, null);
        string id = (string)activity.GetProperty("Id").GetValue(a);
        System.Console.WriteLine("activity: " + id);

        using (Session s = Session.Connect(new Options(url) { Failover = false }, "root", "password"))
        {
            int n = VM.get_all(s).Count;
            string sent;
            lock (Sent) sent = Sent.ToString();
            if (sent.IndexOf("\ntraceparent: " + id + "\r\n", StringComparison.OrdinalIgnoreCase) < 0)
                return Fail("no traceparent " + id + " in the request");
            System.Console.WriteLine("traceparent: sent (" + n + " VMs)");
            if (sent.IndexOf("\nuser-agent: XenApi.NET/", StringComparison.OrdinalIgnoreCase) < 0)
                return Fail("no User-Agent naming XenApi.NET");
            System.Console.WriteLine("user-agent: XenApi.NET");
            // The Task form on this runtime: completed from libxenapi's thread, same answer, and
            // the activity read on the calling thread.
            var vms = VM.get_allAsync(s).Result;
            if (vms.Count != n) return Fail("get_allAsync gave " + vms.Count + " VMs, get_all " + n);
            lock (Sent) sent = Sent.ToString();
            int at = sent.IndexOf("\ntraceparent: " + id + "\r\n", StringComparison.OrdinalIgnoreCase);
            if (at < 0 || sent.IndexOf("\ntraceparent: " + id + "\r\n", at + 1, StringComparison.OrdinalIgnoreCase) < 0)
                return Fail("the Task form sent no traceparent");
            System.Console.WriteLine("async: " + vms.Count + " VMs, traceparent sent");
        }
        activity.GetMethod("Stop").Invoke(a, null);
        return 0;
    }
}
