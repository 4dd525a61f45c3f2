/* monotonic.c - milli- and microseconds on the monotonic clock; see
 * monotonic.h */
#include <time.h>

#include "monotonic.h"

/* monotonic_ms - CLOCK_MONOTONIC in milliseconds */
long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* monotonic_us - CLOCK_MONOTONIC in microseconds */
unsigned long long monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ull +
	       (unsigned long long)ts.tv_nsec / 1000ull;
}
