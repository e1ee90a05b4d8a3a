namespace XenApi
{
    /// <summary>A host (physical server): CPU and memory use, the Xen console and the daemon's log.</summary>
    public sealed class Host : XenObject
    {
        internal Host(Session session, string reference) : base(session, reference) { }

        SessionHandle H => Session.Handle;

        /// <summary>The Xen console ring (<c>host.dmesg</c>, what <c>xm dmesg</c> shows).</summary>
        public string Dmesg()
        {
            Check.Ok(NativeMethods.xenapi_host_dmesg(H, RefZ, out NativeStringHandle s, out ErrorHandle err), err);
            using (s) return s.Read();
        }

        /// <summary>The management daemon's log (<c>host.get_log</c>: xend's or xapi's).</summary>
        public string GetLog()
        {
            Check.Ok(NativeMethods.xenapi_host_get_log(H, RefZ, out NativeStringHandle s, out ErrorHandle err), err);
            using (s) return s.Read();
        }

        /// <summary>Utilisation of each physical CPU, ordered by number (<c>host_cpu.utilisation</c>).</summary>
        public CpuUsage[] GetCpuUtilisation()
        {
            Check.Ok(NativeMethods.xenapi_host_get_cpu_utilisation(H, RefZ, out CpuUsageHandle u, out ErrorHandle err), err);
            return CpuUsage.From(u);
        }

        /// <summary>Total and free memory (<c>host_metrics.memory_total</c>, <c>memory_free</c>).</summary>
        public HostMemory GetMemory()
        {
            Check.Ok(NativeMethods.xenapi_host_get_memory(H, RefZ, out long total, out long free, out ErrorHandle err), err);
            return new HostMemory(total, free);
        }
    }
}
