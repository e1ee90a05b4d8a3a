using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;

namespace XenAPI
{
    /// <summary>
    /// Live figures from xapi's RRDs (<c>/rrd_updates</c>, served by xcp-rrdd beside the API):
    /// since XenServer 6.1 the only source of CPU, memory, disk and network use
    /// (<c>VM_metrics.VCPUs_utilisation</c> and <c>host_metrics.memory_free</c> are gone). Parsed
    /// by libxenapi (XML or JSON, NaN kept); each request goes to the host that holds the figures.
    /// <code>
    /// Rrd.Usage u = Rrd.VmUsage(session, vm.uuid, 5);
    /// foreach (double? cpu in u.Cpus) Console.WriteLine(cpu.HasValue ? (cpu * 100).ToString() : "-");
    /// </code>
    /// </summary>
    public static class Rrd
    {
        /// <summary>One column of an update: <c>CF:kind:uuid:name</c> (<c>AVERAGE:vm:UUID:cpu0</c>).</summary>
        public sealed class Column
        {
            /// <summary>The consolidation function: AVERAGE, MIN, MAX, LAST.</summary>
            public string Cf { get; }
            /// <summary>What the figure is of: <c>vm</c>, <c>host</c>, <c>sr</c>.</summary>
            public string Kind { get; }
            /// <summary>The object's UUID.</summary>
            public string Uuid { get; }
            /// <summary>The data source (<c>cpu0</c>, <c>memory_internal_free</c>, ...).</summary>
            public string Name { get; }

            internal Column(string cf, string kind, string uuid, string name) { Cf = cf; Kind = kind; Uuid = uuid; Name = name; }

            /// <summary><c>CF:kind:uuid:name</c>, as in the legend.</summary>
            public override string ToString() => Cf + ":" + Kind + ":" + Uuid + ":" + Name;
        }

        /// <summary>One row: a time and one value per column or data source (NaN where the server had none).</summary>
        public sealed class Row
        {
            /// <summary>Seconds since the epoch.</summary>
            public long Time { get; }
            /// <summary>The row's time, UTC.</summary>
            public DateTime TimeUtc => Epoch.AddSeconds(Time);
            /// <summary>The values, in column order.</summary>
            public ReadOnlyCollection<double> Values { get; }

            internal Row(long time, double[] values) { Time = time; Values = Array.AsReadOnly(values); }
        }

        /// <summary>What <c>/rrd_updates</c> answered.</summary>
        public sealed class Updates
        {
            /// <summary>The first row's time (seconds since the epoch).</summary>
            public long Start { get; }
            /// <summary>The last row's time.</summary>
            public long End { get; }
            /// <summary>Seconds between rows.</summary>
            public long Step { get; }
            /// <summary>The columns.</summary>
            public ReadOnlyCollection<Column> Columns { get; }
            /// <summary>The rows, as the server ordered them.</summary>
            public ReadOnlyCollection<Row> Rows { get; }

            internal Updates(long start, long end, long step, Column[] columns, Row[] rows)
            {
                Start = start; End = end; Step = step;
                Columns = Array.AsReadOnly(columns);
                Rows = Array.AsReadOnly(rows);
            }

            /// <summary>The index of the column with these parts (null matches any), or -1.</summary>
            public int Find(string kind, string uuid, string name, string cf = null)
            {
                for (int i = 0; i < Columns.Count; i++)
                {
                    Column c = Columns[i];
                    if ((kind == null || c.Kind == kind) && (uuid == null || c.Uuid == uuid)
                        && (name == null || c.Name == name) && (cf == null || c.Cf == cf))
                        return i;
                }
                return -1;
            }
        }

        /// <summary>A VM's or host's use over the last minutes (means of the rows); null where the
        /// server has no such data source or only NaN.</summary>
        public sealed class Usage
        {
            /// <summary>Per vCPU (a VM) or pCPU (a host), 0..1.</summary>
            public ReadOnlyCollection<double?> Cpus { get; }
            /// <summary>Bytes.</summary>
            public double? MemoryTotal { get; }
            /// <summary>Bytes.</summary>
            public double? MemoryFree { get; }
            /// <summary>Bytes.</summary>
            public double? MemoryUsed { get; }
            /// <summary>Bytes per second.</summary>
            public double? DiskRead { get; }
            /// <summary>Bytes per second.</summary>
            public double? DiskWrite { get; }
            /// <summary>Bytes per second.</summary>
            public double? NetRx { get; }
            /// <summary>Bytes per second.</summary>
            public double? NetTx { get; }

            internal Usage(RrdUsageHandle u)
            {
                int n = (int)TransferNative.xenapi_rrd_usage_cpu_count(u);
                var cpus = new double?[n];
                for (int i = 0; i < n; i++)
                    cpus[i] = TransferNative.xenapi_rrd_usage_cpu(u, (UIntPtr)i, out double v) ? v : (double?)null;
                Cpus = Array.AsReadOnly(cpus);
                MemoryTotal = TransferNative.xenapi_rrd_usage_memory_total(u, out double mt) ? mt : (double?)null;
                MemoryFree = TransferNative.xenapi_rrd_usage_memory_free(u, out double mf) ? mf : (double?)null;
                MemoryUsed = TransferNative.xenapi_rrd_usage_memory_used(u, out double mu) ? mu : (double?)null;
                DiskRead = TransferNative.xenapi_rrd_usage_disk_read(u, out double dr) ? dr : (double?)null;
                DiskWrite = TransferNative.xenapi_rrd_usage_disk_write(u, out double dw) ? dw : (double?)null;
                NetRx = TransferNative.xenapi_rrd_usage_net_rx(u, out double rx) ? rx : (double?)null;
                NetTx = TransferNative.xenapi_rrd_usage_net_tx(u, out double tx) ? tx : (double?)null;
            }
        }

        /// <summary>One archive of a whole RRD: a consolidation function at one resolution.</summary>
        public sealed class Archive
        {
            /// <summary>AVERAGE, MIN, MAX or LAST.</summary>
            public string Cf { get; }
            /// <summary>Seconds between rows.</summary>
            public long Step { get; }
            /// <summary>Newest first; each row has one value per data source (NaN kept).</summary>
            public ReadOnlyCollection<Row> Rows { get; }

            internal Archive(string cf, long step, Row[] rows) { Cf = cf; Step = step; Rows = Array.AsReadOnly(rows); }
        }

        /// <summary>A whole RRD (<c>/host_rrd</c>, <c>/vm_rrd</c>).</summary>
        public sealed class Dump
        {
            /// <summary>Seconds between primary data points.</summary>
            public long Step { get; }
            /// <summary>The last update, seconds since the epoch.</summary>
            public long LastUpdate { get; }
            /// <summary>The data sources' names, in value order (<c>cpu0</c>, <c>memory</c>, ...).</summary>
            public ReadOnlyCollection<string> Sources { get; }
            /// <summary>The archives.</summary>
            public ReadOnlyCollection<Archive> Archives { get; }

            internal Dump(long step, long lastUpdate, string[] sources, Archive[] archives)
            {
                Step = step; LastUpdate = lastUpdate;
                Sources = Array.AsReadOnly(sources);
                Archives = Array.AsReadOnly(archives);
            }
        }

        /// <summary>The whole RRD of the session's host (<c>/host_rrd</c>).</summary>
        public static Dump FetchHost(Session session)
        {
            if (session == null) throw new ArgumentNullException(nameof(session));
            Check.Ok(TransferNative.xenapi_rrd_fetch_host(session.Handle, out RrdHandle r, out ErrorHandle err), err);
            using (r) return Read(r);
        }

        /// <summary>The whole RRD of a VM (<c>/vm_rrd?uuid=</c>), from the host it runs on.</summary>
        public static Dump FetchVm(Session session, string vmUuid)
        {
            if (session == null) throw new ArgumentNullException(nameof(session));
            if (vmUuid == null) throw new ArgumentNullException(nameof(vmUuid));
            Check.Ok(TransferNative.xenapi_rrd_fetch_vm(session.Handle, Utf8.Z(vmUuid), out RrdHandle r, out ErrorHandle err), err);
            using (r) return Read(r);
        }

        /// <summary>Parses a whole RRD document (<c>&lt;rrd&gt;</c> XML), e.g. a file
        /// <see cref="HTTP_actions.host_rrd"/> wrote.</summary>
        public static Dump ParseDump(byte[] data)
        {
            if (data == null) throw new ArgumentNullException(nameof(data));
            NativeLibraryProbe.EnsureLoaded();
            Check.Ok(TransferNative.xenapi_rrd_parse(data, (UIntPtr)data.Length, out RrdHandle r, out ErrorHandle err), err);
            using (r) return Read(r);
        }

        static Dump Read(RrdHandle r)
        {
            ErrorHandle err;
            int nsources = (int)TransferNative.xenapi_rrd_source_count(r);
            var sources = new string[nsources];
            for (int i = 0; i < nsources; i++) sources[i] = Utf8.Read(TransferNative.xenapi_rrd_source_name(r, (UIntPtr)i));
            int narchives = (int)TransferNative.xenapi_rrd_archive_count(r);
            var archives = new Archive[narchives];
            for (int a = 0; a < narchives; a++)
            {
                int nrows = (int)TransferNative.xenapi_rrd_archive_row_count(r, (UIntPtr)a);
                var rows = new Row[nrows];
                for (int row = 0; row < nrows; row++)
                {
                    Check.Ok(TransferNative.xenapi_rrd_row_time(r, (UIntPtr)a, (UIntPtr)row, out long t, out err), err);
                    var values = new double[nsources];
                    for (int s = 0; s < nsources; s++)
                    {
                        Check.Ok(TransferNative.xenapi_rrd_value(r, (UIntPtr)a, (UIntPtr)row, (UIntPtr)s, out double v, out err), err);
                        values[s] = v;
                    }
                    rows[row] = new Row(t, values);
                }
                archives[a] = new Archive(Utf8.Read(TransferNative.xenapi_rrd_archive_cf(r, (UIntPtr)a)),
                    TransferNative.xenapi_rrd_archive_step(r, (UIntPtr)a), rows);
            }
            return new Dump(TransferNative.xenapi_rrd_step(r), TransferNative.xenapi_rrd_last_update(r), sources, archives);
        }

        static readonly DateTime Epoch = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc);

        /// <summary>
        /// <c>/rrd_updates</c> from the host of <paramref name="session"/>, or from the pool member
        /// <paramref name="hostRef"/> (asked directly: each host answers only for itself).
        /// <paramref name="start"/>: seconds since the epoch, or negative for that many seconds back;
        /// <paramref name="interval"/> 0: the server's step; <paramref name="cf"/> null: every CF;
        /// <paramref name="host"/>: include the host's own sources; <paramref name="vmUuid"/> null:
        /// every VM.
        /// </summary>
        public static Updates FetchUpdates(Session session, long start, long interval = 0, string cf = null, bool host = false,
            string vmUuid = null, string hostRef = null)
        {
            if (session == null) throw new ArgumentNullException(nameof(session));
            Check.Ok(TransferNative.xenapi_rrd_updates_fetch(session.Handle, start, interval, Utf8.Z(cf), host, Utf8.Z(vmUuid), Utf8.Z(hostRef),
                out RrdUpdatesHandle u, out ErrorHandle err), err);
            using (u) return Read(u);
        }

        /// <summary><see cref="FetchUpdates(Session, long, long, string, bool, string, string)"/> from a time.</summary>
        public static Updates FetchUpdates(Session session, DateTime start, long interval = 0, string cf = null, bool host = false,
            string vmUuid = null, string hostRef = null) =>
            FetchUpdates(session, (long)(start.ToUniversalTime() - Epoch).TotalSeconds, interval, cf, host, vmUuid, hostRef);

        /// <summary>Parses a <c>/rrd_updates</c> reply (XML, or JSON as with <c>json=true</c>), e.g.
        /// a file <see cref="HTTP_actions.rrd_updates"/> wrote.</summary>
        public static Updates Parse(byte[] data)
        {
            if (data == null) throw new ArgumentNullException(nameof(data));
            NativeLibraryProbe.EnsureLoaded();
            Check.Ok(TransferNative.xenapi_rrd_updates_parse(data, (UIntPtr)data.Length, out RrdUpdatesHandle u, out ErrorHandle err), err);
            using (u) return Read(u);
        }

        static Updates Read(RrdUpdatesHandle u)
        {
            ErrorHandle err;
            int ncols = (int)TransferNative.xenapi_rrd_updates_column_count(u);
            int nrows = (int)TransferNative.xenapi_rrd_updates_row_count(u);
            var columns = new Column[ncols];
            for (int c = 0; c < ncols; c++)
            {
                Check.Ok(TransferNative.xenapi_rrd_updates_column(u, (UIntPtr)c, out IntPtr cf, out IntPtr kind, out IntPtr uuid, out IntPtr name, out err), err);
                columns[c] = new Column(Utf8.Read(cf), Utf8.Read(kind), Utf8.Read(uuid), Utf8.Read(name));
            }
            var rows = new Row[nrows];
            for (int r = 0; r < nrows; r++)
            {
                Check.Ok(TransferNative.xenapi_rrd_updates_time(u, (UIntPtr)r, out long t, out err), err);
                var values = new double[ncols];
                for (int c = 0; c < ncols; c++)
                {
                    Check.Ok(TransferNative.xenapi_rrd_updates_value(u, (UIntPtr)r, (UIntPtr)c, out double v, out err), err);
                    values[c] = v;
                }
                rows[r] = new Row(t, values);
            }
            return new Updates(TransferNative.xenapi_rrd_updates_start(u), TransferNative.xenapi_rrd_updates_end(u),
                TransferNative.xenapi_rrd_updates_step(u), columns, rows);
        }

        /// <summary>The VM's CPU per vCPU, memory, disk and network over the last
        /// <paramref name="minutes"/>, from the host it runs on. A VM that is not running has no
        /// live figures: <see cref="XenApiException"/> (<see cref="ErrorKind.InvalidArgument"/>).</summary>
        public static Usage VmUsage(Session session, string vmUuid, int minutes = 5)
        {
            if (session == null) throw new ArgumentNullException(nameof(session));
            if (vmUuid == null) throw new ArgumentNullException(nameof(vmUuid));
            if (minutes <= 0) throw new ArgumentOutOfRangeException(nameof(minutes));
            Check.Ok(TransferNative.xenapi_rrd_vm_usage(session.Handle, Utf8.Z(vmUuid), minutes * 60L, out RrdUsageHandle u, out ErrorHandle err), err);
            using (u) return new Usage(u);
        }

        /// <summary>The host's CPU per pCPU, memory, disk and network over the last <paramref name="minutes"/>.</summary>
        public static Usage HostUsage(Session session, string hostUuid, int minutes = 5)
        {
            if (session == null) throw new ArgumentNullException(nameof(session));
            if (hostUuid == null) throw new ArgumentNullException(nameof(hostUuid));
            if (minutes <= 0) throw new ArgumentOutOfRangeException(nameof(minutes));
            Check.Ok(TransferNative.xenapi_rrd_host_usage(session.Handle, Utf8.Z(hostUuid), minutes * 60L, out RrdUsageHandle u, out ErrorHandle err), err);
            using (u) return new Usage(u);
        }
    }
}
