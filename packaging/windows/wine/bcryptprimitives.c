/* A stand-in for Windows 10's bcryptprimitives.dll, for running the .exe files under Debian 12's
 * wine 8.0 in scripts/test-packages.sh only (never shipped): wine 8.0 has no such DLL, and Go's
 * runtime (1.24 and later) stops before main without its ProcessPrng ("bcryptprimitives.dll not
 * found"). Go loads it from the system folder only, so the test puts it in the wine prefix's
 * system32. ProcessPrng fills the buffer from the system's random generator (RtlGenRandom, which
 * wine has), as Windows' own does, and never fails on Windows. */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len; /* RtlGenRandom takes a ULONG length */
    if (!RtlGenRandom(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
