// A program written the way XenServer.NET users write them: namespace XenAPI, a Session, static
// methods taking the session first, XenRef<T>, records with the datamodel's field names, Failure.
// It compiles against XenServer.NET's XenServer.dll or against this package's XenApi.dll with only
// the reference changed.
//
//   mono XenServerStyle.exe URL [USER] [PASSWORD]
using System;
using System.Collections.Generic;
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
        }
        finally
        {
            session.logout();
        }
        return 0;
    }
}
