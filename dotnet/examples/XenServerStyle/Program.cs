// A program written the way XenServer.NET users write them: namespace XenAPI, a Session, static
// methods taking the session first, XenRef<T>, records with the datamodel's field names, Failure.
// It compiles against XenServer.NET's XenServer.dll or against this package's XenApi.dll with only
// the reference changed.
//
//   mono XenServerStyle.exe URL [USER] [PASSWORD] [--disk]
//
// --disk (xapi only: xend has no HTTP handlers): a disk round trip through HTTP_actions, with a
// task from Task.create, as XenServer.NET programs do it.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using XenAPI;

static class Program
{
    static int Main(string[] args)
    {
        if (args.Length < 1)
        {
            System.Console.Error.WriteLine("usage: XenServerStyle URL [USER] [PASSWORD]");
            return 2;
        }
        bool disk = args.Contains("--disk");
        args = args.Where(a => a != "--disk").ToArray();
        var session = new Session(args[0]);
        session.login_with_password(args.Length > 1 ? args[1] : "root", args.Length > 2 ? args[2] : "password");
        try
        {
            XenRef<VM> halted = null, running = null;
            foreach (KeyValuePair<XenRef<VM>, VM> kv in VM.get_all_records(session))
            {
                VM vm = kv.Value;
                if (vm.is_a_template || vm.is_control_domain)
                    continue;
                System.Console.WriteLine("{0,-12} {1,-10} {2,6} MiB {3} VCPUs", vm.name_label, vm.power_state,
                    vm.memory_static_max >> 20, vm.VCPUs_max);
                if (vm.power_state == vm_power_state.Halted && halted == null) halted = kv.Key;
                if (vm.power_state == vm_power_state.Running && running == null) running = kv.Key;
            }

            foreach (XenRef<Host> host in Host.get_all(session))
            {
                Host h = Host.get_record(session, host);
                Host_metrics m = Host_metrics.get_record(session, h.metrics);
                System.Console.WriteLine("host {0}: {1} CPUs, {2} of {3} MiB free", h.name_label, h.host_CPUs.Count,
                    m.memory_free >> 20, m.memory_total >> 20);
            }

            if (running != null)
            {
                VM.clean_shutdown(session, running);
                System.Console.WriteLine("shut down: {0}", VM.get_power_state(session, running));
            }
            if (halted != null)
            {
                XenRef<Task> task = VM.async_start(session, halted.opaque_ref, false, true);
                while (Task.get_status(session, task) == task_status_type.pending)
                    Thread.Sleep(50);
                System.Console.WriteLine("task {0}: {1}", Task.get_name_label(session, task), Task.get_status(session, task));
                try
                {
                    VM.start(session, halted, false, false);
                }
                catch (Failure f)
                {
                    System.Console.WriteLine("refused: {0}", string.Join(" ", f.ErrorDescription));
                    if (f.ErrorDescription[0] != Failure.VM_BAD_POWER_STATE) return 1;
                }
            }
            if (disk && !DiskRoundTrip(session, new Uri(args[0]).Host)) return 1;
        }
        finally
        {
            session.logout();
        }
        return 0;
    }

    // A new 2 MiB disk: a file in by PUT /import_raw_vdi, out again by GET /export_raw_vdi, each
    // under a task the program made and reads afterwards.
    static bool DiskRoundTrip(Session session, string hostname)
    {
        XenRef<SR> sr = Pool.get_default_SR(session, Pool.get_all(session)[0]);
        XenRef<VDI> vdi = VDI.create(session, new VDI
        {
            name_label = "XenServerStyle disk", name_description = "", SR = sr, virtual_size = 2 << 20,
            type = vdi_type.user, other_config = new Dictionary<string, string>(),
            xenstore_data = new Dictionary<string, string>(), sm_config = new Dictionary<string, string>(), tags = new string[0],
        });
        string dir = Path.Combine(Path.GetTempPath(), "XenServerStyle-" + System.Diagnostics.Process.GetCurrentProcess().Id);
        Directory.CreateDirectory(dir);
        try
        {
            var content = new byte[2 << 20];
            new Random(20).NextBytes(content);
            string upload = Path.Combine(dir, "in.raw"), download = Path.Combine(dir, "out.raw");
            File.WriteAllBytes(upload, content);

            XenRef<Task> task = Task.create(session, "upload", "");
            int percent = 0;
            HTTP_actions.put_import_raw_vdi(p => percent = p, () => false, 60000, hostname, null, upload,
                task.opaque_ref, session.opaque_ref, vdi.opaque_ref, "raw");
            System.Console.WriteLine("upload: {0}%, task {1}", percent, Task.get_status(session, task));
            Task.destroy(session, task);

            task = Task.create(session, "download", "");
            long bytes = 0;
            HTTP_actions.get_export_raw_vdi(b => bytes = b, () => false, 60000, hostname, null, download,
                task.opaque_ref, session.opaque_ref, vdi.opaque_ref, "raw");
            bool same = File.ReadAllBytes(download).SequenceEqual(content);
            System.Console.WriteLine("download: {0} bytes, task {1}, {2}", bytes, Task.get_status(session, task),
                same ? "identical" : "DIFFERENT");
            Task.destroy(session, task);
            return same;
        }
        finally
        {
            VDI.destroy(session, vdi);
            Directory.Delete(dir, true);
        }
    }
}
