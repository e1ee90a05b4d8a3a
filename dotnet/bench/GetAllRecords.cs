// Times VM.get_all_records from C# through the generated API against a simulator:
//   mono GetAllRecords.exe URL [iterations [jsonrpc|xmlrpc [label-suffix]]]
// Prints "dotnet-typed-PROTOCOL<suffix> <best ms>" (VM.get_all_records: Dictionary<XenRef<VM>, VM>,
// every field read through the C getters) and "dotnet-call-PROTOCOL<suffix> <best ms>"
// (Session.Call: Dictionary of Dictionaries); the protocol defaults to jsonrpc. make dotnet-bench runs it as is and with MONO_THREADS_SUSPEND=preemptive
// (suffix "-preemptive"), under which each native call costs Mono less.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using XenAPI;

static class GetAllRecords
{
    static int Main(string[] args)
    {
        if (args.Length < 1) { System.Console.Error.WriteLine("usage: GetAllRecords URL [iterations]"); return 2; }
        int n = args.Length > 1 ? int.Parse(args[1]) : 10;
        string protocol = args.Length > 2 ? args[2] : "jsonrpc";
        string suffix = args.Length > 3 ? args[3] : "";
        var options = new Options(args[0])
        {
            Protocol = protocol == "xmlrpc" ? Protocol.XmlRpc : Protocol.JsonRpc,
        };
        if (protocol != "xmlrpc" && protocol != "jsonrpc") { System.Console.Error.WriteLine("the protocol is jsonrpc or xmlrpc"); return 2; }
        using (Session xen = Session.Connect(options, "root", "password"))
        {
            int count = 0;
            var typed = new List<double>();
            var call = new List<double>();
            for (int i = 0; i < n + 2; i++)
            {
                var sw = Stopwatch.StartNew();
                count = VM.get_all_records(xen).Count;
                if (i >= 2) typed.Add(sw.Elapsed.TotalMilliseconds);
                sw.Restart();
                var d = (Dictionary<string, object>)xen.Call("VM.get_all_records");
                if (i >= 2) call.Add(sw.Elapsed.TotalMilliseconds);
                if (d.Count != count) throw new Exception("count mismatch");
            }
            System.Console.WriteLine("records {0}", count);
            System.Console.WriteLine("dotnet-typed-{0}{1} {2:0.0}", protocol, suffix, typed.Min());
            System.Console.WriteLine("dotnet-call-{0}{1} {2:0.0}", protocol, suffix, call.Min());
        }
        return 0;
    }
}
