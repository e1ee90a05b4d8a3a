using System;
using System.Collections.Generic;

namespace XenAPI
{
    /// <summary>
    /// libxenapi, the native part of this package, could not be loaded: it is not where the runtime
    /// looked, or it is built for another platform. The message names the runtime identifier
    /// (<see cref="RuntimeIdentifier"/>), the file (<see cref="FileName"/>) and the folders looked in
    /// (<see cref="SearchedDirectories"/>); <see cref="Exception.InnerException"/> is the runtime's own
    /// exception. A <see cref="DllNotFoundException"/>, so code catching that still does.
    /// </summary>
    public sealed class XenApiNativeLibraryNotFoundException : DllNotFoundException
    {
        /// <summary>The runtime identifiers whose native library the XenApi package carries.</summary>
        public static readonly IReadOnlyList<string> PackagedRuntimeIdentifiers = new[] { "linux-x64", "linux-arm64", "win-x64" };

        /// <summary>The platform of this process as NuGet names it: <c>linux-x64</c>, <c>win-x64</c>, ...</summary>
        public string RuntimeIdentifier { get; }

        /// <summary>The file looked for: <c>libxenapi.so</c>, <c>xenapi.dll</c> or <c>libxenapi.dylib</c>.</summary>
        public string FileName { get; }

        /// <summary>The folders the runtime looks in besides the system's library path, in its order.</summary>
        public IReadOnlyList<string> SearchedDirectories { get; }

        /// <summary>Describes the failure to load <paramref name="fileName"/> for <paramref name="runtimeIdentifier"/>.</summary>
        public XenApiNativeLibraryNotFoundException(string runtimeIdentifier, string fileName,
            IReadOnlyList<string> searchedDirectories, string systemPath, Exception inner)
            : base(Describe(runtimeIdentifier, fileName, searchedDirectories, systemPath, inner), inner)
        {
            RuntimeIdentifier = runtimeIdentifier;
            FileName = fileName;
            SearchedDirectories = searchedDirectories;
        }

        static string Describe(string rid, string file, IReadOnlyList<string> dirs, string systemPath, Exception inner)
        {
            string where = dirs.Count > 0 ? string.Join(", ", dirs) + " and " : "";
            string message = "XenApi could not load its native library for " + rid + ": " + file
                + " was not found or could not be loaded. Looked in " + where + "the system's library path ("
                + systemPath + ").";
            if (((IList<string>)PackagedRuntimeIdentifiers).Contains(rid))
                message += " The XenApi package carries it as runtimes/" + rid + "/native/" + file
                    + ": .NET (Core) finds it there; .NET Framework builds copy it next to the program"
                    + " (the package's XenApi.targets); under Mono, put it next to XenApi.dll.";
            else
                message += " The XenApi package has no native library for " + rid + " (it carries "
                    + string.Join(", ", PackagedRuntimeIdentifiers) + "); build libxenapi for it"
                    + " (cargo build --release -p xenapi-ffi) and put " + file + " next to XenApi.dll.";
            if (inner != null)
                message += " The runtime said: " + inner.Message;
            return message;
        }
    }
}
