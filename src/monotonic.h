/* monotonic - milli- and microseconds on the monotonic clock, for
 * deadlines, idle times and latencies that must not move when the wall
 * clock is set.
 *
 * Contract: thread-safe, no state. */
#ifndef MTA_MONOTONIC_H
#define MTA_MONOTONIC_H

/* monotonic_ms - CLOCK_MONOTONIC in milliseconds */
long long monotonic_ms(void);
/* monotonic_us - CLOCK_MONOTONIC in microseconds */
unsigned long long monotonic_us(void);

#endif
