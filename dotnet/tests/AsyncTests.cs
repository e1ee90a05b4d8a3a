using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using NUnit.Framework;
using Tasks = System.Threading.Tasks;

namespace XenAPI.Tests
{
    /// <summary>Issue 22 from C#: the <c>…Async</c> form of each message, completed by libxenapi's
    /// callback (no .NET thread waits for the reply), read into the same values as the blocking
    /// form, failing with the same Failure, cancelled by its token.</summary>
    [TestFixture]
    public class AsyncTests
    {
        /// <summary>A UI thread: a loop that runs what is posted to its SynchronizationContext, and
        /// counts the posts.</summary>
        sealed class UiThread : SynchronizationContext, IDisposable
        {
            readonly BlockingCollection<KeyValuePair<SendOrPostCallback, object>> queue =
                new BlockingCollection<KeyValuePair<SendOrPostCallback, object>>();
            readonly Thread thread;
            internal int Posts;
            internal int ThreadId => thread.ManagedThreadId;

            internal UiThread()
            {
                thread = new Thread(() =>
                {
                    SetSynchronizationContext(this);
                    foreach (var item in queue.GetConsumingEnumerable())
                        item.Key(item.Value);
                }) { IsBackground = true, Name = "ui" };
                thread.Start();
            }

            public override void Post(SendOrPostCallback d, object state)
            {
                Interlocked.Increment(ref Posts);
                queue.Add(new KeyValuePair<SendOrPostCallback, object>(d, state));
            }

            public override void Send(SendOrPostCallback d, object state) => throw new NotSupportedException("a UI thread is never blocked");

            /// <summary>Runs <paramref name="f"/> on the UI thread and gives its task.</summary>
            internal Tasks.Task<T> Run<T>(Func<Tasks.Task<T>> f)
            {
                var done = new Tasks.TaskCompletionSource<Tasks.Task<T>>();
                queue.Add(new KeyValuePair<SendOrPostCallback, object>(_ => done.SetResult(f()), null));
                return System.Threading.Tasks.TaskExtensions.Unwrap(done.Task);
            }

            public void Dispose() => queue.CompleteAdding();
        }

        [Test]
        public void AwaitOnAUiThreadNeverBlocksIt()
        {
            using (Sim sim = Sim.Start(CancellationTests.Flag, CancellationTests.Vms))
            using (Session s = sim.Login())
            using (var ui = new UiThread())
            {
                var expected = VM.get_all_records(s);
                sim.Post("/sim/delay?ms=600");
                int ticks = 0;
                // While the call is held, the UI thread goes on running what is posted to it.
                var ticker = new Timer(_ => ui.Post(__ => ticks++, null), null, 0, 50);
                var result = ui.Run(async () =>
                {
                    var records = await VM.get_all_recordsAsync(s);
                    // The continuation is back on the UI thread, through its context.
                    Assert.AreEqual(ui.ThreadId, Thread.CurrentThread.ManagedThreadId);
                    int ticksWhileWaiting = ticks;
                    return Tuple.Create(records, ticksWhileWaiting);
                });
                Assert.IsTrue(result.Wait(TimeSpan.FromSeconds(10)), "the awaited call completed");
                ticker.Dispose();
                Assert.GreaterOrEqual(result.Result.Item2, 5, "the UI thread ran its timer while the call was held");
                Assert.Greater(ui.Posts, result.Result.Item2, "the continuation came through Post");
                var got = result.Result.Item1;
                CollectionAssert.AreEquivalent(expected.Keys, got.Keys);
                foreach (var kv in got)
                {
                    Assert.AreEqual(kv.Key.opaque_ref, kv.Value.opaque_ref, "records keyed by reference know it");
                    Assert.IsTrue(expected[kv.Key].DeepEquals(kv.Value, false), kv.Value.name_label);
                }
            }
        }

        [Test]
        public void NoPoolThreadWaitsForAReply()
        {
            using (Sim sim = Sim.Start(CancellationTests.Flag, CancellationTests.Vms))
            using (Session s = sim.Login(new Options(sim.Url) { MaxConcurrentCalls = 64 }))
            {
                var vms = VM.get_all(s);
                var labels = vms.ToDictionary(v => v, v => VM.get_name_label(s, v));
                ThreadPool.GetMaxThreads(out int max, out int maxIo);
                ThreadPool.GetAvailableThreads(out int idleBefore, out int ioBefore);
                sim.Post("/sim/delay?ms=1000");
                var calls = Enumerable.Range(0, 40).Select(i => VM.get_name_labelAsync(s, vms[i % vms.Count])).ToArray();
                Thread.Sleep(400);
                Assert.IsTrue(calls.All(c => !c.IsCompleted), "the calls are held");
                ThreadPool.GetAvailableThreads(out int idleDuring, out int ioDuring);
                Assert.Less(idleBefore - idleDuring, 4, "pool threads busy while 40 calls wait: " + (idleBefore - idleDuring) + " of " + max);
                Assert.IsTrue(Tasks.Task.WaitAll(calls, TimeSpan.FromSeconds(20)));
                for (int i = 0; i < calls.Length; i++)
                    Assert.AreEqual(labels[vms[i % vms.Count]], calls[i].Result);
            }
        }

        static IEnumerable<object[]> Servers()
        {
            yield return new object[] { new[] { "--vms", "4" } };
            yield return new object[] { new[] { "--vms", "2", "--no-jsonrpc" } };
            yield return new object[] { new[] { "--vms", "4", "--dialect", "xend" } };
        }

        /// <summary>100 calls at once, of every shape of result, each equal to the blocking form's.</summary>
        [TestCaseSource(nameof(Servers))]
        public void HundredConcurrentCallsReadAsTheBlockingForm(string[] flags)
        {
            using (Sim sim = Sim.Start(flags))
            using (Session s = sim.Login())
            {
                var vms = VM.get_all(s);
                var checks = new List<Tasks.Task>();
                for (int i = 0; i < 100; i++)
                {
                    XenRef<VM> vm = vms[i % vms.Count];
                    switch (i % 10)
                    {
                        case 0: checks.Add(Same(VM.get_name_label(s, vm), VM.get_name_labelAsync(s, vm))); break;
                        case 1: checks.Add(Same(VM.get_power_state(s, vm), VM.get_power_stateAsync(s, vm))); break;
                        case 2: checks.Add(Same(VM.get_memory_static_max(s, vm), VM.get_memory_static_maxAsync(s, vm))); break;
                        case 3: checks.Add(Same(VM.get_is_a_template(s, vm), VM.get_is_a_templateAsync(s, vm))); break;
                        case 4: checks.Add(VM.get_other_configAsync(s, vm).ContinueWith(t => CollectionAssert.AreEquivalent(VM.get_other_config(s, vm), t.Result))); break;
                        case 5: checks.Add(VM.get_recordAsync(s, vm).ContinueWith(t => Assert.IsTrue(VM.get_record(s, vm).DeepEquals(t.Result, false)))); break;
                        case 6: checks.Add(VM.get_allAsync(s).ContinueWith(t => CollectionAssert.AreEqual(VM.get_all(s), t.Result))); break;
                        case 7: checks.Add(Same(VM.get_metrics(s, vm), VM.get_metricsAsync(s, vm))); break;
                        case 8: checks.Add(VM.get_VBDsAsync(s, vm).ContinueWith(t => CollectionAssert.AreEqual(VM.get_VBDs(s, vm), t.Result))); break;
                        default: checks.Add(Same(VM.get_VCPUs_max(s, vm), VM.get_VCPUs_maxAsync(s, vm))); break;
                    }
                }
                Assert.IsTrue(Tasks.Task.WaitAll(checks.ToArray(), TimeSpan.FromSeconds(60)));
                // A date and a float, on the metrics.
                XenRef<VM_metrics> m = VM.get_metrics(s, vms[0]);
                Assert.AreEqual(VM_metrics.get_start_time(s, m), VM_metrics.get_start_timeAsync(s, m).Result);
                Assert.AreEqual(VM_metrics.get_memory_actual(s, m), VM_metrics.get_memory_actualAsync(s, m).Result);
            }
        }

        static Tasks.Task Same<T>(T expected, Tasks.Task<T> got) =>
            got.ContinueWith(t => Assert.AreEqual(expected, t.Result));

        [Test]
        public void AFailureIsTheBlockingFormsFailure()
        {
            using (Sim sim = Sim.Start(CancellationTests.Flag, CancellationTests.Vms))
            using (Session s = sim.Login())
            {
                XenRef<VM> running = VM.get_all(s).First(v => VM.get_power_state(s, v) == vm_power_state.Halted);
                VM.start(s, running, false, false);
                try
                {
                    var blocking = Assert.Throws<Failure>(() => VM.start(s, running, false, false));
                    var e = Assert.Throws<AggregateException>(() => VM.startAsync(s, running, false, false).Wait());
                    var failure = e.InnerException as Failure;
                    Assert.IsNotNull(failure, e.InnerException?.GetType().Name);
                    Assert.AreEqual(Failure.VM_BAD_POWER_STATE, failure.ErrorDescription[0]);
                    CollectionAssert.AreEqual(blocking.ErrorDescription, failure.ErrorDescription);
                    var bad = Assert.Throws<AggregateException>(() => VM.get_recordAsync(s, "OpaqueRef:nonesuch").Wait());
                    Assert.AreEqual(Failure.HANDLE_INVALID, ((Failure)bad.InnerException).ErrorDescription[0]);
                }
                finally
                {
                    VM.hard_shutdown(s, running);
                }
            }
        }

        [Test]
        public void VoidMessagesAndRecordArguments()
        {
            using (Sim sim = Sim.Start(CancellationTests.Flag, CancellationTests.Vms))
            using (Session s = sim.Login())
            {
                XenRef<VM> vm = VM.get_all(s).First();
                string was = VM.get_name_description(s, vm);
                Assert.IsTrue(VM.set_name_descriptionAsync(s, vm, "from a task").Wait(TimeSpan.FromSeconds(10)));
                Assert.AreEqual("from a task", VM.get_name_description(s, vm));
                VM.set_name_description(s, vm, was);
                // A record argument goes as the typed call sends it.
                VM record = VM.get_record(s, vm);
                record.name_label = "made by createAsync";
                XenRef<VM> made = VM.createAsync(s, record).Result;
                try
                {
                    VM back = VM.get_record(s, made);
                    Assert.AreEqual("made by createAsync", back.name_label);
                    Assert.AreEqual(record.memory_static_max, back.memory_static_max);
                    Assert.AreEqual(record.VCPUs_max, back.VCPUs_max);
                }
                finally
                {
                    VM.destroy(s, made);
                }
            }
        }

        [Test]
        public void AnEventBatchReadsAsTheBlockingForm()
        {
            using (Sim sim = Sim.Start(CancellationTests.Flag, CancellationTests.Vms))
            using (Session s = sim.Login())
            {
                EventBatch batch = Event.fromAsync(s, new[] { "vm" }, "", 0.0).Result;
                EventBatch same = Event.from(s, new[] { "vm" }, "", 0.0);
                Assert.IsNotEmpty(batch.token);
                Assert.AreEqual(same.events.Count, batch.events.Count);
                CollectionAssert.AreEquivalent(same.events.Select(e => e.opaqueRef), batch.events.Select(e => e.opaqueRef));
                Assert.IsTrue(batch.events.All(e => e.snapshot is Dictionary<string, object>), "snapshots as untyped records");
                // Nothing changed since: a short poll from the new token gives no event.
                Assert.IsEmpty(Event.fromAsync(s, new[] { "vm" }, batch.token, 0.1).Result.events);
            }
        }

        [Test]
        public void CancellingAnAwaitedHeldCallEndsIt()
        {
            using (Sim sim = Sim.Start(CancellationTests.Flag, CancellationTests.Vms))
            using (Session s = sim.Login())
            using (var cts = new CancellationTokenSource())
            {
                int n = VM.get_all(s).Count;
                sim.Post("/sim/delay?ms=5000");
                var clock = Stopwatch.StartNew();
                Tasks.Task<List<XenRef<VM>>> call = VM.get_allAsync(s, cts.Token);
                Thread.Sleep(300);
                Assert.IsFalse(call.IsCompleted, "held by the server");
                clock.Restart();
                cts.Cancel();
                var e = Assert.Throws<AggregateException>(() => call.Wait(TimeSpan.FromSeconds(10)));
                double ms = clock.Elapsed.TotalMilliseconds;
                Assert.IsInstanceOf<OperationCanceledException>(e.InnerException);
                Assert.IsTrue(call.IsCanceled);
                Assert.Less(ms, 200.0, "the task ended " + ms + " ms after the cancel");
                // Awaited, it throws TaskCanceledException carrying the token.
                var awaited = Assert.Throws<Tasks.TaskCanceledException>(() => call.GetAwaiter().GetResult());
                Assert.AreEqual(cts.Token, awaited.CancellationToken);
                sim.Post("/sim/delay?ms=0");
                Assert.AreEqual(n, VM.get_allAsync(s).Result.Count, "the session works after");
                // A token cancelled before the call: cancelled at once, nothing sent.
                long calls = sim.Stats()["calls"];
                Assert.IsTrue(VM.get_allAsync(s, cts.Token).IsCanceled);
                Assert.AreEqual(calls, sim.Stats()["calls"]);
            }
        }
    }
}
