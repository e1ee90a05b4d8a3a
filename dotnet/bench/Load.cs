// Calls per second with one Session shared by many threads, as `make load-bench` runs it:
//
//   mono Load.exe URL [CALLS_PER_THREAD] [THREADS...]   (default 200 calls; 1 4 16 64 threads)
//
// Each line: `dotnet THREADS CALLS_PER_SECOND ERRORS`; the exit status is 1 on any error.
using System;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using XenAPI;

static class Load
{
    static int Main(string[] args)
    {
        string url = args.Length > 0 ? args[0] : "http://127.0.0.1:9363";
        int calls = args.Length > 1 ? int.Parse(args[1]) : 200;
        int[] counts = args.Length > 2 ? args.Skip(2).Select(int.Parse).ToArray() : new[] { 1, 4, 16, 64 };
        var session = new Session(url);
        session.login_with_password("root", "password");
        XenRef<VM> vm = VM.get_all(session).First();
        bool failed = false;
        foreach (int n in counts)
        {
            int errors = 0;
            var gate = new ManualResetEventSlim(false);
            var workers = Enumerable.Range(0, n).Select(_ => new Thread(() =>
            {
                gate.Wait();
                for (int i = 0; i < calls; i++)
                {
                    try { VM.get_power_state(session, vm); }
                    catch (Exception) { Interlocked.Increment(ref errors); }
                }
            })).ToList();
            workers.ForEach(t => t.Start());
            var sw = Stopwatch.StartNew();
            gate.Set();
            workers.ForEach(t => t.Join());
            System.Console.WriteLine("dotnet {0} {1:0} {2}", n, n * calls / sw.Elapsed.TotalSeconds, errors);
            failed |= errors > 0;
        }
        session.logout();
        return failed ? 1 : 0;
    }
}
