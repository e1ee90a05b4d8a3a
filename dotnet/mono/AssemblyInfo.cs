// Assembly attributes for the Mono (mcs) build of XenApi.dll; `dotnet pack` generates its own from
// XenApi.csproj, so this file is not part of that project. Keep the version in step with
// XenApi.csproj and XenApi.nuspec.
using System.Reflection;

[assembly: AssemblyTitle("XenApi")]
[assembly: AssemblyDescription("XenAPI client for .NET over libxenapi")]
[assembly: AssemblyProduct("xenapi-rs")]
[assembly: AssemblyVersion("0.2.0.0")]
[assembly: AssemblyFileVersion("0.2.0.0")]
[assembly: AssemblyInformationalVersion("0.2.0")]
