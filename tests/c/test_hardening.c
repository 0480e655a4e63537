/* test_hardening.c - regression tests for bugs found by the fuzz targets in fuzz/ (issue 9).
 * Each case replays, in a plain exact test, what a fuzz input revealed. */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/zr_breaker.h"
#include "core/zr_shm.h"
#include "zr_test.h"

void suite_hardening(void);

/* Write a segment header with a *valid* checksum (any program can compute FNV-1a) whose
 * payload_size is `psize`, followed by `tail` zero bytes. */
static void write_header(const char *path, uint64_t psize, size_t tail)
{
    zr_shm_header h;
    memset(&h, 0, sizeof h);
    h.magic = ZR_SHM_MAGIC;
    h.layout_version = ZR_SHM_LAYOUT_VERSION;
    h.kind = ZR_SHM_KIND_TEST;
    h.fingerprint = 42;
    h.payload_size = psize;
    h.payload_offset = (sizeof h + 63) / 64 * 64;
    h.checksum = zr_fnv1a(&h, offsetof(zr_shm_header, checksum), ZR_FNV_OFFSET);
    size_t len = sizeof h + tail;
    unsigned char *buf = calloc(1, len);
    memcpy(buf, &h, sizeof h);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, buf, len) == (ssize_t)len);
    close(fd);
    free(buf);
}

/* fuzz_shm found: payload_offset + payload_size wrapped around 2^64 for a huge
 * payload_size, so zr_shm_inspect accepted a file far shorter than its header claims. */
static void payload_size_does_not_wrap(void)
{
    char dir[128], path[300];
    snprintf(dir, sizeof dir, "/tmp/zr_hardening_test_%ld", (long)getpid());
    CHECK(zr_shm_ensure_dir(dir) == ZR_OK);
    snprintf(path, sizeof path, "%s/wrap.zrseg", dir);
    zr_shm_info info;
    const uint64_t off = (sizeof(zr_shm_header) + 63) / 64 * 64;
    write_header(path, UINT64_MAX - off + 1, 64); /* off + size == 2^64 == 0 */
    CHECK(zr_shm_inspect(path, &info) == ZR_ECORRUPT);
    write_header(path, UINT64_MAX, 64);
    CHECK(zr_shm_inspect(path, &info) == ZR_ECORRUPT);
    zr_shm s;
    CHECK(zr_shm_open(&s, dir, "wrap", ZR_SHM_KIND_TEST, 42, 64, NULL, NULL, NULL) == ZR_ECORRUPT);
    /* the honest case still works: a payload that fits exactly */
    write_header(path, 64, off - sizeof(zr_shm_header) + 64);
    CHECK(zr_shm_inspect(path, &info) == ZR_OK && info.payload_size == 64);
    write_header(path, 65, off - sizeof(zr_shm_header) + 64); /* one byte short */
    CHECK(zr_shm_inspect(path, &info) == ZR_ECORRUPT);
    unlink(path);
    rmdir(dir);
}

/* fuzz_breaker found: with a tiny TIME-window bucket (a valid window_duration of a few
 * denormals) bucket indices saturate at +-9e18, and window_advance computed k - from across
 * the whole int64 range: signed overflow (UB; UBSan aborts scripts/sanitize.sh on it). */
static void breaker_window_extreme_indices(void)
{
    zr_breaker_config cfg;
    zr_breaker_config_default(&cfg);
    cfg.window_kind = ZR_WINDOW_TIME;
    cfg.window_buckets = 3;
    cfg.window_duration = 5e-324;
    cfg.minimum_calls = 1;
    cfg.failure_threshold = 0;
    cfg.failure_rate_threshold = 1.0;
    CHECK(zr_breaker_config_check(&cfg, NULL) == ZR_OK);
    size_t n = zr_breaker_state_size(&cfg);
    zr_breaker_state *s = malloc(n);
    CHECK(s != NULL && zr_breaker_state_init(&cfg, s, n) == ZR_OK);
    zr_breaker_change ch;
    /* success at a negative time (index -9e18), then at a positive one (index +9e18) */
    CHECK(zr_breaker_record(&cfg, s, -1.0, 0, ZR_OUTCOME_SUCCESS, 0.0, &ch) == ZR_OK);
    CHECK(zr_breaker_record(&cfg, s, 5.0, 0, ZR_OUTCOME_SUCCESS, 0.0, &ch) == ZR_OK);
    zr_breaker_stats st;
    zr_breaker_stats_get(&cfg, s, 5.0, &st);
    CHECK(st.window_calls == 1 && st.mode == ZR_BREAKER_CLOSED); /* the old one fell out */
    free(s);
}

void suite_hardening(void)
{
    payload_size_does_not_wrap();
    breaker_window_extreme_indices();
}
