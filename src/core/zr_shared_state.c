/* zr_shared_state.c - engine structs in shared segments (contracts in zr_shared_state.h). */
#include "zr_shared_state.h"

#include <string.h>

uint64_t zr_shared_breaker_fingerprint(const zr_breaker_config *cfg)
{
    zr_fingerprint fp;
    zr_fp_begin(&fp, ZR_SHM_KIND_BREAKER, (uint32_t)(ZR_BREAKER_LAYOUT & 0xffffffffu),
                zr_breaker_state_size(cfg));
    zr_fp_u64(&fp, zr_breaker_config_fingerprint(cfg));
    return zr_fp_end(&fp);
}

zr_status zr_shared_breaker_init(void *payload, void *cfg)
{
    const zr_breaker_config *c = cfg;
    return zr_breaker_state_init(c, payload, zr_breaker_state_size(c));
}

uint32_t zr_shared_breaker_reap(const zr_breaker_config *cfg, zr_breaker_state *state)
{
    zr_breaker_slot *sl = zr_breaker_slots(state);
    uint32_t freed = 0;
    for (uint32_t i = 0; i < cfg->half_open_max_calls; i++) {
        if (sl[i].in_use && sl[i].owner != 0 && !zr_pid_alive((int64_t)sl[i].owner))
            freed += zr_breaker_release_owner(cfg, state, sl[i].owner);
    }
    return freed;
}

zr_status zr_shared_breaker_repair(void *payload, void *cfg)
{
    const zr_breaker_config *c = cfg;
    zr_breaker_state *s = payload;
    if (zr_breaker_state_check(c, s) != ZR_OK) return ZR_ECORRUPT;
    zr_breaker_repair(c, s);
    (void)zr_shared_breaker_reap(c, s);
    return ZR_OK;
}
