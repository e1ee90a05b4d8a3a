using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;

namespace XenAPI
{
    /// <summary>A disk image format of <c>/import_raw_vdi</c> and <c>/export_raw_vdi</c>
    /// (<c>xenapi_disk_format</c>; the numbers are the C ABI's).</summary>
    public enum DiskFormat
    {
        /// <summary>The disk's bytes, end to end.</summary>
        Raw = 0,
        /// <summary>A dynamic VHD: only allocated blocks travel.</summary>
        Vhd = 1,
    }

    /// <summary>How <c>/export</c> compresses an XVA (<c>xenapi_compression</c>).</summary>
    public enum Compression
    {
        /// <summary>Uncompressed.</summary>
        None = 0,
        /// <summary>gzip.</summary>
        Gzip = 1,
        /// <summary>zstd (xapi 1.249 and later).</summary>
        Zstd = 2,
    }

    /// <summary>
    /// Disks and VMs in and out over xapi's HTTP handlers, the .NET way (<see cref="System.IO.Stream"/>,
    /// <see cref="IProgress{T}"/> of bytes moved, <see cref="System.Threading.CancellationToken"/>); XenServer.NET's
    /// file-based <see cref="HTTP_actions"/> are there too. Each runs over libxenapi's transfers:
    /// streamed both ways in bounded memory (one 1 MiB buffer), the session's TLS policy, a 302 to
    /// the host holding the disk followed, the task made (<c>task.create</c>) and read for the
    /// outcome unless <c>task</c> names the caller's own. A cancelled token stops the transfer,
    /// cancels the task (the disk stays as it was) and throws <see cref="OperationCanceledException"/>;
    /// a server refusal throws <see cref="Failure"/> with the task's error. Streams are not closed.
    /// </summary>
    public sealed partial class Session
    {
        static Func<ulong, long, bool> Reporter(IProgress<long> progress) =>
            progress == null ? (Func<ulong, long, bool>)null : (done, total) => { progress.Report((long)done); return true; };

        /// <summary>Writes the content of <paramref name="vdi"/> (a reference or UUID) to
        /// <paramref name="destination"/>; returns the bytes written.</summary>
        public long ExportVdi(string vdi, Stream destination, DiskFormat format = DiskFormat.Raw, IProgress<long> progress = null,
            CancellationToken cancellationToken = default, string task = null)
        {
            if (vdi == null) throw new ArgumentNullException(nameof(vdi));
            if (destination == null) throw new ArgumentNullException(nameof(destination));
            using (var call = new TransferCall(destination, Reporter(progress), cancellationToken, task, null))
            {
                Status st = TransferNative.xenapi_transfer_vdi_export(Handle, Utf8.Z(vdi), (int)format, call.Write, IntPtr.Zero, call.Options, out ulong bytes, out ErrorHandle err);
                call.Check(st, err);
                return (long)bytes;
            }
        }

        /// <summary>Writes the content of <paramref name="vdi"/> to the file <paramref name="path"/>
        /// (created or replaced); returns the bytes written.</summary>
        public long ExportVdi(string vdi, string path, DiskFormat format = DiskFormat.Raw, IProgress<long> progress = null,
            CancellationToken cancellationToken = default, string task = null)
        {
            if (vdi == null) throw new ArgumentNullException(nameof(vdi));
            if (path == null) throw new ArgumentNullException(nameof(path));
            using (var call = new TransferCall(null, Reporter(progress), cancellationToken, task, null))
            {
                Status st = TransferNative.xenapi_transfer_vdi_export_file(Handle, Utf8.Z(vdi), (int)format, Utf8.Z(path), call.Options, out ulong bytes, out ErrorHandle err);
                call.Check(st, err);
                return (long)bytes;
            }
        }

        /// <summary>Replaces the content of <paramref name="vdi"/> with what is left of
        /// <paramref name="source"/> (its length known when it can seek); returns the bytes sent.
        /// On a failure or a cancel the disk is left as it was.</summary>
        public long ImportVdi(string vdi, Stream source, DiskFormat format = DiskFormat.Raw, IProgress<long> progress = null,
            CancellationToken cancellationToken = default, string task = null)
        {
            if (vdi == null) throw new ArgumentNullException(nameof(vdi));
            if (source == null) throw new ArgumentNullException(nameof(source));
            using (var call = new TransferCall(source, Reporter(progress), cancellationToken, task, null))
            {
                Status st = TransferNative.xenapi_transfer_vdi_import(Handle, Utf8.Z(vdi), (int)format, call.Read, IntPtr.Zero,
                    TransferCall.LengthOf(source), call.Options, out ulong bytes, out ErrorHandle err);
                call.Check(st, err);
                return (long)bytes;
            }
        }

        /// <summary>Replaces the content of <paramref name="vdi"/> with the file <paramref name="path"/>.</summary>
        public long ImportVdi(string vdi, string path, DiskFormat format = DiskFormat.Raw, IProgress<long> progress = null,
            CancellationToken cancellationToken = default, string task = null)
        {
            if (vdi == null) throw new ArgumentNullException(nameof(vdi));
            if (path == null) throw new ArgumentNullException(nameof(path));
            using (var call = new TransferCall(null, Reporter(progress), cancellationToken, task, null))
            {
                Status st = TransferNative.xenapi_transfer_vdi_import_file(Handle, Utf8.Z(vdi), (int)format, Utf8.Z(path), call.Options, out ulong bytes, out ErrorHandle err);
                call.Check(st, err);
                return (long)bytes;
            }
        }

        /// <summary>Writes <paramref name="vm"/> (a UUID or reference) as an XVA to <paramref name="destination"/>.</summary>
        public long ExportVm(string vm, Stream destination, Compression compression = Compression.None, IProgress<long> progress = null,
            CancellationToken cancellationToken = default, string task = null)
        {
            if (vm == null) throw new ArgumentNullException(nameof(vm));
            if (destination == null) throw new ArgumentNullException(nameof(destination));
            using (var call = new TransferCall(destination, Reporter(progress), cancellationToken, task, null))
            {
                Status st = TransferNative.xenapi_transfer_vm_export(Handle, Utf8.Z(vm), (int)compression, call.Write, IntPtr.Zero, call.Options, out ulong bytes, out ErrorHandle err);
                call.Check(st, err);
                return (long)bytes;
            }
        }

        /// <summary>Writes <paramref name="vm"/> as an XVA to the file <paramref name="path"/>.</summary>
        public long ExportVm(string vm, string path, Compression compression = Compression.None, IProgress<long> progress = null,
            CancellationToken cancellationToken = default, string task = null)
        {
            if (vm == null) throw new ArgumentNullException(nameof(vm));
            if (path == null) throw new ArgumentNullException(nameof(path));
            using (var call = new TransferCall(null, Reporter(progress), cancellationToken, task, null))
            {
                Status st = TransferNative.xenapi_transfer_vm_export_file(Handle, Utf8.Z(vm), (int)compression, Utf8.Z(path), call.Options, out ulong bytes, out ErrorHandle err);
                call.Check(st, err);
                return (long)bytes;
            }
        }

        /// <summary>Imports the XVA in <paramref name="source"/> into <paramref name="sr"/> (a
        /// reference; null: the pool's default SR); returns the new VMs.</summary>
        public List<XenRef<VM>> ImportVm(Stream source, string sr = null, IProgress<long> progress = null,
            CancellationToken cancellationToken = default, string task = null)
        {
            if (source == null) throw new ArgumentNullException(nameof(source));
            using (var call = new TransferCall(source, Reporter(progress), cancellationToken, task, null))
            {
                Status st = TransferNative.xenapi_transfer_vm_import(Handle, call.Read, IntPtr.Zero, TransferCall.LengthOf(source), Utf8.Z(sr),
                    call.Options, out StringListHandle vms, out ErrorHandle err);
                call.Check(st, err);
                using (vms) return XenRef<VM>.Create(CacheSnapshot.ReadList(vms).ToArray());
            }
        }

        /// <summary>Imports the XVA file <paramref name="path"/> into <paramref name="sr"/> (null:
        /// the default SR); returns the new VMs.</summary>
        public List<XenRef<VM>> ImportVm(string path, string sr = null, IProgress<long> progress = null,
            CancellationToken cancellationToken = default, string task = null)
        {
            if (path == null) throw new ArgumentNullException(nameof(path));
            using (var call = new TransferCall(null, Reporter(progress), cancellationToken, task, null))
            {
                Status st = TransferNative.xenapi_transfer_vm_import_file(Handle, Utf8.Z(path), Utf8.Z(sr), call.Options,
                    out StringListHandle vms, out ErrorHandle err);
                call.Check(st, err);
                using (vms) return XenRef<VM>.Create(CacheSnapshot.ReadList(vms).ToArray());
            }
        }
    }
}
