// Shim for libharu (libhpdf): Debian ships no pkg-config file, so the module map links
// "hpdf" by name; this header only includes the library.
#ifndef SPOOLRUN_CHARU_SHIM_H
#define SPOOLRUN_CHARU_SHIM_H
#include <hpdf.h>
#endif
