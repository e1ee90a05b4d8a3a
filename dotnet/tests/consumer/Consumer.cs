// A program as a user of the XenApi package writes it, built against the package that
// `nuget install` restored from a local feed (dotnet.mk: dotnet-consumer-test). It lists the VMs of
// the simulator at XENAPI_URL, then prints the runtime and the file libxenapi was loaded from
// (/proc/self/maps), so the test can check which of the package's natives was picked.
using System;
using System.IO;
using System.Linq;
using XenAPI;
using Console = System.Console;

static class Consumer
{
    static int Main()
    {
        string url = Environment.GetEnvironmentVariable("XENAPI_URL");
        if (string.IsNullOrEmpty(url))
        {
            Console.Error.WriteLine("Consumer: XENAPI_URL is not set (run it under `xenapi-sim run`)");
            return 2;
        }
        using (var session = new Session(url))
        {
            session.login_with_password("root", "password");
            var names = VM.get_all_records(session).Values
                .Where(vm => !vm.is_a_template && !vm.is_control_domain)
                .Select(vm => vm.name_label)
                .OrderBy(name => name, StringComparer.Ordinal);
            Console.WriteLine("vms: " + string.Join(" ", names));
        }
        Console.WriteLine("libxenapi: " + Session.NativeVersion);
        Console.WriteLine("runtime: " + (Type.GetType("Mono.Runtime") != null ? "mono" : "coreclr"));
        string native = File.ReadLines("/proc/self/maps")
            .Select(line => line.IndexOf('/') >= 0 ? line.Substring(line.IndexOf('/')) : "")
            .FirstOrDefault(path => Path.GetFileName(path) == "libxenapi.so");
        Console.WriteLine("native: " + (native ?? "not mapped"));
        return 0;
    }
}
