// Run with libxenapi out of reach (dotnet.mk: dotnet-coreclr-test, under Mono and CoreCLR): the
// first Session, and Session.NativeVersion, must throw XenApiNativeLibraryNotFoundException. Prints
// what it carries, one line each, for the test to compare with what it expects; exits 1 if anything
// else happened.
using System;
using XenAPI;
using Console = System.Console;

static class MissingNative
{
    static int Main()
    {
        try
        {
            using (new Session("http://127.0.0.1:9"))
                Console.WriteLine("loaded: libxenapi was found, so nothing was tested");
            return 1;
        }
        catch (XenApiNativeLibraryNotFoundException e)
        {
            Console.WriteLine("rid: " + e.RuntimeIdentifier);
            Console.WriteLine("file: " + e.FileName);
            foreach (string dir in e.SearchedDirectories)
                Console.WriteLine("searched: " + dir);
            Console.WriteLine("DllNotFoundException: " + (e is DllNotFoundException ? "yes" : "no"));
            Console.WriteLine("inner: " + (e.InnerException == null ? "none" : e.InnerException.GetType().Name));
            Console.WriteLine("message: " + e.Message);
        }
        // The other way in before any session: the library's version.
        try
        {
            Console.WriteLine("loaded: libxenapi " + Session.NativeVersion + " was found, so nothing was tested");
            return 1;
        }
        catch (XenApiNativeLibraryNotFoundException e)
        {
            Console.WriteLine("NativeVersion: " + e.GetType().Name + " for " + e.RuntimeIdentifier);
            return 0;
        }
    }
}
