using System;
using System.Collections.Generic;

namespace XenApi
{
    /// <summary>
    /// A virtual machine: power operations and metrics, the operations of the talk's XenAPI for C#.
    /// Get one from <see cref="Session.GetAllVMRecords"/>, <see cref="Session.GetVMsByNameLabel"/>
    /// or <see cref="Session.GetVM"/>. Wrong-state operations throw <see cref="XenApiException"/>
    /// with code <c>VM_BAD_POWER_STATE</c> (params: vm, expected, actual); a bad reference,
    /// <c>HANDLE_INVALID</c>. Dialect differences (xapi's and xend's <c>VM.start</c>) are handled
    /// by libxenapi.
    /// </summary>
    public sealed class VM : XenObject
    {
        internal VM(Session session, string reference) : base(session, reference) { }

        SessionHandle H => Session.Handle;

        /// <summary>The power state now (<c>VM.get_power_state</c>).</summary>
        public VMPowerState GetPowerState()
        {
            Check.Ok(NativeMethods.xenapi_vm_get_power_state(H, RefZ, out int state, out ErrorHandle err), err);
            return (VMPowerState)state;
        }

        /// <summary>The power state now (<c>VM.get_power_state</c>); a call to the server on each read.</summary>
        public VMPowerState PowerState => GetPowerState();

        /// <summary>Starts a halted VM (<c>VM.start</c>); <paramref name="startPaused"/> leaves it
        /// paused; <paramref name="force"/> overrides checks on xapi (ignored by xend).</summary>
        public void Start(bool startPaused = false, bool force = false)
        {
            Check.Ok(NativeMethods.xenapi_vm_start(H, RefZ, startPaused, force, out ErrorHandle err), err);
        }

        /// <summary>Resumes a suspended VM (<c>VM.resume</c>).</summary>
        public void Resume(bool startPaused = false, bool force = false)
        {
            Check.Ok(NativeMethods.xenapi_vm_resume(H, RefZ, startPaused, force, out ErrorHandle err), err);
        }

        /// <summary>Asks the guest to shut down (<c>VM.clean_shutdown</c>).</summary>
        public void CleanShutdown() { Check.Ok(NativeMethods.xenapi_vm_clean_shutdown(H, RefZ, out ErrorHandle err), err); }

        /// <summary>Stops a live VM at once (<c>VM.hard_shutdown</c>).</summary>
        public void HardShutdown() { Check.Ok(NativeMethods.xenapi_vm_hard_shutdown(H, RefZ, out ErrorHandle err), err); }

        /// <summary>Asks the guest to reboot (<c>VM.clean_reboot</c>).</summary>
        public void CleanReboot() { Check.Ok(NativeMethods.xenapi_vm_clean_reboot(H, RefZ, out ErrorHandle err), err); }

        /// <summary>Resets a live VM at once (<c>VM.hard_reboot</c>).</summary>
        public void HardReboot() { Check.Ok(NativeMethods.xenapi_vm_hard_reboot(H, RefZ, out ErrorHandle err), err); }

        /// <summary>Pauses a running VM (<c>VM.pause</c>).</summary>
        public void Pause() { Check.Ok(NativeMethods.xenapi_vm_pause(H, RefZ, out ErrorHandle err), err); }

        /// <summary>Unpauses a paused VM (<c>VM.unpause</c>).</summary>
        public void Unpause() { Check.Ok(NativeMethods.xenapi_vm_unpause(H, RefZ, out ErrorHandle err), err); }

        /// <summary>Suspends a running VM to disk (<c>VM.suspend</c>).</summary>
        public void Suspend() { Check.Ok(NativeMethods.xenapi_vm_suspend(H, RefZ, out ErrorHandle err), err); }

        /// <summary>The memory the VM has now, in bytes (<c>VM_metrics.memory_actual</c>); 0 when halted.</summary>
        public long GetMemoryActual()
        {
            Check.Ok(NativeMethods.xenapi_vm_get_memory_actual(H, RefZ, out long bytes, out ErrorHandle err), err);
            return bytes;
        }

        /// <summary>Utilisation of each VCPU, ordered by VCPU number (<c>VM_metrics.VCPUs_utilisation</c>);
        /// empty when halted.</summary>
        public CpuUsage[] GetVcpusUtilisation()
        {
            Check.Ok(NativeMethods.xenapi_vm_get_vcpus_utilisation(H, RefZ, out CpuUsageHandle u, out ErrorHandle err), err);
            return CpuUsage.From(u);
        }

        /// <summary>The whole record now (<c>VM.get_record</c>), as .NET values.</summary>
        public Dictionary<string, object> GetRecord() => (Dictionary<string, object>)Session.Call("VM.get_record", Ref);
    }

    /// <summary>
    /// A VM and its record as <c>VM.get_all_records</c> returned it. The typed properties cover the
    /// fields <c>xm list</c> shows; <see cref="Fields"/> has every field the server sent (unknown
    /// ones too) as .NET values.
    /// </summary>
    public sealed class VMRecord
    {
        /// <summary>The VM, for operations.</summary>
        public VM VM { get; }
        /// <summary>The VM reference.</summary>
        public string Ref => VM.Ref;
        /// <summary><c>uuid</c>.</summary>
        public string Uuid { get; }
        /// <summary><c>name_label</c>.</summary>
        public string NameLabel { get; }
        /// <summary><c>name_description</c>.</summary>
        public string NameDescription { get; }
        /// <summary><c>power_state</c> when the records were read.</summary>
        public VMPowerState PowerState { get; }
        /// <summary><c>power_state</c> as the server wrote it (for states this library does not know).</summary>
        public string PowerStateText { get; }
        /// <summary><c>domid</c>: the Xen domain ID, -1 when not running.</summary>
        public long DomId { get; }
        /// <summary><c>memory_dynamic_max</c> in bytes (0 if absent).</summary>
        public long MemoryDynamicMax { get; }
        /// <summary><c>memory_target</c> in bytes (0 if absent).</summary>
        public long MemoryTarget { get; }
        /// <summary><c>VCPUs_max</c> (0 if absent).</summary>
        public long VcpusMax { get; }
        /// <summary><c>VCPUs_at_startup</c> (0 if absent).</summary>
        public long VcpusAtStartup { get; }
        /// <summary><c>is_a_template</c>.</summary>
        public bool IsATemplate { get; }
        /// <summary><c>is_control_domain</c> (Domain-0).</summary>
        public bool IsControlDomain { get; }
        /// <summary><c>metrics</c>: the VM_metrics reference.</summary>
        public string Metrics { get; }
        /// <summary>Every field of the record, in the server's order, as .NET values. Converted from
        /// the native record on first use (the typed properties above never need it), then kept.</summary>
        public IReadOnlyDictionary<string, object> Fields
        {
            get
            {
                Dictionary<string, object> f = System.Threading.Volatile.Read(ref fields);
                if (f != null) return f;
                lock (source)
                {
                    if (fields == null)
                    {
                        bool added = false;
                        try
                        {
                            source.DangerousAddRef(ref added);
                            IntPtr rec = NativeMethods.xenapi_vm_list_record(source, (UIntPtr)index);
                            System.Threading.Volatile.Write(ref fields, (Dictionary<string, object>)Values.FromNative(rec));
                        }
                        finally
                        {
                            if (added) source.DangerousRelease();
                        }
                    }
                    return fields;
                }
            }
        }

        // The native list these records came from: immutable, shared by the records of one call,
        // freed when the last of them is collected.
        readonly VmListHandle source;
        readonly int index;
        Dictionary<string, object> fields;

        VMRecord(VM vm, string uuid, string name, VMPowerState state, IntPtr rec, VmListHandle source, int index)
        {
            this.source = source;
            this.index = index;
            VM = vm;
            Uuid = uuid;
            NameLabel = name;
            PowerState = state;
            DomId = Int(rec, "domid", -1);
            MemoryDynamicMax = Int(rec, "memory_dynamic_max", 0);
            MemoryTarget = Int(rec, "memory_target", 0);
            VcpusMax = Int(rec, "VCPUs_max", 0);
            VcpusAtStartup = Int(rec, "VCPUs_at_startup", 0);
            IsATemplate = Bool(rec, "is_a_template");
            IsControlDomain = Bool(rec, "is_control_domain");
            NameDescription = Str(rec, "name_description");
            PowerStateText = Str(rec, "power_state");
            Metrics = Str(rec, "metrics");
        }

        static string Str(IntPtr rec, string field)
        {
            IntPtr v = NativeMethods.xenapi_value_struct_get(rec, Key(field));
            if (v == IntPtr.Zero || NativeMethods.xenapi_value_get_string(v, out IntPtr s, IntPtr.Zero) != Status.Ok) return null;
            return Utf8.Read(s);
        }

        // int64 fields travel as strings; libxenapi reads them (xenapi_value_get_int64).
        static readonly Dictionary<string, byte[]> Keys = new Dictionary<string, byte[]>();
        static byte[] Key(string k)
        {
            lock (Keys)
            {
                if (!Keys.TryGetValue(k, out byte[] z)) Keys[k] = z = Utf8.Z(k);
                return z;
            }
        }

        static long Int(IntPtr rec, string field, long missing)
        {
            IntPtr v = NativeMethods.xenapi_value_struct_get(rec, Key(field));
            if (v == IntPtr.Zero) return missing;
            return NativeMethods.xenapi_value_get_int64(v, out long l, IntPtr.Zero) == Status.Ok ? l : missing;
        }

        static bool Bool(IntPtr rec, string field)
        {
            IntPtr v = NativeMethods.xenapi_value_struct_get(rec, Key(field));
            return v != IntPtr.Zero && NativeMethods.xenapi_value_get_bool(v, out bool b, IntPtr.Zero) == Status.Ok && b;
        }

        internal static VMRecord[] FromList(Session session, VmListHandle list)
        {
            int n = (int)NativeMethods.xenapi_vm_list_len(list);
            var r = new VMRecord[n];
            for (int i = 0; i < n; i++)
            {
                var ix = (UIntPtr)i;
                r[i] = new VMRecord(
                    new VM(session, Utf8.Read(NativeMethods.xenapi_vm_list_ref(list, ix))),
                    Utf8.Read(NativeMethods.xenapi_vm_list_uuid(list, ix)),
                    Utf8.Read(NativeMethods.xenapi_vm_list_name_label(list, ix)),
                    (VMPowerState)NativeMethods.xenapi_vm_list_power_state(list, ix),
                    NativeMethods.xenapi_vm_list_record(list, ix), list, i);
            }
            if (n == 0) list.Dispose();
            return r;
        }

        /// <inheritdoc/>
        public override string ToString() => NameLabel + " (" + PowerState + ")";
    }
}
