using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace XenApi
{
    /// <summary>
    /// A server-side task: what an <c>Async.*</c> call returns.
    /// <code>
    /// XenTask t = xen.Async("VM.clone", vm, "copy");
    /// string newVm = (string)t.Wait(TimeSpan.FromMinutes(5));
    /// </code>
    /// </summary>
    public sealed class XenTask : XenObject
    {
        internal XenTask(Session session, string reference) : base(session, reference) { }

        /// <summary>
        /// Waits for the task to finish and returns its result as .NET values (see
        /// <see cref="Session.Call"/>); "" for a void method. A failed task throws
        /// <see cref="XenApiException"/> with the task's error code; a cancelled one
        /// <c>TASK_CANCELLED</c>. When <paramref name="timeout"/> passes (null: no limit),
        /// <see cref="XenApiTimeoutException"/>; the task goes on on the server.
        /// </summary>
        public object Wait(TimeSpan? timeout = null)
        {
            double secs = timeout.HasValue ? Math.Max(timeout.Value.TotalSeconds, 0.001) : 0;
            Check.Ok(NativeMethods.xenapi_task_wait(Session.Handle, RefZ, secs, out ValueHandle result, out ErrorHandle err), err);
            using (result) return Values.FromNative(result.DangerousGetHandle());
        }
    }

    /// <summary>One change of one object, from <see cref="Session.EventFrom"/>.</summary>
    public sealed class XenEvent
    {
        /// <summary>The class, lowercase as the server writes it (<c>vm</c>, <c>task</c>, ...).</summary>
        public string Class { get; }
        /// <summary><c>add</c>, <c>mod</c> or <c>del</c>.</summary>
        public string Operation { get; }
        /// <summary>The object's reference.</summary>
        public string Ref { get; }
        /// <summary>The object's record after the change; null for <c>del</c>.</summary>
        public Dictionary<string, object> Snapshot { get; }
        /// <summary>Every field of the event as the server sent it.</summary>
        public Dictionary<string, object> Fields { get; }

        internal XenEvent(Dictionary<string, object> f)
        {
            Fields = f;
            Class = Str(f, "class");
            Operation = Str(f, "operation");
            Ref = Str(f, "ref");
            Snapshot = f.TryGetValue("snapshot", out object s) ? s as Dictionary<string, object> : null;
        }

        static string Str(Dictionary<string, object> f, string k) => f.TryGetValue(k, out object o) ? o as string : null;

        /// <inheritdoc/>
        public override string ToString() => Class + " " + Operation + " " + Ref;
    }

    /// <summary>The reply of <c>event.from</c>: the events and the token for the next call.</summary>
    public sealed class EventBatch
    {
        /// <summary>The events, oldest first; empty when the timeout passed without change.</summary>
        public XenEvent[] Events { get; }
        /// <summary>Pass this to the next <see cref="Session.EventFrom"/>.</summary>
        public string Token { get; }
        /// <summary><c>valid_ref_counts</c>: per class, how many objects exist.</summary>
        public Dictionary<string, object> ValidRefCounts { get; }

        internal EventBatch(Dictionary<string, object> r)
        {
            Token = r.TryGetValue("token", out object t) ? t as string : null;
            ValidRefCounts = r.TryGetValue("valid_ref_counts", out object c) ? c as Dictionary<string, object> : new Dictionary<string, object>();
            var list = new List<XenEvent>();
            if (r.TryGetValue("events", out object e) && e is object[] a)
                foreach (object o in a)
                    if (o is Dictionary<string, object> d) list.Add(new XenEvent(d));
            Events = list.ToArray();
        }
    }

}
