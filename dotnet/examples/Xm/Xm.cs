// xm.exe: the sample of the 2007 talk "Xen API" (XenAPI for C#), on the generated XenAPI over libxenapi.
//
//   mono Xm.exe [-s URL] [-u USER] [-p PASSWORD] [--fingerprint SHA256 | --ca-file PEM | --insecure]
//               list | start NAME | stop NAME [--hard] | reboot NAME [--hard] | pause NAME
//               | unpause NAME | suspend NAME | resume NAME | dmesg [N] | log [N] | top | methods
//
// top: CPU and memory from the RRDs on xapi (/rrd_updates), from the metrics fields on xend.
//
// URL defaults to $XENAPI_URL, else http://127.0.0.1:9363 (xend's port); user root, password from
// $XENAPI_PASSWORD, else "password".
using System;
using System.Collections.Generic;
using System.Linq;
using XenAPI;

static class Xm
{
    static int Usage()
    {
        System.Console.Error.WriteLine("usage: Xm [-s URL] [-u USER] [-p PASSWORD] [--fingerprint FP | --ca-file PEM | --insecure] COMMAND [NAME]");
        System.Console.Error.WriteLine("commands: list, start, stop [--hard], reboot [--hard], pause, unpause, suspend, resume, dmesg [N], log [N], top, methods");
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
                    case "methods": foreach (string m in xen.ListMethods()) System.Console.WriteLine(m); break;
                    case "dmesg": System.Console.Write(Tail(XenAPI.Host.dmesg(xen, FirstHost(xen)), name)); break;
                    case "log": System.Console.Write(Tail(XenAPI.Host.get_log(xen, FirstHost(xen)), name)); break;
                    case "top": Top(xen); break;
                    case "start": VM.start(xen, Find(xen, name), false, false); Done(xen, name); break;
                    case "stop":
                    case "shutdown":
                        if (hard) VM.hard_shutdown(xen, Find(xen, name)); else VM.clean_shutdown(xen, Find(xen, name));
                        Done(xen, name); break;
                    case "reboot":
                        if (hard) VM.hard_reboot(xen, Find(xen, name)); else VM.clean_reboot(xen, Find(xen, name));
                        Done(xen, name); break;
                    case "pause": VM.pause(xen, Find(xen, name)); Done(xen, name); break;
                    case "unpause": VM.unpause(xen, Find(xen, name)); Done(xen, name); break;
                    case "suspend": VM.suspend(xen, Find(xen, name)); Done(xen, name); break;
                    case "resume": VM.resume(xen, Find(xen, name), false, false); Done(xen, name); break;
                    default: return Usage();
                }
            }
            return 0;
        }
        catch (XenApiException e)
        {
            // e.Message names the code and its parameters; never the password or session.
            System.Console.Error.WriteLine("Error: " + e.Message);
            return 1;
        }
        catch (ArgumentException e)
        {
            System.Console.Error.WriteLine("Error: " + e.Message);
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

    static XenRef<XenAPI.Host> FirstHost(Session xen)
    {
        List<XenRef<XenAPI.Host>> hosts = XenAPI.Host.get_all(xen);
        if (hosts.Count == 0) throw new ArgumentException("the server lists no host");
        return hosts[0];
    }

    static XenRef<VM> Find(Session xen, string name)
    {
        if (name == null) throw new ArgumentException("which VM? give its name");
        List<XenRef<VM>> vms = VM.get_by_name_label(xen, name);
        if (vms.Count == 0) throw new ArgumentException("no VM is named " + name);
        if (vms.Count > 1) throw new ArgumentException(vms.Count + " VMs are named " + name);
        return vms[0];
    }

    static void Done(Session xen, string name) =>
        System.Console.WriteLine("{0}: {1}", name, VM.get_power_state(xen, Find(xen, name)));

    static bool Live(VM r) => r.power_state == vm_power_state.Running || r.power_state == vm_power_state.Paused;

    // xm list: Name, ID, Mem, VCPUs, State, and CPU use (XenAPI has no per-domain CPU time, so
    // the last column is the mean VCPU utilisation instead of xm's Time(s)).
    static void List(Session xen)
    {
        var vms = VM.get_all_records(xen).Values
            .Where(r => !r.is_a_template)
            .OrderBy(r => r.is_control_domain ? 0 : 1).ThenBy(r => r.name_label, StringComparer.Ordinal)
            .ToArray();
        int w = Math.Max(4, vms.Select(r => r.name_label.Length).DefaultIfEmpty(0).Max());
        string row = "{0,-" + w + "} {1,5} {2,7} {3,5} {4,-10} {5,6}";
        System.Console.WriteLine(row, "Name", "ID", "Mem", "VCPUs", "State", "CPU%");
        var updates = new Dictionary<string, Rrd.Updates>(); // fetched once, on the first running VM
        foreach (VM r in vms)
        {
            bool live = Live(r);
            long mem = live ? VM_metrics.get_memory_actual(xen, r.metrics) : r.memory_dynamic_max;
            double[] cpu = !live ? new double[0]
                : xen.Dialect == Dialect.Xapi ? VcpusFromRrd(xen, r, updates)
                : VM_metrics.get_VCPUs_utilisation(xen, r.metrics).Values.ToArray();
            System.Console.WriteLine(row,
                r.name_label, r.domid >= 0 ? r.domid.ToString() : "-", mem >> 20,
                cpu.Length > 0 ? cpu.Length : r.VCPUs_max, r.power_state,
                cpu.Length > 0 ? (cpu.Average() * 100).ToString("0.0") : "-");
        }
    }

    // A running VM's vCPUs from the last row of the session host's /rrd_updates (xapi since 6.1
    // refuses VM_metrics.VCPUs_utilisation with MESSAGE_REMOVED). A host answers only for the VMs
    // it runs: those elsewhere in a pool show "-" here (`top` asks each VM's own host).
    static double[] VcpusFromRrd(Session xen, VM r, Dictionary<string, Rrd.Updates> cache)
    {
        if (!cache.TryGetValue("", out Rrd.Updates u))
            cache[""] = u = Rrd.FetchUpdates(xen, -60, 0, "AVERAGE");
        var cpus = new List<double>();
        for (int i = 0; ; i++)
        {
            int col = u.Find("vm", r.uuid, "cpu" + i);
            if (col < 0 || u.Rows.Count == 0) break;
            cpus.Add(u.Rows[0].Values[col]);
        }
        return cpus.ToArray();
    }

    // CPU and memory of the host and of each running VM. xend has them as fields; xapi (since
    // XenServer 6.1) only in its RRDs: VM_metrics.VCPUs_utilisation and host_metrics.memory_free
    // are refused (MESSAGE_REMOVED; records carry zeros), so `top` asks the RRDs (the last minute).
    static void Top(Session xen)
    {
        if (xen.Dialect == Dialect.Xapi) { TopFromRrds(xen); return; }
        foreach (XenRef<XenAPI.Host> h in XenAPI.Host.get_all(xen))
        {
            XenAPI.Host host = XenAPI.Host.get_record(xen, h);
            Host_metrics m = Host_metrics.get_record(xen, host.metrics);
            double[] cpus = host.host_CPUs.Select(c => Host_cpu.get_utilisation(xen, c)).ToArray();
            HostLine(host.name_label, cpus, m.memory_total - m.memory_free, m.memory_total);
        }
        VM[] running = RunningVms(xen);
        int w = running.Select(r => r.name_label.Length).DefaultIfEmpty(4).Max();
        foreach (VM r in running)
        {
            var v = VM_metrics.get_VCPUs_utilisation(xen, r.metrics).OrderBy(kv => kv.Key).Select(kv => (double?)kv.Value);
            VmLine(r.name_label, w, VM_metrics.get_memory_actual(xen, r.metrics), v);
        }
    }

    static void TopFromRrds(Session xen)
    {
        foreach (XenRef<XenAPI.Host> h in XenAPI.Host.get_all(xen))
        {
            XenAPI.Host host = XenAPI.Host.get_record(xen, h);
            Rrd.Usage u = Rrd.HostUsage(xen, host.uuid, 1);
            double[] cpus = u.Cpus.Where(c => c.HasValue).Select(c => c.Value).ToArray();
            double total = u.MemoryTotal ?? 0;
            double used = u.MemoryUsed ?? (u.MemoryFree.HasValue ? total - u.MemoryFree.Value : 0);
            HostLine(host.name_label, cpus, (long)used, (long)total);
        }
        VM[] running = RunningVms(xen);
        int w = running.Select(r => r.name_label.Length).DefaultIfEmpty(4).Max();
        foreach (VM r in running)
        {
            Rrd.Usage u = Rrd.VmUsage(xen, r.uuid, 1);
            VmLine(r.name_label, w, (long)(u.MemoryTotal ?? 0), u.Cpus);
        }
    }

    static VM[] RunningVms(Session xen) =>
        VM.get_all_records(xen).Values.Where(r => r.power_state == vm_power_state.Running)
            .OrderBy(r => r.name_label, StringComparer.Ordinal).ToArray();

    static void HostLine(string name, double[] cpus, long used, long total) =>
        System.Console.WriteLine("host {0}: {1} CPUs at {2:0.0}%, memory {3} MiB used of {4} MiB",
            name, cpus.Length, cpus.Length > 0 ? cpus.Average() * 100 : 0, used >> 20, total >> 20);

    static void VmLine(string name, int width, long memory, IEnumerable<double?> vcpus) =>
        System.Console.WriteLine("  {0,-" + width + "} mem {1,6} MiB  vcpus {2}", name, memory >> 20,
            string.Join(" ", vcpus.Select(c => c.HasValue ? (c.Value * 100).ToString("0") + "%" : "-")));
}
