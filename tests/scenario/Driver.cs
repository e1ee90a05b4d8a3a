// The scenario's C# driver: runs tests/scenario/scenario.txt (its head says what a step means)
// through Session.Call of the XenApi assembly against the simulator `xenapi-sim run` started
// around it (XENAPI_URL, XENAPI_DIALECT):
//
//     xenapi-sim run -- mono ScenarioDriver.exe tests/scenario/scenario.txt [xmlrpc|jsonrpc]
//
// It only translates the steps; at the first one that fails it names it, says why, and exits 1.
using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using XenAPI;
using Console = System.Console;

static class ScenarioDriver
{
    sealed class StepFailed : Exception
    {
        public StepFailed(string why) : base(why) { }
    }

    static readonly Dictionary<string, object> Kept = new Dictionary<string, object>();
    static Session session;

    static string Text(object v)
    {
        if (v is bool b) return b ? "true" : "false";
        if (v is string || v is long || v is int) return Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture);
        return null;
    }

    static object Word(string w)
    {
        if (w.StartsWith("$", StringComparison.Ordinal))
        {
            if (!Kept.TryGetValue(w, out object v)) throw new StepFailed(w + " is not kept by an earlier step");
            return v;
        }
        if (w == "true") return true;
        if (w == "false") return false;
        return w;
    }

    static string WordText(string w) => Text(Word(w)) ?? throw new StepFailed(w + " is not a scalar");

    static string Show(object v)
    {
        if (v is IDictionary d) return "{" + string.Join(", ", d.Keys.Cast<object>().Take(5)) + (d.Count > 5 ? ", …}" : "}");
        if (v is object[] a) return "[" + a.Length + " elements]";
        return Text(v) ?? (v == null ? "null" : v.GetType().Name);
    }

    static void Check(string[] expect, object result, Failure failure)
    {
        string kind = expect.Length > 0 ? expect[0] : "";
        if (kind == "error")
        {
            if (failure == null) throw new StepFailed("wanted the error " + expect[1] + ", the call gave " + Show(result));
            var want = expect.Skip(1).Select(w => w == "*" ? "*" : WordText(w)).ToList();
            var got = failure.ErrorDescription;
            if (got.Count != want.Count || want.Where((w, i) => w != "*" && w != got[i]).Any())
                throw new StepFailed("wanted the error " + string.Join(" ", want) + ", got " + string.Join(" ", got));
            return;
        }
        if (failure != null) throw new StepFailed("failed: " + string.Join(" ", failure.ErrorDescription));
        var record = result as IDictionary;
        switch (kind)
        {
            case "ok":
                return;
            case "=":
                if (Text(result) != WordText(expect[1])) throw new StepFailed("wanted " + expect[1] + ", got " + Show(result));
                return;
            case "field":
                if (record == null || !record.Contains(expect[1])) throw new StepFailed("wanted a record with the field " + expect[1] + ", got " + Show(result));
                if (Text(record[expect[1]]) != WordText(expect[3]))
                    throw new StepFailed("field " + expect[1] + ": wanted " + WordText(expect[3]) + ", got " + Show(record[expect[1]]));
                return;
            case "has":
                if (record == null || !record.Contains(expect[1])) throw new StepFailed("wanted a record with the field " + expect[1] + ", got " + Show(result));
                return;
            case "contains":
                if (!(result is object[] list) || !list.Any(x => Text(x) == WordText(expect[1])))
                    throw new StepFailed("wanted a list holding " + WordText(expect[1]) + ", got " + Show(result));
                return;
            case "nonempty":
                bool nonEmpty = result is string s ? s.Length > 0 : result is object[] arr ? arr.Length > 0 : record != null && record.Count > 0;
                if (!nonEmpty) throw new StepFailed("wanted a non-empty value, got " + Show(result));
                return;
            default:
                throw new StepFailed("unknown expectation " + kind);
        }
    }

    static object Call(string method, string[] args, string url, Protocol protocol)
    {
        switch (method)
        {
            case "login":
                if (session != null) session.Dispose();
                session = null;
                session = Session.Connect(new Options(url) { Protocol = protocol }, args[0], args[1]);
                return "";
            case "logout":
                if (session == null) throw new StepFailed("no login before this step");
                session.Logout();
                return "";
            default:
                if (session == null) throw new StepFailed("no login before this step");
                return session.Call(method, args.Select(Word).ToArray());
        }
    }

    static int Main(string[] argv)
    {
        string url = Environment.GetEnvironmentVariable("XENAPI_URL");
        string dialect = Environment.GetEnvironmentVariable("XENAPI_DIALECT");
        if (argv.Length < 1 || url == null || dialect == null)
        {
            Console.Error.WriteLine("usage: xenapi-sim run -- mono ScenarioDriver.exe SCENARIO [xmlrpc|jsonrpc]");
            return 2;
        }
        string protoName = argv.Length > 1 ? argv[1] : "auto";
        Protocol protocol = protoName == "jsonrpc" ? Protocol.JsonRpc : protoName == "xmlrpc" ? Protocol.XmlRpc : Protocol.Auto;
        int lineNo = 0, ran = 0;
        foreach (string line in File.ReadLines(argv[0]))
        {
            lineNo++;
            string[] words = line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0 || words[0].StartsWith("#", StringComparison.Ordinal)) continue;
            int e = Array.IndexOf(words, "expect");
            if (e < 2)
            {
                Console.Error.WriteLine(argv[0] + ":" + lineNo + ": a step is DIALECTS METHOD ARG... expect KIND");
                return 1;
            }
            if (words[0] != "any" && words[0] != dialect) continue;
            string[] call = words.Take(e).ToArray(), expect = words.Skip(e + 1).ToArray();
            string keep = null;
            bool first = false;
            int k = Array.IndexOf(call, "keep");
            if (k >= 0)
            {
                keep = call[k + 1];
                first = k + 2 < call.Length && call[k + 2] == "first";
                call = call.Take(k).ToArray();
            }
            try
            {
                object result = null;
                Failure failure = null;
                try { result = Call(call[1], call.Skip(2).ToArray(), url, protocol); }
                catch (Failure f) { failure = f; }
                catch (XenApiException x) { throw new StepFailed("failed, not with a XenAPI error: " + x.Message); }
                Check(expect, result, failure);
                if (keep != null)
                {
                    if (first)
                    {
                        if (!(result is object[] list) || list.Length == 0) throw new StepFailed("keep " + keep + " first: wanted a non-empty list");
                        result = list[0];
                    }
                    Kept[keep] = result;
                }
            }
            catch (StepFailed f)
            {
                Console.WriteLine("step " + lineNo + ": " + line.Trim() + " (C#, " + dialect + ", " + protoName + "): FAILED: " + f.Message);
                return 1;
            }
            Console.WriteLine("step " + lineNo + ": " + call[1] + " ok");
            ran++;
        }
        if (session != null) session.Dispose();
        Console.WriteLine("scenario: " + ran + " steps passed (C#, " + dialect + " dialect, " + protoName + ")");
        return 0;
    }
}
