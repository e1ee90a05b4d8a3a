// A stand-in for System.Diagnostics.DiagnosticSource's Activity, for the Mono test run only:
// Mono has no DiagnosticSource assembly and this machine no NuGet feed. It has the members of the
// real class that XenApi reads by reflection (static Current, Id) and that TracingTests uses
// (the constructor, SetIdFormat, Start, Stop), with the real ids' shapes: W3C
// "00-<32 hex>-<16 hex>-01" and hierarchical "|<root>.<n>.". Built as
// System.Diagnostics.DiagnosticSource.dll beside the test assembly (dotnet/dotnet.mk); .NET runs
// the same tests against the real class (dotnet/tests/XenApi.Tests.csproj leaves this out).
using System.Threading;

namespace System.Diagnostics
{
    public enum ActivityIdFormat
    {
        Unknown = 0,
        Hierarchical = 1,
        W3C = 2,
    }

    public class Activity
    {
        static readonly AsyncLocal<Activity> current = new AsyncLocal<Activity>();
        static readonly Random random = new Random();
        ActivityIdFormat format = ActivityIdFormat.W3C;
        Activity parent;

        public Activity(string operationName) { OperationName = operationName; }

        public string OperationName { get; }

        public string Id { get; private set; }

        public static Activity Current
        {
            get => current.Value;
            set => current.Value = value;
        }

        public Activity SetIdFormat(ActivityIdFormat f)
        {
            format = f;
            return this;
        }

        static string Hex(int bytes)
        {
            var b = new byte[bytes];
            lock (random) random.NextBytes(b);
            return BitConverter.ToString(b).Replace("-", "").ToLowerInvariant();
        }

        public Activity Start()
        {
            Id = format == ActivityIdFormat.Hierarchical ? "|" + Hex(8) + ".1." : "00-" + Hex(16) + "-" + Hex(8) + "-01";
            parent = Current;
            Current = this;
            return this;
        }

        public void Stop()
        {
            Current = parent;
        }
    }
}
