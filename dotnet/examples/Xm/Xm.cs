// xm.exe: the sample of the 2007 talk "Xen API" (XenAPI for C#), on XenApi over libxenapi.
//
//   mono Xm.exe [-s URL] [-u USER] [-p PASSWORD] [--fingerprint SHA256 | --ca-file PEM | --insecure]
//               list | start NAME | stop NAME [--hard] | reboot NAME [--hard] | pause NAME
//               | unpause NAME | suspend NAME | resume NAME | dmesg [N] | log [N] | top | methods
//
// URL defaults to $XENAPI_URL, else http://127.0.0.1:9363 (xend's port); user root, password from
// $XENAPI_PASSWORD, else "password".
using System;
using System.Collections.Generic;
using System.Linq;
using XenApi;

static class Xm
{
    static int Usage()
    {
        Console.Error.WriteLine("usage: Xm [-s URL] [-u USER] [-p PASSWORD] [--fingerprint FP | --ca-file PEM | --insecure] COMMAND [NAME]");
        Console.Error.WriteLine("commands: list, start, stop [--hard], reboot [--hard], pause, unpause, suspend, resume, dmesg [N], log [N], top, methods");
        return 2;
    }

    static int Main(string[] argv)
    {
        string url = Environment.GetEnvironmentVariable("XENAPI_URL") ?? "http://127.0.0.1:9363";
        string user = "root";
        string password = Environment.GetEnvironmentVariable("XENAPI_PASSWORD") ?? "password";
        string fingerprint = null, caFile = null;
        bool insecure = false, hard = false;
        var rest = new List<string>();
        for (int i = 0; i < argv.Length; i++)
        {
            string a = argv[i];
            Func<string> next = () => ++i < argv.Length ? argv[i] : throw new ArgumentException(a + " needs a value");
            switch (a)
            {
                case "-s": case "--server": url = next(); break;
                case "-u": case "--user": user = next(); break;
                case "-p": case "--password": password = next(); break;
                case "--fingerprint": fingerprint = next(); break;
                case "--ca-file": caFile = next(); break;
                case "--insecure": insecure = true; break;
                case "--hard": hard = true; break;
                case "-h": case "--help": return Usage();
                default: rest.Add(a); break;
            }
        }
        if (rest.Count == 0) return Usage();
        string command = rest[0];
        string name = rest.Count > 1 ? rest[1] : null;

        var options = new Options(url) { Fingerprint = fingerprint, CaFile = caFile, InsecureSkipVerify = insecure };
        try
        {
            using (Session xen = Session.Connect(options, user, password))
            {
                switch (command)
                {
                    case "list": List(xen); break;
                    case "methods": foreach (string m in xen.ListMethods()) Console.WriteLine(m); break;
                    case "dmesg": Console.Write(Tail(xen.Host.Dmesg(), name)); break;
                    case "log": Console.Write(Tail(xen.Host.GetLog(), name)); break;
                    case "top": Top(xen); break;
                    case "start": Find(xen, name).Start(); Done(xen, name); break;
                    case "stop":
                    case "shutdown":
                        if (hard) Find(xen, name).HardShutdown(); else Find(xen, name).CleanShutdown();
                        Done(xen, name); break;
                    case "reboot":
                        if (hard) Find(xen, name).HardReboot(); else Find(xen, name).CleanReboot();
                        Done(xen, name); break;
                    case "pause": Find(xen, name).Pause(); Done(xen, name); break;
                    case "unpause": Find(xen, name).Unpause(); Done(xen, name); break;
                    case "suspend": Find(xen, name).Suspend(); Done(xen, name); break;
                    case "resume": Find(xen, name).Resume(); Done(xen, name); break;
                    default: return Usage();
                }
            }
            return 0;
        }
        catch (XenApiException e)
        {
            // e.Message names the code and its parameters; never the password or session.
            Console.Error.WriteLine("Error: " + e.Message);
            return 1;
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine("Error: " + e.Message);
            return 2;
        }
        catch (System.IO.IOException)
        {
            return 0; // stdout closed early (xm methods | head): not an error
        }
    }

    // The last N lines of a text (all when N is not given), ending with a newline.
    static string Tail(string text, string n)
    {
        string[] lines = text.TrimEnd('\n').Split('\n');
        int keep = n == null ? lines.Length : Math.Min(lines.Length, int.Parse(n));
        return string.Join("\n", lines, lines.Length - keep, keep) + "\n";
    }

    static VM Find(Session xen, string name)
    {
        if (name == null) throw new ArgumentException("which VM? give its name");
        VM[] vms = xen.GetVMsByNameLabel(name);
        if (vms.Length == 0) throw new ArgumentException("no VM is named " + name);
        if (vms.Length > 1) throw new ArgumentException(vms.Length + " VMs are named " + name);
        return vms[0];
    }

    static void Done(Session xen, string name) =>
        Console.WriteLine("{0}: {1}", name, Find(xen, name).PowerState);

    // xm list: Name, ID, Mem, VCPUs, State, and CPU use (XenAPI has no per-domain CPU time, so
    // the last column is the mean VCPU utilisation instead of xm's Time(s)).
    static void List(Session xen)
    {
        VMRecord[] vms = xen.GetAllVMRecords()
            .Where(r => !r.IsATemplate)
            .OrderBy(r => r.IsControlDomain ? 0 : 1).ThenBy(r => r.NameLabel, StringComparer.Ordinal)
            .ToArray();
        int w = Math.Max(4, vms.Select(r => (r.NameLabel ?? "").Length).DefaultIfEmpty(0).Max());
        string row = "{0,-" + w + "} {1,5} {2,7} {3,5} {4,-10} {5,6}";
        Console.WriteLine(row, "Name", "ID", "Mem", "VCPUs", "State", "CPU%");
        foreach (VMRecord r in vms)
        {
            bool live = r.PowerState == VMPowerState.Running || r.PowerState == VMPowerState.Paused;
            long mem = live ? r.VM.GetMemoryActual() : r.MemoryDynamicMax;
            CpuUsage[] cpu = live ? r.VM.GetVcpusUtilisation() : new CpuUsage[0];
            Console.WriteLine(row,
                r.NameLabel, r.DomId >= 0 ? r.DomId.ToString() : "-", mem >> 20,
                cpu.Length > 0 ? cpu.Length : r.VcpusMax, r.PowerState,
                cpu.Length > 0 ? (cpu.Average(c => c.Fraction) * 100).ToString("0.0") : "-");
        }
    }

    // CPU and memory of the host and of each running VM.
    static void Top(Session xen)
    {
        foreach (Host h in xen.GetHosts())
        {
            HostMemory m = h.GetMemory();
            CpuUsage[] cpus = h.GetCpuUtilisation();
            Console.WriteLine("host {0}: {1} CPUs at {2:0.0}%, memory {3} MiB used of {4} MiB",
                xen.Call("host.get_name_label", h), cpus.Length, cpus.Length > 0 ? cpus.Average(c => c.Fraction) * 100 : 0, m.Used >> 20, m.Total >> 20);
        }
        VMRecord[] running = xen.GetAllVMRecords().Where(r => r.PowerState == VMPowerState.Running).ToArray();
        int w = running.Select(r => (r.NameLabel ?? "").Length).DefaultIfEmpty(4).Max();
        foreach (VMRecord r in running)
        {
            CpuUsage[] v = r.VM.GetVcpusUtilisation();
            Console.WriteLine("  {0,-" + w + "} mem {1,6} MiB  vcpus {2}", r.NameLabel, r.VM.GetMemoryActual() >> 20,
                string.Join(" ", v.Select(c => (c.Fraction * 100).ToString("0") + "%")));
        }
    }
}
