// Shim for GMime 3: its type checks and casts are macros, which Swift cannot call.
#ifndef SPOOLRUN_CGMIME_SHIM_H
#define SPOOLRUN_CGMIME_SHIM_H
#include <gmime/gmime.h>

static inline int spoolrun_gmime_is_part(GMimeObject *o) { return GMIME_IS_PART(o); }
static inline int spoolrun_gmime_is_multipart(GMimeObject *o) { return GMIME_IS_MULTIPART(o); }
static inline int spoolrun_gmime_is_message_part(GMimeObject *o) { return GMIME_IS_MESSAGE_PART(o); }
static inline GMimePart *spoolrun_gmime_as_part(GMimeObject *o) { return GMIME_PART(o); }
static inline GMimeMultipart *spoolrun_gmime_as_multipart(GMimeObject *o) { return GMIME_MULTIPART(o); }
static inline GMimeMessagePart *spoolrun_gmime_as_message_part(GMimeObject *o) { return GMIME_MESSAGE_PART(o); }
static inline GMimeObject *spoolrun_gmime_message_as_object(GMimeMessage *m) { return GMIME_OBJECT(m); }
static inline GMimeStream *spoolrun_gmime_mem_as_stream(GMimeStreamMem *m) { return GMIME_STREAM(m); }
static inline GMimeStreamMem *spoolrun_gmime_stream_as_mem(GMimeStream *s) { return GMIME_STREAM_MEM(s); }
static inline int spoolrun_internet_address_is_mailbox(InternetAddress *a) { return INTERNET_ADDRESS_IS_MAILBOX(a); }
static inline int spoolrun_internet_address_is_group(InternetAddress *a) { return INTERNET_ADDRESS_IS_GROUP(a); }
static inline InternetAddressMailbox *spoolrun_internet_address_as_mailbox(InternetAddress *a) { return INTERNET_ADDRESS_MAILBOX(a); }
static inline InternetAddressGroup *spoolrun_internet_address_as_group(InternetAddress *a) { return INTERNET_ADDRESS_GROUP(a); }
static inline void spoolrun_g_object_unref(void *o) { g_object_unref(o); }
static inline void spoolrun_g_free(void *p) { g_free(p); }
#endif
