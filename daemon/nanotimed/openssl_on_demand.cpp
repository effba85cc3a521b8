// openssl_on_demand.cpp - the OpenSSL functions nanotimed calls, each a
// forwarder that loads libssl and libcrypto at the first call (why in the
// header). Linked into the nanotimed binary only, in place of libssl and
// libcrypto; a function the daemon starts calling must be added here, or
// the linker takes it from libssl again (even for a call --gc-sections
// later drops) and the e2e test
// DaemonEndToEnd.PlainClientNeverLoadsOpenSslUntilAReloadAddsNts fails.
#include "nanotimed/openssl_on_demand.hpp"

#include <dlfcn.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

namespace nanotime::daemon {
namespace {

#define NANOTIME_STR2(x) #x
#define NANOTIME_STR(x) NANOTIME_STR2(x)
// The sonames of the OpenSSL the daemon was built against (3.x keeps them).
constexpr const char* kLibssl = "libssl.so." NANOTIME_STR(OPENSSL_VERSION_MAJOR);
constexpr const char* kLibcrypto = "libcrypto.so." NANOTIME_STR(OPENSSL_VERSION_MAJOR);

struct Libraries {
    void* ssl = nullptr;
    void* crypto = nullptr;
};

std::once_flag g_load_once;
Libraries g_libraries;
std::atomic<bool> g_loaded{false};
std::string g_load_error;

void* open_library(const char* name) {
    // RTLD_NOW: every symbol bound here, before a filter or a packet path
    // could see a lazy binding; RTLD_LOCAL: nothing else in the process
    // binds to OpenSSL's symbols by accident.
    void* handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = dlerror();
        g_load_error = std::string("cannot load ") + name + ": " + (why ? why : "unknown error");
    }
    return handle;
}

void* lookup(void* library, const char* symbol) noexcept {
    void* fn = dlsym(library, symbol);
    if (fn == nullptr) {
        std::fprintf(stderr, "nanotimed: OpenSSL has no %s\n", symbol);
        std::abort();
    }
    return fn;
}

void load_once() {
    Libraries libs;
    libs.crypto = open_library(kLibcrypto);
    if (libs.crypto == nullptr) return;
    libs.ssl = open_library(kLibssl);
    if (libs.ssl == nullptr) return;
    // First call into OpenSSL: started without openssl.cnf (see
    // util/openssl_init.hpp), whatever the first caller wanted.
    using Init = int (*)(uint64_t, const OPENSSL_INIT_SETTINGS*);
    auto* init = reinterpret_cast<Init>(lookup(libs.crypto, "OPENSSL_init_crypto"));
    if (init(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr) != 1) {
        g_load_error = "OPENSSL_init_crypto failed";
        return;
    }
    g_libraries = libs;
    g_loaded.store(true, std::memory_order_release);
}

// For the forwarders: OpenSSL's function `symbol`, loading the libraries
// first. A forwarder cannot report a failure through OpenSSL's API, so a
// library that cannot be loaded here (nanotimed loads it up front whenever
// its configuration needs it) ends the daemon with the reason.
void* resolve(const char* symbol) noexcept {
    try {
        load_openssl();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nanotimed: %s\n", e.what());
        std::abort();
    }
    // libssl's dependencies include libcrypto: one lookup finds either.
    return lookup(g_libraries.ssl, symbol);
}

}  // namespace

void load_openssl() {
    std::call_once(g_load_once, load_once);
    if (!g_loaded.load(std::memory_order_acquire)) throw std::runtime_error(g_load_error);
}

bool openssl_loaded() noexcept {
    return g_loaded.load(std::memory_order_acquire);
}

}  // namespace nanotime::daemon

// Each forwarder resolves its function once (a function-local static,
// initialised thread-safely) and calls it with the same arguments.
// Declared by OpenSSL's headers included above: a definition that differs
// from the declaration does not compile.
#define NANOTIME_FORWARD(ret, name, params, args)                                  \
    extern "C" ret name params {                                                   \
        static auto* const fn =                                                    \
            reinterpret_cast<decltype(&(name))>(nanotime::daemon::resolve(#name)); \
        return fn args;                                                            \
    }

NANOTIME_FORWARD(size_t, BIO_ctrl_pending, (BIO * b), (b))
NANOTIME_FORWARD(int, BIO_free, (BIO * a), (a))
NANOTIME_FORWARD(int, BIO_new_bio_pair,
                 (BIO * *bio1, size_t writebuf1, BIO** bio2, size_t writebuf2),
                 (bio1, writebuf1, bio2, writebuf2))
NANOTIME_FORWARD(BIO*, BIO_new_mem_buf, (const void* buf, int len), (buf, len))
NANOTIME_FORWARD(int, BIO_read, (BIO * b, void* data, int dlen), (b, data, dlen))
NANOTIME_FORWARD(int, BIO_write, (BIO * b, const void* data, int dlen), (b, data, dlen))
NANOTIME_FORWARD(int, CRYPTO_memcmp, (const void* in_a, const void* in_b, size_t len),
                 (in_a, in_b, len))
NANOTIME_FORWARD(void, ERR_clear_error, (), ())
NANOTIME_FORWARD(void, ERR_error_string_n, (unsigned long e, char* buf, size_t len), (e, buf, len))
NANOTIME_FORWARD(unsigned long, ERR_get_error, (), ())
NANOTIME_FORWARD(int, EVP_CIPHER_CTX_ctrl, (EVP_CIPHER_CTX * ctx, int type, int arg, void* ptr),
                 (ctx, type, arg, ptr))
NANOTIME_FORWARD(void, EVP_CIPHER_CTX_free, (EVP_CIPHER_CTX * c), (c))
NANOTIME_FORWARD(EVP_CIPHER_CTX*, EVP_CIPHER_CTX_new, (), ())
NANOTIME_FORWARD(int, EVP_CIPHER_CTX_set_padding, (EVP_CIPHER_CTX * c, int pad), (c, pad))
NANOTIME_FORWARD(EVP_CIPHER*, EVP_CIPHER_fetch,
                 (OSSL_LIB_CTX * ctx, const char* algorithm, const char* properties),
                 (ctx, algorithm, properties))
NANOTIME_FORWARD(void, EVP_CIPHER_free, (EVP_CIPHER * cipher), (cipher))
NANOTIME_FORWARD(int, EVP_DecryptFinal_ex, (EVP_CIPHER_CTX * ctx, unsigned char* outm, int* outl),
                 (ctx, outm, outl))
NANOTIME_FORWARD(int, EVP_DecryptInit_ex2,
                 (EVP_CIPHER_CTX * ctx, const EVP_CIPHER* cipher, const unsigned char* key,
                  const unsigned char* iv, const OSSL_PARAM params[]),
                 (ctx, cipher, key, iv, params))
NANOTIME_FORWARD(int, EVP_DecryptUpdate,
                 (EVP_CIPHER_CTX * ctx, unsigned char* out, int* outl, const unsigned char* in,
                  int inl),
                 (ctx, out, outl, in, inl))
NANOTIME_FORWARD(int, EVP_Digest,
                 (const void* data, size_t count, unsigned char* md, unsigned int* size,
                  const EVP_MD* type, ENGINE* impl),
                 (data, count, md, size, type, impl))
NANOTIME_FORWARD(int, EVP_EncryptFinal_ex, (EVP_CIPHER_CTX * ctx, unsigned char* out, int* outl),
                 (ctx, out, outl))
NANOTIME_FORWARD(int, EVP_EncryptInit_ex2,
                 (EVP_CIPHER_CTX * ctx, const EVP_CIPHER* cipher, const unsigned char* key,
                  const unsigned char* iv, const OSSL_PARAM params[]),
                 (ctx, cipher, key, iv, params))
NANOTIME_FORWARD(int, EVP_EncryptUpdate,
                 (EVP_CIPHER_CTX * ctx, unsigned char* out, int* outl, const unsigned char* in,
                  int inl),
                 (ctx, out, outl, in, inl))
NANOTIME_FORWARD(void, EVP_MAC_CTX_free, (EVP_MAC_CTX * ctx), (ctx))
NANOTIME_FORWARD(EVP_MAC_CTX*, EVP_MAC_CTX_new, (EVP_MAC * mac), (mac))
NANOTIME_FORWARD(int, EVP_MAC_CTX_set_params, (EVP_MAC_CTX * ctx, const OSSL_PARAM params[]),
                 (ctx, params))
NANOTIME_FORWARD(EVP_MAC*, EVP_MAC_fetch,
                 (OSSL_LIB_CTX * libctx, const char* algorithm, const char* properties),
                 (libctx, algorithm, properties))
NANOTIME_FORWARD(int, EVP_MAC_final,
                 (EVP_MAC_CTX * ctx, unsigned char* out, size_t* outl, size_t outsize),
                 (ctx, out, outl, outsize))
NANOTIME_FORWARD(int, EVP_MAC_init,
                 (EVP_MAC_CTX * ctx, const unsigned char* key, size_t keylen,
                  const OSSL_PARAM params[]),
                 (ctx, key, keylen, params))
NANOTIME_FORWARD(int, EVP_MAC_update,
                 (EVP_MAC_CTX * ctx, const unsigned char* data, size_t datalen),
                 (ctx, data, datalen))
NANOTIME_FORWARD(void, EVP_PKEY_free, (EVP_PKEY * pkey), (pkey))
NANOTIME_FORWARD(void, OPENSSL_cleanse, (void* ptr, size_t len), (ptr, len))
NANOTIME_FORWARD(int, OPENSSL_init_crypto, (uint64_t opts, const OPENSSL_INIT_SETTINGS* settings),
                 (opts, settings))
NANOTIME_FORWARD(OSSL_PARAM, OSSL_PARAM_construct_end, (), ())
NANOTIME_FORWARD(OSSL_PARAM, OSSL_PARAM_construct_uint, (const char* key, unsigned int* buf),
                 (key, buf))
NANOTIME_FORWARD(OSSL_PARAM, OSSL_PARAM_construct_utf8_string,
                 (const char* key, char* buf, size_t bsize), (key, buf, bsize))
NANOTIME_FORWARD(EVP_PKEY*, PEM_read_bio_PrivateKey,
                 (BIO * bp, EVP_PKEY** x, pem_password_cb* cb, void* u), (bp, x, cb, u))
NANOTIME_FORWARD(X509*, PEM_read_bio_X509, (BIO * bp, X509** x, pem_password_cb* cb, void* u),
                 (bp, x, cb, u))
NANOTIME_FORWARD(int, SSL_CTX_check_private_key, (const SSL_CTX* ctx), (ctx))
NANOTIME_FORWARD(long, SSL_CTX_ctrl, (SSL_CTX * ctx, int cmd, long larg, void* parg),
                 (ctx, cmd, larg, parg))
NANOTIME_FORWARD(void, SSL_CTX_free, (SSL_CTX * ctx), (ctx))
NANOTIME_FORWARD(X509_VERIFY_PARAM*, SSL_CTX_get0_param, (SSL_CTX * ctx), (ctx))
NANOTIME_FORWARD(X509_STORE*, SSL_CTX_get_cert_store, (const SSL_CTX* ctx), (ctx))
NANOTIME_FORWARD(SSL_CTX*, SSL_CTX_new, (const SSL_METHOD* meth), (meth))
NANOTIME_FORWARD(const char*, SSL_CIPHER_standard_name, (const SSL_CIPHER* c), (c))
NANOTIME_FORWARD(const SSL_CIPHER*, SSL_get_current_cipher, (const SSL* s), (s))
NANOTIME_FORWARD(int, SSL_CTX_set_alpn_protos,
                 (SSL_CTX * ctx, const unsigned char* protos, unsigned int protos_len),
                 (ctx, protos, protos_len))
NANOTIME_FORWARD(void, SSL_CTX_set_alpn_select_cb,
                 (SSL_CTX * ctx, SSL_CTX_alpn_select_cb_func cb, void* arg), (ctx, cb, arg))
NANOTIME_FORWARD(int, SSL_CTX_set_ciphersuites, (SSL_CTX * ctx, const char* str), (ctx, str))
NANOTIME_FORWARD(int, SSL_CTX_set_default_verify_paths, (SSL_CTX * ctx), (ctx))
NANOTIME_FORWARD(int, SSL_CTX_set_num_tickets, (SSL_CTX * ctx, size_t num_tickets),
                 (ctx, num_tickets))
NANOTIME_FORWARD(uint64_t, SSL_CTX_set_options, (SSL_CTX * ctx, uint64_t op), (ctx, op))
NANOTIME_FORWARD(void, SSL_CTX_set_verify, (SSL_CTX * ctx, int mode, SSL_verify_cb callback),
                 (ctx, mode, callback))
NANOTIME_FORWARD(int, SSL_CTX_use_PrivateKey, (SSL_CTX * ctx, EVP_PKEY* pkey), (ctx, pkey))
NANOTIME_FORWARD(int, SSL_CTX_use_certificate, (SSL_CTX * ctx, X509* x), (ctx, x))
NANOTIME_FORWARD(long, SSL_ctrl, (SSL * ssl, int cmd, long larg, void* parg),
                 (ssl, cmd, larg, parg))
NANOTIME_FORWARD(int, SSL_do_handshake, (SSL * s), (s))
NANOTIME_FORWARD(int, SSL_export_keying_material,
                 (SSL * s, unsigned char* out, size_t olen, const char* label, size_t llen,
                  const unsigned char* context, size_t contextlen, int use_context),
                 (s, out, olen, label, llen, context, contextlen, use_context))
NANOTIME_FORWARD(void, SSL_free, (SSL * ssl), (ssl))
NANOTIME_FORWARD(void, SSL_get0_alpn_selected,
                 (const SSL* ssl, const unsigned char** data, unsigned int* len), (ssl, data, len))
NANOTIME_FORWARD(int, SSL_get_error, (const SSL* s, int ret_code), (s, ret_code))
NANOTIME_FORWARD(SSL*, SSL_new, (SSL_CTX * ctx), (ctx))
NANOTIME_FORWARD(int, SSL_read_ex, (SSL * ssl, void* buf, size_t num, size_t* readbytes),
                 (ssl, buf, num, readbytes))
NANOTIME_FORWARD(int, SSL_select_next_proto,
                 (unsigned char** out, unsigned char* outlen, const unsigned char* in,
                  unsigned int inlen, const unsigned char* client, unsigned int client_len),
                 (out, outlen, in, inlen, client, client_len))
NANOTIME_FORWARD(int, SSL_set1_host, (SSL * s, const char* hostname), (s, hostname))
NANOTIME_FORWARD(void, SSL_set_accept_state, (SSL * s), (s))
NANOTIME_FORWARD(void, SSL_set_bio, (SSL * s, BIO* rbio, BIO* wbio), (s, rbio, wbio))
NANOTIME_FORWARD(void, SSL_set_connect_state, (SSL * s), (s))
NANOTIME_FORWARD(int, SSL_shutdown, (SSL * s), (s))
NANOTIME_FORWARD(int, SSL_write_ex, (SSL * s, const void* buf, size_t num, size_t* written),
                 (s, buf, num, written))
NANOTIME_FORWARD(const SSL_METHOD*, TLS_client_method, (), ())
NANOTIME_FORWARD(const SSL_METHOD*, TLS_server_method, (), ())
NANOTIME_FORWARD(int, X509_STORE_add_cert, (X509_STORE * ctx, X509* x), (ctx, x))
NANOTIME_FORWARD(int, X509_VERIFY_PARAM_set_flags, (X509_VERIFY_PARAM * param, unsigned long flags),
                 (param, flags))
NANOTIME_FORWARD(void, X509_free, (X509 * a), (a))

// [broker]: the token hashes, the CA and the client-certificate verdict.
NANOTIME_FORWARD(BIO*, BIO_new, (const BIO_METHOD* type), (type))
NANOTIME_FORWARD(const BIO_METHOD*, BIO_s_mem, (), ())
NANOTIME_FORWARD(long, BIO_ctrl, (BIO * bp, int cmd, long larg, void* parg), (bp, cmd, larg, parg))
NANOTIME_FORWARD(void, BN_free, (BIGNUM * a), (a))
NANOTIME_FORWARD(BIGNUM*, BN_bin2bn, (const unsigned char* s, int len, BIGNUM* ret), (s, len, ret))
NANOTIME_FORWARD(ASN1_INTEGER*, BN_to_ASN1_INTEGER, (const BIGNUM* bn, ASN1_INTEGER* ai), (bn, ai))
NANOTIME_FORWARD(int, EVP_PBE_scrypt,
                 (const char* pass, size_t passlen, const unsigned char* salt, size_t saltlen,
                  uint64_t N, uint64_t r, uint64_t p, uint64_t maxmem, unsigned char* key,
                  size_t keylen),
                 (pass, passlen, salt, saltlen, N, r, p, maxmem, key, keylen))
NANOTIME_FORWARD(EVP_PKEY_CTX*, EVP_PKEY_CTX_new_from_name,
                 (OSSL_LIB_CTX * libctx, const char* name, const char* propquery),
                 (libctx, name, propquery))
NANOTIME_FORWARD(void, EVP_PKEY_CTX_free, (EVP_PKEY_CTX * ctx), (ctx))
NANOTIME_FORWARD(int, EVP_PKEY_keygen_init, (EVP_PKEY_CTX * ctx), (ctx))
NANOTIME_FORWARD(int, EVP_PKEY_CTX_set_group_name, (EVP_PKEY_CTX * ctx, const char* name),
                 (ctx, name))
NANOTIME_FORWARD(int, EVP_PKEY_generate, (EVP_PKEY_CTX * ctx, EVP_PKEY** ppkey), (ctx, ppkey))
NANOTIME_FORWARD(const EVP_MD*, EVP_sha256, (), ())
NANOTIME_FORWARD(int, PEM_write_bio_X509, (BIO * bp, const X509* x), (bp, x))
NANOTIME_FORWARD(int, PEM_write_bio_PrivateKey,
                 (BIO * out, const EVP_PKEY* x, const EVP_CIPHER* enc, const unsigned char* kstr,
                  int klen, pem_password_cb* cb, void* u),
                 (out, x, enc, kstr, klen, cb, u))
NANOTIME_FORWARD(X509_REQ*, PEM_read_bio_X509_REQ,
                 (BIO * bp, X509_REQ** x, pem_password_cb* cb, void* u), (bp, x, cb, u))
NANOTIME_FORWARD(X509*, SSL_get0_peer_certificate, (const SSL* s), (s))
NANOTIME_FORWARD(long, SSL_get_verify_result, (const SSL* ssl), (ssl))
NANOTIME_FORWARD(X509_EXTENSION*, X509V3_EXT_conf_nid,
                 (LHASH_OF(CONF_VALUE) * conf, X509V3_CTX* ctx, int ext_nid, const char* value),
                 (conf, ctx, ext_nid, value))
NANOTIME_FORWARD(void, X509V3_set_ctx,
                 (X509V3_CTX * ctx, X509* issuer, X509* subject, X509_REQ* req, X509_CRL* crl,
                  int flags),
                 (ctx, issuer, subject, req, crl, flags))
NANOTIME_FORWARD(void, X509_EXTENSION_free, (X509_EXTENSION * a), (a))
NANOTIME_FORWARD(int, X509_NAME_add_entry_by_txt,
                 (X509_NAME * name, const char* field, int type, const unsigned char* bytes,
                  int len, int loc, int set),
                 (name, field, type, bytes, len, loc, set))
NANOTIME_FORWARD(int, X509_NAME_get_text_by_NID,
                 (const X509_NAME* name, int nid, char* buf, int len), (name, nid, buf, len))
NANOTIME_FORWARD(void, X509_REQ_free, (X509_REQ * a), (a))
NANOTIME_FORWARD(EVP_PKEY*, X509_REQ_get_pubkey, (X509_REQ * req), (req))
NANOTIME_FORWARD(int, X509_REQ_verify, (X509_REQ * a, EVP_PKEY* r), (a, r))
NANOTIME_FORWARD(int, X509_add_ext, (X509 * x, X509_EXTENSION* ex, int loc), (x, ex, loc))
NANOTIME_FORWARD(int, X509_check_ca, (X509 * x), (x))
NANOTIME_FORWARD(int, X509_check_private_key, (const X509* x509, const EVP_PKEY* pkey),
                 (x509, pkey))
NANOTIME_FORWARD(int, X509_digest,
                 (const X509* data, const EVP_MD* type, unsigned char* md, unsigned int* len),
                 (data, type, md, len))
NANOTIME_FORWARD(ASN1_INTEGER*, X509_get_serialNumber, (X509 * x), (x))
NANOTIME_FORWARD(X509_NAME*, X509_get_subject_name, (const X509* a), (a))
NANOTIME_FORWARD(ASN1_TIME*, X509_getm_notAfter, (const X509* x), (x))
NANOTIME_FORWARD(ASN1_TIME*, X509_getm_notBefore, (const X509* x), (x))
NANOTIME_FORWARD(X509*, X509_new, (), ())
NANOTIME_FORWARD(int, X509_set_issuer_name, (X509 * x, const X509_NAME* name), (x, name))
NANOTIME_FORWARD(int, X509_set_pubkey, (X509 * x, EVP_PKEY* pkey), (x, pkey))
NANOTIME_FORWARD(int, X509_set_version, (X509 * x, long version), (x, version))
NANOTIME_FORWARD(int, X509_sign, (X509 * x, EVP_PKEY* pkey, const EVP_MD* md), (x, pkey, md))
NANOTIME_FORWARD(ASN1_TIME*, X509_time_adj_ex,
                 (ASN1_TIME * s, int offset_day, long offset_sec, time_t* in_tm),
                 (s, offset_day, offset_sec, in_tm))
NANOTIME_FORWARD(const char*, X509_verify_cert_error_string, (long n), (n))
