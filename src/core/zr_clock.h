/*
 * zr_clock.h - the engine's only source of real time.
 *
 * Engine functions never read the clock themselves: they take `now` (seconds, monotonic)
 * as an argument, so tests drive them with a fake clock. Callers that want real time use
 * zr_clock_monotonic().
 */
#ifndef ZR_CLOCK_H
#define ZR_CLOCK_H

/* Seconds from an arbitrary fixed point, never going backwards (CLOCK_MONOTONIC). */
double zr_clock_monotonic(void);

/* Seconds since the Unix epoch (CLOCK_REALTIME), for reporting only. */
double zr_clock_wall(void);

#endif /* ZR_CLOCK_H */
