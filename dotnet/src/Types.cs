using System;
using System.Collections.Generic;
using System.Reflection;

namespace XenApi
{
    /// <summary>A VM's power state (<c>vm_power_state</c>). Values are those of libxenapi.</summary>
    public enum VMPowerState
    {
        /// <summary>Off.</summary>
        Halted = 0,
        /// <summary>Paused: in memory, not scheduled.</summary>
        Paused = 1,
        /// <summary>Running.</summary>
        Running = 2,
        /// <summary>Suspended to disk.</summary>
        Suspended = 3,
        /// <summary>Crashed (xend 3.3 and later).</summary>
        Crashed = 4,
        /// <summary>A state this library does not know; the record's <c>power_state</c> has the text.</summary>
        Unknown = 5,
    }

    /// <summary>The server family found at login.</summary>
    public enum Dialect
    {
        /// <summary>xapi (XenServer, XCP-ng): <c>OpaqueRef:</c> references. Also before the first login.</summary>
        Xapi = 0,
        /// <summary>xend (Xen 3.x): UUID references.</summary>
        Xend = 1,
    }

    /// <summary>The utilisation of one (V)CPU: its number and a fraction from 0 to 1.</summary>
    public struct CpuUsage
    {
        /// <summary>The VCPU number (VM) or host_cpu number (host).</summary>
        public long Cpu { get; }
        /// <summary>Utilisation, from 0 to 1.</summary>
        public double Fraction { get; }
        /// <summary>Creates a reading.</summary>
        public CpuUsage(long cpu, double fraction) { Cpu = cpu; Fraction = fraction; }
        /// <inheritdoc/>
        public override string ToString() => Cpu + ": " + (Fraction * 100).ToString("0.0") + "%";

        internal static CpuUsage[] From(CpuUsageHandle h)
        {
            using (h)
            {
                int n = (int)NativeMethods.xenapi_cpu_usage_len(h);
                var r = new CpuUsage[n];
                for (int i = 0; i < n; i++)
                    r[i] = new CpuUsage(NativeMethods.xenapi_cpu_usage_cpu(h, (UIntPtr)i),
                                        NativeMethods.xenapi_cpu_usage_fraction(h, (UIntPtr)i));
                return r;
            }
        }
    }

    /// <summary>A host's memory, in bytes.</summary>
    public struct HostMemory
    {
        /// <summary>Total memory.</summary>
        public long Total { get; }
        /// <summary>Free memory.</summary>
        public long Free { get; }
        /// <summary>Memory in use (<see cref="Total"/> minus <see cref="Free"/>).</summary>
        public long Used => Total - Free;
        /// <summary>Creates a reading.</summary>
        public HostMemory(long total, long free) { Total = total; Free = free; }
    }

    /// <summary>Marks the wire text of an enum member when it differs from the member name.</summary>
    [AttributeUsage(AttributeTargets.Field)]
    public sealed class WireNameAttribute : Attribute
    {
        /// <summary>The text the server uses.</summary>
        public string Name { get; }
        /// <summary>Marks a member.</summary>
        public WireNameAttribute(string name) { Name = name; }
    }

    /// <summary>Enum members to and from the server's text.</summary>
    internal static class EnumWire
    {
        static readonly Dictionary<Enum, string> Names = new Dictionary<Enum, string>();

        internal static string Name(Enum e)
        {
            lock (Names)
            {
                if (Names.TryGetValue(e, out string n)) return n;
                FieldInfo f = e.GetType().GetField(e.ToString());
                var a = f?.GetCustomAttribute<WireNameAttribute>();
                n = a != null ? a.Name : e.ToString();
                Names[e] = n;
                return n;
            }
        }
    }
}
