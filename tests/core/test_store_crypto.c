/* Encryption at rest in the local store: round trip, a wrong or missing key,
 * a byte changed anywhere (header, ciphertext, tag), truncation, one nonce
 * per file, retention over encrypted files, and keys in every accepted
 * encoding against the rejected ones, with messages naming the source. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "polyprof.h"
#include "store_crypto.h"

#define KEY_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
/* The same 32 bytes in base64. */
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define OTHER_HEX "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static const char *fake_value;
static const char *fake_getenv(const char *name)
{
    return strcmp(name, "POLYPROF_STORE_KEY") == 0 ? fake_value : NULL;
}

static pp_profile *small_profile(void)
{
    const char *types[] = {"samples", "cpu"}, *units[] = {"count", "nanoseconds"};
    pp_profile *p = pp_profile_create(types, units, 2, "cpu", "nanoseconds", 10000000);
    pp_frame_spec f[2] = {{.name = "leaf_work", .file = "app.py", .line = 3}, {.name = "main", .file = "app.py"}};
    int64_t v[2] = {7, 70000000};
    pp_profile_append(p, f, 2, NULL, 0, v);
    return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK((size_t)write(fd, data, len) == len);
    close(fd);
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    ssize_t n = fd >= 0 ? read(fd, buf, cap) : -1;
    close(fd);
    return n > 0 ? (size_t)n : 0;
}

/* The profile read back has the stack that was written. */
static int has_leaf_work(const pp_profile *p)
{
    if (!p || pp_profile_num_samples(p) != 1 || pp_profile_sample_depth(p, 0) != 2)
        return 0;
    pp_frame_view fv;
    pp_profile_sample_frame(p, 0, 0, &fv);
    return strcmp(fv.name, "leaf_work") == 0 && pp_profile_value(p, 0, 0) == 7;
}

/* Reading `file` of store s fails with a message containing `want`. */
static void check_read_fails(pp_store *s, const char *file, const char *want)
{
    char err[1024] = "";
    pp_profile *p = pp_store_read(s, file, err, sizeof err);
    CHECK(p == NULL);
    pp_profile_free(p);
    if (!strstr(err, want))
        fprintf(stderr, "reading %s: got \"%s\", expected \"%s\"\n", file, err, want);
    CHECK(strstr(err, want) != NULL);
}

static void check_bad_key(const char *value, const char *want)
{
    uint8_t key[PP_STORE_KEY_BYTES];
    char err[512] = "";
    fake_value = value;
    CHECK_EQ_INT(pp_store_key_load(NULL, fake_getenv, key, err, sizeof err), -1);
    if (!strstr(err, want))
        fprintf(stderr, "key \"%s\": got \"%s\", expected \"%s\"\n", value, err, want);
    CHECK(strstr(err, want) != NULL);
    CHECK(strstr(err, value) == NULL || strlen(value) < 4); /* the key is never echoed */
}

int main(void)
{
    unsetenv("POLYPROF_STORE_KEY");
    char dir[] = "/tmp/pp-store-crypto-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char err[1024], path[4096], keyfile[512], otherfile[512], rawfile[512], b64file[512], store_dir[512];
    snprintf(keyfile, sizeof keyfile, "%s/key.hex", dir);
    snprintf(otherfile, sizeof otherfile, "%s/other.hex", dir);
    snprintf(rawfile, sizeof rawfile, "%s/key.raw", dir);
    snprintf(b64file, sizeof b64file, "%s/key.b64", dir);
    snprintf(store_dir, sizeof store_dir, "%s/store", dir);
    char line[80];
    snprintf(line, sizeof line, "%s\n", KEY_HEX);
    write_file(keyfile, line, strlen(line));
    write_file(otherfile, OTHER_HEX, strlen(OTHER_HEX));
    write_file(b64file, KEY_B64, strlen(KEY_B64) - 1); /* without its pad */
    uint8_t raw[PP_STORE_KEY_BYTES];
    for (int i = 0; i < PP_STORE_KEY_BYTES; i++)
        raw[i] = (uint8_t)i;
    write_file(rawfile, raw, sizeof raw);

    /* Round trip: the file is sealed, the core reads it back. */
    const int64_t t0 = 1764000000LL * 1000000000LL;
    pp_store *s = pp_store_open_keyed(store_dir, 0, 0, keyfile, err, sizeof err);
    CHECK(s != NULL);
    pp_profile *p = small_profile();
    CHECK_EQ_INT(pp_store_put(s, p, "svc", "cpu", "continuous", t0, path, sizeof path, err, sizeof err), 0);
    size_t plen = strlen(path);
    CHECK(plen > 10 && strcmp(path + plen - 10, ".pb.gz.enc") == 0);
    char first[4096];
    snprintf(first, sizeof first, "%s", path);
    uint8_t a[8192], b[8192];
    size_t alen = read_file(first, a, sizeof a);
    CHECK(alen > PP_ENC_HEADER_LEN + PP_ENC_TAG_LEN);
    CHECK(memcmp(a, "PPSTENC\x01", 8) == 0);
    CHECK(memmem(a, alen, "leaf_work", 9) == NULL && memmem(a, alen, "\x1f\x8b", 2) != a + PP_ENC_HEADER_LEN);
    pp_profile *back = pp_store_read(s, strrchr(first, '/') + 1, err, sizeof err);
    CHECK(has_leaf_work(back));
    pp_profile_free(back);

    /* Every file has its own nonce: the same profile twice seals differently. */
    CHECK_EQ_INT(pp_store_put(s, p, "svc", "cpu", "continuous", t0, path, sizeof path, err, sizeof err), 0);
    size_t blen = read_file(path, b, sizeof b);
    CHECK_EQ_INT(alen, blen);
    CHECK(memcmp(a + 8, b + 8, PP_ENC_NONCE_LEN) != 0);
    CHECK(memcmp(a + PP_ENC_HEADER_LEN, b + PP_ENC_HEADER_LEN, alen - PP_ENC_HEADER_LEN) != 0);

    /* A plain file in the same store (written before the key) still reads. */
    pp_store *plain = pp_store_open(store_dir, 0, 0, err, sizeof err);
    CHECK_EQ_INT(pp_store_put(plain, p, "svc", "cpu", "manual", t0 + 1000000000LL, path, sizeof path, err, sizeof err),
                 0);
    back = pp_store_read(s, path, err, sizeof err);
    CHECK(has_leaf_work(back));
    pp_profile_free(back);

    /* The listing and the index say which files are encrypted. */
    pp_store_entry *v = NULL;
    int n = pp_store_list(s, &v, err, sizeof err);
    CHECK_EQ_INT(n, 3);
    int encrypted = 0;
    for (int i = 0; i < n; i++) {
        encrypted += v[i].encrypted;
        CHECK_STR(v[i].service, "svc");
        CHECK(strcmp(v[i].trigger, v[i].encrypted ? "continuous" : "manual") == 0);
    }
    CHECK_EQ_INT(encrypted, 2);
    free(v);
    char index_path[600], index[4096] = "";
    snprintf(index_path, sizeof index_path, "%s/index.tsv", store_dir);
    index[read_file(index_path, (uint8_t *)index, sizeof index - 1)] = '\0';
    CHECK(strstr(index, ".pb.gz.enc\taes-256-gcm\n") != NULL);
    CHECK(strstr(index, "_manual.pb.gz\tnone\n") != NULL);

    /* No key, wrong key. */
    check_read_fails(plain, first, "is encrypted: no store key");
    pp_store *wrong = pp_store_open_keyed(store_dir, 0, 0, otherfile, err, sizeof err);
    CHECK(wrong != NULL);
    check_read_fails(wrong, first, "cannot decrypt");
    check_read_fails(wrong, first, "wrong key or the file was modified");
    pp_store_close(wrong);

    /* The same key in its other encodings reads it. */
    const char *same[] = {rawfile, b64file};
    for (int i = 0; i < 2; i++) {
        pp_store *k = pp_store_open_keyed(store_dir, 0, 0, same[i], err, sizeof err);
        CHECK(k != NULL);
        back = k ? pp_store_read(k, first, err, sizeof err) : NULL;
        CHECK(has_leaf_work(back));
        pp_profile_free(back);
        pp_store_close(k);
    }
    /* ... and from the environment, when no key file is given. */
    setenv("POLYPROF_STORE_KEY", KEY_B64, 1);
    pp_store *from_env = pp_store_open_keyed(store_dir, 0, 0, NULL, err, sizeof err);
    back = from_env ? pp_store_read(from_env, first, err, sizeof err) : NULL;
    CHECK(has_leaf_work(back));
    pp_profile_free(back);
    pp_store_close(from_env);
    /* The key file wins over the environment. */
    pp_store *file_wins = pp_store_open_keyed(store_dir, 0, 0, otherfile, err, sizeof err);
    check_read_fails(file_wins, first, "wrong key or the file was modified");
    pp_store_close(file_wins);
    unsetenv("POLYPROF_STORE_KEY");

    /* One byte changed in the magic, the nonce (header: authenticated), the
     * ciphertext, the tag: never read. The version byte names itself. */
    char bad[4096];
    snprintf(bad, sizeof bad, "%s/bad.pb.gz.enc", dir);
    size_t offsets[] = {0, 3, 8, 19, PP_ENC_HEADER_LEN, PP_ENC_HEADER_LEN + 5, alen - PP_ENC_TAG_LEN, alen - 1};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        memcpy(b, a, alen);
        b[offsets[i]] ^= 0x01;
        write_file(bad, b, alen);
        check_read_fails(s, bad, "wrong key or the file was modified");
    }
    memcpy(b, a, alen);
    b[7] = 2;
    write_file(bad, b, alen);
    check_read_fails(s, bad, "encryption format version 2");
    /* Truncated anywhere, or extended. */
    size_t cuts[] = {0, 5, PP_ENC_HEADER_LEN, PP_ENC_HEADER_LEN + PP_ENC_TAG_LEN, alen / 2, alen - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_file(bad, a, cuts[i]);
        check_read_fails(s, bad, "wrong key or the file was modified");
    }
    memcpy(b, a, alen);
    b[alen] = 0;
    write_file(bad, b, alen + 1);
    check_read_fails(s, bad, "wrong key or the file was modified");
    /* A plain pprof renamed to .enc is not read as plain. */
    write_file(bad, "\x1f\x8b\x08\x00", 4);
    check_read_fails(s, bad, "wrong key or the file was modified");

    /* Retention counts and removes encrypted files like plain ones. */
    pp_store_close(plain);
    pp_store *aged = pp_store_open_keyed(store_dir, 3600ULL * 1000000000ULL, 0, keyfile, err, sizeof err);
    CHECK_EQ_INT(pp_store_prune(aged, t0 + 2 * 3600LL * 1000000000LL), 3);
    CHECK_EQ_INT(pp_store_list(aged, &v, err, sizeof err), 0);
    free(v);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(pp_store_put(s, p, "svc", "cpu", "continuous", t0 + i * 1000000000LL, NULL, 0, err, sizeof err),
                     0);
    pp_store *sized = pp_store_open(store_dir, 0, 2 * alen + alen / 2, err, sizeof err);
    CHECK_EQ_INT(pp_store_prune(sized, t0), 2);
    n = pp_store_list(sized, &v, err, sizeof err);
    CHECK_EQ_INT(n, 2);
    if (n == 2)
        CHECK(v[0].encrypted && v[0].start_unix_ns == t0 + 2000000000LL);
    free(v);
    pp_store_close(sized);
    pp_store_close(aged);
    pp_store_close(s);

    /* Keys: accepted encodings and rejected ones, naming the source. */
    uint8_t key[PP_STORE_KEY_BYTES];
    fake_value = "";
    CHECK_EQ_INT(pp_store_key_load(NULL, fake_getenv, key, err, sizeof err), 0); /* empty: not set */
    fake_value = "  " KEY_HEX "\n";
    CHECK_EQ_INT(pp_store_key_load(NULL, fake_getenv, key, err, sizeof err), 1);
    CHECK(memcmp(key, raw, sizeof raw) == 0);
    fake_value = KEY_B64;
    CHECK_EQ_INT(pp_store_key_load(NULL, fake_getenv, key, err, sizeof err), 1);
    CHECK(memcmp(key, raw, sizeof raw) == 0);
    const char *want = "store key from POLYPROF_STORE_KEY: expected 32 bytes as 64 hex digits or base64";
    check_bad_key("secret", want);
    check_bad_key("0001020304050607080900a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", want); /* 65 digits */
    check_bad_key("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", want);   /* 63 */
    check_bad_key("zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "not all hex digits");
    check_bad_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", want); /* base64 of 31 bytes */
    check_bad_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd-h8=", "not base64");
    check_bad_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=AAAA", want);
    /* Key files: missing, too short, too long; the message names the file. */
    char missing[600], shortf[600];
    snprintf(missing, sizeof missing, "%s/nope.key", dir);
    snprintf(shortf, sizeof shortf, "%s/short.key", dir);
    CHECK(pp_store_open_keyed(store_dir, 0, 0, missing, err, sizeof err) == NULL);
    CHECK(strstr(err, "store key from file '") && strstr(err, "nope.key': No such file"));
    write_file(shortf, raw, 31);
    CHECK(pp_store_open_keyed(store_dir, 0, 0, shortf, err, sizeof err) == NULL);
    CHECK(strstr(err, "short.key'") && strstr(err, "expected 32 bytes"));
    uint8_t big[300] = {0};
    write_file(shortf, big, sizeof big);
    CHECK_EQ_INT(pp_store_key_check(shortf, err, sizeof err), -1);
    CHECK(strstr(err, "short.key'") && strstr(err, "larger file"));
    CHECK_EQ_INT(pp_store_key_check(keyfile, err, sizeof err), 1);
    CHECK_EQ_INT(pp_store_key_check(NULL, err, sizeof err), 0);

    /* The option carries the path; the environment's configuration checks
     * the key at start. */
    pp_options o;
    pp_options_default(&o);
    CHECK_EQ_INT(pp_options_parse(&o, "store=/tmp/x,store_key_file=/etc/polyprof.key", err, sizeof err), 0);
    CHECK_STR(o.store_key_file, "/etc/polyprof.key");
    CHECK_EQ_INT(pp_options_parse(&o, "store_key_file=", err, sizeof err), -1);
    CHECK(strstr(err, "store_key_file") != NULL);
    pp_env_config c;
    fake_value = "tooshort";
    CHECK_EQ_INT(pp_env_config_read(&c, fake_getenv, err, sizeof err), -1);
    CHECK(strstr(err, "store key from POLYPROF_STORE_KEY") != NULL);
    fake_value = KEY_HEX;
    CHECK_EQ_INT(pp_env_config_read(&c, fake_getenv, err, sizeof err), 0);

    pp_profile_free(p);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    TEST_MAIN_END();
}
