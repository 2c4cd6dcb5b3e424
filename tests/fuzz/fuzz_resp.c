/*
 * fuzz_resp.c -- libFuzzer target for the RESP parser and encoder.
 *
 * The input is a stream of replies, parsed one after another under three
 * configurations (default limits; default limits keeping attributes;
 * tiny limits, so every limit is hit).  Beyond "no crash", it checks:
 *   - each reply's size is within the input and its tokens form one
 *     well-formed tree (aggregate counts match, `end` indices match the
 *     walk, streamed strings are chunks that add up, spans inside the
 *     reply, push only at the root, no attribute unless kept);
 *   - incremental equals whole: feeding the input in pieces (sizes taken
 *     from the input), with a token array that starts at one slot and
 *     grows on RESP_EFULL, gives the same replies, tokens, sizes and final
 *     status as one call per reply on everything;
 *   - resp_scan counts the same replies in the same bytes;
 *   - a command encoded from the input (strings and an integer) parses
 *     back as the same array of bulk strings.
 */
#include "resp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                            \
  do {                                                                      \
    if (!(c)) {                                                             \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,  \
              #c);                                                          \
      abort();                                                              \
    }                                                                       \
  } while (0)

#define MAX_REPLIES 4096

struct cfg {
  struct resp_limits lim;
  unsigned flags;
};

struct whole { /* the replies of a whole-buffer run */
  size_t n;                   /* replies completed */
  size_t used[MAX_REPLIES];   /* bytes of each */
  size_t first[MAX_REPLIES];  /* index of its first token in tok */
  size_t ntok[MAX_REPLIES];   /* and its token count */
  struct resp_token *tok;     /* all tokens, reply after reply */
  int final;                  /* RESP_NEED or the error that stopped it */
};

/* ---- the tree ---------------------------------------------------------- */

static int is_span(uint8_t t) {
  return t == RESP_SIMPLE || t == RESP_ERROR || t == RESP_BULK ||
         t == RESP_BLOB_ERROR || t == RESP_VERBATIM || t == RESP_BIGNUM;
}

static int is_aggregate(uint8_t t) {
  return t == RESP_ARRAY || t == RESP_MAP || t == RESP_SET ||
         t == RESP_PUSH || t == RESP_ATTR;
}

static size_t walk(const struct resp_token *t, size_t n, size_t i,
                   const uint8_t *buf, size_t used, int depth, int keep);

static size_t walk_value(const struct resp_token *t, size_t n, size_t i,
                         const uint8_t *buf, size_t used, int depth,
                         int keep) {
  CHECK(i < n);
  while (t[i].type == RESP_ATTR) { /* attributes before the value */
    CHECK(keep);
    i = walk(t, n, i, buf, used, depth, keep);
    CHECK(i < n);
  }
  return walk(t, n, i, buf, used, depth, keep);
}

static size_t walk(const struct resp_token *t, size_t n, size_t i,
                   const uint8_t *buf, size_t used, int depth, int keep) {
  const struct resp_token *k = &t[i];
  CHECK(k->pad == 0);
  if (k->type == RESP_BULK && (k->flags & RESP_TF_STREAMED)) {
    uint64_t total = 0;
    size_t j = i + 1;
    CHECK(k->v.end > i && k->v.end <= n);
    for (; j < k->v.end; j++) {
      CHECK(t[j].type == RESP_CHUNK && t[j].len > 0);
      CHECK(t[j].v.off + t[j].len <= used);
      total += t[j].len;
    }
    CHECK(total == k->len);
    return j;
  }
  if (is_span(k->type)) {
    CHECK(k->v.off + k->len <= used);
    if (k->type == RESP_VERBATIM)
      CHECK(k->v.off >= 4 && buf[k->v.off - 1] == ':');
    return i + 1;
  }
  if (is_aggregate(k->type)) {
    size_t j = i + 1;
    CHECK(k->type != RESP_PUSH || depth == 0);
    if (k->type == RESP_MAP || k->type == RESP_ATTR)
      CHECK(k->len % 2 == 0);
    for (uint32_t c = 0; c < k->len; c++)
      j = walk_value(t, n, j, buf, used, depth + 1, keep);
    CHECK(j == k->v.end);
    return j;
  }
  CHECK(k->type == RESP_INT || k->type == RESP_DOUBLE ||
        k->type == RESP_BOOL || k->type == RESP_NULL);
  if (k->type == RESP_BOOL)
    CHECK(k->v.i == 0 || k->v.i == 1);
  return i + 1;
}

static void check_tree(const struct resp_token *t, size_t n,
                       const uint8_t *buf, size_t used, int keep) {
  CHECK(n > 0);
  CHECK(walk_value(t, n, 0, buf, used, 0, keep) == n);
}

/* ---- whole and piecewise runs ------------------------------------------ */

static void run_whole(const struct cfg *cfg, const uint8_t *d, size_t len,
                      struct whole *w) {
  struct resp_parser p;
  size_t base = 0, total = 0;
  resp_parser_init(&p, &cfg->lim, cfg->flags, w->tok + 0, len + 1);
  w->n = 0;
  for (;;) {
    size_t used;
    resp_parser_set_tokens(&p, w->tok + total, len + 1 - total);
    int rc = resp_parse(&p, (const char *)d + base, len - base, &used);
    CHECK(rc != RESP_EFULL); /* a token takes at least 3 bytes */
    CHECK(used <= len - base);
    if (rc != RESP_OK || w->n == MAX_REPLIES) {
      w->final = rc == RESP_OK ? RESP_NEED : rc;
      return;
    }
    CHECK(used > 0);
    check_tree(w->tok + total, p.ntok, d + base, used,
               cfg->flags & RESP_KEEP_ATTRS);
    w->used[w->n] = used;
    w->first[w->n] = total;
    w->ntok[w->n] = p.ntok;
    w->n++;
    total += p.ntok;
    base += used;
  }
}

static void run_pieces(const struct cfg *cfg, const uint8_t *d, size_t len,
                       const struct whole *w) {
  struct resp_parser p;
  size_t cap = 1, base = 0, vis = 0, k = 0, step = 0;
  struct resp_token *tok = malloc(sizeof *tok);
  CHECK(tok);
  resp_parser_init(&p, &cfg->lim, cfg->flags, tok, cap);
  for (;;) {
    size_t used;
    int rc = resp_parse(&p, (const char *)d + base, vis - base, &used);
    if (rc == RESP_EFULL) {
      CHECK(p.ntok == cap);
      cap *= 2;
      tok = realloc(tok, cap * sizeof *tok);
      CHECK(tok);
      resp_parser_set_tokens(&p, tok, cap);
      continue;
    }
    if (rc == RESP_NEED && vis < len) {
      vis += 1 + d[(step++ * 7919) % len] % 11;
      vis = vis < len ? vis : len;
      continue;
    }
    if (rc == RESP_OK && k < MAX_REPLIES) {
      CHECK(k < w->n && used == w->used[k] && p.ntok == w->ntok[k]);
      CHECK(memcmp(tok, w->tok + w->first[k], p.ntok * sizeof *tok) == 0);
      k++;
      base += used;
      vis = vis > base ? vis : base;
      continue;
    }
    CHECK(k == w->n);
    CHECK(rc == (rc == RESP_OK ? RESP_OK : w->final));
    break;
  }
  free(tok);
}

static void run_scan(const struct cfg *cfg, const uint8_t *d, size_t len,
                     const struct whole *w) {
  struct resp_parser p;
  size_t done = 0, used = 0, bytes = 0;
  resp_parser_init(&p, &cfg->lim, cfg->flags, NULL, 0);
  for (size_t i = 0; i < w->n; i++)
    bytes += w->used[i];
  int rc = resp_scan(&p, (const char *)d, len, w->n, &done, &used);
  CHECK(rc == RESP_OK && done == w->n && used == bytes);
  if (w->n < MAX_REPLIES) {
    rc = resp_scan(&p, (const char *)d, len, w->n + 1, &done, &used);
    CHECK(rc == w->final && done == w->n);
  }
}

/* ---- encoding ---------------------------------------------------------- */

static void roundtrip(const uint8_t *d, size_t len) {
  const char *args[9];
  size_t lens[9], nargs = 0, pos = 1;
  int64_t iv = 0;
  if (len < 1)
    return;
  size_t want = d[0] % 8;
  while (nargs < want && pos < len) {
    size_t n = d[pos++] % 24;
    n = n < len - pos ? n : len - pos;
    args[nargs] = (const char *)d + pos;
    lens[nargs++] = n;
    pos += n;
  }
  if (len - pos >= 8)
    memcpy(&iv, d + pos, 8);
  size_t size = resp_command_size(nargs, lens) + resp_int_arg_size(iv);
  size = size - resp_header_size(nargs) + resp_header_size(nargs + 1);
  char *out = malloc(size), *q = out;
  CHECK(out);
  q = resp_put_header(q, nargs + 1);
  for (size_t i = 0; i < nargs; i++)
    q = resp_put_arg(q, args[i], lens[i]);
  q = resp_put_int_arg(q, iv);
  CHECK((size_t)(q - out) == size);

  struct resp_token tok[16];
  struct resp_parser p;
  size_t used;
  resp_parser_init(&p, NULL, 0, tok, 16);
  CHECK(resp_parse(&p, out, size, &used) == RESP_OK && used == size);
  CHECK(p.ntok == nargs + 2 && tok[0].type == RESP_ARRAY);
  CHECK(tok[0].len == nargs + 1);
  for (size_t i = 0; i < nargs; i++) {
    CHECK(tok[i + 1].type == RESP_BULK && tok[i + 1].len == lens[i]);
    CHECK(memcmp(out + tok[i + 1].v.off, args[i], lens[i]) == 0);
  }
  char text[32];
  int tn = snprintf(text, sizeof text, "%" PRId64, iv);
  CHECK(tok[nargs + 1].len == (uint32_t)tn);
  CHECK(memcmp(out + tok[nargs + 1].v.off, text, (size_t)tn) == 0);

  size_t plain = resp_command_size(nargs, lens);
  CHECK(resp_encode_command(out, nargs, args, lens) == plain);
  resp_parser_reset(&p);
  CHECK(resp_parse(&p, out, plain, &used) == RESP_OK && used == plain);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct whole w;
  struct cfg cfgs[3];
  resp_limits_default(&cfgs[0].lim);
  cfgs[0].flags = 0;
  cfgs[1] = cfgs[0];
  cfgs[1].flags = RESP_KEEP_ATTRS;
  cfgs[2].lim = (struct resp_limits){4, 3, 10, 6};
  cfgs[2].flags = RESP_KEEP_ATTRS;

  w.tok = malloc((size + 1) * sizeof *w.tok);
  CHECK(w.tok);
  for (int c = 0; c < 3; c++) {
    run_whole(&cfgs[c], data, size, &w);
    if (size > 0)
      run_pieces(&cfgs[c], data, size, &w);
    run_scan(&cfgs[c], data, size, &w);
  }
  free(w.tok);
  roundtrip(data, size);
  return 0;
}
