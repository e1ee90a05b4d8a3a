/*
 * A stand-in bcryptprimitives.dll for running our Windows binaries under Wine 8, which lacks it:
 * Rust's standard library on Windows takes its random bytes from ProcessPrng there. This one
 * draws them from RtlGenRandom (advapi32's SystemFunction036). Built into the cross tests' folder
 * only, beside the test programs; never shipped (Windows has the real one).
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    /* RtlGenRandom takes a ULONG length: fill larger requests in pieces. */
    while (length > 0) {
        ULONG piece = length > 0x10000000u ? 0x10000000u : (ULONG)length;
        if (!SystemFunction036(data, piece)) {
            return FALSE;
        }
        data += piece;
        length -= piece;
    }
    return TRUE;
}
