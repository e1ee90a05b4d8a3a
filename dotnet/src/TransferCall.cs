using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;

namespace XenAPI
{
    /// <summary>
    /// One libxenapi transfer as seen from .NET: the read, write and progress callbacks over a
    /// <see cref="Stream"/> and a progress function, the native transfer options (progress, cancel
    /// request, task, idle timeout) and what went wrong on the .NET side. The delegates are fields
    /// of this object, so they live as long as it does: the caller keeps it (a <c>using</c>) for
    /// the length of the native call. Callbacks run on the calling thread; an exception in one
    /// never crosses into native code: it is kept, the callback refuses, and <see cref="Check"/>
    /// throws it after the call. Memory: one buffer of at most 1 MiB (libxenapi's chunk).
    /// </summary>
    internal sealed class TransferCall : IDisposable
    {
        const int MaxBuffer = 1 << 20;

        readonly Stream stream;
        readonly Func<ulong, long, bool> progress;
        readonly NativeCancel cancel;
        readonly CancellationToken token;
        byte[] buffer;
        Exception failure;

        internal readonly TransferNative.WriteFn Write;
        internal readonly TransferNative.ReadFn Read;
        readonly TransferNative.ProgressFn onProgress;

        /// <summary>The native options: always set (NULL would do, but the progress callback is
        /// where cancellation is polled).</summary>
        internal TransferOptionsHandle Options { get; }

        /// <summary>Bytes moved as the last progress report said.</summary>
        internal ulong Done { get; private set; }

        /// <param name="stream">Written to (downloads) or read from (uploads); null for file transfers.</param>
        /// <param name="progress">(done, total or -1): false cancels. May be null.</param>
        /// <param name="token">Cancels the transfer (and its task).</param>
        /// <param name="task">A task the caller made, or null.</param>
        /// <param name="idleTimeout">The longest the server may stay silent; null: libxenapi's default.</param>
        internal TransferCall(Stream stream, Func<ulong, long, bool> progress, CancellationToken token, string task, TimeSpan? idleTimeout)
        {
            NativeLibraryProbe.EnsureLoaded();
            this.stream = stream;
            this.progress = progress;
            this.token = token;
            Write = WriteNative;
            Read = ReadNative;
            onProgress = ProgressNative;
            ErrorHandle err;
            XenAPI.Check.Ok(TransferNative.xenapi_transfer_options_new(out TransferOptionsHandle o, out err), err);
            Options = o;
            try
            {
                XenAPI.Check.Ok(TransferNative.xenapi_transfer_options_set_progress(o, onProgress, IntPtr.Zero, out err), err);
                cancel = new NativeCancel(token);
                if (cancel.Handle != IntPtr.Zero)
                    XenAPI.Check.Ok(TransferNative.xenapi_transfer_options_set_cancel(o, cancel.Handle, out err), err);
                if (task != null)
                    XenAPI.Check.Ok(TransferNative.xenapi_transfer_options_set_task(o, Utf8.Z(task), out err), err);
                if (idleTimeout.HasValue)
                {
                    if (idleTimeout.Value <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(idleTimeout));
                    XenAPI.Check.Ok(TransferNative.xenapi_transfer_options_set_idle_timeout_ms(o,
                        (ulong)Math.Max(1, Math.Ceiling(idleTimeout.Value.TotalMilliseconds)), out err), err);
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        /// <summary>The length of an upload from <paramref name="s"/>: what is left of a seekable
        /// stream, else -1 (unknown).</summary>
        internal static long LengthOf(Stream s)
        {
            try
            {
                return s.CanSeek ? Math.Max(0, s.Length - s.Position) : -1;
            }
            catch (NotSupportedException)
            {
                return -1;
            }
        }

        byte[] Buffer(long want)
        {
            int n = (int)Math.Min(Math.Max(want, 1), MaxBuffer);
            if (buffer == null || buffer.Length < n) buffer = new byte[n];
            return buffer;
        }

        bool WriteNative(IntPtr user, IntPtr data, UIntPtr len)
        {
            try
            {
                long left = (long)len.ToUInt64();
                long offset = 0;
                while (left > 0)
                {
                    byte[] b = Buffer(left);
                    int n = (int)Math.Min(left, b.Length);
                    Marshal.Copy(new IntPtr(data.ToInt64() + offset), b, 0, n);
                    stream.Write(b, 0, n);
                    offset += n;
                    left -= n;
                }
                return true;
            }
            catch (Exception e)
            {
                failure = failure ?? e;
                return false;
            }
        }

        long ReadNative(IntPtr user, IntPtr buf, UIntPtr cap)
        {
            try
            {
                byte[] b = Buffer((long)Math.Min(cap.ToUInt64(), (ulong)MaxBuffer));
                int want = (int)Math.Min(cap.ToUInt64(), (ulong)b.Length);
                int n = stream.Read(b, 0, want);
                if (n > 0) Marshal.Copy(b, 0, buf, n);
                return n;
            }
            catch (Exception e)
            {
                failure = failure ?? e;
                return -1;
            }
        }

        bool ProgressNative(IntPtr user, ulong done, long total)
        {
            Done = done;
            if (progress == null) return true;
            try
            {
                return progress(done, total);
            }
            catch (Exception e)
            {
                failure = failure ?? e;
                return false;
            }
        }

        /// <summary>After the native call: throws what a callback threw, else
        /// <see cref="OperationCanceledException"/> when the token cancelled it, else what the
        /// status and error say (<see cref="XenAPI.Check.Ok"/>).</summary>
        internal void Check(Status status, ErrorHandle err)
        {
            if (status == Status.Ok)
            {
                err?.Dispose();
                return;
            }
            if (failure != null)
            {
                err?.Dispose();
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
            }
            try
            {
                XenAPI.Check.Ok(status, err);
            }
            catch (Failure f) when (f.Code == Failure.TASK_CANCELLED && token.IsCancellationRequested)
            {
                throw new OperationCanceledException("the transfer was cancelled (its task too)", f, token);
            }
        }

        public void Dispose()
        {
            GC.KeepAlive(Write);
            GC.KeepAlive(Read);
            GC.KeepAlive(onProgress);
            Options?.Dispose();
            cancel?.Dispose();
        }
    }
}
