// The C# side of `make everyday-bench` (tests/bench/README.md), against a running server, on one
// logged-in Session (XENAPI_USER, XENAPI_PASSWORD; root / password by default):
//
//   mono SmallCalls.exe URL time SECONDS   VM.get_power_state in a loop for SECONDS; prints
//                                          `small csharp CALLS SECONDS`
//   mono SmallCalls.exe URL count CALLS    CALLS calls between two marker system calls (a stat of
//                                          /xenapi-bench-mark/begin and .../end) for a tracer to
//                                          count; prints `count csharp CALLS`
//   mono SmallCalls.exe URL interrupt HOLD a held call (event.from on a quiet server, HOLD
//                                          seconds) given a CancellationToken cancelled 300 ms in;
//                                          prints `interrupt csharp MS OUTCOME USABLE`: the time
//                                          from Cancel() to the call's end, how it ended, whether
//                                          the session answers afterwards; `interrupt csharp n/a`
//                                          while XenApi has no Event.from overload taking a
//                                          CancellationToken (looked up by reflection, so that
//                                          this program builds before and after it exists)
//
// Each mode warms up first (the login, the first connection, JIT and 200 calls not measured).
using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Threading;
using XenAPI;

static class SmallCalls
{
    const int WarmUp = 200;

    static void Mark(string what)
    {
        File.Exists("/xenapi-bench-mark/" + what);
    }

    static int Main(string[] args)
    {
        double n;
        if (args.Length != 3 || !double.TryParse(args[2], System.Globalization.NumberStyles.Float,
                System.Globalization.CultureInfo.InvariantCulture, out n) || n <= 0)
        {
            System.Console.Error.WriteLine("usage: SmallCalls.exe URL time SECONDS | count CALLS | interrupt HOLD");
            return 2;
        }
        var session = new Session(args[0]);
        session.login_with_password(Environment.GetEnvironmentVariable("XENAPI_USER") ?? "root",
            Environment.GetEnvironmentVariable("XENAPI_PASSWORD") ?? "password");
        XenRef<VM> vm = VM.get_all(session).First();
        for (int i = 0; i < WarmUp; i++)
            VM.get_power_state(session, vm);
        switch (args[1])
        {
            case "time":
            {
                var span = TimeSpan.FromSeconds(n);
                long calls = 0;
                var sw = Stopwatch.StartNew();
                while (sw.Elapsed < span)
                {
                    VM.get_power_state(session, vm);
                    calls++;
                }
                System.Console.WriteLine(FormattableString.Invariant($"small csharp {calls} {sw.Elapsed.TotalSeconds:0.000000}"));
                break;
            }
            case "count":
            {
                long calls = (long)n;
                Mark("begin");
                for (long i = 0; i < calls; i++)
                    VM.get_power_state(session, vm);
                Mark("end");
                System.Console.WriteLine("count csharp {0}", calls);
                break;
            }
            case "interrupt":
                Interrupt(session, vm, n);
                break;
            default:
                System.Console.Error.WriteLine("SmallCalls: the mode is time, count or interrupt, not " + args[1]);
                return 2;
        }
        session.logout();
        return 0;
    }

    static void Interrupt(Session session, XenRef<VM> vm, double hold)
    {
        MethodInfo from = typeof(Event).GetMethod("from", new[] {
            typeof(Session), typeof(string[]), typeof(string), typeof(double), typeof(CancellationToken) });
        if (from == null)
        {
            System.Console.WriteLine("interrupt csharp n/a");
            return;
        }
        string token = Event.from(session, new[] { "vm" }, "", 0.0).token;
        var cts = new CancellationTokenSource();
        var sw = Stopwatch.StartNew();
        TimeSpan fired = TimeSpan.Zero;
        var canceller = new Thread(() =>
        {
            Thread.Sleep(300);
            fired = sw.Elapsed;
            cts.Cancel();
        });
        string outcome = "returned";
        canceller.Start();
        try
        {
            from.Invoke(null, new object[] { session, new[] { "vm" }, token, hold, cts.Token });
        }
        catch (TargetInvocationException e)
        {
            outcome = e.InnerException is OperationCanceledException ? "cancelled"
                : e.InnerException is Failure f ? string.Join(",", f.ErrorDescription.Take(1))
                : e.InnerException.GetType().Name;
        }
        TimeSpan done = sw.Elapsed;
        canceller.Join();
        string usable;
        try
        {
            VM.get_power_state(session, vm);
            usable = "usable";
        }
        catch (Exception)
        {
            usable = "unusable";
        }
        System.Console.WriteLine(FormattableString.Invariant(
            $"interrupt csharp {(done - fired).TotalMilliseconds:0.0} {outcome} {usable}"));
    }
}
