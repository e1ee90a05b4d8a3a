using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using NUnit.Framework;

namespace XenAPI.Tests
{
    /// <summary>Disks for the transfer tests: small new VDIs in the pool's default SR, and content
    /// that no two calls share.</summary>
    static class Disks
    {
        internal const long Size = 4 << 20;

        internal static XenRef<VDI> Create(Session xen, string name, long size = Size)
        {
            XenRef<SR> sr = Pool.get_default_SR(xen, Pool.get_all(xen)[0]);
            var record = new VDI
            {
                name_label = name,
                name_description = "a disk of the transfer tests",
                SR = sr,
                virtual_size = size,
                type = vdi_type.user,
                sharable = false,
                read_only = false,
                other_config = new Dictionary<string, string>(),
                xenstore_data = new Dictionary<string, string>(),
                sm_config = new Dictionary<string, string>(),
                tags = new string[0],
            };
            return VDI.create(xen, record);
        }

        /// <summary>A VHD's block: 2 MiB.</summary>
        const int VhdBlock = 2 << 20;

        /// <summary><paramref name="length"/> bytes of a seeded pattern, every other VHD block
        /// zero (so that a dynamic VHD leaves it out).</summary>
        internal static byte[] Content(int seed, long length = Size)
        {
            var rng = new Random(seed);
            var data = new byte[length];
            rng.NextBytes(data);
            for (long at = VhdBlock; at < length; at += 2 * VhdBlock)
                Array.Clear(data, (int)at, (int)Math.Min(VhdBlock, length - at));
            return data;
        }

        /// <summary>The task's status once it has left pending and cancelling (at most 10 s).</summary>
        internal static task_status_type Settled(Session xen, XenRef<Task> task)
        {
            task_status_type status = Task.get_status(xen, task);
            for (int i = 0; i < 100 && (status == task_status_type.pending || status == task_status_type.cancelling); i++)
            {
                Thread.Sleep(100);
                status = Task.get_status(xen, task);
            }
            return status;
        }

        /// <summary>Fails with the task's error unless it succeeded.</summary>
        internal static void Succeeded(Session xen, XenRef<Task> task)
        {
            Task record = Task.get_record(xen, task);
            Assert.AreEqual(task_status_type.success, record.status, "task " + record.name_label + ": " + string.Join(" ", record.error_info));
        }

        internal static string TempFile(string name)
        {
            string dir = Path.Combine(Path.GetTempPath(), "xenapi-dotnet-transfer-" + System.Diagnostics.Process.GetCurrentProcess().Id);
            Directory.CreateDirectory(dir);
            return Path.Combine(dir, name);
        }
    }

    [TestFixture]
    public class TransferTests
    {
        Sim sim;

        [SetUp] public void StartSim() { sim = Sim.Start("--vms", "2"); }
        [TearDown] public void StopSim() { sim.Dispose(); }

        [TestCase(DiskFormat.Raw)]
        [TestCase(DiskFormat.Vhd)]
        public void VdiStreamRoundTrip(DiskFormat format)
        {
            using (Session xen = sim.Login())
            {
                XenRef<VDI> vdi = Disks.Create(xen, "stream-" + format);
                byte[] content = Disks.Content(format == DiskFormat.Raw ? 1 : 2);
                // The raw image in, as the format asks: a VHD is made by exporting it back.
                long sent = xen.ImportVdi(vdi, new MemoryStream(content), DiskFormat.Raw);
                Assert.AreEqual(content.Length, sent);

                var image = new MemoryStream();
                var reported = new List<long>();
                long got = xen.ExportVdi(vdi, image, format, new SyncProgress(reported));
                Assert.AreEqual(image.Length, got);
                Assert.IsNotEmpty(reported, "progress was reported");
                Assert.AreEqual(got, reported.Last(), "the last report is the whole transfer");

                // Into a second disk in that format, then out raw: the same bytes.
                XenRef<VDI> copy = Disks.Create(xen, "stream-copy-" + format);
                image.Position = 0;
                xen.ImportVdi(copy, image, format);
                var back = new MemoryStream();
                xen.ExportVdi(copy, back, DiskFormat.Raw);
                CollectionAssert.AreEqual(content, back.ToArray());
                if (format == DiskFormat.Vhd)
                    Assert.Less(image.Length, content.Length, "a dynamic VHD leaves the zero blocks out");
            }
        }

        [Test]
        public void VdiFileRoundTripAndUnknownLength()
        {
            using (Session xen = sim.Login())
            {
                XenRef<VDI> vdi = Disks.Create(xen, "file");
                byte[] content = Disks.Content(3);
                string input = Disks.TempFile("in.raw"), output = Disks.TempFile("out.raw");
                File.WriteAllBytes(input, content);
                Assert.AreEqual(content.Length, xen.ImportVdi(vdi, input));
                Assert.AreEqual(content.Length, xen.ExportVdi(vdi, output));
                CollectionAssert.AreEqual(content, File.ReadAllBytes(output));

                // A stream that cannot seek: sent without a known length.
                byte[] other = Disks.Content(4);
                xen.ImportVdi(vdi, new NoSeek(new MemoryStream(other)));
                var back = new MemoryStream();
                xen.ExportVdi(vdi, back);
                CollectionAssert.AreEqual(other, back.ToArray());
            }
        }

        [Test]
        public void CancelLeavesTheDiskAndCancelsTheTask()
        {
            using (Session xen = sim.Login())
            {
                XenRef<VDI> vdi = Disks.Create(xen, "cancel", 16 << 20);
                byte[] before = Disks.Content(5, 16 << 20);
                xen.ImportVdi(vdi, new MemoryStream(before));

                XenRef<Task> task = Task.create(xen, "cancelled import", "");
                using (var cts = new CancellationTokenSource())
                {
                    // Cancelled once the first MiB has gone.
                    var progress = new SyncProgress(new List<long>(), done => { if (done > 0) cts.Cancel(); });
                    Assert.Throws<OperationCanceledException>(() =>
                        xen.ImportVdi(vdi, new MemoryStream(Disks.Content(6, 16 << 20)), DiskFormat.Raw, progress, cts.Token, task));
                }
                // The server finishes cancelling on its side (xapi goes through "cancelling").
                Assert.AreEqual(task_status_type.cancelled, Disks.Settled(xen, task));
                Task.destroy(xen, task);

                var back = new MemoryStream();
                xen.ExportVdi(vdi, back);
                CollectionAssert.AreEqual(before, back.ToArray(), "the disk is as it was");
            }
        }

        [Test]
        public void AFailingStreamFailsTheTransferWithItsException()
        {
            using (Session xen = sim.Login())
            {
                XenRef<VDI> vdi = Disks.Create(xen, "failing");
                var e = Assert.Throws<IOException>(() => xen.ExportVdi(vdi, new FailingStream()));
                StringAssert.Contains("disk full", e.Message);
            }
        }

        [Test]
        public void UnknownVdiIsAServerFailure()
        {
            using (Session xen = sim.Login())
            {
                var f = Assert.Throws<Failure>(() => xen.ExportVdi("OpaqueRef:no-such-vdi", new MemoryStream()));
                Assert.IsNotNull(f.Code);
                StringAssert.DoesNotContain(xen.SessionRef, f.Message);
            }
        }

        [Test]
        public void VmExportThenImport()
        {
            using (Session xen = sim.Login())
            {
                VM vm = VM.get_all_records(xen).Values.First(r => !r.is_a_template && !r.is_control_domain);
                var xva = new MemoryStream();
                long bytes = xen.ExportVm(vm.uuid, xva);
                Assert.Greater(bytes, 0);
                xva.Position = 0;
                List<XenRef<VM>> imported = xen.ImportVm(xva);
                Assert.AreEqual(1, imported.Count);
                VM copy = VM.get_record(xen, imported[0]);
                Assert.AreEqual(vm.name_label, copy.name_label);
                Assert.AreNotEqual(vm.uuid, copy.uuid);
                Assert.AreEqual(vm.VBDs.Count, copy.VBDs.Count, "the disks came along");

                // The same through files.
                string path = Disks.TempFile("vm.xva");
                xen.ExportVm(vm.uuid, path);
                Assert.AreEqual(1, xen.ImportVm(path).Count);
            }
        }

        /// <summary>IProgress that records on the reporting thread (Progress&lt;T&gt; posts to the pool).</summary>
        internal sealed class SyncProgress : IProgress<long>
        {
            readonly List<long> seen;
            readonly Action<long> then;
            internal SyncProgress(List<long> seen, Action<long> then = null) { this.seen = seen; this.then = then; }
            public void Report(long value) { lock (seen) seen.Add(value); then?.Invoke(value); }
        }

        sealed class NoSeek : Stream
        {
            readonly Stream inner;
            internal NoSeek(Stream inner) { this.inner = inner; }
            public override bool CanRead => true;
            public override bool CanSeek => false;
            public override bool CanWrite => false;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override void Flush() { }
            public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, 100000));
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        }

        sealed class FailingStream : Stream
        {
            public override bool CanRead => false;
            public override bool CanSeek => false;
            public override bool CanWrite => true;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override void Flush() { }
            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new IOException("disk full");
        }
    }
}
