/* test_shared_state.c - a breaker in a shared segment: several processes, a probe holder
 * SIGKILLed (its slot is reaped), a lock holder SIGKILLed mid-update (repaired). */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/zr_shared_state.h"
#include "zr_test.h"

void suite_shared_state(void);

static char bdir[256];

static void breaker_cfg(zr_breaker_config *cfg)
{
    zr_breaker_config_default(cfg);
    cfg->failure_threshold = 2;
    cfg->recovery_timeout = 1.0;
    cfg->max_break = 1.0;
    cfg->half_open_max_calls = 2;
    cfg->success_threshold = 2;
    cfg->permit_lease = 1e6; /* only reaping can free a dead owner's slot */
}

static zr_status open_breaker(zr_shared *sh, zr_breaker_config *cfg)
{
    return zr_shared_open(sh, bdir, "brk", ZR_SHM_KIND_BREAKER, zr_shared_breaker_fingerprint(cfg),
                          zr_breaker_state_size(cfg), zr_shared_breaker_init, cfg,
                          zr_shared_breaker_repair, cfg, NULL, NULL);
}

static void fingerprint(void)
{
    zr_breaker_config a, b;
    breaker_cfg(&a);
    breaker_cfg(&b);
    CHECK(zr_shared_breaker_fingerprint(&a) == zr_shared_breaker_fingerprint(&b));
    b.failure_threshold = 3;
    CHECK(zr_shared_breaker_fingerprint(&a) != zr_shared_breaker_fingerprint(&b));
    breaker_cfg(&b);
    b.half_open_max_calls = 3; /* also changes the state size */
    CHECK(zr_shared_breaker_fingerprint(&a) != zr_shared_breaker_fingerprint(&b));
}

/* A child takes a half-open probe and is killed while holding it (not the lock). */
static pid_t take_probe_and_die(zr_shared *sh, const zr_breaker_config *cfg, double now)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        zr_breaker_permit p;
        double ra;
        if (zr_shared_lock(sh, NULL) != ZR_OK) _exit(3);
        zr_status st = zr_breaker_acquire(cfg, zr_shared_payload(sh), now, (uint64_t)zr_self_pid(),
                                          &p, &ra, NULL);
        zr_shared_unlock(sh);
        if (st != ZR_OK || p.slot == ZR_BREAKER_NO_SLOT) _exit(4);
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
    return pid;
}

static void dead_probe_holder(void)
{
    zr_breaker_config cfg;
    breaker_cfg(&cfg);
    zr_shared sh;
    CHECK(open_breaker(&sh, &cfg) == ZR_OK);
    zr_breaker_state *s = zr_shared_payload(&sh);
    double now = 100.0, ra;
    zr_breaker_permit p;
    /* trip it */
    CHECK(zr_shared_lock(&sh, NULL) == ZR_OK);
    for (int i = 0; i < 2; i++)
        CHECK(zr_breaker_record(&cfg, s, now, 0, ZR_OUTCOME_FAILURE, 0.0, NULL) == ZR_OK);
    CHECK(s->mode == ZR_BREAKER_OPEN);
    zr_shared_unlock(&sh);
    now += 2.0; /* the break is over: the next acquire goes half-open */
    take_probe_and_die(&sh, &cfg, now);
    take_probe_and_die(&sh, &cfg, now);
    CHECK(zr_shared_lock(&sh, NULL) == ZR_OK);
    CHECK(s->mode == ZR_BREAKER_HALF_OPEN && s->probes_in_use == 2);
    CHECK(zr_breaker_acquire(&cfg, s, now, 1, &p, &ra, NULL) == ZR_EREJECTED); /* all out */
    CHECK(zr_shared_breaker_reap(&cfg, s) == 2);
    CHECK(s->probes_in_use == 0);
    CHECK(zr_breaker_acquire(&cfg, s, now, (uint64_t)zr_self_pid(), &p, &ra, NULL) == ZR_OK);
    CHECK(zr_shared_breaker_reap(&cfg, s) == 0); /* a live owner's slot is kept */
    CHECK(zr_breaker_release(&cfg, s, now, &p, ZR_OUTCOME_SUCCESS, 0.0, NULL) == ZR_OK);
    zr_shared_unlock(&sh);
    zr_shared_close(&sh);
}

static void dead_lock_holder(void)
{
    zr_breaker_config cfg;
    breaker_cfg(&cfg);
    zr_shared sh;
    CHECK(open_breaker(&sh, &cfg) == ZR_OK);
    zr_breaker_state *s = zr_shared_payload(&sh);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        zr_breaker_permit p;
        double ra;
        if (zr_shared_lock(&sh, NULL) != ZR_OK) _exit(3);
        /* a probe, then a torn update: an illegal mode and a runaway slot count */
        (void)zr_breaker_acquire(&cfg, s, 200.0, (uint64_t)zr_self_pid(), &p, &ra, NULL);
        s->mode = 77;
        s->probes_in_use = 1000;
        if (write(fds[1], "x", 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    char c;
    CHECK(read(fds[0], &c, 1) == 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    int repaired = 0;
    CHECK(zr_shared_lock(&sh, &repaired) == ZR_OK && repaired == 1);
    CHECK(s->mode <= ZR_BREAKER_DISABLED);
    CHECK(s->probes_in_use == 0); /* recounted, and the dead owner's slot freed */
    zr_shared_unlock(&sh);
    /* a payload that is not a breaker state at all is re-initialised */
    pid = fork();
    if (pid == 0) {
        if (zr_shared_lock(&sh, NULL) != ZR_OK) _exit(3);
        memset(s, 0x5a, 64);
        if (write(fds[1], "x", 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    CHECK(read(fds[0], &c, 1) == 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    CHECK(zr_shared_lock(&sh, &repaired) == ZR_OK && repaired == 1);
    CHECK(zr_breaker_state_check(&cfg, s) == ZR_OK && s->mode == ZR_BREAKER_CLOSED &&
          s->admitted == 0);
    zr_shared_unlock(&sh);
    zr_shared_close(&sh);
    close(fds[0]);
    close(fds[1]);
}

/* 8 processes record K outcomes each: the shared lifetime counters are exact. */
static void many_processes(void)
{
    zr_breaker_config cfg;
    breaker_cfg(&cfg);
    cfg.failure_threshold = 1000000; /* never trips: every call is admitted */
    zr_shared sh;
    CHECK(zr_shared_open(&sh, bdir, "many", ZR_SHM_KIND_BREAKER,
                         zr_shared_breaker_fingerprint(&cfg), zr_breaker_state_size(&cfg),
                         zr_shared_breaker_init, &cfg, zr_shared_breaker_repair, &cfg, NULL,
                         NULL) == ZR_OK);
    enum { PROCS = 8, PER = 5000 };
    for (int i = 0; i < PROCS; i++) {
        if (fork() == 0) {
            zr_shared c;
            if (zr_shared_open(&c, bdir, "many", ZR_SHM_KIND_BREAKER,
                               zr_shared_breaker_fingerprint(&cfg), zr_breaker_state_size(&cfg),
                               zr_shared_breaker_init, &cfg, zr_shared_breaker_repair, &cfg,
                               NULL, NULL) != ZR_OK)
                _exit(2);
            for (int k = 0; k < PER; k++) {
                zr_breaker_permit p;
                double ra;
                if (zr_shared_lock(&c, NULL) != ZR_OK) _exit(3);
                zr_breaker_state *s = zr_shared_payload(&c);
                zr_status st = zr_breaker_acquire(&cfg, s, 1.0, (uint64_t)zr_self_pid(), &p, &ra,
                                                  NULL);
                zr_shared_unlock(&c);
                if (st != ZR_OK) _exit(4);
                if (zr_shared_lock(&c, NULL) != ZR_OK) _exit(3);
                (void)zr_breaker_release(&cfg, s, 1.0, &p,
                                         k % 3 ? ZR_OUTCOME_SUCCESS : ZR_OUTCOME_FAILURE, 0.0,
                                         NULL);
                zr_shared_unlock(&c);
            }
            _exit(0);
        }
    }
    int ok = 1;
    for (int i = 0; i < PROCS; i++) {
        int status;
        wait(&status);
        ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    CHECK(ok);
    zr_breaker_state *s = zr_shared_payload(&sh);
    CHECK(s->admitted == (uint64_t)PROCS * PER);
    uint64_t fails_per = (PER + 2) / 3; /* k % 3 == 0 */
    CHECK(s->failures == PROCS * fails_per && s->successes == PROCS * (PER - fails_per));
    zr_shared_close(&sh);
}

static void budget_and_adaptive_repair(void)
{
    zr_budget_config bc;
    zr_budget_config_token(&bc, 10.0, 0.0);
    zr_shared_budget_arg ba = {&bc, 50.0};
    zr_budget_state bs;
    CHECK(zr_shared_budget_init(&bs, &ba) == ZR_OK && bs.tokens == 10.0);
    bs.tokens = 1e9; /* torn */
    bs.last_refill = NAN;
    CHECK(zr_shared_budget_repair(&bs, &ba) == ZR_OK);
    CHECK(bs.tokens == 0.0 && bs.last_refill == 50.0 && zr_budget_check(&bc, &bs) == ZR_OK);
    bs.tokens = 4.0; /* in range: kept */
    CHECK(zr_shared_budget_repair(&bs, &ba) == ZR_OK && bs.tokens == 4.0);
    bs.tokens = NAN;
    CHECK(zr_shared_budget_repair(&bs, &ba) == ZR_OK && bs.tokens == 0.0);
    bs.magic = 0;
    CHECK(zr_shared_budget_repair(&bs, &ba) == ZR_ECORRUPT);
    zr_budget_config rc;
    zr_budget_config_ratio(&rc, 0.2, 10.0, 10.0, 10);
    zr_shared_budget_arg ra = {&rc, 50.0};
    CHECK(zr_shared_budget_init(&bs, &ra) == ZR_OK);
    CHECK(zr_budget_on_request(&rc, &bs, 50.0) == ZR_OK);
    bs.window_requests = 99; /* sums torn */
    CHECK(zr_shared_budget_repair(&bs, &ra) == ZR_OK && bs.window_requests == 1);
    zr_budget_config other;
    zr_budget_config_token(&other, 5.0, 1.0);
    CHECK(zr_shared_budget_fingerprint(&bc) != zr_shared_budget_fingerprint(&other));
    CHECK(zr_shared_budget_fingerprint(&bc) != zr_shared_budget_fingerprint(&rc));

    zr_adaptive_config ac;
    zr_adaptive_config_default(&ac);
    zr_adaptive_state as;
    CHECK(zr_shared_adaptive_init(&as, &ac) == ZR_OK);
    for (int i = 0; i < 30; i++) CHECK(zr_adaptive_record(&ac, &as, i % 3 != 0) == ZR_OK);
    as.successes = 0; /* torn */
    as.head = 5000;
    CHECK(zr_shared_adaptive_repair(&as, &ac) == ZR_OK && zr_adaptive_check(&ac, &as) == ZR_OK);
    as.magic = 1;
    CHECK(zr_shared_adaptive_repair(&as, &ac) == ZR_ECORRUPT);
    zr_adaptive_config ac2 = ac;
    ac2.window = 50;
    CHECK(zr_shared_adaptive_fingerprint(&ac) != zr_shared_adaptive_fingerprint(&ac2));
}

void suite_shared_state(void)
{
    snprintf(bdir, sizeof bdir, "/tmp/zr_shared_state_test_%ld", (long)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", bdir);
    if (system(cmd) != 0) {}
    fingerprint();
    dead_probe_holder();
    dead_lock_holder();
    many_processes();
    budget_and_adaptive_repair();
    if (system(cmd) != 0) {}
}
