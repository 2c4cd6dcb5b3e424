/*
 * args.c: strict numeric option parsing (see args.h).
 *
 * strtoull/strtod accept leading blanks, signs and trailing junk; these
 * wrappers reject all of that, so the value a tool runs with is exactly the
 * one that was typed.
 */
#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int args_uint(const char *opt, const char *text, uint64_t min, uint64_t max,
              uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (text == NULL || !isdigit((unsigned char)text[0]))
        goto bad;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        goto bad;
    *out = (uint64_t)v;
    return 0;
bad:
    fprintf(stderr, "%s: expected an integer in [%llu, %llu], got '%s'\n", opt,
            (unsigned long long)min, (unsigned long long)max,
            text ? text : "(none)");
    return -1;
}

int args_seconds(const char *opt, const char *text, double max, double *out)
{
    char *end = NULL;
    double v;

    if (text == NULL || !(isdigit((unsigned char)text[0]) || text[0] == '.'))
        goto bad;
    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0.0 || v > max)
        goto bad;
    *out = v;
    return 0;
bad:
    fprintf(stderr, "%s: expected seconds in [0, %g], got '%s'\n", opt, max,
            text ? text : "(none)");
    return -1;
}
