// Shim for OpenSSL libcrypto: only what Swift cannot import directly (function-like
// macros and global function pointers) is wrapped here; everything else is used as is.
#ifndef SPOOLRUN_COPENSSL_SHIM_H
#define SPOOLRUN_COPENSSL_SHIM_H
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>

static inline long spoolrun_BIO_set_mem_eof_return(BIO *b, long v) { return BIO_set_mem_eof_return(b, v); }
static inline long spoolrun_BIO_get_mem_data(BIO *b, char **pp) { return BIO_get_mem_data(b, pp); }
static inline void spoolrun_OPENSSL_free(void *p) { OPENSSL_free(p); }

static inline STACK_OF(X509) *spoolrun_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int spoolrun_sk_X509_push(STACK_OF(X509) *s, X509 *x) { return sk_X509_push(s, x); }
static inline int spoolrun_sk_X509_num(const STACK_OF(X509) *s) { return sk_X509_num(s); }
static inline X509 *spoolrun_sk_X509_value(const STACK_OF(X509) *s, int i) { return sk_X509_value(s, i); }
static inline void spoolrun_sk_X509_free(STACK_OF(X509) *s) { sk_X509_free(s); }
static inline void spoolrun_sk_X509_pop_free(STACK_OF(X509) *s) { sk_X509_pop_free(s, X509_free); }

static inline int spoolrun_sk_CMS_SignerInfo_num(STACK_OF(CMS_SignerInfo) *s) { return sk_CMS_SignerInfo_num(s); }
static inline CMS_SignerInfo *spoolrun_sk_CMS_SignerInfo_value(STACK_OF(CMS_SignerInfo) *s, int i) { return sk_CMS_SignerInfo_value(s, i); }
static inline int spoolrun_sk_CMS_RecipientInfo_num(STACK_OF(CMS_RecipientInfo) *s) { return sk_CMS_RecipientInfo_num(s); }

static inline int spoolrun_EVP_PKEY_PUBLIC_KEY(void) { return EVP_PKEY_PUBLIC_KEY; }
static inline int spoolrun_EVP_PKEY_KEYPAIR(void) { return EVP_PKEY_KEYPAIR; }

#endif
