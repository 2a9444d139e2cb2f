// Shim for qpdf: its C API header only (qpdf itself is C++).
#ifndef SPOOLRUN_CQPDF_SHIM_H
#define SPOOLRUN_CQPDF_SHIM_H
#include <qpdf/qpdf-c.h>
#endif
