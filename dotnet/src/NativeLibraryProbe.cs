using System;
using System.Collections.Generic;
using System.IO;

namespace XenAPI
{
    /// <summary>
    /// Loads libxenapi before the first real call, so that a missing or foreign native library is
    /// reported once, as a <see cref="XenApiNativeLibraryNotFoundException"/> saying what was looked
    /// for and where, instead of a bare <see cref="DllNotFoundException"/> from some later call.
    /// Every native call needs an <see cref="Options"/> handle or the version first, so those two
    /// places ask here (<c>Options.ToNative</c>, <c>NativeMethods.xenapi_version</c>).
    /// </summary>
    internal static class NativeLibraryProbe
    {
        static volatile bool loaded;

        internal static void EnsureLoaded()
        {
            if (loaded) return;
            try
            {
                NativeMethods.xenapi_version_unchecked();
            }
            catch (DllNotFoundException e) when (!(e is XenApiNativeLibraryNotFoundException))
            {
                throw NotFound(e);
            }
            catch (BadImageFormatException e)
            {
                throw NotFound(e);
            }
            loaded = true;
        }

        static XenApiNativeLibraryNotFoundException NotFound(Exception e)
        {
            string os = OsName();
            string rid = os + "-" + ProcessArchitecture();
            string file = os == "win" ? "xenapi.dll" : os == "osx" ? "libxenapi.dylib" : "libxenapi.so";
            string pathVariable = os == "win" ? "PATH" : os == "osx" ? "DYLD_LIBRARY_PATH" : "LD_LIBRARY_PATH";
            string value = Environment.GetEnvironmentVariable(pathVariable);
            string systemPath = string.IsNullOrEmpty(value) ? pathVariable + " unset" : pathVariable + "=" + value;
            return new XenApiNativeLibraryNotFoundException(rid, file, SearchedDirectories(), systemPath, e);
        }

        /// <summary>Where the runtimes look before the system's path: the folders .NET (Core) names
        /// (from the app's .deps.json, runtimes/RID/native of each package), the program's folder
        /// and the folder of XenApi.dll (.NET Framework, Mono).</summary>
        static IReadOnlyList<string> SearchedDirectories()
        {
            var dirs = new List<string>();
            if (AppDomain.CurrentDomain.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string coreclr)
                foreach (string dir in coreclr.Split(Path.PathSeparator))
                    AddDirectory(dirs, dir);
            AddDirectory(dirs, AppDomain.CurrentDomain.BaseDirectory);
            string assembly = typeof(NativeLibraryProbe).Assembly.Location;
            if (!string.IsNullOrEmpty(assembly))
                AddDirectory(dirs, Path.GetDirectoryName(assembly));
            return dirs;
        }

        static void AddDirectory(List<string> dirs, string dir)
        {
            if (string.IsNullOrEmpty(dir)) return;
            string full = Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar);
            if (!dirs.Contains(full)) dirs.Add(full);
        }

        static string OsName()
        {
            if (Environment.OSVersion.Platform == PlatformID.Win32NT) return "win";
            // Mono and .NET (Core) report macOS as Unix; its system folders tell it apart.
            if (Directory.Exists("/System/Library/CoreServices")) return "osx";
            return "linux";
        }

        /// <summary>x64, arm64, x86, ... from RuntimeInformation, found by name: .NET Framework 4.6.1,
        /// which this assembly targets, lacks it (4.7.1+, .NET (Core) and Mono have it).</summary>
        static string ProcessArchitecture()
        {
            Type info = Type.GetType("System.Runtime.InteropServices.RuntimeInformation, System.Runtime.InteropServices.RuntimeInformation", false)
                ?? Type.GetType("System.Runtime.InteropServices.RuntimeInformation", false);
            object arch = info?.GetProperty("ProcessArchitecture")?.GetValue(null, null);
            if (arch != null) return arch.ToString().ToLowerInvariant();
            return IntPtr.Size == 8 ? "x64" : "x86";
        }
    }
}
