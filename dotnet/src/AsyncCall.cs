using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace XenAPI
{
    /// <summary>libxenapi's call control (include/xenapi.h, "call options"): per-call options
    /// (cancel, timeout, W3C <c>traceparent</c>) on a view of a session, calls that complete
    /// through a callback on a library thread, and the binding's name for the User-Agent.</summary>
    [System.Security.SuppressUnmanagedCodeSecurity]
    internal static class CallNative
    {
        const string Lib = NativeMethods.Lib;
        const CallingConvention CC = CallingConvention.Cdecl;

        /// <summary><c>xenapi_call_done_fn</c>: called once, on a library thread; owns
        /// <paramref name="result"/> and <paramref name="err"/> (exactly one is non-NULL).</summary>
        [UnmanagedFunctionPointer(CC)]
        internal delegate void CallDoneFn(IntPtr user, int status, IntPtr result, IntPtr err);

        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr xenapi_call_options_new();
        [DllImport(Lib, CallingConvention = CC)] internal static extern void xenapi_call_options_free(IntPtr o);
        [DllImport(Lib, CallingConvention = CC)] internal static extern int xenapi_call_options_set_timeout(IntPtr o, double seconds, out IntPtr err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern int xenapi_call_options_set_cancel(IntPtr o, IntPtr cancel, out IntPtr err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern int xenapi_call_options_set_traceparent(IntPtr o, byte[] traceparent, out IntPtr err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern int xenapi_session_with_call_options(SessionHandle session, IntPtr options, out SessionHandle view, out IntPtr err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_options_set_binding(OptionsHandle options, byte[] name, byte[] version, out ErrorHandle err);
        [DllImport(Lib, CallingConvention = CC)] internal static extern Status xenapi_value_new_datetime(byte[] iso8601, out IntPtr value, IntPtr noErr);
        [DllImport(Lib, CallingConvention = CC)] internal static extern int xenapi_session_call_async(SessionHandle session, byte[] method, IntPtr[] args, UIntPtr nargs, IntPtr done, IntPtr user, out IntPtr err);

        /// <summary><c>XENAPI_STATUS_CANCELLED</c>: the call's cancel fired.</summary>
        internal const int Cancelled = 10;
    }

    /// <summary>
    /// The session one call goes through: the <see cref="Session"/>'s own native session, or,
    /// when the call has a <see cref="CancellationToken"/> that can be cancelled or the caller is
    /// in a W3C <c>Activity</c>, a view of it (<c>xenapi_session_with_call_options</c>) whose calls
    /// stop when the token is cancelled and send the activity's <c>traceparent</c>. A call with
    /// neither costs nothing more than before: no view, no allocation.
    /// </summary>
    internal struct CallView : IDisposable
    {
        /// <summary>What to pass to the C function.</summary>
        internal readonly SessionHandle Handle;
        readonly SessionHandle view;
        readonly NativeCancel cancel;
        readonly CancellationToken token;

        CallView(SessionHandle handle, SessionHandle view, NativeCancel cancel, CancellationToken token)
        {
            Handle = handle;
            this.view = view;
            this.cancel = cancel;
            this.token = token;
        }

        /// <summary>The view for one call of <paramref name="session"/> (ArgumentNullException for
        /// null; OperationCanceledException when the token is already cancelled).</summary>
        internal static CallView Open(Session session, CancellationToken token)
        {
            SessionHandle h = Session.NativeOf(session);
            string traceparent = Tracing.Current();
            if (!token.CanBeCanceled && traceparent == null) return new CallView(h, null, null, token);
            token.ThrowIfCancellationRequested();
            IntPtr o = CallNative.xenapi_call_options_new();
            NativeCancel c = null;
            SessionHandle v = null;
            try
            {
                IntPtr err;
                if (token.CanBeCanceled)
                {
                    c = new NativeCancel(token);
                    int st = CallNative.xenapi_call_options_set_cancel(o, c.Handle, out err);
                    if (st != 0) throw Errors.FromNative(st, err);
                }
                if (traceparent != null && CallNative.xenapi_call_options_set_traceparent(o, Utf8.Z(traceparent), out err) != 0)
                {
                    // The core refused the activity's id (all-zero ids): the call goes without it.
                    NativeMethods.xenapi_error_free(err);
                }
                int status = CallNative.xenapi_session_with_call_options(h, o, out v, out err);
                if (status != 0) throw Errors.FromNative(status, err);
                return new CallView(v, v, c, token);
            }
            catch
            {
                v?.Dispose();
                c?.Dispose();
                throw;
            }
            finally
            {
                CallNative.xenapi_call_options_free(o);
            }
        }

        /// <summary>The exception of a failed call (frees <paramref name="err"/>): a cancelled
        /// call is an <see cref="OperationCanceledException"/> carrying the token.</summary>
        internal Exception Error(int status, IntPtr err) => Errors.FromNative(status, err, token);

        public void Dispose()
        {
            view?.Dispose();
            cancel?.Dispose();
        }
    }

    /// <summary>
    /// The generated <c>…Async</c> forms: an untyped call of the message
    /// (<c>xenapi_session_call_async</c>) on libxenapi's worker threads. No .NET thread waits for
    /// the reply: the native callback reads it into the message's C# type (on the library's
    /// thread) and completes a <see cref="TaskCompletionSource{TResult}"/> made with
    /// <see cref="TaskCreationOptions.RunContinuationsAsynchronously"/>, so the awaiting code
    /// continues in its own <see cref="SynchronizationContext"/> (a UI thread) or on the thread
    /// pool, never inside the callback.
    /// </summary>
    internal static class AsyncCall
    {
        // One native callback for every call, alive as long as the program (the GC must never
        // collect a delegate libxenapi may still call).
        static readonly CallNative.CallDoneFn DoneDelegate = Done;
        static readonly IntPtr DonePointer = Marshal.GetFunctionPointerForDelegate(DoneDelegate);

        abstract class Pending
        {
            internal CallView View;
            internal abstract void Complete(int status, IntPtr result, IntPtr err);
        }

        sealed class Pending<T> : Pending
        {
            internal readonly TaskCompletionSource<T> Source =
                new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            readonly Func<IntPtr, T> read;
            readonly CancellationToken token;

            internal Pending(Func<IntPtr, T> read, CancellationToken token)
            {
                this.read = read;
                this.token = token;
            }

            internal override void Complete(int status, IntPtr result, IntPtr err)
            {
                // Outcome first (reading the reply, freeing what libxenapi gave), then the view and
                // its cancel, then the task: its continuations may start at once elsewhere.
                T value = default;
                Exception failure = null;
                try
                {
                    if (status != 0 || err != IntPtr.Zero)
                    {
                        failure = View.Error(status != 0 ? status : (int)ErrorKind.Internal, err);
                        err = IntPtr.Zero;
                    }
                    else if (read != null)
                        value = read(result);
                }
                catch (Exception e)
                {
                    failure = e;
                }
                finally
                {
                    if (result != IntPtr.Zero) NativeMethods.xenapi_value_free(result);
                    if (err != IntPtr.Zero) NativeMethods.xenapi_error_free(err);
                    View.Dispose();
                }
                if (failure is OperationCanceledException)
                    Source.TrySetCanceled(token.IsCancellationRequested ? token : default);
                else if (failure != null)
                    Source.TrySetException(failure);
                else
                    Source.TrySetResult(value);
            }
        }

        /// <summary>Calls <paramref name="method"/> with the session first, then <paramref name="args"/>
        /// (.NET values as <see cref="Values.ToNative"/> takes them), and reads the reply with
        /// <paramref name="read"/>.</summary>
        internal static System.Threading.Tasks.Task<T> Start<T>(Session session, string method, CancellationToken token, Func<IntPtr, T> read, params object[] args)
        {
            var p = new Pending<T>(read, token);
            Begin(session, method, token, args, p);
            return p.Source.Task;
        }

        /// <summary><see cref="Start{T}"/> for a message with no result.</summary>
        internal static System.Threading.Tasks.Task StartVoid(Session session, string method, CancellationToken token, params object[] args)
        {
            var p = new Pending<object>(null, token);
            Begin(session, method, token, args, p);
            return p.Source.Task;
        }

        static void Begin<T>(Session session, string method, CancellationToken token, object[] args, Pending<T> p)
        {
            if (session == null) throw new ArgumentNullException(nameof(session));
            if (token.IsCancellationRequested)
            {
                p.Source.TrySetCanceled(token);
                return;
            }
            IntPtr[] raw = new IntPtr[args.Length];
            GCHandle user = default;
            bool started = false;
            try
            {
                p.View = CallView.Open(session, token);
                for (int i = 0; i < args.Length; i++)
                    raw[i] = Values.ToNative(args[i]);
                user = GCHandle.Alloc(p);
                int status = CallNative.xenapi_session_call_async(p.View.Handle, Utf8.Z(method), raw, (UIntPtr)raw.Length,
                    DonePointer, GCHandle.ToIntPtr(user), out IntPtr err);
                if (status != 0) throw p.View.Error(status, err);
                started = true;
            }
            catch (OperationCanceledException)
            {
                p.Source.TrySetCanceled(token);
            }
            catch (Exception e)
            {
                p.Source.TrySetException(e);
            }
            finally
            {
                // libxenapi copied the arguments before returning.
                foreach (IntPtr a in raw)
                    if (a != IntPtr.Zero) NativeMethods.xenapi_value_free(a);
                if (!started)
                {
                    if (user.IsAllocated) user.Free();
                    p.View.Dispose();
                }
            }
        }

        /// <summary>The native callback: never lets an exception out into libxenapi.</summary>
        static void Done(IntPtr user, int status, IntPtr result, IntPtr err)
        {
            try
            {
                GCHandle h = GCHandle.FromIntPtr(user);
                var p = (Pending)h.Target;
                h.Free();
                p.Complete(status, result, err);
            }
            catch
            {
                // Nothing can be reported from here; Complete itself catches what it calls.
            }
        }
    }

    /// <summary>
    /// Reading a reply's borrowed <c>xenapi_value</c> into the C# types of the generated API, one
    /// helper per shape (the generated <c>…Async</c> forms compose them per message). Records go
    /// through libxenapi's <c>xenapi_&lt;class&gt;_record_from_value</c>; int64s, doubles and
    /// datetimes through its readers, which take what servers send (an int64 as a string, a
    /// datetime as text over JSON-RPC).
    /// </summary>
    internal static class ValueRead
    {
        static Exception Wrong(string what, IntPtr v) =>
            new XenApiTransportException(ErrorKind.Protocol, "expected " + what + " in the reply, got a value of kind "
                + NativeMethods.xenapi_value_get_kind(v));

        internal static string Str(IntPtr v)
        {
            if (NativeMethods.xenapi_value_get_string(v, out IntPtr s, IntPtr.Zero) == Status.Ok) return Utf8.Read(s) ?? "";
            int kind = NativeMethods.xenapi_value_get_kind(v);
            if (kind == Values.KNil) return "";
            // xend sends some string-typed values as integers.
            if (kind == Values.KInt && NativeMethods.xenapi_value_get_int64(v, out long l, IntPtr.Zero) == Status.Ok)
                return l.ToString(System.Globalization.CultureInfo.InvariantCulture);
            throw Wrong("a string", v);
        }

        internal static long Long(IntPtr v)
        {
            if (NativeMethods.xenapi_value_get_int64(v, out long l, IntPtr.Zero) == Status.Ok) return l;
            throw Wrong("an int", v);
        }

        internal static double Double(IntPtr v)
        {
            if (NativeMethods.xenapi_value_get_double(v, out double d, IntPtr.Zero) == Status.Ok) return d;
            throw Wrong("a float", v);
        }

        internal static bool Bool(IntPtr v)
        {
            if (NativeMethods.xenapi_value_get_bool(v, out bool b, IntPtr.Zero) == Status.Ok) return b;
            if (NativeMethods.xenapi_value_get_string(v, out IntPtr s, IntPtr.Zero) == Status.Ok)
            {
                switch (Utf8.Read(s))
                {
                    case "true": case "1": return true;
                    case "false": case "0": return false;
                }
            }
            throw Wrong("a bool", v);
        }

        /// <summary>A datetime value, or its text (JSON-RPC has no datetime type): read by
        /// libxenapi; text that is no date reads as the epoch, as the typed C functions give.</summary>
        internal static DateTime Time(IntPtr v)
        {
            if (NativeMethods.xenapi_value_get_datetime_unix(v, out long secs, IntPtr.Zero) == Status.Ok) return Conv.Time(secs);
            if (NativeMethods.xenapi_value_get_string(v, out IntPtr s, IntPtr.Zero) == Status.Ok)
            {
                if (CallNative.xenapi_value_new_datetime(Utf8.Z(Utf8.Read(s)), out IntPtr d, IntPtr.Zero) != Status.Ok)
                    return Conv.Epoch;
                try
                {
                    return NativeMethods.xenapi_value_get_datetime_unix(d, out secs, IntPtr.Zero) == Status.Ok ? Conv.Time(secs) : Conv.Epoch;
                }
                finally
                {
                    NativeMethods.xenapi_value_free(d);
                }
            }
            throw Wrong("a datetime", v);
        }

        internal static XenRef<T> Ref<T>(IntPtr v) where T : class => XenRef<T>.Create(Str(v));

        internal static long KeyLong(string key) =>
            long.TryParse(key, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long l)
                ? l
                : throw new XenApiTransportException(ErrorKind.Protocol, "expected an int map key in the reply, got \"" + key + "\"");

        internal static T Option<T>(IntPtr v, Func<IntPtr, T> item) where T : class =>
            NativeMethods.xenapi_value_get_kind(v) == Values.KNil ? null : item(v);

        static int Len(IntPtr v)
        {
            int kind = NativeMethods.xenapi_value_get_kind(v);
            if (kind == Values.KArray) return (int)NativeMethods.xenapi_value_array_len(v);
            if (kind == Values.KNil) return 0;
            throw Wrong("an array", v);
        }

        internal static T[] Array<T>(IntPtr v, Func<IntPtr, T> item)
        {
            int n = Len(v);
            var a = new T[n];
            for (int i = 0; i < n; i++)
                a[i] = item(NativeMethods.xenapi_value_array_get(v, (UIntPtr)i));
            return a;
        }

        internal static List<T> List<T>(IntPtr v, Func<IntPtr, T> item)
        {
            int n = Len(v);
            var l = new List<T>(n);
            for (int i = 0; i < n; i++)
                l.Add(item(NativeMethods.xenapi_value_array_get(v, (UIntPtr)i)));
            return l;
        }

        /// <summary>A map (a struct whose member names are the keys); a record value keyed by its
        /// reference gets that reference as its <c>opaque_ref</c>, as the typed calls do.</summary>
        internal static Dictionary<K, V> Map<K, V>(IntPtr v, Func<string, K> key, Func<IntPtr, V> value)
        {
            int kind = NativeMethods.xenapi_value_get_kind(v);
            if (kind == Values.KNil) return new Dictionary<K, V>();
            if (kind != Values.KStruct) throw Wrong("a map (a struct)", v);
            int n = (int)NativeMethods.xenapi_value_struct_len(v);
            var d = new Dictionary<K, V>(n);
            for (int i = 0; i < n; i++)
            {
                K k = key(Utf8.Read(NativeMethods.xenapi_value_struct_key(v, (UIntPtr)i)) ?? "");
                V x = value(NativeMethods.xenapi_value_struct_value(v, (UIntPtr)i));
                if (x is IHasOpaqueRef r && k is IXenRef kr) r.SetRef(kr.opaque_ref);
                d[k] = x;
            }
            return d;
        }
    }

    /// <summary>Arguments of the <c>…Async</c> forms as the typed C functions take them: a null
    /// set or map is sent empty.</summary>
    internal static class ValueArgs
    {
        static readonly object[] NoItems = new object[0];

        internal static object Set(IEnumerable items) => items ?? NoItems;

        internal static object Map(IDictionary map) => map ?? new Dictionary<string, object>();
    }

    /// <summary>
    /// The caller's current span as a W3C <c>traceparent</c>: <c>System.Diagnostics.Activity.Current</c>
    /// when its id is in the W3C format (<c>00-&lt;trace id&gt;-&lt;span id&gt;-&lt;flags&gt;</c>).
    /// <c>Activity</c> lives in System.Diagnostics.DiagnosticSource, part of .NET Core 3.0+ / .NET 5+
    /// and a NuGet package elsewhere; this netstandard2.0 assembly does not reference it but looks
    /// it up once, at the first call: where the program has it (it referenced the package, or runs
    /// on .NET), calls send the header; where it has none (Mono or .NET Framework without the
    /// package), there is no activity to follow and nothing is sent. The lookup compiles one
    /// getter; a call without a current activity costs that getter and a null check.
    /// </summary>
    internal static class Tracing
    {
        static readonly Func<string> Source = Resolve();

        /// <summary>The traceparent to send, or null.</summary>
        internal static string Current()
        {
            if (Source == null) return null;
            string id = Source();
            return IsW3C(id) ? id : null;
        }

        /// <summary>Whether <paramref name="id"/> has the W3C shape (hierarchical ids start with '|').
        /// libxenapi checks the digits.</summary>
        internal static bool IsW3C(string id) =>
            id != null && id.Length == 55 && id[2] == '-' && id[35] == '-' && id[52] == '-';

        static Func<string> Resolve()
        {
            try
            {
                Type t = Type.GetType("System.Diagnostics.Activity, System.Diagnostics.DiagnosticSource", false);
                if (t == null) return null;
                PropertyInfo current = t.GetProperty("Current", BindingFlags.Public | BindingFlags.Static);
                PropertyInfo id = t.GetProperty("Id", BindingFlags.Public | BindingFlags.Instance);
                if (current == null || id == null || id.PropertyType != typeof(string)) return null;
                // () => { var a = Activity.Current; return a == null ? null : a.Id; }
                ParameterExpression a = Expression.Variable(t, "a");
                Expression body = Expression.Block(typeof(string), new[] { a },
                    Expression.Assign(a, Expression.Property(null, current)),
                    Expression.Condition(Expression.Equal(a, Expression.Constant(null, t)),
                        Expression.Constant(null, typeof(string)), Expression.Property(a, id)));
                return Expression.Lambda<Func<string>>(body).Compile();
            }
            catch (Exception)
            {
                // No usable Activity type: no traces to join.
                return null;
            }
        }
    }
}
