/* test_shared.c - zr_shared: fingerprints, repair after a SIGKILLed lock holder,
 * re-initialisation when repair fails, pid liveness, precise problems for bad files. */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/zr_shared.h"
#include "zr_test.h"

typedef struct {
    uint64_t tokens; /* invariant: tokens <= cap */
    uint64_t cap;
    int64_t owner;   /* pid holding a "permit", 0: none */
} sh_payload;

static zr_status sh_init(void *p, void *arg)
{
    sh_payload *t = p;
    t->cap = arg ? *(uint64_t *)arg : 10;
    t->tokens = t->cap;
    t->owner = 0;
    return ZR_OK;
}

/* A repair that clamps tokens and releases a dead owner's permit; counts its calls. */
static int repair_calls;
static zr_status sh_repair(void *p, void *arg)
{
    (void)arg;
    sh_payload *t = p;
    repair_calls++;
    if (t->tokens > t->cap) t->tokens = t->cap;
    if (t->owner != 0 && !zr_pid_alive(t->owner)) t->owner = 0;
    return ZR_OK;
}

static zr_status sh_repair_fails(void *p, void *arg)
{
    (void)p;
    (void)arg;
    repair_calls++;
    return ZR_ECORRUPT;
}

static char sdir[256];

static void fingerprints(void)
{
    zr_fingerprint a, b;
    zr_fp_begin(&a, 1, 1, 64);
    zr_fp_u64(&a, 5);
    zr_fp_f64(&a, 0.5);
    zr_fp_begin(&b, 1, 1, 64);
    zr_fp_u64(&b, 5);
    zr_fp_f64(&b, 0.5);
    CHECK(zr_fp_end(&a) == zr_fp_end(&b)); /* deterministic */
    uint64_t base = zr_fp_end(&a);
    zr_fp_begin(&b, 1, 1, 64);
    zr_fp_f64(&b, 0.5);
    zr_fp_u64(&b, 5);
    CHECK(zr_fp_end(&b) != base); /* order matters */
    zr_fp_begin(&b, 1, 1, 64);
    zr_fp_u64(&b, 5);
    zr_fp_f64(&b, 0.25);
    CHECK(zr_fp_end(&b) != base); /* a value matters */
    zr_fp_begin(&b, 2, 1, 64);
    zr_fp_u64(&b, 5);
    zr_fp_f64(&b, 0.5);
    CHECK(zr_fp_end(&b) != base); /* the kind matters */
    zr_fp_begin(&b, 1, 1, 72);
    zr_fp_u64(&b, 5);
    zr_fp_f64(&b, 0.5);
    CHECK(zr_fp_end(&b) != base); /* the struct size matters */
    zr_fp_begin(&a, 1, 1, 64);
    zr_fp_i64(&a, 5);
    zr_fp_begin(&b, 1, 1, 64);
    zr_fp_u64(&b, 5);
    CHECK(zr_fp_end(&a) != zr_fp_end(&b)); /* types are tagged */
    zr_fp_begin(&a, 1, 1, 64);
    zr_fp_f64(&a, 0.0);
    zr_fp_begin(&b, 1, 1, 64);
    zr_fp_f64(&b, -0.0);
    CHECK(zr_fp_end(&a) == zr_fp_end(&b));
    zr_fp_begin(&a, 1, 1, 64);
    zr_fp_f64(&a, NAN);
    zr_fp_begin(&b, 1, 1, 64);
    zr_fp_f64(&b, -NAN);
    CHECK(zr_fp_end(&a) == zr_fp_end(&b));
    zr_fp_begin(&a, 1, 1, 64);
    zr_fp_bytes(&a, "ab", 2);
    zr_fp_bytes(&a, "c", 1);
    zr_fp_begin(&b, 1, 1, 64);
    zr_fp_bytes(&b, "a", 1);
    zr_fp_bytes(&b, "bc", 2);
    CHECK(zr_fp_end(&a) != zr_fp_end(&b)); /* length-prefixed */
}

static void pids(void)
{
    CHECK(zr_pid_alive(zr_self_pid()) == 1);
    CHECK(zr_pid_alive(0) == 0 && zr_pid_alive(-5) == 0);
    CHECK(zr_pid_alive((int64_t)1 << 40) == 0); /* not representable as pid_t */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    CHECK(zr_pid_alive(child) == 0);
}

/* A child locks, breaks the invariant and takes the permit, then is SIGKILLed. */
static void kill_holder(zr_shared *sh)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (zr_shared_lock(sh, NULL) != ZR_OK) _exit(3);
        sh_payload *t = zr_shared_payload(sh);
        t->owner = zr_self_pid();
        t->tokens = t->cap + 1000; /* torn: beyond the cap */
        if (write(fds[1], "x", 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    char c;
    CHECK(read(fds[0], &c, 1) == 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fds[0]);
    close(fds[1]);
}

static void repair_after_kill(void)
{
    zr_shared sh;
    uint64_t cap = 7;
    int created = 0, repaired = -1;
    zr_shm_problem why = ZR_SHM_HEALTHY;
    CHECK(zr_shared_open(&sh, sdir, "repair", ZR_SHM_KIND_TEST, 11, sizeof(sh_payload), sh_init,
                         &cap, sh_repair, NULL, &created, &why) == ZR_OK);
    CHECK(created == 1 && ((sh_payload *)zr_shared_payload(&sh))->tokens == 7);
    repair_calls = 0;
    kill_holder(&sh);
    CHECK(zr_shared_lock(&sh, &repaired) == ZR_OK);
    CHECK(repaired == 1 && repair_calls == 1);
    sh_payload *t = zr_shared_payload(&sh);
    CHECK(t->tokens == 7 && t->owner == 0); /* clamped, dead owner's permit released */
    t->tokens = 3;
    zr_shared_unlock(&sh);
    CHECK(zr_shared_lock(&sh, &repaired) == ZR_OK && repaired == 0 && repair_calls == 1);
    CHECK(t->tokens == 3); /* a normal lock does not touch the payload */
    zr_shared_unlock(&sh);
    CHECK(sh.repairs == 1 && sh.shm.hdr->recoveries == 1);
    zr_shared_close(&sh);
    zr_shared_close(&sh); /* twice is safe */

    /* a failing repair falls back to a fresh payload from init */
    CHECK(zr_shared_open(&sh, sdir, "repair", ZR_SHM_KIND_TEST, 11, sizeof(sh_payload), sh_init,
                         &cap, sh_repair_fails, NULL, &created, &why) == ZR_OK);
    CHECK(created == 0);
    repair_calls = 0;
    kill_holder(&sh);
    CHECK(zr_shared_lock(&sh, &repaired) == ZR_OK && repaired == 1 && repair_calls == 1);
    t = zr_shared_payload(&sh);
    CHECK(t->tokens == 7 && t->cap == 7 && t->owner == 0);
    zr_shared_unlock(&sh);
    zr_shared_close(&sh);

    /* no repair callback: init alone */
    CHECK(zr_shared_open(&sh, sdir, "repair", ZR_SHM_KIND_TEST, 11, sizeof(sh_payload), sh_init,
                         &cap, NULL, NULL, NULL, NULL) == ZR_OK);
    kill_holder(&sh);
    CHECK(zr_shared_lock(&sh, &repaired) == ZR_OK && repaired == 1);
    t = zr_shared_payload(&sh);
    CHECK(t->tokens == 7 && t->owner == 0);
    zr_shared_unlock(&sh);
    zr_shared_close(&sh);
}

static void write_file(const char *name, const void *data, size_t len, mode_t mode)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s.zrseg", sdir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        if (len > 0 && write(fd, data, len) != (ssize_t)len) {}
        close(fd);
    }
    chmod(path, mode);
}

static zr_shm_problem open_problem(const char *name, uint64_t fp)
{
    zr_shared sh;
    zr_shm_problem why = ZR_SHM_HEALTHY;
    if (zr_shared_open(&sh, sdir, name, ZR_SHM_KIND_TEST, fp, sizeof(sh_payload), sh_init, NULL,
                       NULL, NULL, NULL, &why) == ZR_OK) {
        zr_shared_close(&sh);
        return ZR_SHM_HEALTHY;
    }
    return why;
}

static zr_shm_problem examine(const char *name)
{
    char path[400];
    zr_shm_info info;
    snprintf(path, sizeof path, "%s/%s.zrseg", sdir, name);
    zr_status st = zr_shm_examine(path, &info);
    CHECK((st == ZR_OK) == (info.problem == ZR_SHM_HEALTHY));
    return info.problem;
}

static void problems(void)
{
    zr_shared sh;
    CHECK(open_problem("good", 1) == ZR_SHM_HEALTHY);
    CHECK(examine("good") == ZR_SHM_HEALTHY);
    CHECK(open_problem("good", 2) == ZR_SHM_OTHER_CONFIG);
    zr_shm_problem why;
    CHECK(zr_shared_open(&sh, sdir, "good", ZR_SHM_KIND_BREAKER, 1, sizeof(sh_payload), NULL,
                         NULL, NULL, NULL, NULL, &why) == ZR_ECORRUPT &&
          why == ZR_SHM_OTHER_KIND);
    CHECK(zr_shared_open(&sh, sdir, "good", ZR_SHM_KIND_TEST, 1, 8, NULL, NULL, NULL, NULL, NULL,
                         &why) == ZR_ECORRUPT &&
          why == ZR_SHM_OTHER_KIND);
    CHECK(examine("nothing-here") == ZR_SHM_MISSING);

    write_file("empty", "", 0, 0600);
    CHECK(open_problem("empty", 1) == ZR_SHM_TRUNCATED && examine("empty") == ZR_SHM_TRUNCATED);

    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(i * 7 + 1);
    write_file("junk", junk, sizeof junk, 0600);
    CHECK(open_problem("junk", 1) == ZR_SHM_FOREIGN && examine("junk") == ZR_SHM_FOREIGN);
    write_file("junk-small", junk, 20, 0600);
    CHECK(open_problem("junk-small", 1) == ZR_SHM_FOREIGN);

    /* our magic with another layout version: stale */
    zr_shm_header h;
    memset(&h, 0, sizeof h);
    h.magic = ZR_SHM_MAGIC;
    h.layout_version = ZR_SHM_LAYOUT_VERSION + 1;
    write_file("stale", &h, sizeof h, 0600);
    CHECK(open_problem("stale", 1) == ZR_SHM_STALE && examine("stale") == ZR_SHM_STALE);
    h.layout_version = ZR_SHM_LAYOUT_VERSION; /* right version, wrong checksum */
    char big[4096];
    memset(big, 0, sizeof big);
    memcpy(big, &h, sizeof h);
    write_file("badsum", big, sizeof big, 0600);
    CHECK(open_problem("badsum", 1) == ZR_SHM_CORRUPT && examine("badsum") == ZR_SHM_CORRUPT);
    write_file("half", &h, 10, 0600); /* magic, then cut inside the version */
    CHECK(open_problem("half", 1) == ZR_SHM_TRUNCATED);

    /* a valid segment cut short after creation */
    CHECK(open_problem("cut", 1) == ZR_SHM_HEALTHY);
    char path[400];
    snprintf(path, sizeof path, "%s/cut.zrseg", sdir);
    CHECK(truncate(path, (off_t)sizeof(zr_shm_header) + 8) == 0);
    CHECK(open_problem("cut", 1) == ZR_SHM_TRUNCATED && examine("cut") == ZR_SHM_TRUNCATED);

    /* loose permissions */
    CHECK(open_problem("loose", 1) == ZR_SHM_HEALTHY);
    snprintf(path, sizeof path, "%s/loose.zrseg", sdir);
    CHECK(chmod(path, 0644) == 0);
    CHECK(open_problem("loose", 1) == ZR_SHM_BAD_MODE && examine("loose") == ZR_SHM_BAD_MODE);

    /* a symlink is never followed */
    char link_path[400];
    snprintf(link_path, sizeof link_path, "%s/link.zrseg", sdir);
    snprintf(path, sizeof path, "%s/good.zrseg", sdir);
    CHECK(symlink(path, link_path) == 0);
    CHECK(open_problem("link", 1) == ZR_SHM_NOT_REGULAR && examine("link") == ZR_SHM_NOT_REGULAR);

    /* another owner (only testable as root) */
    if (getuid() == 0) {
        CHECK(open_problem("owned", 1) == ZR_SHM_HEALTHY);
        snprintf(path, sizeof path, "%s/owned.zrseg", sdir);
        CHECK(chown(path, 65534, 65534) == 0);
        CHECK(open_problem("owned", 1) == ZR_SHM_BAD_OWNER && examine("owned") == ZR_SHM_BAD_OWNER);
    }

    /* every problem has a description */
    for (int p = ZR_SHM_HEALTHY; p <= ZR_SHM_UNSAFE_DIR; p++)
        CHECK(strcmp(zr_shm_problem_str((zr_shm_problem)p), "unknown problem") != 0);
    CHECK(strcmp(zr_shm_problem_str((zr_shm_problem)99), "unknown problem") == 0);

    /* an unsafe directory */
    char loose_dir[300];
    snprintf(loose_dir, sizeof loose_dir, "%s/opendir", sdir);
    mkdir(loose_dir, 0755);
    chmod(loose_dir, 0755);
    CHECK(zr_shared_open(&sh, loose_dir, "x", ZR_SHM_KIND_TEST, 1, sizeof(sh_payload), NULL, NULL,
                         NULL, NULL, NULL, &why) == ZR_ESTATE &&
          why == ZR_SHM_UNSAFE_DIR);
}

void suite_shared(void)
{
    snprintf(sdir, sizeof sdir, "/tmp/zr_shared_test_%ld", (long)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", sdir);
    if (system(cmd) != 0) {}
    fingerprints();
    pids();
    repair_after_kill();
    problems();
    if (system(cmd) != 0) {}
}
