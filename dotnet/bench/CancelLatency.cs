// How fast a CancellationToken ends a call the server holds, as the everyday bench runs it:
//
//   mono CancelLatency.exe URL [ROUNDS] [USER PASSWORD]   (default 5 rounds; root / password)
//
// Each round makes an event.from that a quiet server holds (its timeout 30 s, from the token of
// a first event.from), cancels the token 300 ms in and times the cancel to the call's end. It
// prints one line per round (`round N cancel_ms=<ms>`) and then `cancel_ms=<median>`; the exit
// status is 1 when a round did not end with OperationCanceledException or took 5 s or more.
using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using XenAPI;

static class CancelLatency
{
    static int Main(string[] args)
    {
        string url = args.Length > 0 ? args[0] : "http://127.0.0.1:9363";
        int rounds = args.Length > 1 ? int.Parse(args[1]) : 5;
        string user = args.Length > 3 ? args[2] : "root";
        string password = args.Length > 3 ? args[3] : "password";
        var times = new double[rounds];
        using (Session session = Session.Connect(new Options(url) { Timeout = TimeSpan.FromSeconds(60) }, user, password))
        {
            string token = Event.from(session, new[] { "vm" }, "", 0.0).token;
            for (int r = 0; r < rounds; r++)
            {
                using (var cts = new CancellationTokenSource())
                {
                    long cancelledAt = 0;
                    var clock = Stopwatch.StartNew();
                    // The time is taken just before Cancel, on the thread that cancels.
                    var timer = new Timer(_ => { Interlocked.Exchange(ref cancelledAt, clock.ElapsedTicks); cts.Cancel(); },
                        null, 300, Timeout.Infinite);
                    try
                    {
                        Event.from(session, new[] { "vm" }, token, 30.0, cts.Token);
                        System.Console.Error.WriteLine("round {0}: the call returned instead of being cancelled", r + 1);
                        return 1;
                    }
                    catch (OperationCanceledException)
                    {
                        times[r] = (clock.ElapsedTicks - Interlocked.Read(ref cancelledAt)) * 1000.0 / Stopwatch.Frequency;
                    }
                    finally
                    {
                        timer.Dispose();
                    }
                    System.Console.WriteLine("round {0} cancel_ms={1:0.0}", r + 1, times[r]);
                    if (times[r] >= 5000) return 1;
                }
            }
        }
        var sorted = times.OrderBy(t => t).ToArray();
        System.Console.WriteLine("cancel_ms={0:0}", sorted[sorted.Length / 2]);
        return 0;
    }
}
