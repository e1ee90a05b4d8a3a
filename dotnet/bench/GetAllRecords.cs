// Times VM.get_all_records from C# (typed and generic) against a simulator:
//   mono GetAllRecords.exe URL [iterations]
// Prints "dotnet-typed <median ms>" (GetAllVMRecords: VMRecord[]) and "dotnet-call <median ms>"
// (Call: Dictionary of Dictionaries).
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using XenApi;

static class GetAllRecords
{
    static double Median(List<double> xs) { xs.Sort(); return xs[xs.Count / 2]; }

    static int Main(string[] args)
    {
        if (args.Length < 1) { Console.Error.WriteLine("usage: GetAllRecords URL [iterations]"); return 2; }
        int n = args.Length > 1 ? int.Parse(args[1]) : 10;
        using (Session xen = Session.Connect(args[0], "root", "password"))
        {
            int count = 0;
            var typed = new List<double>();
            var call = new List<double>();
            for (int i = 0; i < n + 2; i++)
            {
                var sw = Stopwatch.StartNew();
                count = xen.GetAllVMRecords().Length;
                if (i >= 2) typed.Add(sw.Elapsed.TotalMilliseconds);
                sw.Restart();
                var d = (Dictionary<string, object>)xen.Call("VM.get_all_records");
                if (i >= 2) call.Add(sw.Elapsed.TotalMilliseconds);
                if (d.Count != count) throw new Exception("count mismatch");
            }
            Console.WriteLine("records {0}", count);
            Console.WriteLine("dotnet-typed {0:0.0}", Median(typed));
            Console.WriteLine("dotnet-call {0:0.0}", Median(call));
        }
        return 0;
    }
}
