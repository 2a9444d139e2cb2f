// Shim for libxml2. ICU is undefined first: Debian builds libxml2 with ICU and Foundation
// carries its own, and the two 'UErrorCode' definitions clash. xmlFree is a global function
// pointer that Swift 6 rejects as not concurrency-safe, so it is called through a wrapper.
#ifndef SPOOLRUN_CLIBXML2_SHIM_H
#define SPOOLRUN_CLIBXML2_SHIM_H
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/tree.h>
#include <libxml/xmlmemory.h>
static inline void spoolrun_xmlFree(void *p) { xmlFree(p); }
#endif
